/* The /import page: upload a file with a real progress bar, read the dry run's preview (per layer
 * new / changed / unchanged, the first problems with their feature numbers), then confirm or cancel.
 *
 * Everything the API returns (file names, layer ids, messages) goes on the page with textContent,
 * never as HTML; writes carry the session's CSRF token.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  var config = {};
  var t = kit.texts(config);

  // One request through XMLHttpRequest (fetch has no upload progress); resolves with the parsed JSON.
  function send(method, url, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Accept-Language", kit.language());
      if (method !== "GET") xhr.setRequestHeader("X-CSRF-Token", kit.csrf());
      if (onProgress) xhr.upload.addEventListener("progress", onProgress);
      xhr.addEventListener("load", function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300 && data) { resolve(data); return; }
        reject(kit.failure(xhr.status, xhr.statusText, data));
      });
      xhr.addEventListener("error", function () {
        reject(new Error(t("The upload failed: %(reason)s", { reason: xhr.statusText || "network" })));
      });
      kit.busy(1);
      xhr.addEventListener("loadend", function () { kit.busy(-1); });
      xhr.send(body === undefined ? null : body);
    });
  }

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function row(cells, header) {
    var tr = el("tr");
    cells.forEach(function (c) { tr.appendChild(el(header ? "th" : "td", c)); });
    return tr;
  }

  function layerTitle(id) {
    var titles = config.layerTitles || {};
    return Object.prototype.hasOwnProperty.call(titles, id) ? titles[id] : id;
  }

  function fieldLabel(name) {
    var labels = config.fieldLabels || {};
    return Object.prototype.hasOwnProperty.call(labels, name) ? labels[name] : name;
  }

  // Per layer counts (and their total) into a table: layer, new, changed, unchanged.
  function fillCounts(table, layers) {
    table.textContent = "";
    var ids = Object.keys(layers || {});
    if (!ids.length) return;
    var head = el("thead");
    head.appendChild(row([t("Layer"), t("New"), t("Changed"), t("Unchanged")], true));
    table.appendChild(head);
    var body = el("tbody");
    var sum = { inserted: 0, updated: 0, unchanged: 0 };
    ids.forEach(function (id) {
      var c = layers[id];
      var tr = row([layerTitle(id), c.inserted, c.updated, c.unchanged]);
      tr.dataset.layer = id;
      body.appendChild(tr);
      Object.keys(sum).forEach(function (k) { sum[k] += c[k]; });
    });
    if (ids.length > 1) body.appendChild(row([t("Total"), sum.inserted, sum.updated, sum.unchanged], false));
    table.appendChild(body);
  }

  function fillProblems(table, problems) {
    table.textContent = "";
    if (!problems || !problems.length) return;
    var head = el("thead");
    head.appendChild(row([t("Layer"), t("Feature"), t("Field"), t("Problem")], true));
    table.appendChild(head);
    var body = el("tbody");
    problems.forEach(function (p) {
      var tr = row([p.layer ? layerTitle(p.layer) : "", p.feature === null ? t("whole file") : p.feature,
                    fieldLabel(p.field), p.message]);
      tr.dataset.feature = p.feature === null ? "" : String(p.feature);
      tr.dataset.field = p.field;
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function init(box) {
    var form = box.querySelector("[data-role=form]");
    var campus = box.querySelector("[data-role=campus]");
    var kind = box.querySelector("[data-role=kind]");
    var layer = box.querySelector("[data-role=layer]");
    var layerField = box.querySelector("[data-role=layer-field]");
    var file = box.querySelector("[data-role=file]");
    var upload = box.querySelector("[data-role=upload]");
    var progress = box.querySelector("[data-role=progress]");
    var error = box.querySelector("[data-role=error]");
    var status = box.querySelector("[data-role=status]");
    var preview = box.querySelector("[data-role=preview]");
    var confirm = box.querySelector("[data-role=confirm]");
    var cancel = box.querySelector("[data-role=cancel]");
    var result = box.querySelector("[data-role=result]");
    var staged = null;

    function newCampus() {
      var option = campus.options[campus.selectedIndex];
      return Boolean(option && option.hasAttribute("data-new-campus"));
    }

    function sync() {
      box.querySelectorAll("[data-role=new-campus]").forEach(function (n) { n.hidden = !newCampus(); });
      if (layerField) layerField.hidden = kind.value === "violations";
    }
    campus.addEventListener("change", sync);
    kind.addEventListener("change", sync);
    sync();

    function reset(message) {
      staged = null;
      preview.hidden = true;
      confirm.disabled = false;
      upload.disabled = false;
      status.textContent = message || "";
    }

    function showPreview(data) {
      staged = data;
      var p = data.preview;
      preview.hidden = false;
      result.hidden = true;
      preview.querySelector("[data-role=filename]").textContent = data.filename;
      fillCounts(preview.querySelector("[data-role=counts]"), p.layers);
      fillProblems(preview.querySelector("[data-role=problems]"), p.problems);
      var verdict = preview.querySelector("[data-role=verdict]");
      var changes = Object.keys(p.layers).reduce(function (n, id) {
        return n + p.layers[id].inserted + p.layers[id].updated;
      }, 0);
      if (!p.ok) {
        verdict.textContent = t("Nothing can be written: fix these problems and upload again.");
        if (p.problem_count > p.problems.length) {
          verdict.textContent += " " + t("%(count)s problems; the first %(shown)s are listed.",
                                         { count: p.problem_count, shown: p.problems.length });
        }
      } else {
        verdict.textContent = changes ? t("Ready: confirm to write these changes.") : t("Nothing would change.");
      }
      verdict.className = p.ok ? "" : "pm-form-error";
      var notes = preview.querySelector("[data-role=notes]");
      notes.textContent = "";
      if (p.warning_count) {
        notes.appendChild(el("li", t("%(count)s warnings", { count: p.warning_count })));
        p.warnings.forEach(function (w) { notes.appendChild(el("li", w, { "class": "pm-form-warning" })); });
      }
      if (p.skipped && p.skipped.length) {
        notes.appendChild(el("li", t("%(count)s features skipped at the extract's edge", { count: p.skipped.length })));
      }
      confirm.hidden = !p.ok;
      status.textContent = "";
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      var chosen = file.files && file.files[0];
      if (!chosen) { error.textContent = t("Choose a file first."); return; }
      if (chosen.size > config.maxBytes) {
        error.textContent = t("The file is larger than the import limit of %(mb)s MB.", { mb: config.maxMb });
        return;
      }
      var body = new FormData();
      if (newCampus()) {
        var slug = box.querySelector("[data-role=new-slug]").value.trim();
        if (!/^[a-z0-9][a-z0-9-]*$/.test(slug)) {
          error.textContent = t("name the new campus (letters a-z, digits and -)");
          return;
        }
        body.append("campus", slug);
        var name = box.querySelector("[data-role=new-name]").value.trim();
        if (name) body.append("name", name);
      } else if (campus.value) {
        body.append("campus", campus.value);
      }
      if (kind.value) body.append("kind", kind.value);
      if (layer && layer.value && kind.value !== "violations") body.append("layer", layer.value);
      var encoding = box.querySelector("[data-role=encoding]");
      if (encoding && encoding.value) body.append("encoding", encoding.value);
      body.append("file", chosen, chosen.name);
      upload.disabled = true;
      preview.hidden = true;
      result.hidden = true;
      progress.hidden = false;
      progress.value = pm.uploadProgress = 0;
      var mb = function (bytes) { return (bytes / 1048576).toFixed(1); };
      status.textContent = t("Uploading… %(done)s of %(total)s MB", { done: mb(0), total: mb(chosen.size) });
      send("POST", config.uploadUrl, body, function (e) {
        if (!e.lengthComputable) return;
        progress.value = pm.uploadProgress = e.loaded / e.total;  // the last share sent, for people and tests
        status.textContent = e.loaded < e.total
          ? t("Uploading… %(done)s of %(total)s MB", { done: mb(e.loaded), total: mb(e.total) })
          : t("Checking the file…");
      }).then(function (data) {
        progress.value = 1;
        showPreview(data);
      }).catch(function (err) {
        error.textContent = err.message;
        status.textContent = "";
      }).then(function () {
        upload.disabled = false;
        progress.hidden = true;
      });
    });

    confirm.addEventListener("click", function () {
      if (!staged) return;
      confirm.disabled = true;
      cancel.disabled = true;
      error.textContent = "";
      status.textContent = t("Writing…");
      send("POST", config.commitUrl.replace("{token}", encodeURIComponent(staged.token))).then(function (data) {
        preview.hidden = true;
        result.hidden = false;
        fillCounts(result.querySelector("[data-role=written]"), data.summary.layers);
        result.querySelector("[data-role=result-note]").textContent =
          t("Written in %(seconds)s s.", { seconds: data.summary.seconds });
        staged = null;
        status.textContent = "";
        form.reset();
        sync();
      }).catch(function (err) {
        error.textContent = err.message;
        status.textContent = "";
        if (err.status === 422 && err.details) {
          fillProblems(preview.querySelector("[data-role=problems]"), err.details);
          confirm.hidden = true;
        }
      }).then(function () {
        confirm.disabled = false;
        cancel.disabled = false;
      });
    });

    cancel.addEventListener("click", function () {
      if (!staged) { reset(); return; }
      var token = staged.token;
      cancel.disabled = true;
      send("DELETE", config.importUrl.replace("{token}", encodeURIComponent(token))).then(function () {
        reset(t("Discarded."));
      }).catch(function (err) {
        error.textContent = err.message;
      }).then(function () { cancel.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    kit.pageConfig(config);
    var box = document.getElementById("pm-import");
    if (box) init(box);
  });
})();
