"""The run's pictures: power profiles (net GPU power over time, run window marked) and the search.

Drawn from the files a measurement leaves (`power.csv` and `measurement.json`) and from candidate
records, so a report can be rebuilt from a run directory alone. matplotlib draws off-screen (Agg):
no display is needed. The PNGs carry no software stamp, so the same data gives the same bytes.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

Series = list[tuple[float, float]]  # (seconds from run start, watts)


def read_trace(path: Path) -> dict[int, Series]:
    """The samples of `power.csv`, by repeat."""
    repeats: dict[int, Series] = defaultdict(list)
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            repeats[int(row["repeat"])].append((float(row["seconds"]), float(row["watts"])))
    return dict(repeats)


def typical_repeat(measurement: dict) -> int:
    """The repeat whose objective is the median: the one to show when only one is drawn."""
    objective = measurement["objective"]
    values = [r[objective] for r in measurement["readings"]]
    return sorted(range(len(values)), key=values.__getitem__)[len(values) // 2]


def plot_profile(trace: Path, measurement: dict, png: Path, title: str) -> Path:
    """Every repeat's net power (faint) and the typical one (bold), the run window shaded."""
    plt = _pyplot()
    repeats = read_trace(trace)
    typical = typical_repeat(measurement)
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    for index, series in sorted(repeats.items()):
        reading = measurement["readings"][index]
        ax.plot(*_net(series, reading["idle_power_w"]), lw=2.0 if index == typical else 0.7,
                alpha=1.0 if index == typical else 0.35, color="tab:green",
                label=f"repeat {index + 1} (typical)" if index == typical else None)
    duration = measurement["readings"][typical]["duration_s"]
    ax.axvspan(0, duration, color="tab:orange", alpha=0.12, label=f"run window ({duration:.2f} s)")
    ax.axhline(0, color="grey", lw=0.8)
    _finish(ax, title)
    return _save(fig, png)


def plot_overlay(profiles: list[tuple[str, Path, dict]], png: Path, title: str) -> Path:
    """The typical repeat of several candidates on one time axis: (label, trace, measurement) each."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    for (label, trace, measurement), color in zip(profiles, ("tab:red", "tab:green", "tab:blue", "tab:purple")):
        typical = typical_repeat(measurement)
        reading = measurement["readings"][typical]
        ax.plot(*_net(read_trace(trace)[typical], reading["idle_power_w"]), color=color, lw=1.5, label=label)
        ax.axvline(reading["duration_s"], color=color, ls="--", lw=0.8)
    ax.axhline(0, color="grey", lw=0.8)
    _finish(ax, title + " (dashed: end of each run)")
    return _save(fig, png)


@dataclass(frozen=True)
class SearchPoint:
    """One candidate on the search plot. `mean`/`ci95` are its objective (None where it was not measured);
    `kind` is source, valid, invalid or failed; `best_mean` is the best objective once it was judged."""

    label: str
    kind: str
    mean: float | None
    ci95: float | None
    best_mean: float


SEARCH_STYLE = {"source": ("tab:grey", "s", "source"), "valid": ("tab:green", "o", "valid"),
                "invalid": ("tab:orange", "D", "measured, invalid"), "failed": ("tab:red", "x", "failed (not measured)")}


def plot_search(points: list[SearchPoint], best_label: str, png: Path, ylabel: str) -> Path:
    """The objective of every candidate in the order they were made, with 95% intervals and the running best."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)
    xs = range(len(points))
    for kind, (color, marker, label) in SEARCH_STYLE.items():
        chosen = [(x, p) for x, p in zip(xs, points) if p.kind == kind]
        if not chosen:
            continue
        if kind == "failed":  # nothing measured: marked on the x axis
            ax.plot([x for x, _ in chosen], [0.04] * len(chosen), marker, color=color, ms=8, mew=2, ls="none",
                    transform=ax.get_xaxis_transform(), label=label, clip_on=False)
            continue
        ax.errorbar([x for x, _ in chosen], [p.mean for _, p in chosen], yerr=[p.ci95 or 0 for _, p in chosen],
                    fmt=marker, color=color, ms=6, capsize=3, lw=1, label=label)
    ax.step(xs, [p.best_mean for p in points], where="post", color="tab:blue", lw=1.2, alpha=0.8, label="best so far")
    for x, p in zip(xs, points):
        if p.label == best_label and p.mean is not None:
            ax.plot([x], [p.mean], "*", color="tab:blue", ms=16, mfc="none", mew=1.5, label="best")
    ax.set_xticks(list(xs), [p.label for p in points], rotation=45 if len(points) > 12 else 0, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("candidate, in the order it was made")
    ax.set_ylabel(ylabel)
    ax.set_title("The search: every candidate's objective (mean, 95% interval)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, png)


def _net(series: Series, idle_w: float) -> tuple[list[float], list[float]]:
    return [t for t, _ in series], [w - idle_w for _, w in series]


def _finish(ax, title: str) -> None:
    ax.set_xlabel("seconds from the start of the run")
    ax.set_ylabel("net GPU power (W above deep idle)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")


def _save(fig, png: Path) -> Path:
    fig.tight_layout()
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return png


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
