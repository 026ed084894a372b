"""The report's charts as PNGs, drawn on the server with matplotlib (Agg), in the reader's language.

Drawn from the report's data (patrolmap.reports.compute), never from the store, so a chart shows
exactly the figures of the tables beside it. Chinese labels need a CJK font: the first of
CJK_FONTS that is installed (fonts-wqy-microhei on Debian) is put first in the sans-serif list,
with DejaVu Sans behind it for Latin text; without one the labels fall back quietly (Chinese
characters then show as boxes, the numbers stay right).

Figures are built with the object API (Figure and FigureCanvasAgg, never pyplot), so that
several requests can draw at once.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from patrolmap.reports.compute import Report
from patrolmap.wording import N_, value_label

CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "Microsoft YaHei", "SimHei", "PingFang SC")
DPI = 100
CURRENT, PREVIOUS = "#1f5fa8", "#b8c7d9"
OPENED, CLOSED, OVERDUE = "#1f5fa8", "#33a02c", "#e31a1c"
# The hotspot classes in the colours of the /violations map (static/js/violations.js).
CLASS_COLORS = {"hot_99": "#b2182b", "hot_95": "#ef8a62", "hot_90": "#fddbc7", "not_significant": "#f7f7f7",
                "cold_90": "#d1e5f0", "cold_95": "#67a9cf", "cold_99": "#2166ac"}
CLASS_WORDS = {"hot_99": N_("hot spot, 99 percent confidence"), "hot_95": N_("hot spot, 95 percent confidence"),
               "hot_90": N_("hot spot, 90 percent confidence"), "not_significant": N_("not significant"),
               "cold_90": N_("cold spot, 90 percent confidence"), "cold_95": N_("cold spot, 95 percent confidence"),
               "cold_99": N_("cold spot, 99 percent confidence")}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MAX_BARS = 15  # zones and routes beyond the busiest are summed up in the tables, not drawn

Translate = Callable[..., str]


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of an installed font that has Chinese characters, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


def _style() -> None:
    font = cjk_font()
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [*([font] if font else []), "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack U+2212


_style()


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


def _nothing(ax: Any, _: Translate) -> None:
    ax.text(0.5, 0.5, _("no data in this period"), ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _label(value: str | None, _: Translate, field: str | None = None) -> str:
    words = value_label(value, field)
    return _(words) if words else (value or "")


def _paired_bars(ax: Any, labels: list[str], now: list[int], before: list[int], _: Translate,
                 now_label: str, before_label: str) -> None:
    """Horizontal bars, this period over the one before, the first label at the top."""
    y = list(range(len(labels)))
    ax.barh([v + 0.2 for v in y], before, height=0.4, color=PREVIOUS, label=before_label)
    ax.barh([v - 0.2 for v in y], now, height=0.4, color=CURRENT, label=now_label)
    for v, n in zip(y, now, strict=True):
        ax.text(n, v - 0.2, f" {n:,}", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)


def _period_words(report: Report, _: Translate) -> tuple[str, str]:
    p, q = report.data["period"], report.data["previous"]
    return (_("%(start)s to %(end)s", start=p["from"], end=p["to"]),
            _("%(start)s to %(end)s", start=q["compared_from"], end=q["compared_to"]))


def violations_by_kind(report: Report, _: Translate) -> bytes:
    rows = report.data["violations"]["by_kind"]
    fig, ax = _figure(7, 3.2)
    now_label, before_label = _period_words(report, _)
    _paired_bars(ax, [_label(r["kind"], _) for r in rows], [r["count"] for r in rows],
                 [r["previous"] for r in rows], _, now_label, before_label)
    ax.set_title(_("Violations by kind"))
    return _png(fig)


def violations_by_zone(report: Report, _: Translate) -> bytes:
    rows = [r for r in report.data["violations"]["by_zone"] if r["count"] or r["previous"]][:MAX_BARS]
    fig, ax = _figure(7, max(2.5, 0.4 * len(rows) + 1))
    if not rows:
        _nothing(ax, _)
    else:
        now_label, before_label = _period_words(report, _)
        _paired_bars(ax, [r["name"] or (_("outside every zone") if r["zone"] is None else str(r["zone"]))
                          for r in rows], [r["count"] for r in rows], [r["previous"] for r in rows], _, now_label,
                     before_label)
    ax.set_title(_("Violations by grid zone"))
    return _png(fig)


def hour_weekday(report: Report, _: Translate) -> bytes:
    """The heat table: weekdays down, hours across, each cell's count written in it."""
    heat = report.data["violations"]["hour_weekday"]
    fig, ax = _figure(10, 3.6)
    top = max((max(row) for row in heat), default=0)
    ax.imshow(heat, cmap="YlOrRd", aspect="auto", vmin=0, vmax=max(top, 1))
    for d, row in enumerate(heat):
        for h, n in enumerate(row):
            if n:
                ax.text(h, d, f"{n:,}" if n < 10000 else f"{n / 1000:.0f}k", ha="center", va="center", fontsize=6.5,
                        color="white" if n > 0.6 * top else "#222")
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=8)
    ax.set_yticks(range(7), [_(d) for d in WEEKDAYS], fontsize=8)
    ax.set_xlabel(_("hour of the day"))
    ax.set_title(_("Violations by hour and weekday"))
    return _png(fig)


def trend(report: Report, _: Translate) -> bytes:
    """Violations per day of this period, and of the period before laid over it day by day."""
    v = report.data["violations"]
    now, before = v["daily"], v["previous_daily"]
    start = dt.date.fromisoformat(report.data["period"]["from"])
    fig, ax = _figure(10, 3.2)
    elapsed = report.data["period"]["elapsed_days"] or len(now)
    days = [start + dt.timedelta(days=i) for i in range(len(now))]
    now_label, before_label = _period_words(report, _)
    ax.plot(days[:len(before)], before, color=PREVIOUS, linewidth=1.5, label=before_label)
    ax.plot(days[:elapsed], now[:elapsed], color=CURRENT, linewidth=2, label=now_label, marker="o" if elapsed <= 31
            else None, markersize=3)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(_("violations per day"))
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    ax.set_title(_("Violations per day"))
    return _png(fig)


def _outline(geom: Any) -> list[list[tuple[float, float]]]:
    polygons = getattr(geom, "geoms", [geom])
    return [list(p.exterior.coords) for p in polygons if hasattr(p, "exterior") and not p.is_empty]


def hotspot_map(report: Report, _: Translate) -> bytes:
    """A small map: buildings, grid zones, marked hotspots, and the period's cells coloured by Gi* class."""
    shapes = report.shapes
    fig, ax = _figure(6.5, 6.5)
    cells = shapes.cells
    ax.add_collection(PolyCollection([c for g in shapes.buildings for c in _outline(g)], facecolors="#d9d9d9",
                                     edgecolors="#bdbdbd", linewidths=0.3))
    used: dict[str, int] = {}
    if cells is not None and len(cells):
        classes = list(cells["class"])
        polys, colors = [], []
        for geom, cls, count in zip(cells.geometry, classes, cells["count"], strict=True):
            if cls == "not_significant" and not count:
                continue
            polys.extend(_outline(geom))
            colors.append(CLASS_COLORS.get(cls, "#ffffff"))
            used[cls] = used.get(cls, 0) + 1
        ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="#888", linewidths=0.2, alpha=0.85))
    ax.add_collection(PolyCollection([c for g in shapes.zones for c in _outline(g)], facecolors="none",
                                     edgecolors="#6a3d9a", linewidths=1.0))
    ax.add_collection(PolyCollection([c for g in shapes.hotspots for c in _outline(g)], facecolors="none",
                                     edgecolors="#ff7f00", linewidths=1.6, linestyles="--"))
    boxes = [shapes.extent] if shapes.extent is not None else []
    if cells is not None and len(cells):
        boxes.append(tuple(float(v) for v in cells.total_bounds))
    if boxes:
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        pad = 0.03 * max(x1 - x0, y1 - y0, 1e-4)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        ax.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))
    else:
        _nothing(ax, _)
    ax.set_xticks([])
    ax.set_yticks([])
    handles = [Patch(facecolor=CLASS_COLORS[c], edgecolor="#888", label=_(CLASS_WORDS[c])) for c in CLASS_COLORS
               if c in used]
    handles.append(Patch(facecolor="none", edgecolor="#ff7f00", linestyle="--", label=_("Marked hotspots")))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, fontsize=7, frameon=False)
    ax.set_title(_("Hotspots of the period"))
    return _png(fig)


def hazards_by_category(report: Report, _: Translate) -> bytes:
    rows = report.data["hazards"]["by_category"]
    fig, ax = _figure(8, 3.4)
    x = list(range(len(rows)))
    for offset, key, color, word in ((-0.27, "opened", OPENED, _("opened")), (0.0, "closed", CLOSED, _("closed")),
                                     (0.27, "overdue", OVERDUE, _("overdue"))):
        values = [r[key] for r in rows]
        ax.bar([v + offset for v in x], values, width=0.27, color=color, label=word)
    ax.set_xticks(x, [_label(r["category"], _, "category") for r in rows], fontsize=8, rotation=20, ha="right")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_("Hazards by category"))
    return _png(fig)


def patrol_completion(report: Report, _: Translate) -> bytes:
    rows = [r for r in report.data["patrols"]["routes"] if r["planned"]][:MAX_BARS]
    fig, ax = _figure(7, max(2.5, 0.4 * len(rows) + 1))
    if not rows:
        _nothing(ax, _)
    else:
        y = list(range(len(rows)))
        on_time = [100 * r["on_time"] / r["planned"] for r in rows]
        late = [100 * r["late"] / r["planned"] for r in rows]
        ax.barh(y, on_time, color=CLOSED, label=_("on time"))
        ax.barh(y, late, left=on_time, color="#fdae61", label=_("late"))
        for v, r, share in zip(y, rows, on_time, strict=True):
            ax.text(101, v, f"{share:.0f}% ({r['on_time']}/{r['planned']})", va="center", fontsize=8)
        ax.set_yticks(y, [r["name"] for r in rows])
        ax.set_xlim(0, 125)
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel(_("share of planned checkpoint visits (%)"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_("Patrol completion by route"))
    return _png(fig)


def charger_coverage(report: Report, _: Translate) -> bytes:
    section = report.data["chargers"]
    rows = section["kinds"]
    fig, ax = _figure(6, 2.8)
    if not rows:
        _nothing(ax, _)
    else:
        y = list(range(len(rows)))
        start = [100 * r["start"]["covered_share"] for r in rows]
        end = [100 * r["end"]["covered_share"] for r in rows]
        ax.barh([v + 0.2 for v in y], start, height=0.4, color=PREVIOUS, label=_("at the start of the period"))
        ax.barh([v - 0.2 for v in y], end, height=0.4, color=CURRENT, label=_("at the end of the period"))
        for v, a, b in zip(y, start, end, strict=True):
            ax.text(b, v - 0.2, f" {b:.1f}%", va="center", fontsize=8)
            ax.text(a, v + 0.2, f" {a:.1f}%", va="center", fontsize=8)
        ax.set_yticks(y, [_label(r["kind"], _) for r in rows])
        ax.set_xlim(0, 115)
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel(_("demand within %(walk)s m of a charger (%%)", walk=f"{section['walk_m']:g}"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_("Charger coverage"))
    return _png(fig)


CHARTS: dict[str, Callable[[Report, Translate], bytes]] = {
    "violations-by-kind": violations_by_kind,
    "violations-by-zone": violations_by_zone,
    "hour-weekday": hour_weekday,
    "trend": trend,
    "hotspot-map": hotspot_map,
    "hazards-by-category": hazards_by_category,
    "patrol-completion": patrol_completion,
    "charger-coverage": charger_coverage,
}


def render_chart(name: str, report: Report, translate: Translate) -> bytes:
    """One chart as PNG bytes; KeyError for a name not in CHARTS."""
    return CHARTS[name](report, translate)
