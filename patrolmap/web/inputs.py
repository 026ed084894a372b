"""Input no request may carry: the NUL character in text (query, path, form fields, JSON).

PostgreSQL cannot store or even compare text holding NUL (U+0000), so a campus slug or a note with
one was a 500 there, while SQLite kept it. No text of patrolmap's ever needs it: such a request is
a 400 naming where the NUL is, on every store alike, before anything reads it. Multipart uploads are
left to their handlers (parsing one here would apply the default size limit before /api/imports sets
its own); their form fields go through nul_in.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from patrolmap.errors import BadRequest

NUL = "\x00"


def nul_in(value: Any, where: str = "", depth: int = 0) -> str | None:
    """Where a text, or a text inside a JSON value, holds NUL (name, name.key, name[0]; JSON: the whole), or None.

    Places are named as the API names its fields, in English in every language."""
    if isinstance(value, str):
        return (where or "JSON") if NUL in value else None
    if depth > 64:  # deeper than any body patrolmap reads; the handler refuses its shape anyway
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            if NUL in str(key):
                return where or "JSON"
            found = nul_in(item, place, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_in(item, f"{where}[{index}]", depth + 1)
            if found:
                return found
    return None


def refuse_nul() -> None:
    """before_request: 400 when the path, a query parameter, a posted form field or the JSON body holds NUL."""
    if NUL in request.path:
        raise nul_refused(request.path.replace(NUL, ""))
    fields = list(request.args.items(multi=True))
    if request.mimetype == "application/x-www-form-urlencoded":
        fields += list(request.form.items(multi=True))
    for name, value in fields:
        if NUL in name or NUL in value:
            raise nul_refused(repr(name.replace(NUL, "")))
    if request.is_json:
        where = nul_in(request.get_json(silent=True))
        if where:
            raise nul_refused(where.replace(NUL, ""))


def nul_refused(where: str) -> BadRequest:
    return BadRequest("%(name)s must not contain the NUL character (U+0000)", name=where)


def register_inputs(app: Flask) -> None:
    app.before_request(refuse_nul)
