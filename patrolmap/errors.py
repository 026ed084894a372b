"""Domain errors that carry their HTTP status, and the one place that maps them to responses."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class PatrolmapError(Exception):
    """Base of every error a user can cause; `status` is the HTTP answer."""

    status = 400

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
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


def wants_json() -> bool:
    """Answer JSON for the API and for clients that ask for it."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    """Map domain errors and HTTP errors to JSON for the API."""

    @app.errorhandler(PatrolmapError)
    def _domain_error(err: PatrolmapError):
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if not wants_json():
            return err
        body = {"error": err.name, "message": err.description}
        return jsonify(body), err.code
