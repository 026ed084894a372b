"""Hazards and their rectification loop: vocabulary, deadlines, the state machine, reminders, webhooks.

Pure: no Flask, no database. The store (patrolmap.hazardstore) and the API apply what is decided here.

    reported ──► notice_issued ──► rectifying ──► rectified ──► closed
       │             │    ▲            │  ▲           │
       │             │    │            │  └───────────┘ verification failed: reopened
       └─────────────┴────┼────────────┴──► escalated (a big matter: to the whole grid, with a reason)
                          └──────────────────────┘ the whole grid issues a new notice

Who may make each move (MOVES): the security department's side (admin, patrol_lead, grid_officer)
issues notices, escalates, verifies and closes, and reopens a rectification that failed its check;
the responsible side (responsible_unit, or admin/grid_officer recording it on the unit's behalf)
starts and finishes the rectification; an escalated hazard is taken over at grid level (admin,
patrol_lead), which issues the new notice. On top of the roles, object rules:

- a grid officer acts only on hazards of a zone they are the officer of, or assigned to them;
- a responsible unit acts only on hazards whose notice names its own unit;
- closing (verification) is by a different person than the one who rectified;
- escalating needs a reason; issuing a notice needs a responsible unit.

Overdue: a deadline in the past while the hazard waits on someone (notice_issued, rectifying,
escalated). Deadlines come from the urgency when a notice is issued (urgent 2 h, high 24 h,
normal 72 h). Reminders: "before" when a quarter of the notice's time is left, but at least 1 h
before the deadline (urgent: 1 h before; high: 6 h; normal: 18 h), and "due" at the deadline.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from patrolmap.geo.schema import HAZARD_CATEGORIES, HAZARD_STATUSES, HAZARD_URGENCIES


def N_(text: str) -> str:  # noqa: N802  (the conventional name pybabel extracts)
    return text


# 消防/电气/电动车室内充电/实验室/结构/交通/其他
CATEGORIES = HAZARD_CATEGORIES
URGENCY_HOURS: dict[str, int] = {"urgent": 2, "high": 24, "normal": 72}
URGENCIES = HAZARD_URGENCIES
STATUSES = HAZARD_STATUSES
# Waiting on someone: a hazard in one of these with its deadline past is overdue.
OVERDUE_STATUSES = frozenset({"notice_issued", "rectifying", "escalated"})
OPEN_STATUSES = tuple(s for s in STATUSES if s != "closed")
# What the map colours by: the status, or "overdue" over it.
MAP_STATES = (*STATUSES, "overdue")
MAX_TEXT = 2000

# The security department: issues notices, escalates, verifies and closes.
DEPARTMENT = frozenset({"admin", "patrol_lead", "grid_officer"})
# The whole grid (big matters): takes over escalated hazards.
GRID_LEVEL = frozenset({"admin", "patrol_lead"})
# The responsible side: rectifies (admins and grid officers may record it on a unit's behalf).
RECTIFIERS = frozenset({"admin", "grid_officer", "responsible_unit"})
# Every role that may move a hazard at all (the access table's entry for transitions).
MOVERS = DEPARTMENT | RECTIFIERS
# Who may report a hazard.
REPORTERS = frozenset({"admin", "patrol_lead", "patrol_officer", "traffic_staff", "grid_officer"})
# Roles that see every hazard of their campuses; a responsible unit alone sees only its own unit's.
SEES_ALL_HAZARDS = frozenset({"admin", "patrol_lead", "patrol_officer", "traffic_staff", "planner", "grid_officer",
                              "viewer"})

# Rules a move may carry beyond its roles.
NEEDS_REASON = "needs_reason"
NEEDS_UNIT = "needs_unit"
NOT_RECTIFIER = "not_rectifier"


@dataclass(frozen=True)
class Move:
    """One allowed move: from, to, the roles that may make it, and the rules it carries."""

    source: str
    target: str
    roles: frozenset[str]
    rules: frozenset[str] = frozenset()


MOVES: tuple[Move, ...] = (
    Move("reported", "notice_issued", DEPARTMENT, frozenset({NEEDS_UNIT})),
    Move("reported", "escalated", DEPARTMENT, frozenset({NEEDS_REASON})),
    Move("notice_issued", "rectifying", RECTIFIERS),
    Move("notice_issued", "escalated", DEPARTMENT, frozenset({NEEDS_REASON})),
    Move("rectifying", "rectified", RECTIFIERS),
    Move("rectifying", "escalated", DEPARTMENT, frozenset({NEEDS_REASON})),
    Move("rectified", "closed", DEPARTMENT, frozenset({NOT_RECTIFIER})),
    Move("rectified", "rectifying", DEPARTMENT),  # verification failed: back to the responsible side
    Move("escalated", "notice_issued", GRID_LEVEL, frozenset({NEEDS_UNIT})),
)
TRANSITIONS: dict[str, tuple[str, ...]] = {s: tuple(m.target for m in MOVES if m.source == s) for s in STATUSES}
_MOVES = {(m.source, m.target): m for m in MOVES}

if tuple(URGENCY_HOURS) != URGENCIES:  # pragma: no cover - a new urgency needs its hours here
    msg = "patrolmap.hazards.URGENCY_HOURS must name every urgency of the hazards schema"
    raise RuntimeError(msg)
if not {s for m in MOVES for s in (m.source, m.target)} <= set(STATUSES):  # pragma: no cover
    msg = "patrolmap.hazards.MOVES names a status that STATUSES lacks"
    raise RuntimeError(msg)


@dataclass(frozen=True)
class Actor:
    """Who asks for a move: their user name (without the token mark), roles, user id and unit."""

    username: str
    roles: frozenset[str]
    user_id: int | None = None
    unit: str | None = None


@dataclass(frozen=True)
class HazardState:
    """What the state machine needs to know of a hazard."""

    status: str
    responsible_unit: str | None = None
    rectified_by: str | None = None
    assignee_user_id: int | None = None
    zone_officer_user_id: int | None = None


class TransitionRefused(Exception):
    """A move the machine does not allow; `template`/`params` say why, `code` which rule refused it.

    Codes: status (no such move from this status), role (none of the actor's roles may make it),
    object (not their zone or unit), same_person (closing what they rectified themselves),
    needs_reason, needs_unit.
    """

    def __init__(self, code: str, template: str, **params: Any) -> None:
        self.code = code
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


def person(actor: str | None) -> str | None:
    """The user name in an audit actor string: "li (token)" and "li" are the same person."""
    if actor is None:
        return None
    return actor[: -len(" (token)")] if actor.endswith(" (token)") else actor


def _role_applies(role: str, state: HazardState, actor: Actor) -> bool:
    """A role counts for this hazard only if its object rule holds (own zone, own unit)."""
    if role == "grid_officer":
        return actor.user_id is not None and actor.user_id in (state.assignee_user_id, state.zone_officer_user_id)
    if role == "responsible_unit":
        return bool(actor.unit) and actor.unit == state.responsible_unit
    return True


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def check_transition(state: HazardState, to: str, actor: Actor, *, reason: str | None = None,
                     unit: str | None = None) -> Move:
    """The move from the hazard's status to `to`, if this actor may make it now; TransitionRefused otherwise.

    `reason` is the escalation's reason and `unit` the responsible unit a notice names (a notice
    issued again after escalation may keep the unit the hazard already has).
    """
    move = _MOVES.get((state.status, to))
    if move is None:
        raise TransitionRefused("status", N_("a hazard that is %(status)s cannot become %(to)s; it may become: "
                                             "%(allowed)s"),
                                status=state.status, to=to, allowed=", ".join(TRANSITIONS.get(state.status, ())) or "-")
    roles = move.roles & actor.roles
    if not roles:
        raise TransitionRefused("role", N_("moving a hazard from %(status)s to %(to)s is for %(roles)s"),
                                status=state.status, to=to, roles=", ".join(sorted(move.roles)))
    if not any(_role_applies(role, state, actor) for role in roles):
        if "responsible_unit" in roles and "grid_officer" not in roles:
            raise TransitionRefused("object", N_("this hazard's notice names another responsible unit"))
        raise TransitionRefused("object", N_("this hazard is neither in your grid zone nor assigned to you"))
    if NOT_RECTIFIER in move.rules and person(state.rectified_by) == actor.username:
        raise TransitionRefused("same_person", N_("you rectified this hazard; someone else must verify and close it"))
    if NEEDS_REASON in move.rules and _blank(reason):
        raise TransitionRefused("needs_reason", N_("a reason is required to escalate a hazard"))
    if NEEDS_UNIT in move.rules and _blank(unit) and _blank(state.responsible_unit):
        raise TransitionRefused("needs_unit", N_("a rectification notice needs a responsible unit"))
    return move


def allowed_moves(state: HazardState, actor: Actor) -> tuple[str, ...]:
    """The statuses this actor may move the hazard to now, given a reason and a unit where one is needed."""
    out = []
    for target in TRANSITIONS.get(state.status, ()):
        try:
            check_transition(state, target, actor, reason="-", unit="-")
        except TransitionRefused:
            continue
        out.append(target)
    return tuple(out)


# ---------------------------------------------------------------- deadlines


def deadline_for(urgency: str, issued_at: dt.datetime) -> dt.datetime:
    """When a notice issued at `issued_at` falls due: urgent 2 h, high 24 h, normal 72 h."""
    return issued_at + dt.timedelta(hours=URGENCY_HOURS[urgency])


def is_overdue(status: str, deadline: dt.datetime | None, now: dt.datetime) -> bool:
    """Past its deadline while still waiting on someone (a closed or merely rectified one is not)."""
    return deadline is not None and deadline < now and status in OVERDUE_STATUSES


def map_state(status: str, deadline: dt.datetime | None, now: dt.datetime) -> str:
    """What a map colours a hazard by: "overdue" (red) over its status."""
    return "overdue" if is_overdue(status, deadline, now) else status


# ---------------------------------------------------------------- notice numbers

NOTICE_NUMBER_MAX = 64


def notice_number(year: int, campus_slug: str, sequence: int) -> str:
    """The automatic rectification notice number: YYYY-campus-NNNN, numbered per campus and year."""
    return f"{year:04d}-{campus_slug}-{sequence:04d}"


def notice_sequence(number: str | None, year: int, campus_slug: str) -> int | None:
    """The sequence of an automatic number of this campus and year, or None for any other number."""
    prefix = f"{year:04d}-{campus_slug}-"
    if number is None or not number.startswith(prefix):
        return None
    rest = number[len(prefix):]
    return int(rest) if rest.isascii() and rest.isdigit() else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_notice_number(number: Any) -> str | None:
    """A number given by hand (a paper notice's): stripped text of at most 64 characters, or None for automatic."""
    if number is None:
        return None
    if not isinstance(number, str):
        raise ValueError(N_("notice.number must be a string"))
    number = number.strip()
    if not number:
        return None
    if len(number) > NOTICE_NUMBER_MAX or _CONTROL.search(number):
        raise ValueError(N_("notice.number must be at most 64 characters, without control characters"))
    return number


# ---------------------------------------------------------------- reminders

BEFORE_SHARE = 0.25
BEFORE_AT_LEAST = dt.timedelta(hours=1)
REMINDER_KINDS = ("before", "due")


def before_lead(urgency: str) -> dt.timedelta:
    """How long before the deadline the "before" reminder goes: a quarter of the notice's time, at least 1 h."""
    hours = URGENCY_HOURS.get(urgency, URGENCY_HOURS["normal"])
    return max(BEFORE_AT_LEAST, dt.timedelta(hours=hours * BEFORE_SHARE))


MAX_LEAD = max(before_lead(u) for u in URGENCIES)


def reminder_due(now: dt.datetime, deadline: dt.datetime, urgency: str) -> str | None:
    """Which reminder is due now: "due" from the deadline on, "before" in the lead-up, else None.

    A "before" reminder not sent by the deadline is never sent late: "due" replaces it.
    """
    if now >= deadline:
        return "due"
    if now >= deadline - before_lead(urgency):
        return "before"
    return None


# ---------------------------------------------------------------- webhooks

WEBHOOK_KINDS = ("wecom", "dingtalk", "generic")
WEBHOOK_FIELDS = {"name", "kind", "url", "secret"}
APP_CHANNEL = "app"


@dataclass(frozen=True)
class Webhook:
    """A configured robot or URL reminders are posted to; `name` is its channel in the reminders table."""

    name: str
    kind: str
    url: str
    secret: str | None = None


def parse_webhooks(value: Any) -> tuple[Webhook, ...]:
    """PATROLMAP_WEBHOOKS (JSON text, or the list it holds) as Webhooks; ValueError saying what is wrong.

    A JSON list of {"name", "kind": "wecom"|"dingtalk"|"generic", "url", "secret"?}. Names are unique,
    at most 60 characters and not "app" (the in-app channel); URLs are http or https.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    if isinstance(value, (tuple, list)) and all(isinstance(v, Webhook) for v in value):
        return tuple(value)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            msg = f"PATROLMAP_WEBHOOKS is not valid JSON: {exc}"
            raise ValueError(msg) from None
    if not isinstance(value, list):
        msg = 'PATROLMAP_WEBHOOKS must be a JSON list of {"name", "kind", "url", "secret"?} objects'
        raise ValueError(msg)
    hooks: list[Webhook] = []
    for index, item in enumerate(value):
        where = f"PATROLMAP_WEBHOOKS entry {index}"
        if not isinstance(item, dict):
            msg = f"{where} must be an object with name, kind and url"
            raise ValueError(msg)
        unknown = sorted(set(item) - WEBHOOK_FIELDS)
        if unknown:
            msg = f"{where}: unknown field(s) {', '.join(unknown)}; accepted: name, kind, url, secret"
            raise ValueError(msg)
        name, kind, url, secret = (item.get(k) for k in ("name", "kind", "url", "secret"))
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 60:
            msg = f"{where}: name must be a non-empty string of at most 60 characters"
            raise ValueError(msg)
        name = name.strip()
        if name == APP_CHANNEL or name.startswith(APP_CHANNEL + ":"):
            msg = f"{where}: the name {name!r} is reserved for in-app notifications"
            raise ValueError(msg)
        if any(h.name == name for h in hooks):
            msg = f"{where}: the name {name!r} is used twice"
            raise ValueError(msg)
        if kind not in WEBHOOK_KINDS:
            msg = f"{where} ({name}): kind must be one of {', '.join(WEBHOOK_KINDS)}, not {kind!r}"
            raise ValueError(msg)
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            msg = f"{where} ({name}): url must be an http or https URL"
            raise ValueError(msg)
        if secret is not None and (not isinstance(secret, str) or not secret):
            msg = f"{where} ({name}): secret must be a non-empty string when given"
            raise ValueError(msg)
        hooks.append(Webhook(name, kind, url, secret))
    return tuple(hooks)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, URL-quoted."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def generic_signature(secret: str, body: bytes) -> str:
    """The X-Patrolmap-Signature of a generic webhook with a secret: sha256=<hex HMAC of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Characters robots' markdown acts on, replaced by look-alikes so that reported text cannot add links or markup.
_MARKDOWN = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "`": "'", "*": "＊", "_": "＿", "#": "＃",
                           "\r": " ", "\n": " "})


def markdown_text(text: str, limit: int = 200) -> str:
    """User text made inert for a robot's markdown and cut to `limit` characters."""
    text = text.translate(_MARKDOWN)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ReminderMessage:
    """One reminder's words: a title, markdown lines (already made inert) and the plain data."""

    title: str
    lines: Sequence[str]
    data: Mapping[str, Any]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: Mapping[str, str]


def webhook_request(hook: Webhook, message: ReminderMessage, *, timestamp_ms: int) -> WebhookRequest:
    """The HTTP POST a webhook gets: WeCom and DingTalk robot markdown, or a generic JSON event."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    url = hook.url
    if hook.kind == "wecom":
        payload: dict[str, Any] = {"msgtype": "markdown",
                                   "markdown": {"content": f"**{message.title}**\n" + message.text}}
    elif hook.kind == "dingtalk":
        payload = {"msgtype": "markdown", "markdown": {"title": message.title,
                                                      "text": f"### {message.title}\n\n" + "\n\n".join(message.lines)}}
        if hook.secret:
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            url = f"{url}{sep}timestamp={timestamp_ms}&sign={dingtalk_sign(hook.secret, timestamp_ms)}"
    else:
        payload = {"event": "hazard_reminder", "title": message.title, "text": message.text, **message.data}
    body = json.dumps(payload, ensure_ascii=False).encode()
    if hook.kind == "generic" and hook.secret:
        headers["X-Patrolmap-Signature"] = generic_signature(hook.secret, body)
    return WebhookRequest(url, body, headers)


def robot_error(kind: str, body: bytes) -> str | None:
    """WeCom and DingTalk answer HTTP 200 with {"errcode": n}: the robot's complaint when n is not 0."""
    if kind not in ("wecom", "dingtalk"):
        return None
    try:
        answer = json.loads(body.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        return "the robot's answer is not JSON"
    if not isinstance(answer, dict):
        return "the robot's answer is not a JSON object"
    code = answer.get("errcode", 0)
    if code in (0, None):
        return None
    return f"errcode {code}: {answer.get('errmsg', '')}"[:500]
