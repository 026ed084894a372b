"""Building kinds from OSM tags and real-style campus names."""

import pytest

from patrolmap.geo.kinds import KINDS, NAME_RULES, TAG_RULES, classify_building, kind_from_names

# (tags, expected kind); names marked "CAU" are from the Beijing extract as tagged there.
CASES = [
    # explicit tags win over names
    ({"building": "dormitory", "name": "学生公寓3号楼"}, "dorm"),  # CAU
    ({"building": "dormitory", "name": "女生宿舍楼", "name:en": "Princess Dorm"}, "dorm"),  # CAU
    ({"building": "yes", "name": "石科院职工食堂", "amenity": "restaurant"}, "canteen"),  # CAU
    ({"building": "yes", "name": "中国农业大学新图书馆", "amenity": "library"}, "library"),  # CAU
    ({"building": "yes", "name": "中国农业大学体育馆", "leisure": "fitness_centre"}, "sports"),  # CAU
    ({"building": "office"}, "admin"),  # CAU
    ({"building": "yes", "office": "research", "name": "培训楼"}, "lab"),  # CAU
    ({"building": "gatehouse"}, "gate"),
    ({"building": "sports_hall", "name": "综合楼"}, "sports"),
    ({"building": "canteen"}, "canteen"),
    ({"building": "dormitory", "name": "教职工宿舍"}, "staff_apartment"),
    # residential tags: dorms on a campus unless the name says staff
    ({"building": "residential", "name": "10号楼"}, "dorm"),
    ({"building": "apartments", "name": "Building 41"}, "dorm"),  # CAU
    ({"building": "residential", "name": "家属1号楼"}, "staff_apartment"),
    ({"building": "apartments", "name": "Faculty Apartments B"}, "staff_apartment"),
    # generic buildings: the name decides, the most specific (head) match wins
    ({"building": "yes", "name": "二食堂"}, "canteen"),  # CAU
    ({"building": "yes", "name": "学生公寓二号楼"}, "dorm"),  # CAU
    ({"building": "university", "name": "第一教学楼"}, "teaching"),  # CAU
    ({"building": "university", "name": "二教"}, "teaching"),  # CAU
    ({"building": "yes", "name": "东区教"}, "teaching"),
    ({"building": "yes", "name": "教学楼"}, "teaching"),  # CAU
    ({"building": "yes", "name": "中国农业大学东区图书馆"}, "library"),  # CAU
    ({"building": "school", "name": "信息与电气工程学院"}, "teaching"),  # CAU
    ({"building": "yes", "name": "Teaching Building 3"}, "teaching"),  # CAU
    ({"building": "yes", "name": "教工公寓"}, "staff_apartment"),
    ({"building": "yes", "name": "青年教师公寓"}, "staff_apartment"),
    ({"building": "yes", "name": "教职工宿舍楼"}, "staff_apartment"),
    ({"building": "yes", "name": "学生公寓"}, "dorm"),
    ({"building": "yes", "name": "研究生宿舍"}, "dorm"),
    ({"building": "yes", "name": "教工食堂"}, "canteen"),  # 教工 is not teaching
    ({"building": "yes", "name": "教工之家"}, "other"),
    ({"building": "yes", "name": "教务处"}, "admin"),  # academic affairs office
    ({"building": "yes", "name": "行政楼"}, "admin"),
    ({"building": "yes", "name": "综合办公楼"}, "admin"),
    ({"building": "yes", "name": "化学实验楼"}, "lab"),
    ({"building": "yes", "name": "实验教学中心"}, "lab"),
    ({"building": "yes", "name": "游泳馆"}, "sports"),
    ({"building": "yes", "name": "东区运动场看台"}, "sports"),
    ({"building": "yes", "name": "东门"}, "gate"),
    ({"building": "yes", "name": "南门门卫室"}, "gate"),
    ({"building": "yes", "name": "实验楼门卫"}, "gate"),  # the head noun comes last
    ({"building": "yes", "name": "学生公寓食堂"}, "canteen"),
    ({"building": "yes", "name": "门诊楼"}, "other"),  # clinic, not a gate
    ({"building": "university", "name": "校医院门诊部"}, "other"),
    ({"building": "university", "name": "厦门大学经济楼"}, "teaching"),  # 厦门 is a city
    ({"building": "school", "name": "公共浴室"}, "other"),  # CAU
    ({"building": "retail", "name": "学院8号"}, "other"),  # CAU: a mall, not a college
    # English: case-insensitive, whole words
    ({"building": "yes", "name": "North Residence Hall"}, "dorm"),
    ({"building": "yes", "name": "DINING HALL"}, "canteen"),
    ({"building": "yes", "name": "Chemistry Lab"}, "lab"),
    ({"building": "yes", "name": "Collaboration Center"}, "other"),  # "lab" inside a word
    ({"building": "yes", "name": "Main Library"}, "library"),
    ({"building": "university", "name": "Physical Education Center"}, "sports"),
    ({"building": "yes", "name": "Gates Hall"}, "other"),  # a surname, not a gate
    ({"building": "yes", "name": "Main Gate"}, "gate"),
    ({"building": "yes", "name": "Administration Building"}, "admin"),
    # no telling name
    ({"building": "university", "name": "马锦明大楼（主楼）"}, "teaching"),  # CAU
    ({"building": "college"}, "teaching"),
    ({"building": "yes"}, "other"),
    ({"building": "house"}, "other"),
    # name outranks name:en
    ({"building": "yes", "name": "计算中心楼", "name:en": "Computing Center Building"}, "other"),  # CAU
    ({"building": "yes", "name:zh": "二食堂", "name:en": "Library"}, "canteen"),
]


@pytest.mark.parametrize(("tags", "expected"), CASES, ids=[str(tags.get("name", tags)) for tags, _ in CASES])
def test_classify_building(tags: dict[str, str], expected: str) -> None:
    assert classify_building(tags) == expected


def test_residential_off_campus_is_not_a_dorm() -> None:
    tags = {"building": "residential", "name": "静淑东里9号楼"}
    assert classify_building(tags, on_campus=False) == "other"
    assert classify_building({"building": "dormitory"}, on_campus=False) == "dorm"


def test_rules_only_name_known_kinds() -> None:
    assert {rule.kind for rule in TAG_RULES + NAME_RULES} <= set(KINDS)
    assert {kind for _, kind in CASES} == set(KINDS)  # the table exercises every kind


def test_kind_from_names_takes_the_first_telling_name() -> None:
    assert kind_from_names(["3号楼", "Dormitory 3"]) == "dorm"
    assert kind_from_names([]) is None
