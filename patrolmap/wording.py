"""The words people read for field names and coded values, marked for translation.

Pure modules (layers, schema) keep their plain English identifiers; the web layer
translates them through these tables with gettext. A test checks that every field a
popup shows and every coded value a schema allows has an entry here, so a new field
cannot reach a Chinese page untranslated.
"""

from __future__ import annotations

from collections.abc import Callable


def N_(text: str) -> str:  # noqa: N802  (the conventional name pybabel extracts)
    """Mark a string for the message catalogue without translating it now."""
    return text


LAYER_TITLES = {
    "buildings": N_("Buildings"),
    "grid-zones": N_("Grid zones"),
    "paths": N_("Path network"),
    "checkpoints": N_("Checkpoints"),
    "parking-lots": N_("Parking lots"),
    "chargers": N_("EV chargers"),
    "duty-posts": N_("Duty posts"),
    "violations": N_("Parking violations"),
    "hotspots": N_("Marked hotspots"),
    "hazards": N_("Hazards"),
}

FIELD_LABELS = {
    "name": N_("name"),
    "name_en": N_("English name"),
    "kind": N_("kind"),
    "residents": N_("residents"),
    "floors": N_("floors"),
    "college": N_("college"),
    "officer": N_("grid officer"),
    "officer_phone": N_("phone"),
    "fire_lane": N_("fire lane"),
    "oneway": N_("one-way"),
    "access": N_("access"),
    "speed_limit_kmh": N_("speed limit (km/h)"),
    "capacity": N_("capacity"),
    "status": N_("status"),
    "ports": N_("ports"),
    "power_kw": N_("power (kW)"),
    "operator": N_("operator"),
    "hours": N_("hours"),
    "observed_at": N_("time"),
    "plate": N_("plate"),
    "note": N_("note"),
    "reporter": N_("reporter"),
    "near_fire_lane": N_("near a fire lane"),
    # hazards
    "category": N_("category"),
    "description": N_("description"),
    "urgency": N_("urgency"),
    "overdue": N_("overdue"),
    "notice_number": N_("notice number"),
    "responsible_unit": N_("responsible unit"),
    "deadline": N_("deadline"),
    "reported_at": N_("reported at"),
}

VALUE_LABELS = {
    # buildings
    "dorm": N_("dorm"), "staff_apartment": N_("staff apartment"), "canteen": N_("canteen"),
    "teaching": N_("teaching"), "lab": N_("lab"), "library": N_("library"), "admin": N_("administration"),
    "gate": N_("gate"), "sports": N_("sports"), "other": N_("other"),
    # paths
    "road": N_("road"), "service": N_("service road"), "footway": N_("footway"), "steps": N_("steps"),
    "cycleway": N_("cycleway"), "track": N_("track"), "public": N_("public"), "private": N_("private"),
    # checkpoints
    "office": N_("office"), "parking": N_("parking"), "patrol_point": N_("patrol point"),
    # chargers
    "car": N_("car"), "ebike": N_("e-bike"), "existing": N_("existing"), "planned": N_("planned"),
    # violations
    "fire_lane": N_("fire lane blocked"), "entrance": N_("blocking an entrance"), "no_parking": N_("no parking zone"),
    "zombie": N_("zombie car"), "open": N_("open"), "notified": N_("notified"), "towed": N_("towed"),
    "resolved": N_("resolved"), "void": N_("void"),
    # marked hotspots
    "no_parking_watch": N_("no-parking watch"), "fire_lane_watch": N_("fire-lane watch"),
    "peak_hour_post": N_("peak-hour post area"), "tow_away_zone": N_("tow-away zone"),
    # hazards: categories (lab and other as above), urgencies, statuses, and overdue on the map
    "fire": N_("fire safety"), "electrical": N_("electrical"), "ebike_indoor": N_("e-bike charging indoors"),
    "structural": N_("structural"), "traffic": N_("traffic"),
    "urgent": N_("urgent (2 h)"), "high": N_("high (24 h)"), "normal": N_("normal (72 h)"),
    "reported": N_("reported"), "notice_issued": N_("notice issued"), "rectifying": N_("rectifying"),
    "rectified": N_("rectified"), "closed": N_("closed"), "escalated": N_("escalated to the whole grid"),
    "overdue": N_("overdue"),
}

# Codes whose words depend on the field they are in: "lab" is a kind of building (a lab building)
# and a category of hazard (laboratory safety). Keyed "field:code"; looked up before the code alone.
FIELD_VALUE_LABELS = {
    "category:lab": N_("laboratory safety"),
}


def value_label(code: str | None, field: str | None = None) -> str | None:
    """The untranslated words for a coded value, those of its field first; None for a code without words."""
    if code is None:
        return None
    return FIELD_VALUE_LABELS.get(f"{field}:{code}") or VALUE_LABELS.get(code)


def value_labels(translate: Callable[[str], str]) -> dict[str, str]:
    """Every coded value's words (and the field-specific ones as "field:code"), as pages and scripts look them up."""
    return {code: translate(text) for code, text in {**VALUE_LABELS, **FIELD_VALUE_LABELS}.items()}


# What the audit log says was done.
AUDIT_ACTIONS = {
    "create": N_("created"), "update": N_("changed"), "delete": N_("deleted"), "import": N_("imported"),
    "transition": N_("status changed"), "photo": N_("photo added"), "purge": N_("personal data purged"),
    "revoke": N_("revoked"),
    "reissue": N_("reissued"),
    "revert": N_("reverted"),
}
# The reasons patrolmap itself gives in audit entries. The log stores them in English (evidence
# reads the same in every export and to every tool); the audit page shows them in the reader's
# language (audit.reason_label). A test checks that every reason written in the code is here.
AUDIT_REASONS = (
    N_("recorded"), N_("edited"), N_("re-planned"), N_("marked on the map"), N_("hazard reported"), N_("user created"),
    N_("first run: demo admin"), N_("API token issued"), N_("API token revoked"), N_("charger scenario saved"),
    N_("duty post placed from the map"), N_("patrol route saved"),
    N_("patrol point picked on the map for a saved route"), N_("evidence photo added"), N_("hazard photo added"),
    N_("re-import changed the record"), N_("import of %(source)s into %(campus)s"),
    N_("buildings %(buildings)s moved to zone %(zone)s"), N_("personal data older than %(days)s days"),
    N_("split at %(lon)s, %(lat)s"), N_("split from path %(path)s"), N_("joined with path %(path)s"),
    N_("joined into path %(path)s"), N_("revert of audit entry %(entry)s"),
    N_("revert of audit entry %(entry)s: %(reason)s"),
)

# Audit entries about things that are not map layers.
AUDIT_SUBJECTS = {"users": N_("users"), "api-tokens": N_("API tokens"), "patrol_routes": N_("patrol routes"),
                  "checkpoint-tags": N_("QR plaques"), "charger_scenarios": N_("charger scenarios")}

PAGE_TITLES = {
    "overview": N_("Overview"),
    "patrol": N_("Patrol"),
    "violations": N_("Violations"),
    "chargers": N_("Chargers"),
    "grid": N_("Grid"),
    "edit": N_("Edit"),
}
# The leadership reports page (/reports, patrolmap/web/reports_api.py): not a map page, so not in PAGE_TITLES.
REPORTS_TITLE = N_("Reports")
