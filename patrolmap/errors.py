"""Domain errors that carry their HTTP status, and the one place that maps them to responses."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class PatrolmapError(Exception):
    """Base of every error a user can cause; `status` is the HTTP answer.

    The message is a catalogue message id with %(name)s placeholders filled from
    `params`, so it is translated when the response is made, into the language of
    the request (pybabel extracts the first argument of each of these classes).
    """

    status = 400

    def __init__(self, message: str, *, details: Any = None, **params: Any) -> None:
        self.template = message
        self.params = params
        self.message = message % params if params else message
        super().__init__(self.message)
        self.details = details

    def translated(self) -> str:
        from flask_babel import gettext

        return gettext(self.template, **self.params) if self.params else gettext(self.template)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.translated()}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(PatrolmapError):
    """A parameter or body that cannot be understood."""


class ValidationFailed(PatrolmapError):
    """Input that parsed but breaks a rule; `details` lists every problem found."""

    status = 422


class NotFound(PatrolmapError):
    """An unknown layer, campus or feature id."""

    status = 404


class Unauthorized(PatrolmapError):
    """Not signed in (or the session has ended)."""

    status = 401


class Forbidden(PatrolmapError):
    """Signed in, but the role (or a missing CSRF token) does not allow this."""

    status = 403


class RateLimited(PatrolmapError):
    """Too many attempts; try again later."""

    status = 429


class Conflict(PatrolmapError):
    """A write that would contradict stored data."""

    status = 409


class Gone(PatrolmapError):
    """Something that existed and was removed on purpose (a photo purged under the retention rules)."""

    status = 410


class PayloadTooLarge(PatrolmapError):
    """An upload beyond its size limit."""

    status = 413


class UnsupportedMediaType(PatrolmapError):
    """An upload whose content is of a type not accepted here."""

    status = 415


def N_(text: str) -> str:  # noqa: N802
    return text


# Werkzeug's own descriptions, said plainly and put in the catalogue.
HTTP_MESSAGES = {
    404: N_("There is no such page or resource."),
    405: N_("This address does not accept that method."),
    413: N_("The request is too large."),
    500: N_("Something went wrong on the server; the error has been logged."),
}


def wants_json() -> bool:
    """Answer JSON for the API and for clients that ask for it."""
    return (request.path.startswith("/api/") or request.is_json
            or request.accept_mimetypes.best == "application/json")


def register_error_handlers(app: Flask) -> None:
    """Map domain errors and HTTP errors to JSON for the API."""

    @app.errorhandler(PatrolmapError)
    def _domain_error(err: PatrolmapError):
        if wants_json():
            return jsonify(err.to_dict()), err.status
        return render_template("error.html", status=err.status, message=err.translated()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        from flask_babel import gettext

        message = gettext(HTTP_MESSAGES[err.code]) if err.code in HTTP_MESSAGES else err.description
        if not wants_json():
            return render_template("error.html", status=err.code, message=message), err.code
        return jsonify({"error": err.name, "message": message}), err.code
