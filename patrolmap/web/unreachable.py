"""Why a point cannot be reached, in the reader's language.

Routing and placement are pure modules and give their reasons as English constants (kept as
they are in saved plans); every answer and page that shows one to a person words it here.
"""

from __future__ import annotations

import re

from flask_babel import gettext

from patrolmap.placement.distances import REASON_NO_DEMAND, REASON_NO_NETWORK, REASON_NO_SITE
from patrolmap.routing.network import REASON_DISCONNECTED, REASON_ONEWAY
from patrolmap.wording import N_

TOO_FAR = N_("farther than %(snap)s m from the path network (%(distance)s m)")
NO_NETWORK_FOR_MODE = N_("the campus has no path network for this mode")
LABELS = {
    REASON_DISCONNECTED: N_("on a part of the path network not connected to the start"),
    REASON_ONEWAY: N_("cannot be reached from the start and back (one-way streets)"),
    REASON_NO_SITE: N_("on a part of the path network with no charger or candidate site"),
    REASON_NO_DEMAND: N_("on a part of the path network with no demand point"),
    REASON_NO_NETWORK: N_("there is no path network"),
}
# routing.network.REASON_TOO_FAR as written: "farther than 150 m from the path network (212 m)".
_TOO_FAR = re.compile(r"farther than (\d+) m from the path network \((\d+) m\)")


def too_far(snap_m: float, distance_m: float) -> str:
    return gettext(TOO_FAR, snap=f"{snap_m:.0f}", distance=f"{distance_m:.0f}")


def reason_text(reason: str | None) -> str:
    """A reason from routing or placement as the reader reads it; any other text as it is."""
    if not reason:
        return ""
    if reason in LABELS:
        return gettext(LABELS[reason])
    found = _TOO_FAR.fullmatch(reason)
    if found:
        return gettext(TOO_FAR, snap=found.group(1), distance=found.group(2))
    return reason
