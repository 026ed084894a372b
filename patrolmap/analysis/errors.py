"""The one error the analysis raises for input it cannot use, translatable by the web layer."""

from __future__ import annotations

from typing import Any


def N_(text: str) -> str:  # noqa: N802
    """Mark a message template for the catalogue (pybabel extracts N_); translated when shown."""
    return text


class InputError(ValueError):
    """A parameter that cannot be understood, with a clear reason.

    Carries the message template (with %(name)s placeholders) and its values, so that the
    web layer answers 400 with the message translated into the caller's language.
    """

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)
