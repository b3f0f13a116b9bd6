"""The radio model on the run's clock: air links re-shaped as jammers switch and phones move,
and the traffic the scenario lists counted where it arrives, step by step.

`LiveRadio.update(t_s)` evaluates the radio model at t_s (its jammers switched by the run's
events: hermitnet.timeline.events.radio_model_on_clock) and re-shapes every air link whose
settings changed. The timeline's player calls it for each jammer and phone_move event; the
replay calls it at every step too (a phone walks between waypoints). At every step the counters
at the sites are read first (so a row's `arrived_bytes` are what arrived since the previous
step, and its `arrived_bytes_total` what arrived up to that moment), then the radio is updated.
The console hears of a phone only when its serving cell changes; rate and loss changes are in
each row (`changed`, `ues`). The links start as the plan laid them out from the radio state at
t = 0, which is also the first step's state: t = 0 is evaluated once, by the plan.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

from hermitnet import radio
from hermitnet.plan import air_link_spec
from hermitnet.radio.sweep import jammer_state_times
from hermitnet.workload import observer

PING_INTERVAL_S = 0.1
PING_PAYLOAD_BYTES = 972  # 1000-byte IP packets


def sample_times(model, duration_s: float) -> list[float]:
    """Every timeline step, every re-evaluation interval, and the end."""
    step = model.reevaluate_s
    regular = {round(k * step, 9) for k in range(int(math.floor(duration_s / step)) + 1)}
    return sorted(set(model.timeline_steps(duration_s)) | regular | {duration_s})


class LiveRadio:
    """The air links of a running emulation, kept at the radio model's state."""

    def __init__(self, emu, model):
        self.emu = emu
        self.model = model
        self.current = {link.a: link.spec for link in emu.plan.links
                        if link.a in emu.plan.radio_t0}
        self.lock = threading.Lock()

    def update(self, t_s: float, reshape: bool = True) -> tuple[dict, list[str]]:
        """(attachments at t_s, the phones whose air link was re-shaped)."""
        with self.lock:
            plan = self.emu.plan
            attachments = plan.radio_t0 if t_s == 0 else radio.evaluate(self.model, t_s)
            changed = []
            for name, attachment in attachments.items():
                spec = air_link_spec(self.current[name], attachment)
                if reshape and spec != self.current[name]:
                    self.emu.set_air_link(name, spec)
                    self.current[name] = spec
                    changed.append(name)
            return attachments, changed


def replay(emu, scenario, live_radio: LiveRadio, clock, stop, progress,
           on_step=None) -> list[dict]:
    """Pings along the listed traffic from t = 0 to measure.timeline.duration_s on `clock`,
    a row per step; `stop` (a threading.Event) ends it early; `on_step(row)`, if given, gets
    each step's row as it happens (the live view)."""
    model = scenario.radio
    duration_s = scenario.timeline_s
    plan = emu.plan
    flows = scenario.timeline_traffic
    sites = sorted({f.dst for f in flows})
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
    serving = {name: attachment.cell for name, attachment in plan.radio_t0.items()}
    previous_total = {f"{f.src}->{f.dst}": 0 for f in flows}
    try:
        for t_s in sample_times(model, duration_s):
            if not clock.wait_until(t_s, stop):
                break
            arrived = {site: observer.read_site(emu, site) for site in sites}
            attachments, changed = live_radio.update(t_s, reshape=t_s < duration_s)
            row = _row(t_s, clock.now_s(), attachments, changed, flows, arrived, previous_total)
            previous_total = row["arrived_bytes_total"]
            rows.append(row)
            if on_step is not None:
                on_step(row)
            moved = cell_changes(serving, attachments)
            if moved:
                progress(f"t={t_s:5.1f} s: " + "; ".join(moved))
    finally:
        for process in pings:
            if process.poll() is None:
                process.terminate()
    return rows


def cell_changes(serving: dict, attachments: dict) -> list[str]:
    """'PHONE: CELL -> CELL' for every phone whose serving cell changed; updates `serving`."""
    moved = []
    for name, attachment in attachments.items():
        if attachment.cell != serving.get(name):
            before = serving.get(name) or "no service"
            moved.append(f"{name}: {before} -> {attachment.cell or 'no service'}")
            serving[name] = attachment.cell
    return moved


def _row(t_s, wall_s, attachments, changed, flows, arrived, previous_total) -> dict:
    total = {f"{f.src}->{f.dst}": arrived[f.dst].get(f.src, {}).get("bytes", 0) for f in flows}
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
        "arrived_bytes": {flow: total[flow] - previous_total.get(flow, 0) for flow in total},
        "arrived_bytes_total": total,
    }


def summary(model, rows: list[dict], population_phones: int, seed: int) -> dict:
    """results.json `radio`: attachments over time and jamming effectiveness at population
    scale over the replayed timeline's jammer states (schedules and duty cycles applied)."""
    duration_s = rows[-1]["t_s"] if rows else 0.0
    times_s, weights = jammer_state_times(model, duration_s) if duration_s > 0 else ([0.0], [1.0])
    population = radio.population(
        model, population_phones, seed, times_s=times_s, time_weights=weights
    )
    return {
        "attached": rows[0]["attached"] if rows else {},
        "timeline": rows,
        "jamming_effectiveness": {
            "time_averaged": population.jamming_effectiveness,
            "worst_moment": population.jamming_effectiveness_worst,
            "worst_moment_t_s": population.worst_time_s,
            "every_jammer_on": population.jamming_effectiveness_every_jammer_on,
        },
        "population": {
            "phones": population.n_phones,
            "jammers": f"timeline, {duration_s:g} s" if duration_s > 0 else "as at t = 0 s",
            "national_coverage_share": population.national_coverage_share,
            "foreign_reach_share": population.foreign_reach_share,
            "border_foreign_reach_share": population.border_foreign_reach_share,
            "border_foreign_reach_share_unjammed": population.border_foreign_reach_share_unjammed,
        },
    }
