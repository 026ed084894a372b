"""Fill a catalogue's empty entries from a Python dict file (msgid -> msgstr); used when adding many at once.

    python scripts/apply_translations.py zh_CN path/to/dict.py   # the file defines ZH = {...}
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUES = Path(__file__).resolve().parent.parent / "patrolmap" / "translations"


def main(locale: str, source: str) -> None:
    table = runpy.run_path(source)["ZH"]
    path = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    catalog.fuzzy = False
    missing = []
    for message in catalog:
        if not message.id:
            continue
        text = table.get(message.id)
        if text is None:
            if not message.string or (isinstance(message.string, tuple) and not all(message.string)):
                missing.append(message.id)
            continue
        message.string = text
        message.flags.discard("fuzzy")
    with path.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True, width=100)
    for item in missing:
        print(f"untranslated: {item!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
