"""A scenario's events on the one clock: `events(scenario)` -> a sorted, merged, checked list.

Pure: no root, no emulation. The events come from four places, merged into one list:
  timeline.events                 written as {at_s, kind, ...}
  blocklist entries with from_s / until_s   a block at from_s and an unblock at until_s
  radio.jammers[].schedule / duty_cycle     jammer_on / jammer_off at each edge
  radio.ues[].moves                         phone_move at each waypoint time

controller_down kills the run's controller (SIGKILL: a crash, not a shutdown) and
controller_up starts it again; a policy event while it is down fails the run.

Times are run seconds from t = 0 (the network up, the policy on every switch); a scenario's
`timeline.time_scale` says how many seconds of history one run second stands for, and each
event carries both. Radio declarations beyond the run's duration are not played (the radio map
and sweeps still use them); a timeline event beyond it is an error.

Every error is a HermitError naming the scenario file, the field and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hermitnet.errors import HermitError

POLICY_KINDS = ("block", "unblock", "move_subscriber", "set_tier_zones")
RADIO_KINDS = ("jammer_on", "jammer_off", "phone_move")
UPLINK_KINDS = ("uplink_down", "uplink_up", "uplink_degrade")
SITE_KINDS = ("site_down", "site_up")
CONTROL_KINDS = ("controller_down", "controller_up")
FLOOD_KINDS = ("flood_start", "flood_stop")
KINDS = POLICY_KINDS + RADIO_KINDS + UPLINK_KINDS + SITE_KINDS + CONTROL_KINDS + FLOOD_KINDS
WRITTEN_KINDS = tuple(k for k in KINDS if k != "phone_move")   # phone_move comes from radio.ues

CONTROLLER_NAME = "controller"   # the run's one controller
DEGRADE_FIELDS = ("bw_mbps", "delay_ms", "loss_pct")

# Fields each written kind takes besides at_s and kind (required ones first, then optional).
FIELDS = {
    "block": (("site",), ("tier", "reason")),
    "unblock": (("site",), ("tier", "reason")),
    "move_subscriber": (("subscriber", "tier"), ("reason",)),
    "set_tier_zones": (("tier", "zones"), ("reason",)),
    "jammer_on": (("jammer",), ("reason",)),
    "jammer_off": (("jammer",), ("reason",)),
    "uplink_down": ((), ("uplink", "reason")),
    "uplink_up": ((), ("uplink", "reason")),
    "uplink_degrade": ((), ("uplink", "reason", *DEGRADE_FIELDS)),
    "site_down": (("site",), ("reason",)),
    "site_up": (("site",), ("reason",)),
    "controller_down": ((), ("reason",)),
    "controller_up": ((), ("reason",)),
    "flood_start": (("from", "toward", "rate_mbps"), ("protocol", "reason")),
    "flood_stop": (("from",), ("reason",)),
}
FLOOD_TOWARD = ("national", "border")

# Pairs of kinds that undo each other: both at the same time on the same target contradict.
OPPOSITE = {"block": "unblock", "jammer_on": "jammer_off", "uplink_down": "uplink_up",
            "site_down": "site_up", "controller_down": "controller_up",
            "flood_start": "flood_stop"}


@dataclass(frozen=True)
class Event:
    """One scheduled change. `target` is the site, subscriber, tier, jammer, uplink or phone
    it acts on; `field` is where it was written in the scenario."""

    at_s: float
    kind: str
    target: str
    tier: str | None = None                      # block/unblock for one tier; move_subscriber
    zones: tuple[str, ...] = ()                  # set_tier_zones
    settings: tuple[tuple[str, float], ...] = () # uplink_degrade: (bw_mbps|delay_ms|loss_pct, v)
    #                                              flood_start: (rate_mbps, v)
    options: tuple[tuple[str, str], ...] = ()    # flood_start: (toward, v), (protocol, v)
    position_km: tuple[float, float] | None = None   # phone_move
    reason: str = ""
    field: str = ""

    @property
    def domain(self) -> str:
        """policy | radio | uplink | site | control | flood: what part of the run plays it."""
        for name, kinds in (("policy", POLICY_KINDS), ("radio", RADIO_KINDS),
                            ("uplink", UPLINK_KINDS), ("site", SITE_KINDS),
                            ("control", CONTROL_KINDS), ("flood", FLOOD_KINDS)):
            if self.kind in kinds:
                return name
        raise ValueError(self.kind)

    def key(self) -> tuple:
        """What makes two events the same change (merged when they coincide)."""
        return (self.at_s, self.kind, self.target, self.tier, self.zones, self.settings,
                self.options, self.position_km)

    def describe(self) -> str:
        extra = ""
        if self.tier is not None:
            extra = f" tier={self.tier}"
        if self.zones:
            extra = f" zones={','.join(self.zones)}"
        if self.settings or self.options:
            extra = " " + " ".join([*(f"{k}={v}" for k, v in self.options),
                                    *(f"{k}={v:g}" for k, v in self.settings)])
        return f"{self.kind} {self.target}{extra}"

    def to_dict(self, time_scale: float = 1.0) -> dict:
        out = {"planned_s": self.at_s, "scenario_s": scenario_s(self.at_s, time_scale),
               "kind": self.kind, "target": self.target, "field": self.field}
        if self.tier is not None:
            out["tier"] = self.tier
        if self.zones:
            out["zones"] = list(self.zones)
        if self.settings:
            out.update(dict(self.settings))
        if self.options:
            out.update(dict(self.options))
        if self.position_km is not None:
            out["position_km"] = list(self.position_km)
        if self.reason:
            out["reason"] = self.reason
        return out


def scenario_s(run_s: float, time_scale: float) -> float:
    """Seconds of history a moment of the run stands for (timeline.time_scale per run second)."""
    return round(run_s * time_scale, 6)


def events(scenario) -> list[Event]:
    """Every event of `scenario`, sorted by time (then policy, radio, uplink, site, flood; then
    in the order written), identical coincident ones merged. Raises HermitError on any invalid
    one."""
    fail = _failer(scenario.source)
    found = [*_written(scenario, fail), *_blocklist_windows(scenario), *_radio(scenario)]
    merged: dict[tuple, Event] = {}
    for event in found:
        merged.setdefault(event.key(), event)
    ordered = sorted(merged.values(), key=lambda e: (e.at_s, KINDS.index(e.kind)))
    _check_same_time(ordered, fail)
    _check_sequence(scenario, ordered, fail)
    return ordered


def _failer(source: str):
    def fail(field_path: str, message: str):
        raise HermitError(message, source=source, field=field_path)
    return fail


def _written(scenario, fail) -> list[Event]:
    duration_s = scenario.duration_s
    sites = [s.name for s in scenario.sites]
    subscribers = [s.name for s in scenario.subscribers]
    tiers = list(scenario.tiers)
    jammers = [j.name for j in scenario.radio.jammers] if scenario.radio is not None else []
    global_sites = [s.name for s in scenario.sites if s.zone == "global"]
    national_sites = [s.name for s in scenario.sites if s.zone == "national"]
    found = []
    for i, entry in enumerate(scenario.timeline.entries):
        where = f"timeline.events[{i}]"
        kind = entry["kind"]
        required, optional = FIELDS[kind]
        for name in entry:
            if name not in ("at_s", "kind", *required, *optional):
                fail(f"{where}.{name}", f"{kind} takes no {name!r}; expected only: "
                     f"{', '.join(('at_s', 'kind', *required, *optional))}")
        for name in required:
            if name not in entry:
                fail(where, f"{kind} needs {name!r}")
        at_s = float(entry["at_s"])
        if at_s > duration_s:
            fail(f"{where}.at_s", f"at {at_s:g} s is beyond the run's duration "
                 f"({duration_s:g} s, timeline.duration_s); expected 0 to {duration_s:g}")

        def known(name, names, what, entry=entry, where=where):
            if entry[name] not in names:
                fail(f"{where}.{name}", f"unknown {what} {entry[name]!r}; expected one of: "
                     f"{', '.join(names) or '(none: this scenario has no radio section)'}")
            return entry[name]

        if "site" in required:
            target = known("site", sites, "site")
        elif kind == "move_subscriber":
            target = known("subscriber", subscribers, "subscriber")
        elif kind == "set_tier_zones":
            target = known("tier", tiers, "tier")
        elif "jammer" in required:
            target = known("jammer", jammers, "jammer")
        elif kind in CONTROL_KINDS:
            target = CONTROLLER_NAME
        elif kind in FLOOD_KINDS:
            target = known("from", global_sites, "global-zone site")
        else:
            target = _uplink_target(entry, where, [u.name for u in scenario.uplinks], known,
                                    fail)
        tier = None
        if kind in ("block", "unblock", "move_subscriber") and "tier" in entry:
            tier = known("tier", tiers, "tier")
        settings = tuple((name, float(entry[name])) for name in DEGRADE_FIELDS if name in entry)
        if kind == "uplink_degrade" and not settings:
            fail(where, "uplink_degrade needs at least one of: " + ", ".join(DEGRADE_FIELDS))
        options = ()
        if kind == "flood_start":
            options = _flood_options(entry, where, national_sites, fail)
            settings = (("rate_mbps", float(entry["rate_mbps"])),)
        found.append(Event(at_s, kind, target, tier=tier, zones=tuple(entry.get("zones", ())),
                           settings=settings, options=options, reason=entry.get("reason", ""),
                           field=where))
    return found


def _uplink_target(entry: dict, where: str, names: list[str], known, fail) -> str:
    """The uplink an uplink event acts on: optional when the scenario has only one."""
    if "uplink" in entry:
        return known("uplink", names, "uplink")
    if len(names) > 1:
        fail(where, f"{entry['kind']} needs 'uplink' when the scenario has several; expected "
             f"one of: {', '.join(names)}")
    return names[0]


def _flood_options(entry: dict, where: str, national_sites: list[str], fail) -> tuple:
    """(toward, protocol) of a flood_start; its rate within the generator's ceiling."""
    from hermitnet.workload.flood import GENERATOR_CEILING_MBPS, PROTOCOLS

    toward, protocol = entry["toward"], entry.get("protocol", "udp")
    if toward not in FLOOD_TOWARD:
        fail(f"{where}.toward", f"unknown flood target {toward!r}; expected one of: "
             f"{', '.join(FLOOD_TOWARD)}")
    if protocol not in PROTOCOLS:
        fail(f"{where}.protocol", f"unknown flood protocol {protocol!r}; expected one of: "
             f"{', '.join(PROTOCOLS)}")
    if toward == "national" and not national_sites:
        fail(f"{where}.toward", "toward national floods the national zone's sites, and this "
             "scenario has none; expected border, or a site with zone national")
    ceiling = GENERATOR_CEILING_MBPS[protocol]
    rate = float(entry["rate_mbps"])
    if not 0 < rate <= ceiling:
        fail(f"{where}.rate_mbps", f"a {protocol} flood at {rate:g} Mbit/s is beyond what this "
             f"machine's flood generator can send ({ceiling:g} Mbit/s of {protocol} frames); "
             f"expected more than 0 and at most {ceiling:g}")
    return (("toward", toward), ("protocol", protocol))


def _blocklist_windows(scenario) -> list[Event]:
    found = []
    for window in scenario.blocklist_windows:
        where = f"blocklist[{window.index}]"
        if window.from_s:
            found.append(Event(float(window.from_s), "block", window.site,
                               reason=window.reason, field=f"{where}.from_s"))
        if window.until_s is not None:
            found.append(Event(float(window.until_s), "unblock", window.site,
                               reason=window.reason, field=f"{where}.until_s"))
    for event in found:
        if event.at_s > scenario.duration_s:
            _failer(scenario.source)(event.field, (
                f"at {event.at_s:g} s is beyond the run's duration ({scenario.duration_s:g} s, "
                f"timeline.duration_s); expected 0 to {scenario.duration_s:g}"))
    return found


def _radio(scenario) -> list[Event]:
    model = scenario.radio
    if model is None:
        return []
    duration_s = scenario.duration_s
    found = []
    for j, jammer in enumerate(model.jammers):
        if jammer.duty_cycle is not None:
            where = f"radio.jammers[{j}].duty_cycle"
            for t_s in jammer.duty_cycle.edges_s(duration_s):
                if t_s > 0:
                    on = jammer.duty_cycle.is_on(t_s)
                    found.append(Event(t_s, "jammer_on" if on else "jammer_off", jammer.name,
                                       reason="duty cycle", field=where))
        for k, (t_s, on) in enumerate(jammer.schedule):
            if 0 < t_s <= duration_s:
                found.append(Event(t_s, "jammer_on" if on else "jammer_off", jammer.name,
                                   reason="schedule", field=f"radio.jammers[{j}].schedule[{k}]"))
    for u, ue in enumerate(model.ues):
        for k, (t_s, x_km, y_km) in enumerate(ue.waypoints[1:]):
            if 0 < t_s <= duration_s:
                found.append(Event(t_s, "phone_move", ue.name, position_km=(x_km, y_km),
                                   reason="waypoint", field=f"radio.ues[{u}].moves[{k}]"))
    return found


def _check_same_time(ordered: list[Event], fail) -> None:
    """Two events at the same time that undo or overrule each other."""
    seen: dict[tuple, Event] = {}
    for event in ordered:
        kind = next((k for k, v in OPPOSITE.items() if event.kind in (k, v)), event.kind)
        if event.kind == "uplink_degrade":
            kind = "uplink_down"     # a degrade with a down or up at once overrules it
        slot = (event.at_s, kind, event.target,
                event.tier if kind in ("block",) else None)
        other = seen.get(slot)
        if other is not None:
            fail(event.field, f"{event.describe()} at {event.at_s:g} s contradicts "
                 f"{other.describe()} at the same time ({other.field}); expected one change "
                 "per target at a time")
        seen[slot] = event


def _check_sequence(scenario, ordered: list[Event], fail) -> None:
    """Play the events on their targets' states: an unblock of what is not blocked, an uplink
    brought up that is up, etc. is an error naming the event."""
    blocked = {(b.site, b.tier) for b in scenario.blocklist}
    since: dict[tuple, str] = {}
    uplinks = {u.name: "up" for u in scenario.uplinks}
    sites_down, controller = set(), "up"
    flooding: dict[str, Event] = {}
    for event in ordered:
        at = f"at {event.at_s:g} s"
        if event.kind in ("block", "unblock"):
            slot = (event.target, event.tier)
            whom = "every tier" if event.tier is None else f"tier {event.tier}"
            if event.kind == "block" and slot in blocked:
                fail(event.field, f"{event.target} is already blocked for {whom} {at} "
                     f"({since.get(slot, 'blocklist')}); expected an unblock first")
            if event.kind == "unblock" and slot not in blocked:
                fail(event.field, f"{event.target} is not blocked for {whom} {at}; expected "
                     "a block before it (or a blocklist entry)")
            (blocked.add if event.kind == "block" else blocked.discard)(slot)
            since[slot] = event.field
        elif event.kind in UPLINK_KINDS:
            uplinks[event.target] = _uplink_step(event, uplinks[event.target], at, fail)
        elif event.kind in SITE_KINDS:
            down = event.kind == "site_down"
            if down == (event.target in sites_down):
                state = "down" if down else "up"
                fail(event.field, f"{event.target} is already {state} {at}; expected a "
                     f"{'site_up' if down else 'site_down'} before it")
            (sites_down.add if down else sites_down.discard)(event.target)
        elif event.kind in CONTROL_KINDS:
            down = event.kind == "controller_down"
            if down == (controller == "down"):
                fail(event.field, f"the controller is already {controller} {at}; expected a "
                     f"{'controller_up' if down else 'controller_down'} before it")
            controller = "down" if down else "up"
        elif event.kind == "flood_start":
            if event.target in flooding:
                fail(event.field, f"{event.target} is already flooding {at} (since "
                     f"{flooding[event.target].field}); expected a flood_stop first")
            flooding[event.target] = event
            _check_generator(flooding.values(), event, fail)
        elif event.kind == "flood_stop" and flooding.pop(event.target, None) is None:
            fail(event.field, f"{event.target} is not flooding {at}; expected a flood_start "
                 "before it")


def _uplink_step(event: Event, state: str, at: str, fail) -> str:
    """An uplink's state (up, down, degraded) after `event`; an error if it cannot happen."""
    what = "the uplink" if event.target == "uplink" else f"uplink {event.target}"
    if event.kind == "uplink_down" and state == "down":
        fail(event.field, f"{what} is already down {at}; expected an uplink_up first")
    if event.kind == "uplink_degrade" and state == "down":
        fail(event.field, f"{what} is down {at}; expected an uplink_up first")
    if event.kind == "uplink_up" and state == "up":
        fail(event.field, f"{what} is already up {at} (as configured); expected an "
             "uplink_down or uplink_degrade before it")
    return {"uplink_down": "down", "uplink_degrade": "degraded", "uplink_up": "up"}[event.kind]


def _check_generator(running, event: Event, fail) -> None:
    """Floods at once share the machine: together within the generator's ceiling."""
    from hermitnet.workload.flood import GENERATOR_CEILING_MBPS

    share = sum(dict(e.settings)["rate_mbps"] / GENERATOR_CEILING_MBPS[dict(e.options)["protocol"]]
                for e in running)
    if share > 1 + 1e-9:
        together = ", ".join(f"{e.target} {dict(e.settings)['rate_mbps']:g} Mbit/s "
                             f"{dict(e.options)['protocol']}" for e in running)
        fail(f"{event.field}.rate_mbps", f"floods at once at {event.at_s:g} s ({together}) "
             f"need {share:.0%} of this machine's flood generator; expected at most 100 % "
             "(ceilings per protocol: hermitnet.workload.flood.GENERATOR_CEILING_MBPS)")


def radio_model_on_clock(model, event_list: list[Event]):
    """The radio model with each jammer switched exactly by the events (schedules, duty cycles
    and timeline jammer events alike); its state at t = 0 is what the model says there."""
    if model is None:
        return None
    jammers = []
    for jammer in model.jammers:
        edges = tuple((e.at_s, e.kind == "jammer_on") for e in event_list
                      if e.target == jammer.name and e.kind in ("jammer_on", "jammer_off"))
        jammers.append(replace(jammer, initially_on=jammer.is_on(0.0), schedule=edges,
                               duty_cycle=None))
    return replace(model, jammers=tuple(jammers))
