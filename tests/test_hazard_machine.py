"""The hazard state machine, walked whole: every (from, to) pair x every kind of actor, against a table written here.

The expectation table below is written out by hand from the issue and the shared contract, not
derived from patrolmap.hazards.MOVES, so a change to the machine shows up as a failing cell.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse

import pytest

from patrolmap.hazards import (
    STATUSES,
    TRANSITIONS,
    Actor,
    HazardState,
    ReminderMessage,
    TransitionRefused,
    Webhook,
    allowed_moves,
    before_lead,
    check_notice_number,
    check_transition,
    deadline_for,
    dingtalk_sign,
    is_overdue,
    map_state,
    markdown_text,
    notice_number,
    notice_sequence,
    parse_webhooks,
    reminder_due,
    robot_error,
    webhook_request,
)

ZONE_OFFICER, ASSIGNEE, OTHER_OFFICER = 11, 12, 13
UNIT, OTHER_UNIT = "后勤处", "信息学院"

# Kinds of actor: (roles, user id, unit). A grid officer counts for a hazard of a zone they are the
# officer of, or assigned to them; a responsible unit for a hazard whose notice names its unit.
ACTORS: dict[str, tuple[frozenset[str], int | None, str | None]] = {
    "admin": (frozenset({"admin"}), 1, None),
    "lead": (frozenset({"patrol_lead"}), 2, None),
    "grid_own": (frozenset({"grid_officer"}), ZONE_OFFICER, None),
    "grid_assigned": (frozenset({"grid_officer"}), ASSIGNEE, None),
    "grid_other": (frozenset({"grid_officer"}), OTHER_OFFICER, None),
    "unit_own": (frozenset({"responsible_unit"}), 21, UNIT),
    "unit_other": (frozenset({"responsible_unit"}), 22, OTHER_UNIT),
    "unit_none": (frozenset({"responsible_unit"}), 23, None),
    "grid_other_unit_own": (frozenset({"grid_officer", "responsible_unit"}), 24, UNIT),
    "patrol_officer": (frozenset({"patrol_officer"}), 3, None),
    "traffic": (frozenset({"traffic_staff"}), 4, None),
    "planner": (frozenset({"planner"}), 5, None),
    "viewer": (frozenset({"viewer"}), 6, None),
}
COLUMNS = tuple(ACTORS)

# One row per (from, to) pair that is a move at all; Y = this actor may make it (with a reason and a
# unit where needed, and not closing what they rectified themselves). Every other pair is no move.
#                                   admin lead grid_own grid_assigned grid_other unit_own unit_other unit_none
#                                   grid_other_unit_own patrol_officer traffic planner viewer
TABLE = """
reported      notice_issued   Y Y Y Y . . . . . . . . .
reported      escalated       Y Y Y Y . . . . . . . . .
notice_issued rectifying      Y . Y Y . Y . . Y . . . .
notice_issued escalated       Y Y Y Y . . . . . . . . .
rectifying    rectified       Y . Y Y . Y . . Y . . . .
rectifying    escalated       Y Y Y Y . . . . . . . . .
rectified     closed          Y Y Y Y . . . . . . . . .
rectified     rectifying      Y Y Y Y . . . . . . . . .
escalated     notice_issued   Y Y . . . . . . . . . . .
"""


def _table() -> dict[tuple[str, str], set[str]]:
    out = {}
    for line in TABLE.strip().splitlines():
        source, target, *cells = line.split()
        assert len(cells) == len(COLUMNS), line
        out[(source, target)] = {actor for actor, cell in zip(COLUMNS, cells, strict=True) if cell == "Y"}
    return out


EXPECTED = _table()


def actor(kind: str, username: str | None = None) -> Actor:
    roles, user_id, unit = ACTORS[kind]
    return Actor(username=username or kind, roles=roles, user_id=user_id, unit=unit)


def state(status: str, **fields: object) -> HazardState:
    values = {"responsible_unit": UNIT, "rectified_by": "someone-else", "assignee_user_id": ASSIGNEE,
              "zone_officer_user_id": ZONE_OFFICER, **fields}
    return HazardState(status=status, **values)  # type: ignore[arg-type]


PAIRS = [(a, b) for a in STATUSES for b in STATUSES]


def test_the_statuses_and_moves_are_the_contracts() -> None:
    from patrolmap.access import RULES
    from patrolmap.hazards import MOVERS, REPORTERS, SEES_ALL_HAZARDS
    from patrolmap.models import ROLES

    assert STATUSES == ("reported", "notice_issued", "rectifying", "rectified", "closed", "escalated")
    # Every role but a responsible unit sees every hazard of its campuses; the access table lets the loop's
    # roles move hazards and the field roles report them.
    assert set(ROLES) - {"responsible_unit"} == SEES_ALL_HAZARDS
    assert {"admin", "patrol_lead", "grid_officer", "responsible_unit"} == MOVERS
    assert RULES[("hazards_api.transition", "POST")] == MOVERS
    assert {"admin", "patrol_lead", "patrol_officer", "traffic_staff", "grid_officer"} == REPORTERS
    assert RULES[("hazards_api.report", "POST")] == REPORTERS
    assert {pair for pair in EXPECTED} == {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert TRANSITIONS["closed"] == ()


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair_for_every_actor(source: str, target: str) -> None:
    allowed = EXPECTED.get((source, target), set())
    for kind in COLUMNS:
        who = actor(kind)
        hazard = state(source)
        if kind in allowed:
            move = check_transition(hazard, target, who, reason="too big for one zone", unit=UNIT)
            assert (move.source, move.target) == (source, target)
            continue
        with pytest.raises(TransitionRefused) as refused:
            check_transition(hazard, target, who, reason="too big for one zone", unit=UNIT)
        # Why: no such move at all, none of the actor's roles may make it, or a role that does not reach
        # this hazard (another zone, another unit, or no unit).
        if (source, target) not in EXPECTED:
            assert refused.value.code == "status", (kind, source, target)
            assert target in str(refused.value) and source in str(refused.value)
        elif ACTORS[kind][0] & _roles_of(source, target):
            assert refused.value.code == "object", (kind, source, target, refused.value.code)
        else:
            assert refused.value.code == "role", (kind, source, target, refused.value.code)


def _roles_of(source: str, target: str) -> set[str]:
    """The roles a move is for, read off the table's single-role columns."""
    single = {"admin": "admin", "lead": "patrol_lead", "grid_own": "grid_officer", "unit_own": "responsible_unit"}
    return {single[k] for k in EXPECTED[(source, target)] if k in single}


@pytest.mark.parametrize("status", STATUSES)
def test_allowed_moves_lists_what_each_actor_may_do(status: str) -> None:
    for kind in COLUMNS:
        expected = [b for (a, b), kinds in EXPECTED.items() if a == status and kind in kinds]
        assert sorted(allowed_moves(state(status), actor(kind))) == sorted(expected), (status, kind)


def test_object_rules_name_the_zone_or_the_unit() -> None:
    with pytest.raises(TransitionRefused) as zone:
        check_transition(state("reported"), "notice_issued", actor("grid_other"), unit=UNIT)
    assert zone.value.code == "object" and "zone" in str(zone.value)
    with pytest.raises(TransitionRefused) as unit:
        check_transition(state("notice_issued"), "rectifying", actor("unit_other"))
    assert unit.value.code == "object" and "unit" in str(unit.value)
    # A unit acts only once a notice names it: no unit on the hazard, no unit's move.
    with pytest.raises(TransitionRefused):
        check_transition(state("notice_issued", responsible_unit=None), "rectifying", actor("unit_own"))
    # A grid officer with no account id never matches a zone.
    with pytest.raises(TransitionRefused):
        check_transition(state("reported"), "escalated", Actor("x", frozenset({"grid_officer"})), reason="r")


@pytest.mark.parametrize("kind", ["admin", "lead", "grid_own", "grid_assigned"])
def test_closing_is_by_someone_other_than_the_rectifier(kind: str) -> None:
    for rectifier in (kind, f"{kind} (token)"):  # a token acts as the same person
        with pytest.raises(TransitionRefused) as same:
            check_transition(state("rectified", rectified_by=rectifier), "closed", actor(kind))
        assert same.value.code == "same_person"
        assert "closed" not in allowed_moves(state("rectified", rectified_by=rectifier), actor(kind))
    check_transition(state("rectified", rectified_by="another person"), "closed", actor(kind))
    # Reopening after a failed check is open to the rectifier too.
    check_transition(state("rectified", rectified_by=kind), "rectifying", actor(kind))


@pytest.mark.parametrize("source", ["reported", "notice_issued", "rectifying"])
def test_escalation_needs_a_reason(source: str) -> None:
    for reason in (None, "", "   \n"):
        with pytest.raises(TransitionRefused) as refused:
            check_transition(state(source), "escalated", actor("grid_own"), reason=reason)
        assert refused.value.code == "needs_reason"
    check_transition(state(source), "escalated", actor("grid_own"), reason="the whole block's wiring")


def test_a_notice_needs_a_responsible_unit() -> None:
    for unit in (None, "", "  "):
        with pytest.raises(TransitionRefused) as refused:
            check_transition(state("reported", responsible_unit=None), "notice_issued", actor("grid_own"), unit=unit)
        assert refused.value.code == "needs_unit"
    check_transition(state("reported", responsible_unit=None), "notice_issued", actor("grid_own"), unit=UNIT)
    # Issued again after escalation, the notice may keep the unit it had.
    check_transition(state("escalated", responsible_unit=UNIT), "notice_issued", actor("lead"))
    with pytest.raises(TransitionRefused):
        check_transition(state("escalated", responsible_unit=None), "notice_issued", actor("lead"))


def test_deadlines_follow_the_urgency() -> None:
    issued = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
    assert deadline_for("urgent", issued) == dt.datetime(2026, 11, 23, 11, 30, tzinfo=dt.UTC)
    assert deadline_for("high", issued) == dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
    assert deadline_for("normal", issued) == dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)


def test_overdue_is_a_past_deadline_while_waiting_on_someone() -> None:
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    past, future = now - dt.timedelta(seconds=1), now + dt.timedelta(seconds=1)
    waiting = {"notice_issued", "rectifying", "escalated"}
    for status in STATUSES:
        assert is_overdue(status, past, now) is (status in waiting), status
        assert is_overdue(status, future, now) is False
        assert is_overdue(status, None, now) is False
        assert is_overdue(status, now, now) is False  # due this instant is not yet late
        assert map_state(status, past, now) == ("overdue" if status in waiting else status)


def test_notice_numbers() -> None:
    assert notice_number(2026, "mini", 7) == "2026-mini-0007"
    assert notice_number(2026, "mini", 12345) == "2026-mini-12345"
    assert notice_sequence("2026-mini-0007", 2026, "mini") == 7
    assert notice_sequence("2026-mini-12345", 2026, "mini") == 12345
    for other in ("2025-mini-0007", "2026-mini2-0007", "2026-mini-7a", "保卫处〔2026〕7号", None):
        assert notice_sequence(other, 2026, "mini") is None
    assert check_notice_number("  保卫处〔2026〕7号 ") == "保卫处〔2026〕7号"
    assert check_notice_number(None) is None and check_notice_number(" ") is None
    for bad in (7, "x" * 65, "a\nb"):
        with pytest.raises(ValueError, match=r"notice\.number"):
            check_notice_number(bad)


def test_reminder_schedule() -> None:
    assert before_lead("urgent") == dt.timedelta(hours=1)  # a quarter of 2 h is less than the 1 h floor
    assert before_lead("high") == dt.timedelta(hours=6)
    assert before_lead("normal") == dt.timedelta(hours=18)
    deadline = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    for urgency, lead in (("urgent", 1), ("high", 6), ("normal", 18)):
        start = deadline - dt.timedelta(hours=lead)
        assert reminder_due(start - dt.timedelta(seconds=1), deadline, urgency) is None
        assert reminder_due(start, deadline, urgency) == "before"
        assert reminder_due(deadline - dt.timedelta(seconds=1), deadline, urgency) == "before"
        assert reminder_due(deadline, deadline, urgency) == "due"
        assert reminder_due(deadline + dt.timedelta(days=3), deadline, urgency) == "due"


def test_webhooks_are_parsed_and_bad_ones_named() -> None:
    text = json.dumps([{"name": "保卫处群", "kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"},
                       {"name": "ding", "kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=t",
                        "secret": "SEC1"},
                       {"name": "ops", "kind": "generic", "url": "http://10.0.0.5:8080/hook"}])
    hooks = parse_webhooks(text)
    assert [h.name for h in hooks] == ["保卫处群", "ding", "ops"]
    assert hooks[1].secret == "SEC1" and hooks[0].secret is None
    assert parse_webhooks("") == () and parse_webhooks(None) == ()
    assert parse_webhooks(json.loads(text)) == hooks and parse_webhooks(hooks) == hooks
    bad = {
        "[{": "not valid JSON",
        '{"name": "x"}': "must be a JSON list",
        '["x"]': "entry 0 must be an object",
        '[{"name": "a", "kind": "slack", "url": "https://x"}]': "kind must be one of wecom, dingtalk, generic",
        '[{"name": "a", "kind": "generic", "url": "ftp://x"}]': "url must be an http or https URL",
        '[{"name": "a", "kind": "generic", "url": "https://x", "token": "t"}]': "unknown field(s) token",
        '[{"name": "app", "kind": "generic", "url": "https://x"}]': "reserved",
        '[{"name": "a", "kind": "generic", "url": "https://x"}, {"name": "a", "kind": "wecom", "url": "https://y"}]':
            "entry 1: the name 'a' is used twice",
        '[{"name": "", "kind": "generic", "url": "https://x"}]': "name must be a non-empty string",
        '[{"name": "a", "kind": "dingtalk", "url": "https://x", "secret": 5}]': "secret must be a non-empty string",
    }
    for value, message in bad.items():
        with pytest.raises(ValueError, match="PATROLMAP_WEBHOOKS") as error:
            parse_webhooks(value)
        assert message in str(error.value), (value, str(error.value))


def test_a_bad_webhook_setting_stops_the_start() -> None:
    from patrolmap.config import from_environment

    with pytest.raises(ValueError, match="PATROLMAP_WEBHOOKS is not valid JSON"):
        from_environment({"PATROLMAP_WEBHOOKS": "[{'name': 'single quotes'}]"})
    config = from_environment({"PATROLMAP_WEBHOOKS": '[{"name": "a", "kind": "generic", "url": "https://x/h"}]'})
    assert config["WEBHOOKS"] == (Webhook("a", "generic", "https://x/h"),)


def test_robot_payloads_and_signatures() -> None:
    message = ReminderMessage("Hazard overdue", ["line one", "line two"], {"kind": "due", "hazard": {"id": 3}})
    wecom = webhook_request(Webhook("w", "wecom", "https://q/send?key=k"), message, timestamp_ms=1)
    assert wecom.url == "https://q/send?key=k"
    assert json.loads(wecom.body) == {"msgtype": "markdown",
                                      "markdown": {"content": "**Hazard overdue**\nline one\nline two"}}
    ts = 1763880000123
    ding = webhook_request(Webhook("d", "dingtalk", "https://o/robot/send?access_token=t", "SEC"), message,
                           timestamp_ms=ts)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(ding.url).query)
    expected = base64.b64encode(hmac.new(b"SEC", f"{ts}\nSEC".encode(), hashlib.sha256).digest()).decode()
    assert query == {"access_token": ["t"], "timestamp": [str(ts)], "sign": [expected]}
    assert dingtalk_sign("SEC", ts) == urllib.parse.quote_plus(expected)
    body = json.loads(ding.body)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "Hazard overdue"
    assert "line one\n\nline two" in body["markdown"]["text"]
    unsigned = webhook_request(Webhook("d", "dingtalk", "https://o/robot/send?access_token=t"), message, timestamp_ms=ts)
    assert unsigned.url == "https://o/robot/send?access_token=t"
    generic = webhook_request(Webhook("g", "generic", "https://h/x", "GSEC"), message, timestamp_ms=ts)
    assert json.loads(generic.body) == {"event": "hazard_reminder", "title": "Hazard overdue",
                                        "text": "line one\nline two", "kind": "due", "hazard": {"id": 3}}
    assert generic.headers["X-Patrolmap-Signature"] == "sha256=" + hmac.new(b"GSEC", generic.body,
                                                                            hashlib.sha256).hexdigest()
    assert robot_error("wecom", b'{"errcode": 0, "errmsg": "ok"}') is None
    assert robot_error("dingtalk", b'{"errcode": 310000, "errmsg": "sign not match"}') == \
        "errcode 310000: sign not match"
    assert robot_error("generic", b"anything") is None


def test_user_text_cannot_add_markup_to_robot_messages() -> None:
    text = markdown_text("[click](http://evil) <font color=red>**x**</font> `code` # title\nnext")
    for ch in "[]<>`*#\n":
        assert ch not in text
    assert "click" in text and "http://evil" in text  # the words stay, as text
    assert markdown_text("x" * 300) == "x" * 199 + "…"
