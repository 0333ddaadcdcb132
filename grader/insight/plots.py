"""The class report's plots, drawn with matplotlib (Agg) as SVG data URIs for <img> elements.

An SVG inside <img> runs no script and loads nothing, so the page's policy stays
`img-src data:`. Text in the plots is course text (exercise and question ids), never a student's.
"""
from __future__ import annotations

import base64
import io
import math
from typing import Any

STAGE_COLOURS = {"values": "#cf222e", "shape": "#fb8f44", "dtype": "#d4a72c", "device": "#bf8700",
                 "type": "#8250df", "structure": "#a475f9", "raised": "#0969da", "timeout": "#1b1f24",
                 "crashed": "#57606a", "defined": "#8c959f", "shortcut": "#bf3989", "not run": "#d0d7de",
                 "measure": "#1a7f37", "other": "#6e7781", "unknown": "#afb8c1"}
BAR = "#0969da"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "grader-report"})
    return plt


def _uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})   # fixed margins: a "tight" box draws twice
    _pyplot().close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _bars(ax: Any, dist: dict[str, Any], colour: str = BAR) -> None:
    bins = dist["bins"]
    ax.bar([b["low"] for b in bins], [b["count"] for b in bins], width=[b["high"] - b["low"] for b in bins],
           align="edge", color=colour, edgecolor="white", linewidth=0.5)
    ax.set_xlim(0, dist["max"] or 1)
    if dist["mean"] is not None:
        ax.axvline(dist["mean"], color="#1b1f24", linewidth=1, linestyle="--")
    ax.yaxis.get_major_locator().set_params(integer=True)


def total_histogram(dist: dict[str, Any]) -> str:
    """The total's histogram, the mean dashed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.4))
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.2, top=0.96)
    _bars(ax, dist)
    ax.set_xlabel(f"total points (of {dist['max']:g}); dashed: mean {dist['mean'] or 0:.2f}")
    ax.set_ylabel("students")
    return _uri(fig)


def exercise_histograms(dists: list[dict[str, Any]]) -> str:
    """Small multiples: one histogram per exercise (and the quiz), on one figure."""
    plt = _pyplot()
    cols = 4
    rows = max(1, math.ceil(len(dists) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(9.6, 1.9 * rows), squeeze=False)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.35 / rows, top=1 - 0.3 / rows, wspace=0.25,
                        hspace=0.55)
    for ax in axes.flat[len(dists):]:
        ax.set_visible(False)
    for ax, dist in zip(axes.flat, dists):
        _bars(ax, dist, "#8250df" if dist["name"] == "quiz" else BAR)
        ax.set_title(f"{dist['name']} (max {dist['max']:g})", fontsize=9)
        ax.tick_params(labelsize=7)
    return _uri(fig)


def stage_bars(by_exercise: dict[str, dict[str, int]], order: list[str]) -> str:
    """Per exercise, the failing verdicts stacked by the stage at which they failed."""
    plt = _pyplot()
    names = [n for n in order if n in by_exercise][::-1]
    stages = [s for s in STAGE_COLOURS if any(s in by_exercise[n] for n in names)]
    height = 0.32 * len(names) + 1.2
    fig, ax = plt.subplots(figsize=(8.4, height))
    fig.subplots_adjust(left=0.25, right=0.98, bottom=0.5 / height, top=1 - 0.45 / height)
    left = [0] * len(names)
    for stage in stages:
        values = [by_exercise[n].get(stage, 0) for n in names]
        ax.barh(names, values, left=left, color=STAGE_COLOURS[stage], label=stage, height=0.7)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("failing check verdicts (students x checks)")
    if stages:
        ax.legend(ncol=min(6, len(stages)), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.tick_params(labelsize=8)
    return _uri(fig)


def item_map(questions: list[dict[str, Any]]) -> str:
    """Quiz questions on difficulty (share correct) against discrimination; weak or odd ones labelled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    fig.subplots_adjust(left=0.11, right=0.98, bottom=0.14, top=0.97)
    shown = [q for q in questions if q["difficulty"] is not None]
    xs = [q["difficulty"] for q in shown]
    ys = [q["discrimination"] if q["discrimination"] is not None else 0.0 for q in shown]
    colours = ["#cf222e" if q["flag"] else BAR for q in shown]
    ax.scatter(xs, ys, c=colours, s=18)
    for q, x, y in zip(shown, xs, ys):
        if q["flag"] and q["flag"] not in ("very easy",):
            ax.annotate(q["id"], (x, y), fontsize=6.5, xytext=(3, 2), textcoords="offset points")
    ax.axhline(0.2, color="#8c959f", linewidth=0.8, linestyle=":")
    ax.axhline(0.0, color="#1b1f24", linewidth=0.6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("difficulty: share of students fully right")
    ax.set_ylabel("discrimination (point-biserial)")
    return _uri(fig)
