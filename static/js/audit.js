/* The audit log page: an admin's Revert button on the entries that can be reverted.
 *
 * The button posts to /api/audit/<id>/revert with the session's CSRF token and shows the answer:
 * the new audit entry, or the API's refusal (a later change to revert first, a feature something
 * refers to). Everything is put on the page with textContent, never as HTML.
 */
(function () {
  "use strict";
  var kit = window.patrolmap.kit;
  var config = {};
  var t = kit.texts(config);

  function revert(button) {
    var cell = button.parentNode;
    var error = cell.querySelector('[data-role="error"]');
    var result = cell.querySelector('[data-role="result"]');
    if (!window.confirm(t("Revert this change?"))) return;
    error.textContent = "";
    result.textContent = t("Reverting…");
    button.disabled = true;
    kit.request("POST", button.getAttribute("data-url"), {})
      .then(function (data) {
        var text = t("Reverted (audit entry %(id)s).", { id: data.audit_id });
        if (data.feature) text += " " + t("Now %(layer)s item %(feature)s.", { layer: data.layer, feature: data.feature.id });
        result.textContent = text;
      })
      .catch(function (err) {
        result.textContent = "";
        error.textContent = err.message;
        button.disabled = false;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    kit.pageConfig(config);
    Array.prototype.forEach.call(document.querySelectorAll("button[data-revert]"), function (button) {
      button.addEventListener("click", function () { revert(button); });
    });
  });
})();
