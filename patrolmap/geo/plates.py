"""Chinese licence plates: what a standard plate looks like, so that typing slips are caught early.

A plate that does not match is still recorded (the officer may be right and the rule
incomplete: military, embassy and temporary plates differ), with a warning. Plates are
evidence and are stored as entered.
"""

from __future__ import annotations

import re

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
NO_PLATE = "无牌"
_LETTER = "A-HJ-NP-Z"  # I and O are never used: they read as 1 and 0
_SEPARATORS = re.compile(r"[\s·•.\-]")
STANDARD = re.compile(
    rf"^[{PROVINCES}][{_LETTER}]("
    rf"[{_LETTER}0-9]{{4}}[{_LETTER}0-9挂学警港澳领]"  # ordinary blue/yellow plate: 京A12345, 京B1234学
    rf"|[DF][{_LETTER}0-9][0-9]{{4}}"  # small new-energy car: 京AD12345
    rf"|[0-9]{{5}}[DF]"  # large new-energy vehicle: 京A12345D
    r")$"
)


def normalise_plate(plate: str) -> str:
    """Compare plates as people mean them: no separators, capital letters."""
    return _SEPARATORS.sub("", plate).upper()


def is_standard_plate(plate: str) -> bool:
    return plate == NO_PLATE or bool(STANDARD.match(normalise_plate(plate)))
