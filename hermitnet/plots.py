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


def _mark_events(ax, results: dict) -> None:
    """Every event of the run's clock as a dashed vertical line at its effective time."""
    events = (results.get("timeline") or {}).get("events") or []
    top = ax.get_ylim()[1]
    for event in events:
        ax.axvline(event["effective_s"], color="#555555", linestyle="--", linewidth=0.8)
        ax.text(event["effective_s"], top, f" {event['kind']} {event['target']}", rotation=90,
                va="top", ha="right", fontsize=7, color="#333333")


def clock_throughput_png(results: dict, path: Path) -> Path | None:
    """Goodput per tier over the run's clock (iperf3's 1 s intervals, summed over a tier's
    flows), each event a marked vertical line."""
    per_tier: dict[str, dict[float, float]] = {}
    for row in results["throughput"]:
        for point in row.get("series") or []:
            tier = per_tier.setdefault(row["tier"], {})
            t_s = round(point["t_s"])
            tier[t_s] = tier.get(t_s, 0.0) + point["mbps"]
    if not any(len(points) > 1 for points in per_tier.values()):
        return None
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    for tier, points in sorted(per_tier.items()):
        times = sorted(points)
        ax.step(times, [points[t] for t in times], where="pre", label=tier)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.35)   # room for the event labels
    _mark_events(ax, results)
    ax.set_xlabel("t (s from the network up, policy installed)")
    ax.set_ylabel("Mbit/s (1 s intervals)")
    ax.set_title(f"{results['scenario']}: throughput per tier over time", fontsize=10)
    ax.legend(fontsize=8, title="tier", title_fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def clock_reachability_png(results: dict, path: Path) -> Path | None:
    """One row per sweep and subscriber, one column per site: reached (green) or not (red)."""
    rows = [r for r in results["reachability"] if "t_s" in r]
    sweeps = sorted({r["t_s"] for r in rows})
    if len(sweeps) < 2:
        return None
    sites = list(dict.fromkeys(r["site"] for r in rows))
    keys = list(dict.fromkeys((r["t_s"], r["host"]) for r in rows))
    ok = {(r["t_s"], r["host"], r["site"]): r["ok"] for r in rows}
    grid = [[1.0 if ok.get((t_s, host, site)) else 0.0 for site in sites]
            for t_s, host in keys]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(sites) + 2), 0.25 * len(keys) + 1.5),
                           dpi=110)
    ax.imshow(grid, cmap=matplotlib.colors.ListedColormap(["#f8d7d7", "#d8f5d0"]), vmin=0,
              vmax=1, aspect="auto")
    ax.set_xticks(range(len(sites)), sites, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(keys)), [f"t={t_s:g} s {host}" for t_s, host in keys], fontsize=7)
    for index in range(1, len(keys)):
        if keys[index][0] != keys[index - 1][0]:
            ax.axhline(index - 0.5, color="#333333", linewidth=1)
    ax.set_title(f"{results['scenario']}: reachability over time (green: the site's page "
                 "arrived)", fontsize=10)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def write_all(results: dict, run_dir: Path) -> list[Path]:
    made = [throughput_png(results, run_dir / "throughput.png"),
            timeline_png(results, run_dir / "timeline.png"),
            clock_throughput_png(results, run_dir / "throughput-over-time.png"),
            clock_reachability_png(results, run_dir / "reachability-over-time.png")]
    return [p for p in made if p is not None]
