"""Plot of a sweep: the swept values against the shares of phones reaching foreign cells."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

SERIES = (
    ("foreign_reach_share", "all phones reaching a foreign cell (time mean)", "-o"),
    ("foreign_reach_share_any", "... at some time in the schedule", "--o"),
    ("border_foreign_reach_share", "border phones reaching a foreign cell", "-s"),
    ("jamming_effectiveness", "jamming effectiveness (border phones kept off)", "-^"),
    ("national_coverage_share", "national coverage", ":d"),
    ("emulated_foreign_share", "emulated phones on foreign cells (time mean)", "-x"),
)
LEAKED = ("leaked_bytes_foreign_cell", "bytes leaked through foreign cells (emulated, right axis)")


def plot_sweep(rows: list[dict], key: str, out_png: Path, title: str) -> None:
    """One line per share column that the rows have; non-numeric values are spaced evenly."""
    values = [row[key] for row in rows]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    xs = values if numeric else list(range(len(values)))
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for column, label, style in SERIES:
        if column in rows[0]:
            ys = [float("nan") if row[column] is None else row[column] for row in rows]
            ax.plot(xs, ys, style, label=label)
    if not numeric:
        ax.set_xticks(xs, [str(v) for v in values])
    ax.set_xlabel(key)
    ax.set_ylabel("share")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if LEAKED[0] in rows[0]:
        right = ax.twinx()
        ys = [float("nan") if row[LEAKED[0]] is None else row[LEAKED[0]] / 1e3 for row in rows]
        (line,) = right.plot(xs, ys, "-*", color="black", label=LEAKED[1])
        right.set_ylabel("leaked kB (foreign-cell path)")
        right.set_ylim(bottom=0)
        handles.append(line)
        labels.append(LEAKED[1])
    ax.legend(handles, labels, fontsize=8, loc="best")
    ax.set_title(title, fontsize=10)
    fig.savefig(out_png, bbox_inches="tight")
    plt.close(fig)


GRID_SERIES = (
    ("foreign_reach_share", "phones reaching a foreign cell (radio model, time mean)"),
    ("emulated_foreign_share", "emulated phones on foreign cells (time mean)"),
    ("leaked_bytes_foreign_cell", "kB leaked through foreign cells (emulated)"),
)


def plot_grid(rows: list[dict], keys: list[str], out_png: Path, title: str) -> None:
    """A two-key grid: one panel per column the rows have (GRID_SERIES), the first key on
    the x axis and one line per value of the second."""
    first, second = keys
    columns = [(c, label) for c, label in GRID_SERIES if c in rows[0]]
    fig, axes = plt.subplots(len(columns), 1, figsize=(8, 3.2 * len(columns)), dpi=110,
                             squeeze=False)
    xs_all = list(dict.fromkeys(row[first] for row in rows))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in xs_all)
    for ax, (column, label) in zip(axes[:, 0], columns, strict=True):
        for value in dict.fromkeys(row[second] for row in rows):
            line = [row for row in rows if row[second] == value]
            xs = [row[first] if numeric else xs_all.index(row[first]) for row in line]
            scale = 1e3 if column == "leaked_bytes_foreign_cell" else 1
            ys = [float("nan") if row[column] is None else row[column] / scale for row in line]
            ax.plot(xs, ys, "-o", label=f"{second} = {value}")
        if not numeric:
            ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all])
        ax.set_ylabel(label, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel(first)
    axes[0, 0].set_title(title, fontsize=10)
    fig.savefig(out_png, bbox_inches="tight")
    plt.close(fig)
