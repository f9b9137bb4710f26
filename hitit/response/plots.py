"""Response plots: waterfall (best change of the target sum per lesion group) and spider (change over time).

Both use the itRECIST streams, so injected and non-injected lesions are drawn apart: the local
and the systemic (abscopal) effect side by side. Figures are written as PNG and SVG.
"""

from __future__ import annotations

import io
from pathlib import Path


from hitit.io.atomic import write_bytes_atomic  # noqa: E402
from hitit.response.itrecist import STREAM_INJECTED, STREAM_NON_INJECTED, STREAM_OVERALL, ItrecistResult  # noqa: E402
from hitit.response.recist import DEFAULT_CONFIG, ResponseConfig, percent_change  # noqa: E402
from hitit.response.study import Study  # noqa: E402
from hitit.report.canvas import new_figure

GROUP_LABELS = {
    STREAM_OVERALL: "all targets",
    STREAM_INJECTED: "injected (T-I)",
    STREAM_NON_INJECTED: "non-injected (T-NI)",
}
GROUP_COLOURS = {STREAM_OVERALL: "#444444", STREAM_INJECTED: "#d95f02", STREAM_NON_INJECTED: "#1b9e77"}
#: Days per week, for the time axis of the spider plot.
DAYS_PER_WEEK = 7.0


def waterfall_data(result: ItrecistResult) -> dict[str, float]:
    """Best (lowest) change from baseline of each group's target sum over the follow-ups (%).

    Groups without a known change (no targets, never measured) are left out.
    """
    best: dict[str, float] = {}
    for stream in GROUP_LABELS:
        changes = [row.streams[stream].change_from_baseline_pct for row in result.timepoints[1:]]
        known = [change for change in changes if change is not None]
        if known:
            best[stream] = min(known)
    return best


def spider_data(study: Study, result: ItrecistResult) -> dict[str, tuple[list[float], list[float]]]:
    """Change from baseline over time (weeks, %) of each group's sum and of each target lesion.

    Keys are the stream names and ``"lesion <id>"``; unknown values are skipped.
    """
    weeks = [(t.date - study.baseline.date).days / DAYS_PER_WEEK for t in study.timepoints]
    series: dict[str, tuple[list[float], list[float]]] = {}
    for stream in GROUP_LABELS:
        changes = [row.streams[stream].change_from_baseline_pct for row in result.timepoints]
        series[stream] = _known(weeks, changes)
    for lesion in study.targets:
        baseline = lesion.diameter_mm(study.baseline.id)
        changes = [percent_change(lesion.diameter_mm(t.id), baseline) for t in study.timepoints]
        series[f"lesion {lesion.id}"] = _known(weeks, changes)
    return series


def _known(xs: list[float], ys: list[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _threshold_lines(axes, config: ResponseConfig) -> None:
    """The PR (-30 %) and PD (+20 %) reference lines of RECIST 1.1."""
    for value, label in ((-config.pr_decrease_pct, "PR"), (config.pd_increase_pct, "PD")):
        axes.axhline(value, color="#999999", linestyle="--", linewidth=0.8)
        axes.annotate(
            f"{label} {value:+g} %",
            xy=(1.0, value),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="#777777",
            ha="right",
            va="bottom",
        )


def waterfall_figure(result: ItrecistResult, title: str = "", config: ResponseConfig = DEFAULT_CONFIG):
    """Bars of the best change of the target sum for all targets, injected and non-injected."""
    data = waterfall_data(result)
    figure, axes = new_figure(figsize=(5.0, 3.6), dpi=110)
    names = list(data)
    axes.bar([GROUP_LABELS[n] for n in names], [data[n] for n in names], color=[GROUP_COLOURS[n] for n in names])
    for position, name in enumerate(names):
        axes.annotate(
            f"{data[name]:+.1f} %",
            xy=(position, data[name]),
            ha="center",
            va="top" if data[name] < 0 else "bottom",
            fontsize=8,
        )
    axes.axhline(0.0, color="black", linewidth=0.8)
    _threshold_lines(axes, config)
    axes.set_ylabel("best change of target sum from baseline (%)")
    axes.set_title(title or "Waterfall: best change per lesion group", fontsize=10)
    figure.tight_layout()
    return figure


def spider_figure(study: Study, result: ItrecistResult, title: str = "", config: ResponseConfig = DEFAULT_CONFIG):
    """Change from baseline over time: thick lines per group, thin lines per target lesion."""
    series = spider_data(study, result)
    figure, axes = new_figure(figsize=(6.0, 3.8), dpi=110)
    for lesion in study.targets:
        xs, ys = series[f"lesion {lesion.id}"]
        colour = GROUP_COLOURS[STREAM_INJECTED if lesion.injected_from else STREAM_NON_INJECTED]
        axes.plot(xs, ys, color=colour, linewidth=0.8, alpha=0.45, marker=".")
    for stream, label in GROUP_LABELS.items():
        xs, ys = series[stream]
        if xs:
            axes.plot(xs, ys, color=GROUP_COLOURS[stream], linewidth=2.2, marker="o", label=f"{label} sum")
    axes.axhline(0.0, color="black", linewidth=0.8)
    _threshold_lines(axes, config)
    axes.set_xlabel("weeks since baseline")
    axes.set_ylabel("change from baseline (%)")
    axes.set_title(title or "Spider: sum change over time (thin lines: single target lesions)", fontsize=10)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    return figure


def figure_bytes(figure, fmt: str) -> bytes:
    """Render a figure as ``png`` or ``svg`` bytes and release it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


def write_plots(
    study: Study, result: ItrecistResult, out_dir: str | Path, config: ResponseConfig = DEFAULT_CONFIG
) -> dict[str, Path]:
    """Write waterfall and spider plots as PNG and SVG into ``out_dir``; return their paths by name."""
    out_dir = Path(out_dir)
    paths = {}
    for name, make in (
        ("waterfall", lambda: waterfall_figure(result, config=config)),
        ("spider", lambda: spider_figure(study, result, config=config)),
    ):
        for fmt in ("png", "svg"):
            paths[f"{name}_{fmt}"] = write_bytes_atomic(out_dir / f"{name}.{fmt}", figure_bytes(make(), fmt))
    return paths
