"""Classify campus buildings into patrolmap's kinds from their OSM tags and names.

The rules are data, read top to bottom:

1. ``TAG_RULES``: explicit OSM tags (``building=dormitory``, ``amenity=library``,
   ...) win over names; the first matching row decides.
2. ``NAME_RULES``: for generic buildings (``building=yes``, ``university``,
   ...) the name decides.  Chinese and English names put the head noun last
   (学生公寓食堂 is a canteen, 实验楼门卫 is a gate), so the match that ends
   furthest right wins, the longest one among those ending at the same place
   (教工公寓 beats 公寓), then the earlier row.  Rows of kind ``other`` are
   blockers: 教工 ends after 教 and so stops it meaning a teaching building.
3. ``FALLBACK_RULES``: generic tags with no telling name; ``building=university``
   (or college, school) means "some university building", most often a
   teaching one, so it becomes ``teaching``.

A ``dorm`` found by tags becomes ``staff_apartment`` when a name matches
``STAFF_NAME``.  Residential tags (``building=residential/apartments``) count
as dorms only on a campus; elsewhere they are ``other``.
"""

import re
from typing import NamedTuple

KINDS = (
    "dorm",
    "staff_apartment",
    "canteen",
    "teaching",
    "lab",
    "library",
    "admin",
    "gate",
    "sports",
    "other",
)


class TagRule(NamedTuple):
    """One row of a tag table: ``key`` having one of ``values`` means ``kind``."""

    key: str
    values: frozenset[str]
    kind: str
    campus_only: bool = False


def _tag(key: str, values: str, kind: str, *, campus_only: bool = False) -> TagRule:
    return TagRule(key, frozenset(values.split()), kind, campus_only)


TAG_RULES: tuple[TagRule, ...] = (
    _tag("building", "dormitory", "dorm"),
    _tag("building", "residential apartments", "dorm", campus_only=True),
    _tag("amenity", "canteen restaurant food_court", "canteen"),
    _tag("building", "canteen", "canteen"),
    _tag("amenity", "library", "library"),
    _tag("building", "library", "library"),
    _tag("building", "sports_hall sports_centre stadium gymnasium", "sports"),
    _tag("leisure", "sports_centre sports_hall stadium fitness_centre", "sports"),
    _tag("building", "gatehouse", "gate"),
    _tag("building", "laboratory", "lab"),
    _tag("amenity", "research_institute", "lab"),
    _tag("office", "research", "lab"),
    _tag("building", "office government", "admin"),
    _tag("office", "government administrative university educational_institution", "admin"),
)

FALLBACK_RULES: tuple[TagRule, ...] = (_tag("building", "university college school", "teaching"),)


class NameRule(NamedTuple):
    """One row of the name table: a regex found in a name means ``kind``."""

    pattern: re.Pattern[str]
    kind: str


def _name(pattern: str, kind: str) -> NameRule:
    return NameRule(re.compile(pattern, re.IGNORECASE), kind)


# English patterns carry their own \b so that "lab" never matches "collaboration";
# Chinese has no word boundaries, so Chinese patterns are substrings.  Within one
# pattern, longer alternatives come first: the regex takes the first that fits.
NAME_RULES: tuple[NameRule, ...] = (
    # staff housing, before the student housing it contains
    _name("教职工公寓|教工公寓|教师公寓|职工公寓|专家公寓|教职工宿舍|教工宿舍|教师宿舍|职工宿舍", "staff_apartment"),
    _name("家属楼|家属院|家属区|教工住宅|职工住宅", "staff_apartment"),
    _name(r"\b(?:staff|faculty)\s+(?:housing|apartments?|residences?|dormitor(?:y|ies)|quarters)\b", "staff_apartment"),
    _name("宿舍|公寓|学生楼|研究生楼", "dorm"),
    _name(
        r"\b(?:dorms?|dormitor(?:y|ies)|residence\s+halls?|halls?\s+of\s+residence|student\s+(?:housing|apartments?))\b",
        "dorm",
    ),
    _name("食堂|餐厅|饭堂|餐饮中心|美食广场", "canteen"),
    _name(r"\b(?:canteen|cafeteria|refectory|dining(?:\s+(?:hall|commons|center|centre))?|food\s+court)\b", "canteen"),
    _name("教学楼|教室|讲堂|学院楼?$", "teaching"),
    _name("教", "teaching"),  # 二教, 东区教: a lone 教 is short for 教学楼
    _name(r"\b(?:classrooms?|teaching|lectures?|instruction(?:al)?|academic)\b", "teaching"),
    _name("实验教学|实验|实训|科研楼|研究所|研究院", "lab"),
    _name(r"\b(?:labs?|laborator(?:y|ies)|research)\b", "lab"),
    _name("图书馆|图书楼", "library"),
    _name(r"\blibrar(?:y|ies)\b", "library"),
    _name("体育馆|体育场|体育中心|游泳馆|运动场|运动馆|风雨操场|篮球馆|羽毛球馆|网球馆|健身房", "sports"),
    _name(
        r"\b(?:gym|gymnasium|sports?|stadium|natatorium|fitness|arena|athletics?|physical\s+education|field\s+house)\b",
        "sports",
    ),
    # a gate is named by 门 at the end (东门, 南门岗); 门 inside a name is 门诊, 厦门大学, ...
    _name("门(?:卫室?|岗|亭|房|楼)?$|门卫|传达室", "gate"),
    _name(r"\b(?:gate|gatehouse|guard\s*house)\b", "gate"),
    _name("行政|办公|教务|校办|保卫处|后勤", "admin"),
    _name(
        r"\b(?:administration|administrative|admin|admissions|registrar|student\s+services|advising|counseling)\b",
        "admin",
    ),
    # blockers: words that contain a rule's pattern but mean something else
    _name("教工|教职|教堂|教会|部门|专门", "other"),
    # named service buildings, so that building=university does not make them teaching
    _name("浴室|澡堂|锅炉房|配电|变电|车库|停车|医院|门诊|医务室|超市|招待所|宾馆|酒店|商店", "other"),
    _name(r"\b(?:garage|parking|boiler|substation|clinic|hospital|hotel|store|shop|toilets?|restrooms?)\b", "other"),
)

STAFF_NAME: re.Pattern[str] = re.compile(r"教工|教职工|教师|职工|家属|\bstaff\b|\bfaculty\b", re.IGNORECASE)

NAME_KEYS = ("name", "name:zh", "name:zh-Hans", "name:en", "alt_name", "official_name", "short_name")


def classify_building(tags: dict[str, str], *, on_campus: bool = True) -> str:
    """Return the building kind for OSM ``tags``: explicit tags, then names, then generic tags."""
    names = [tags[key] for key in NAME_KEYS if tags.get(key)]
    kind = _kind_from_tags(tags, TAG_RULES, on_campus=on_campus)
    if kind == "dorm" and any(STAFF_NAME.search(name) for name in names):
        return "staff_apartment"
    if kind is not None:
        return kind
    kind = kind_from_names(names)
    if kind is not None:
        return kind
    return _kind_from_tags(tags, FALLBACK_RULES, on_campus=on_campus) or "other"


def kind_from_names(names: list[str]) -> str | None:
    """Return the kind the first telling name says, so ``name`` outranks ``name:en``."""
    for name in names:
        kind = _kind_from_name(name)
        if kind is not None:
            return kind
    return None


def _kind_from_tags(tags: dict[str, str], rules: tuple[TagRule, ...], *, on_campus: bool) -> str | None:
    for rule in rules:
        if tags.get(rule.key) in rule.values and (on_campus or not rule.campus_only):
            return rule.kind
    return None


def _kind_from_name(name: str) -> str | None:
    best: tuple[int, int, int] | None = None  # (end, length, -row) of the winning match
    best_kind = None
    for row, rule in enumerate(NAME_RULES):
        for match in rule.pattern.finditer(name):
            score = (match.end(), match.end() - match.start(), -row)
            if best is None or score > best:
                best, best_kind = score, rule.kind
    return best_kind
