"""PNG plots of a run: throughput per tier against its bottleneck, and the radio timeline."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def throughput_png(results: dict, path: Path) -> Path | None:
    rows = results["throughput"]
    if not rows:
        return None
    labels = [f"{r['tier']}\n{r['src']} -> {r['dst']}" for r in rows]
    measured = [r["bps"] / 1e6 for r in rows]
    expected = [(r.get("expected_bps") or 0) / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4), dpi=110)
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], expected, width=0.4, label="configured bottleneck",
           color="#bbbbbb")
    ax.bar([x + 0.2 for x in xs], measured, width=0.4, label="measured (iperf3 goodput)",
           color="#3b7dd8")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("Mbit/s")
    ax.set_title(f"{results['scenario']}: throughput per tier "
                 f"({results['environment']['datapath']} datapath)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def timeline_png(results: dict, path: Path) -> Path | None:
    """Phones per cell kind and bytes arriving per flow, along the radio timeline."""
    rows = (results.get("radio") or {}).get("timeline") or []
    if len(rows) < 2:
        return None
    times = [r["t_s"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), dpi=110, sharex=True)
    for kind, colour in (("national", "#3b7dd8"), ("foreign", "#d62728"), ("none", "#7f7f7f")):
        top.step(times, [r["attached"][kind] for r in rows], where="post", label=kind,
                 color=colour)
    top.set_ylabel("emulated phones")
    top.set_title(f"{results['scenario']}: attachments and traffic arriving at the sites",
                  fontsize=10)
    top.legend(fontsize=8, title="serving cell", title_fontsize=8)
    top.grid(alpha=0.3)
    for flow in rows[0]["arrived_bytes"]:
        cumulative = [r["arrived_bytes"][flow] for r in rows]
        rate = [0.0] + [
            (b - a) * 8 / 1e3 / max(t1 - t0, 1e-9)
            for a, b, t0, t1 in zip(cumulative, cumulative[1:], times, times[1:], strict=False)
        ]
        bottom.step(times, rate, where="pre", label=flow)
    bottom.set_xlabel("t (s)")
    bottom.set_ylabel("arriving kbit/s")
    bottom.legend(fontsize=8)
    bottom.grid(alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def write_all(results: dict, run_dir: Path) -> list[Path]:
    made = [throughput_png(results, run_dir / "throughput.png"),
            timeline_png(results, run_dir / "timeline.png")]
    return [p for p in made if p is not None]
