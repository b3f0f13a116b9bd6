"""PNG plots of a run: throughput per tier against its bottleneck, the radio timeline, and the
controller's counters over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

# Lines that share a panel differ in colour, dash and marker, so none hides another.
STYLES = [("#1f77b4", "-", "o"), ("#d62728", "--", "s"), ("#2ca02c", "-.", "^"),
          ("#9467bd", ":", "D"), ("#ff7f0e", "-", "v"), ("#8c564b", "--", "P"),
          ("#e377c2", "-.", "X"), ("#7f7f7f", ":", "*")]
CELL_KIND_COLOURS = {"national": "#3b7dd8", "foreign": "#d62728", "none": "#bbbbbb"}
COUNTER_DECISIONS = ("allow", "denied", "blocked", "spoofed")


def _style(index: int) -> dict:
    colour, dash, marker = STYLES[index % len(STYLES)]
    return {"color": colour, "linestyle": dash, "marker": marker, "markersize": 4,
            "markevery": 0.1}


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
                 f"({results['environment']['datapath']} datapath)", fontsize=10, pad=28)
    # above the plot area, under the title: it never covers a bar
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def timeline_png(results: dict, path: Path) -> Path | None:
    """Phones per serving cell kind (stacked), and one panel per flow of the bytes arriving at
    its site in each step (as kbit/s): small multiples, so no flow hides another."""
    rows = (results.get("radio") or {}).get("timeline") or []
    if len(rows) < 2:
        return None
    times = [r["t_s"] for r in rows]
    flows = list(rows[0]["arrived_bytes"])
    fig, axes = plt.subplots(1 + len(flows), 1, figsize=(9, 2.6 + 1.5 * len(flows)), dpi=110,
                             sharex=True, gridspec_kw={"height_ratios": [2] + [1] * len(flows)},
                             squeeze=False)
    top = axes[0][0]
    kinds = list(CELL_KIND_COLOURS)
    top.stackplot(times, *[[r["attached"].get(kind, 0) for r in rows] for kind in kinds],
                  labels=kinds, colors=[CELL_KIND_COLOURS[k] for k in kinds], step="post",
                  edgecolor="white", linewidth=0.5)
    top.set_ylabel("emulated phones")
    top.set_title(f"{results['scenario']}: phones by serving cell (stacked) and traffic "
                  "arriving at the sites", fontsize=10)
    top.legend(fontsize=8, title="serving cell", title_fontsize=8, loc="upper left",
               bbox_to_anchor=(1.01, 1.0), frameon=False)
    top.grid(alpha=0.3)
    for index, flow in enumerate(flows):
        ax = axes[1 + index][0]
        rate = flow_rate_kbps(rows, flow)
        ax.step(times, rate, where="pre", color=STYLES[index % len(STYLES)][0])
        ax.fill_between(times, rate, step="pre", alpha=0.2,
                        color=STYLES[index % len(STYLES)][0])
        ax.set_ylim(bottom=0, top=max(rate) * 1.15 or 1)
        ax.set_title(flow, fontsize=8, loc="left", pad=3)
        ax.set_ylabel("kbit/s", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1][0].set_xlabel("t (s)")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def flow_rate_kbps(rows: list[dict], flow: str) -> list[float]:
    """kbit/s of `flow` arriving in each timeline step (0 at the first row)."""
    step_bytes = [row["arrived_bytes"][flow] for row in rows]
    if "arrived_bytes_total" not in rows[0]:   # recorded before per-step counts: cumulative
        step_bytes = [step_bytes[0]] + [b - a for a, b in zip(step_bytes, step_bytes[1:],
                                                             strict=False)]
    return [0.0] + [
        nbytes * 8 / 1e3 / max(row["t_s"] - before["t_s"], 1e-9)
        for before, row, nbytes in zip(rows, rows[1:], step_bytes[1:], strict=False)
    ]


def counter_rates(series: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """{"class/decision": [(t_s, packets per second since the previous sample)]} from the
    controller's cumulative counters; a new epoch (a restarted controller) starts from zero."""
    rates: dict[str, list[tuple[float, float]]] = {}
    for before, sample in zip(series, series[1:], strict=False):
        span = sample["t_s"] - before["t_s"]
        if span <= 0:
            continue
        restarted = sample.get("epoch") != before.get("epoch")
        for key in set(before["packets"]) | set(sample["packets"]):
            now = sample["packets"].get(key, 0)
            then = 0 if restarted else before["packets"].get(key, 0)
            rates.setdefault(key, []).append((sample["t_s"], max(0, now - then) / span))
    return rates


def counters_png(results: dict, path: Path) -> Path | None:
    """Packets per second per tier, one panel per decision, from the controller's counters."""
    series = (results.get("counters") or {}).get("series") or []
    rates = counter_rates(series)
    panels = [d for d in COUNTER_DECISIONS
              if any(key.endswith(f"/{d}") and not key.startswith("-/") for key in rates)]
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 1.9 * len(panels) + 0.8), dpi=110,
                             sharex=True, squeeze=False)
    for ax, decision in zip((row[0] for row in axes), panels, strict=True):
        keys = sorted(k for k in rates if k.endswith(f"/{decision}") and not k.startswith("-/"))
        for index, key in enumerate(keys):
            points = rates[key]
            ax.plot([t for t, _ in points], [r for _, r in points], drawstyle="steps-post",
                    label=key.rsplit("/", 1)[0], **_style(index))
        ax.set_ylabel(f"{decision}\npackets/s", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  title="class", title_fontsize=7)
    axes[0][0].set_title(f"{results['scenario']}: the controller's flow counters per tier "
                         "(packets per second, by decision)", fontsize=10)
    axes[-1][0].set_xlabel("t (s since the controller started)")
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


def write_all(results: dict, run_dir: Path) -> dict[str, Path]:
    """{name: PNG} of every plot the results have data for."""
    made = {"throughput": throughput_png(results, run_dir / "throughput.png"),
            "timeline": timeline_png(results, run_dir / "timeline.png"),
            "counters": counters_png(results, run_dir / "counters.png"),
            "throughput_over_time": clock_throughput_png(results,
                                                         run_dir / "throughput-over-time.png"),
            "reachability_over_time": clock_reachability_png(
                results, run_dir / "reachability-over-time.png")}
    return {name: path for name, path in made.items() if path is not None}
