"""The charts of a report: described once as data, drawn by ECharts in the page (static JS) and
by matplotlib as PNG for the Word document.

A chart is ``{"id", "title", "type": "bar"|"line"|"hbar", "categories": [...],
"series": [{"name", "data"}]}``. Chinese labels need a CJK font on the server: the first of
``CJK_FONTS`` that fontconfig/matplotlib knows is used; without one a warning is logged once
and the labels may show as boxes (install ``fonts-wqy-microhei`` or ``fonts-noto-cjk``).
"""

import io
import logging
import threading
from functools import lru_cache

from django.utils.translation import gettext as _

from civicgrid.cases.models import Case

__all__ = ["CJK_FONTS", "cjk_font", "png", "report_charts"]

logger = logging.getLogger(__name__)

CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
_LOCK = threading.Lock()  # pyplot's state is global


def _channel_label(key: str) -> str:
    try:
        return str(Case.Channel(key).label)
    except ValueError:
        return key


def report_charts(report) -> list[dict]:
    c = report.content
    charts = []
    if report.kind == "daily":
        charts.append(
            {
                "id": "channels",
                "title": _("Intake by channel"),
                "type": "hbar",
                "categories": [_channel_label(r["key"]) for r in c.get("by_channel", [])],
                "series": [
                    {"name": _("Cases"), "data": [r["count"] for r in c.get("by_channel", [])]}
                ],
            }
        )
        rows = c.get("by_category", [])[:10]
        charts.append(
            {
                "id": "categories",
                "title": _("Intake by category"),
                "type": "hbar",
                "categories": [r["name"] or _("Unclassified") for r in rows],
                "series": [{"name": _("Cases"), "data": [r["count"] for r in rows]}],
            }
        )
    elif report.kind == "weekly":
        trend = c.get("trend", {})
        charts.append(
            {
                "id": "trend",
                "title": _("Intake and closures by week"),
                "type": "line",
                "categories": [w[5:] for w in trend.get("weeks", [])],
                "series": [
                    {"name": _("Reported"), "data": trend.get("intake", [])},
                    {"name": _("Closed"), "data": trend.get("closed", [])},
                ],
            }
        )
        rows = c.get("category_trends", [])[:10]
        charts.append(
            {
                "id": "categories",
                "title": _("Categories: this week against the mean of the previous weeks"),
                "type": "hbar",
                "categories": [r["name"] or _("Unclassified") for r in rows],
                "series": [
                    {"name": _("This week"), "data": [r["count"] for r in rows]},
                    {"name": _("Previous mean"), "data": [r["mean_previous"] for r in rows]},
                ],
            }
        )
    elif report.kind == "monthly":
        trend = c.get("trend", {})
        charts.append(
            {
                "id": "trend",
                "title": _("Intake and closures, last 13 months"),
                "type": "line",
                "categories": trend.get("months", []),
                "series": [
                    {"name": _("Reported"), "data": trend.get("intake", [])},
                    {"name": _("Closed"), "data": trend.get("closed", [])},
                ],
            }
        )
        heat = c.get("heat", {})
        columns = heat.get("columns", [])
        totals = [sum(r["values"][i] for r in heat.get("rows", [])) for i in range(len(columns))]
        charts.append(
            {
                "id": "groups",
                "title": _("Cases by kind of problem"),
                "type": "hbar",
                "categories": [col["name"] for col in columns],
                "series": [{"name": _("Cases"), "data": totals}],
            }
        )
        places = sorted(heat.get("rows", []), key=lambda r: -r["total"])[:12]
        charts.append(
            {
                "id": "places",
                "title": _("Cases by place"),
                "type": "hbar",
                "categories": [r["name"] for r in places],
                "series": [{"name": _("Cases"), "data": [r["total"] for r in places]}],
            }
        )
        theme = c.get("theme")
        if theme:
            weekly = theme.get("weekly", {})
            charts.append(
                {
                    "id": "theme",
                    "title": _("Theme: %(name)s by week") % {"name": theme["category"]["name"]},
                    "type": "bar",
                    "categories": [w[5:] for w in weekly.get("weeks", [])],
                    "series": [
                        {"name": theme["category"]["name"], "data": weekly.get("counts", [])}
                    ],
                }
            )
    return charts


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None (with a warning, once)."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in known:
            return name
    # Fonts installed after matplotlib built its cache: ask fontconfig.
    import shutil
    import subprocess

    if shutil.which("fc-list"):
        try:
            out = subprocess.run(
                ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            path = line.split(":")[0].strip()
            if path:
                try:
                    font_manager.fontManager.addfont(path)
                    return font_manager.FontProperties(fname=path).get_name()
                except (OSError, RuntimeError, ValueError):
                    continue
    logger.warning(
        "no CJK font found (tried %s): Chinese text in report charts will not render; "
        "install fonts-wqy-microhei or fonts-noto-cjk",
        ", ".join(CJK_FONTS),
    )
    return None


def png(chart: dict, *, width: float = 6.4, height: float = 3.2, dpi: int = 120) -> bytes:
    """The chart as a PNG image."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    font = cjk_font()
    with _LOCK:
        rc = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}
        with matplotlib.rc_context(rc | {"axes.unicode_minus": False}):
            figure = Figure(figsize=(width, height), dpi=dpi)
            axes = figure.add_subplot()
            categories = [str(c) for c in chart["categories"]]
            series = chart["series"]
            colours = ["#b3261e", "#1f6fb2", "#2e7d32", "#8a5a00"]
            if chart["type"] == "line":
                for i, s in enumerate(series):
                    axes.plot(
                        categories, s["data"], marker="o", label=s["name"], color=colours[i % 4]
                    )
                axes.tick_params(axis="x", labelrotation=45, labelsize=7)
            elif chart["type"] == "hbar":
                positions = list(range(len(categories)))
                height_each = 0.8 / max(1, len(series))
                for i, s in enumerate(series):
                    axes.barh(
                        [p + i * height_each for p in positions],
                        s["data"],
                        height=height_each,
                        label=s["name"],
                        color=colours[i % 4],
                    )
                axes.set_yticks([p + height_each * (len(series) - 1) / 2 for p in positions])
                axes.set_yticklabels(categories, fontsize=7)
                axes.invert_yaxis()
            else:
                axes.bar(categories, series[0]["data"] if series else [], color=colours[0])
                axes.tick_params(axis="x", labelrotation=60, labelsize=6)
            if len(series) > 1:
                axes.legend(fontsize=7)
            axes.set_title(chart["title"], fontsize=10)
            axes.grid(axis="x" if chart["type"] == "hbar" else "y", alpha=0.3)
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
    return buffer.getvalue()
