"""Replay the radio model in real time while phones send traffic, and count what arrives.

At every timeline step (jammer edges, moves, every `reevaluate_s`), the counters at the sites
are read first (so a row's bytes are what arrived up to that moment) and then the radio model is
evaluated and every air link whose settings changed is re-shaped. The links start as the plan
laid them out from the radio state at t = 0, which is also the first step's state: t = 0 is
evaluated once, by the plan.
"""

from __future__ import annotations

import math
import time
from collections import Counter

from hermitnet import radio
from hermitnet.plan import air_link_spec
from hermitnet.workload import observer

PING_INTERVAL_S = 0.1
PING_PAYLOAD_BYTES = 972  # 1000-byte IP packets


def sample_times(model, duration_s: float) -> list[float]:
    """Every timeline step, every re-evaluation interval, and the end."""
    step = model.reevaluate_s
    regular = {round(k * step, 9) for k in range(int(math.floor(duration_s / step)) + 1)}
    return sorted(set(model.timeline_steps(duration_s)) | regular | {duration_s})


def replay(emu, scenario, progress, on_step=None) -> list[dict]:
    """Replay the timeline; `on_step(row)`, if given, gets each step's row as it happens."""
    model = scenario.radio
    duration_s = scenario.timeline_s
    plan = emu.plan
    flows = scenario.timeline_traffic
    sites = sorted({f.dst for f in flows})
    current = {link.a: link.spec for link in plan.links if link.a in plan.radio_t0}
    progress(f"timeline: {duration_s:g} s of radio replay, {len(flows)} traffic flows")
    count = max(1, math.ceil(duration_s / PING_INTERVAL_S))
    pings = [
        emu.popen(flow.src, ["ping", "-n", "-q", "-i", f"{PING_INTERVAL_S:g}", "-s",
                             str(PING_PAYLOAD_BYTES), "-c", str(count), "-W", "1",
                             plan.host(flow.dst).ip], "timeline ping",
                  stdout=-3, stderr=-3)
        for flow in flows
    ]
    rows = []
    started = time.monotonic()
    try:
        for t_s in sample_times(model, duration_s):
            delay = started + t_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            arrived = {site: observer.read_site(emu, site) for site in sites}
            attachments = plan.radio_t0 if t_s == 0 else radio.evaluate(model, t_s)
            changed = []
            for name, attachment in attachments.items():
                spec = air_link_spec(current[name], attachment)
                if t_s < duration_s and spec != current[name]:
                    emu.set_air_link(name, spec)
                    current[name] = spec
                    changed.append(name)
            rows.append(_row(t_s, time.monotonic() - started, attachments, changed, flows,
                             arrived))
            if on_step is not None:
                on_step(rows[-1])
            if changed:
                progress(f"t={t_s:5.1f} s: re-attached {', '.join(changed)}")
    finally:
        for process in pings:
            if process.poll() is None:
                process.terminate()
    return rows


def _row(t_s, wall_s, attachments, changed, flows, arrived) -> dict:
    kinds = Counter((a.cell_kind or "none") for a in attachments.values())
    return {
        "t_s": t_s,
        "wall_s": round(wall_s, 3),
        "attached": {kind: kinds.get(kind, 0) for kind in ("national", "foreign", "none")},
        "ues": {
            name: {"cell": a.cell, "cell_kind": a.cell_kind, "rate_mbps": round(a.rate_mbps, 4),
                   "loss_pct": round(a.loss_pct, 3),
                   "sinr_db": None if a.sinr_db is None else round(a.sinr_db, 2)}
            for name, a in attachments.items()
        },
        "changed": changed,
        "arrived_bytes": {
            f"{f.src}->{f.dst}": arrived[f.dst].get(f.src, {}).get("bytes", 0) for f in flows
        },
    }


def summary(model, rows: list[dict], population_phones: int, seed: int) -> dict:
    """results.json `radio`: attachments over time and jamming effectiveness at population scale."""
    population = radio.population(model, population_phones, seed)
    return {
        "attached": rows[0]["attached"] if rows else {},
        "timeline": rows,
        "jamming_effectiveness": population.jamming_effectiveness,
        "population": {
            "phones": population.n_phones,
            "jammers": "all on",
            "national_coverage_share": population.national_coverage_share,
            "foreign_reach_share": population.foreign_reach_share,
            "border_foreign_reach_share": population.border_foreign_reach_share,
            "border_foreign_reach_share_unjammed": population.border_foreign_reach_share_unjammed,
        },
    }
