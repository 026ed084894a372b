"""Refresh the message catalogues: extract from code and templates, merge into each .po, compile .mo.

Run after changing any user-visible text, then translate the new entries in
patrolmap/translations/zh_CN/LC_MESSAGES/messages.po and run it again to compile.
tests/test_i18n.py fails while a message is untranslated or a .mo is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "patrolmap" / "translations"
POT = CATALOGUES / "messages.pot"
# Besides gettext's usual names: wording.N_ marks, and the first argument of every domain error.
KEYWORDS = ("N_", "BadRequest", "NotFound", "ValidationFailed", "Unauthorized", "Forbidden", "RateLimited",
            "Conflict", "FieldError", "Gone", "PayloadTooLarge", "UnsupportedMediaType", "PhotoError")
LOCALES = ("zh_Hans_CN",)  # what babel.Locale.parse("zh_CN") names


def pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT)


def main() -> None:
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    pybabel("extract", "-F", "babel.cfg", *keywords, "--no-location", "--sort-output", "--omit-header",
            "-o", str(POT), ".")
    for locale in LOCALES:
        po = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
        if po.exists():
            pybabel("update", "-i", str(POT), "-d", str(CATALOGUES), "-l", locale, "--no-fuzzy-matching")
        else:
            pybabel("init", "-i", str(POT), "-d", str(CATALOGUES), "-l", locale)
    pybabel("compile", "-d", str(CATALOGUES), "--statistics")


if __name__ == "__main__":
    main()
