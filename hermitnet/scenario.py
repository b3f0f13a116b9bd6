"""Scenario file -> validated, immutable model. The only reader of scenario YAML.

Everything downstream (plan, policy, radio, emulation) takes a `Scenario`, never raw YAML.

A scenario may build on another: `extends: baseline.yaml` (a path relative to the extending
file; chains allowed, loops refused). The documents are deep-merged: mappings key by key with
the extending file winning, lists and plain values replaced whole (a `sites:` list given in
the extending file is the whole site list). Every file of a chain is checked against the
scenario schema on its own (what an editor shows), then the merged document is validated and
resolved like any single file; an error names the file its field came from. An extending file
may give part of a section (`radio: {jammers: [...]}`): what it leaves out below the top level
comes from the file it extends, and the merged document must have it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from hermitnet.errors import HermitError
from hermitnet.schema_check import validate

DEFAULT_SEED = 1
"""The seed of a scenario that gives none: the run, the radio model, map and sweep all use it."""

# Logical names of the plan's switches and service hosts (resolvers, control vantages);
# subscribers and sites may not take them (nor names starting "nb-").
SERVICE_NAMES = frozenset({"dns-national", "dns-walled", "dns-foreign", "dns-operator",
                           "control-national", "control-global"})
RESERVED_NAMES = frozenset({"core", "rnc", "intranet", "fixed", "border", "global",
                            "foreign"}) | SERVICE_NAMES

DEFAULT_LINKS = {
    "mobile_link": {"bw_mbps": 2.0, "delay_ms": 40.0, "jitter_ms": 0.0, "loss_pct": 0.0},
    "fixed_link": {"bw_mbps": 10.0, "delay_ms": 5.0, "jitter_ms": 0.0, "loss_pct": 0.0},
    "backhaul_link": {"bw_mbps": 100.0, "delay_ms": 2.0, "jitter_ms": 0.0, "loss_pct": 0.0},
    "uplink": {"bw_mbps": 10.0, "delay_ms": 30.0, "jitter_ms": 0.0, "loss_pct": 0.0},
}


@dataclass(frozen=True)
class LinkSpec:
    """Shaping of one link, applied in both directions. bw_mbps None means unshaped."""

    bw_mbps: float | None = None
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    no_reorder: bool = False   # with jitter_ms: frames keep their order (delay skews upwards)

    def merged(self, overrides: dict | None) -> LinkSpec:
        return replace(self, **(overrides or {}))


@dataclass(frozen=True)
class Uplink:
    """One international uplink (upstream) between the border and the global zone."""

    name: str
    spec: LinkSpec


SINGLE_UPLINK_NAME = "uplink"   # the name of the one uplink of the `uplink:` form


@dataclass(frozen=True)
class Tier:
    name: str
    zones: tuple[str, ...]
    description: str = ""
    rate_mbps: float | None = None
    # Does the national resolver this tier is handed answer names outside the national
    # zones (forwarded to the foreign resolver)? Default: the tier reaches the global zone.
    resolves_foreign_names: bool = False


@dataclass(frozen=True)
class Cell:
    name: str
    backhaul: LinkSpec


@dataclass(frozen=True)
class Subscriber:
    name: str
    tier: str
    access: str  # "mobile" | "fixed"
    cell: str | None
    link: LinkSpec
    handset: str = "national"  # "foreign": a smuggled handset on foreign cells (radio UEs only)
    radio: bool = False        # placed on the radio map: the air link follows the radio model


@dataclass(frozen=True)
class Site:
    name: str
    zone: str
    hostname: str
    title: str
    scheme: str = "http"     # the reachability sweep measures SCHEME://HOSTNAME/

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.hostname}/"


@dataclass(frozen=True)
class BlockEntry:
    """A site blocked for every tier, or (tier given) for that tier only."""

    site: str
    tier: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class BlockWindow:
    """A blocklist entry written with from_s/until_s: sugar for a block and an unblock event
    (hermitnet.timeline.events); `index` is its place in the blocklist."""

    index: int
    site: str
    from_s: float | None
    until_s: float | None
    reason: str = ""


# What a censor rule does (the schema's censors[].rules[].action); hermitnet.censor applies them.
DNS_ACTIONS = ("dns-nxdomain", "dns-bogon", "dns-blockpage")
HTTP_ACTIONS = ("tcp-rst", "http-blockpage")
TLS_ACTIONS = ("tls-rst", "tls-drop")
ADDRESS_ACTIONS = ("blackhole", "throttle")   # act on the site's address: need a site


@dataclass(frozen=True)
class CensorRule:
    """One behaviour of a censor, for one site (its hostname and address) or one keyword."""

    action: str
    site: str | None = None
    keyword: str | None = None
    rate_kbps: float | None = None   # throttle only


@dataclass(frozen=True)
class Censor:
    """A filtering host on a path outside the national controller ("foreign-cell")."""

    name: str
    path: str
    rules: tuple[CensorRule, ...]
    description: str = ""


@dataclass(frozen=True)
class Timeline:
    """The scenario clock: t = 0 is the network up with the policy on every switch."""

    duration_s: float = 0.0      # the run's length on the clock
    step_s: float = 1.0          # an event later than this after its time is reported late
    time_scale: float = 1.0      # scenario seconds of history per run second
    entries: tuple = ()          # timeline.events as written (schema-checked dicts)


@dataclass(frozen=True)
class Flow:
    src: str  # subscriber
    dst: str  # site
    start_s: float | None = None    # on the clock; None: in turn with the other such flows
    seconds: float | None = None    # None: measure.throughput.seconds
    direction: str = "upload"       # upload: subscriber -> site; download: site -> subscriber


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    seed: int
    description: str
    tiers: dict[str, Tier]
    cells: tuple[Cell, ...]
    subscribers: tuple[Subscriber, ...]
    sites: tuple[Site, ...]
    uplinks: tuple[Uplink, ...]      # in order of preference: the first one up carries traffic
    blocklist: tuple[BlockEntry, ...]
    connect_timeout_s: float
    throughput_seconds: float
    flows: tuple[Flow, ...]
    radio: object = field(default=None, compare=False)  # hermitnet.radio.RadioModel or None
    timeline_s: float = 0.0
    timeline_traffic: tuple[Flow, ...] = ()
    timeline: Timeline = Timeline()
    blocklist_windows: tuple[BlockWindow, ...] = ()
    reachability_at_s: tuple[float, ...] = ()   # empty: one sweep, in turn, from t = 0
    probes_at_s: tuple[float, ...] = ()         # empty: once, in turn
    written_blocklist: tuple = field(default=(), compare=False, repr=False)  # as in the file
    censors: tuple[Censor, ...] = ()

    @property
    def uplink(self) -> LinkSpec:
        """The first (preferred) uplink's settings."""
        return self.uplinks[0].spec

    def uplink_spec(self, name: str) -> LinkSpec:
        return next(u.spec for u in self.uplinks if u.name == name)

    @property
    def duration_s(self) -> float:
        """The run's length on the clock: timeline.duration_s, else the radio replay's."""
        return self.timeline.duration_s or self.timeline_s

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    def subscriber(self, name: str) -> Subscriber:
        return next(s for s in self.subscribers if s.name == name)

    def require_radio(self):
        """The radio model, for commands that need one; a HermitError naming `radio` if none."""
        if self.radio is None:
            raise HermitError("this scenario has no radio section (see scenarios/border.yaml)",
                              source=self.source, field="radio")
        return self.radio


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario file. Raises HermitError naming file and field."""
    layers = _read_chain(Path(path))
    try:
        return from_dict(_merge(layers), source=str(path))
    except HermitError as error:
        moved = _from_its_file(error, layers)
        if moved is None:
            raise
        raise moved from error


def read_document(path: str | Path) -> dict:
    """The scenario file as plain data with its `extends` chain merged, before the full check.

    Each file of a chain has passed the schema on its own; the merged document has not yet.
    """
    return _merge(_read_chain(Path(path)))


def _read_yaml(path: Path):
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise HermitError(f"cannot read scenario file: {error.strerror}", source=source) from error
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise HermitError(f"not UTF-8 text (byte 0x{byte:02x} at offset {error.start}); "
                          "expected a YAML file in UTF-8", source=source) from error
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise HermitError(f"not valid YAML: {error}", source=source) from error


def _read_chain(path: Path) -> list[tuple[str, dict]]:
    """(file, its own data without `extends`) for the file and each file it extends, in order."""
    layers: list[tuple[str, dict]] = []
    seen: list[Path] = []
    while True:
        data = _read_yaml(path)
        source = str(path)
        if not isinstance(data, dict):
            raise HermitError("expected a mapping at the top level", source=source)
        seen.append(path.resolve())
        layers.append((source, data))
        if "extends" not in data and len(layers) == 1:
            return layers   # a single file: from_dict validates it
        validate(data, "scenario", source=source, partial="extends" in data)
        if "extends" not in data:
            break
        target = path.parent / data["extends"]
        if target.resolve() in seen:
            loop = " -> ".join([*(name for name, _ in layers), str(target)])
            raise HermitError(f"extends loops back to a file already in the chain: {loop}",
                              source=source, field="extends")
        if not target.is_file():
            raise HermitError(f"no scenario file {target} (a path relative to this file)",
                              source=source, field="extends")
        path = target
    return [(source, {k: v for k, v in data.items() if k != "extends"}) for source, data in layers]


def _merge(layers: list[tuple[str, dict]]) -> dict:
    """Deep-merge the chain, the first (extending) file winning: mappings key by key, the rest
    (lists, plain values) replaced whole."""
    merged: dict = {}
    for _, data in reversed(layers):
        merged = _merged(merged, data)
    return merged


def _merged(base, over):
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return copy.deepcopy(over)
    result = dict(base)
    for key, value in over.items():
        result[key] = _merged(base[key], value) if key in base else copy.deepcopy(value)
    return result


def _from_its_file(error: HermitError, layers: list[tuple[str, dict]]) -> HermitError | None:
    """The error re-pointed at the extended file its field was written in; None if it is
    the named file's own."""
    if len(layers) == 1 or error.field is None:
        return None
    origin = _origin(layers, _field_parts(error.field))
    if origin == layers[0][0]:
        return None
    return HermitError(f"{error.message} (extended by {layers[0][0]})", source=origin,
                       field=error.field)


def _field_parts(field_path: str) -> list[str | int]:
    """`measure.throughput.flows[1].to` -> ['measure', 'throughput', 'flows', 1, 'to']."""
    if field_path == "(top level)":
        return []
    return [int(part[1:-1]) if part.startswith("[") else part
            for part in re.findall(r"\[\d+\]|[^.\[\]]+", field_path)]


def _origin(layers: list[tuple[str, dict]], parts: list[str | int]) -> str:
    """The first file of the chain that writes the field: it holds every mapping key on the
    way, or a list or value on the way (which it then gives whole)."""
    for source, data in layers:
        node = data
        for part in parts:
            if not isinstance(node, dict):
                return source
            if part not in node:
                break
            node = node[part]
        else:
            return source
    return layers[0][0]


def from_dict(data, *, source: str = "<scenario>") -> Scenario:
    """Validate and resolve one scenario document (a merged one: `extends` is for files)."""
    if not isinstance(data, dict):
        raise HermitError("expected a mapping at the top level", source=source)
    if "extends" in data:
        raise HermitError("extends names a file to build on; it is resolved when a file is read "
                          "(scenario.load), not in a document", source=source, field="extends")
    validate(data, "scenario", source=source)

    defaults = {kind: LinkSpec().merged(values) for kind, values in DEFAULT_LINKS.items()}
    for kind, overrides in (data.get("defaults") or {}).items():
        defaults[kind] = defaults[kind].merged(overrides)
    uplinks = _uplinks(data, defaults["uplink"], source)

    tiers = {
        name: Tier(name, tuple(t["zones"]), t.get("description", ""), t.get("rate_mbps"),
                    t.get("resolves_foreign_names", "global" in t["zones"]))
        for name, t in data["tiers"].items()
    }
    cells = tuple(
        Cell(c["name"], defaults["backhaul_link"].merged(c.get("backhaul")))
        for c in data.get("cells", [])
    )
    subscribers = tuple(_subscriber(s, defaults) for s in data.get("subscribers", []))
    seed = data.get("seed", DEFAULT_SEED)
    radio_model = None
    if data.get("radio") is not None:
        from hermitnet import radio

        radio_model = radio.parse(data["radio"], source, seed=seed)
        subscribers += tuple(
            Subscriber(ue.name, ue.tier, "mobile", None, defaults["mobile_link"],
                       handset=ue.handset, radio=True)
            for ue in radio_model.ues
        )
    sites = tuple(
        Site(s["name"], s["zone"], s.get("hostname", f"{s['name']}.{s['zone']}.invalid"),
             s.get("title", s["name"]), s.get("scheme", "http"))
        for s in data["sites"]
    )
    measure = data.get("measure") or {}
    throughput = measure.get("throughput") or {}
    blocklist = data.get("blocklist", [])
    timeline = data.get("timeline") or {}
    scenario = Scenario(
        name=data["name"],
        source=source,
        seed=seed,
        description=data.get("description", "").strip(),
        tiers=tiers,
        cells=cells,
        subscribers=subscribers,
        sites=sites,
        uplinks=uplinks,
        blocklist=tuple(BlockEntry(b["site"], None, b.get("reason", "")) for b in blocklist
                        if not b.get("from_s")),   # blocked at t = 0; windows: events
        connect_timeout_s=float((measure.get("reachability") or {}).get("connect_timeout_s", 2)),
        throughput_seconds=float(throughput.get("seconds", 5)),
        flows=tuple(Flow(f["from"], f["to"], f.get("start_s"), f.get("seconds"),
                         f.get("direction", "upload"))
                    for f in throughput.get("flows", [])),
        radio=radio_model,
        timeline_s=float((measure.get("timeline") or {}).get("duration_s", 0)),
        timeline_traffic=tuple(
            Flow(f["from"], f["to"]) for f in (measure.get("timeline") or {}).get("traffic", [])
        ),
        timeline=Timeline(float(timeline.get("duration_s", 0)), float(timeline.get("step_s", 1)),
                          float(timeline.get("time_scale", 1)),
                          tuple(timeline.get("events", []))),
        blocklist_windows=tuple(
            BlockWindow(i, b["site"], b.get("from_s"), b.get("until_s"), b.get("reason", ""))
            for i, b in enumerate(blocklist) if b.get("from_s") or "until_s" in b),
        reachability_at_s=tuple(float(t) for t in
                                (measure.get("reachability") or {}).get("at_s", [])),
        probes_at_s=tuple(float(t) for t in (measure.get("probes") or {}).get("at_s", [])),
        written_blocklist=tuple(blocklist),
        censors=tuple(
            Censor(c["name"], c["path"], tuple(
                CensorRule(r["action"], r.get("site"), r.get("keyword"), r.get("rate_kbps"))
                for r in c["rules"]), c.get("description", "").strip())
            for c in data.get("censors", [])),
    )
    _check_references(scenario)
    from hermitnet.timeline.events import events

    events(scenario)   # every event valid (targets, times, no contradictions) before any use
    return scenario


def _uplinks(data: dict, base: LinkSpec, source: str) -> tuple[Uplink, ...]:
    """`uplinks:` as written, or the one `uplink:` (named SINGLE_UPLINK_NAME)."""
    if "uplinks" not in data:
        return (Uplink(SINGLE_UPLINK_NAME, base.merged(data.get("uplink"))),)
    if "uplink" in data:
        raise HermitError("give either uplink (one uplink) or uplinks (named uplinks), not both",
                          source=source, field="uplink")
    found: list[Uplink] = []
    for i, entry in enumerate(data["uplinks"]):
        if entry["name"] in {u.name for u in found}:
            raise HermitError(f"duplicate uplink name {entry['name']!r}; expected one name per "
                              "uplink", source=source, field=f"uplinks[{i}].name")
        settings = {k: v for k, v in entry.items() if k != "name"}
        found.append(Uplink(entry["name"], base.merged(settings)))
    return tuple(found)


def _subscriber(s: dict, defaults: dict[str, LinkSpec]) -> Subscriber:
    access = s.get("access", "mobile")
    base = defaults["mobile_link" if access == "mobile" else "fixed_link"]
    return Subscriber(s["name"], s["tier"], access, s.get("cell"), base.merged(s.get("link")))


def _check_references(scenario: Scenario) -> None:
    """Cross-references the schema cannot express; each error names the offending field."""
    source = scenario.source

    def fail(field_path: str, message: str):
        raise HermitError(message, source=source, field=field_path)

    _unique([c.name for c in scenario.cells], "cells", fail)
    paths = _subscriber_paths(scenario)
    if not scenario.subscribers:
        fail("subscribers", "no subscribers: list some here or as radio.ues")
    seen = set()
    for i, sub in enumerate(scenario.subscribers):
        if sub.name in seen:
            fail(f"{paths[i]}.name", f"duplicate subscriber name {sub.name!r}")
        seen.add(sub.name)
    _unique([s.name for s in scenario.sites], "sites", fail)
    for i, sub in enumerate(scenario.subscribers):
        if sub.name in RESERVED_NAMES or sub.name.startswith("nb-"):
            fail(f"{paths[i]}.name", f"{sub.name!r} is reserved for a switch or a service "
                 "host; choose another")
    for i, site in enumerate(scenario.sites):
        if site.name in RESERVED_NAMES or site.name.startswith("nb-"):
            fail(f"sites[{i}].name", f"{site.name!r} is reserved for a switch or a service "
                 "host; choose another")
    hostnames: dict[str, str] = {}
    for i, site in enumerate(scenario.sites):
        if site.hostname in hostnames:
            fail(f"sites[{i}].hostname", f"hostname {site.hostname!r} is already site "
                 f"{hostnames[site.hostname]!r}'s; expected one hostname per site")
        hostnames[site.hostname] = site.name
    host_names = {s.name for s in scenario.subscribers} & {s.name for s in scenario.sites}
    if host_names:
        names = ", ".join(sorted(host_names))
        fail("sites", f"names used by both a subscriber and a site: {names}")

    cell_names = {c.name for c in scenario.cells}
    for i, sub in enumerate(scenario.subscribers):
        if sub.tier not in scenario.tiers:
            fail(f"{paths[i]}.tier", f"unknown tier {sub.tier!r}; expected one of: "
                 f"{', '.join(scenario.tiers)}")
        if sub.access == "fixed" and sub.cell:
            fail(f"{paths[i]}.cell", "a fixed-line subscriber has no cell; remove 'cell'")
        if sub.access == "mobile" and sub.cell is None and not sub.radio:
            fail(f"{paths[i]}.cell", "a mobile subscriber needs a cell; expected one of: "
                 f"{', '.join(sorted(cell_names)) or '(no cells defined: add a cells section)'}")
        if sub.cell is not None and sub.cell not in cell_names:
            fail(f"{paths[i]}.cell", f"unknown cell {sub.cell!r}; expected one of: "
                 f"{', '.join(sorted(cell_names))}")

    site_names = [s.name for s in scenario.sites]
    for i, entry in enumerate(scenario.written_blocklist):
        if entry["site"] not in site_names:
            fail(f"blocklist[{i}].site",
                 f"unknown site {entry['site']!r}; expected one of: {', '.join(site_names)}")
        if entry.get("from_s") is not None and entry.get("until_s") is not None \
                and entry["until_s"] <= entry["from_s"]:
            fail(f"blocklist[{i}].until_s", "must be later than from_s")
    subscriber_names = {s.name for s in scenario.subscribers}
    for what, flows in (("throughput.flows", scenario.flows),
                        ("timeline.traffic", scenario.timeline_traffic)):
        for i, flow in enumerate(flows):
            if flow.src not in subscriber_names:
                fail(f"measure.{what}[{i}].from", f"unknown subscriber {flow.src!r}")
            if flow.dst not in site_names:
                fail(f"measure.{what}[{i}].to", f"unknown site {flow.dst!r}")
    _check_times(scenario, fail)
    _check_censors(scenario, site_names, fail)
    if scenario.timeline_traffic and scenario.radio is None:
        fail("measure.timeline", "a timeline needs a radio section (it replays the radio model)")


def _check_times(scenario: Scenario, fail) -> None:
    """Every measurement time within the run's duration (events are checked by events())."""
    duration_s = scenario.duration_s

    def within(field_path: str, t_s: float) -> None:
        if t_s > duration_s:
            fail(field_path, f"at {t_s:g} s is beyond the run's duration ({duration_s:g} s); "
                 "expected 0 to that, or a longer timeline.duration_s")

    if scenario.timeline.duration_s and scenario.timeline_s > scenario.timeline.duration_s:
        fail("measure.timeline.duration_s", f"{scenario.timeline_s:g} s is longer than the run "
             f"(timeline.duration_s = {scenario.timeline.duration_s:g} s)")
    for i, t_s in enumerate(scenario.reachability_at_s):
        within(f"measure.reachability.at_s[{i}]", t_s)
    for i, t_s in enumerate(scenario.probes_at_s):
        within(f"measure.probes.at_s[{i}]", t_s)
    for i, flow in enumerate(scenario.flows):
        if flow.start_s is not None:
            within(f"measure.throughput.flows[{i}].start_s",
                   flow.start_s + (flow.seconds or scenario.throughput_seconds))


def _check_censors(scenario: Scenario, site_names: list[str], fail) -> None:
    """Each censor on a path that exists, once per path; each rule for one site or keyword,
    with what its action needs."""
    paths: dict[str, str] = {}
    taken = RESERVED_NAMES | {s.name for s in scenario.subscribers} | set(site_names)
    for i, censor in enumerate(scenario.censors):
        where = f"censors[{i}]"
        if censor.name in taken or censor.name.startswith("nb-"):
            fail(f"{where}.name", f"{censor.name!r} is already a subscriber, site or switch "
                 "name; choose another")
        taken |= {censor.name}
        if censor.path in paths:
            fail(f"{where}.path", f"censor {paths[censor.path]!r} is already on the "
                 f"{censor.path} path; expected one censor per path (give it every rule)")
        paths[censor.path] = censor.name
        if censor.path == "foreign-cell" and not any(
                s.handset == "foreign" for s in scenario.subscribers):
            fail(f"{where}.path", "no foreign handsets in this scenario, so no foreign-cell "
                 "path: add a radio UE with handset: foreign (see scenarios/border.yaml)")
        for j, rule in enumerate(censor.rules):
            _check_censor_rule(rule, f"{where}.rules[{j}]", site_names, fail)


def _check_censor_rule(rule: CensorRule, where: str, site_names: list[str], fail) -> None:
    if (rule.site is None) == (rule.keyword is None):
        fail(where, "expected exactly one of 'site' (a site name) or 'keyword' (a word)")
    if rule.site is not None and rule.site not in site_names:
        fail(f"{where}.site", f"unknown site {rule.site!r}; expected one of: "
             f"{', '.join(site_names)}")
    if rule.action in ADDRESS_ACTIONS and rule.site is None:
        fail(f"{where}.keyword", f"{rule.action} acts on a site's address: give 'site', "
             "not 'keyword'")
    if rule.action in DNS_ACTIONS and rule.keyword is not None and "." in rule.keyword:
        fail(f"{where}.keyword", "a DNS keyword is matched inside one label of the name: "
             "expected a word without '.'")
    if rule.action == "throttle" and rule.rate_kbps is None:
        fail(f"{where}.rate_kbps", "throttle needs the rate to hold the site to, in kbit/s")
    if rule.action != "throttle" and rule.rate_kbps is not None:
        fail(f"{where}.rate_kbps", f"only throttle takes a rate; remove it from {rule.action}")


def _subscriber_paths(scenario: Scenario) -> list[str]:
    """Where each subscriber was written: subscribers[i] or, for phones on the map, radio.ues[j]."""
    paths, listed, on_map = [], 0, 0
    for sub in scenario.subscribers:
        if sub.radio:
            paths.append(f"radio.ues[{on_map}]")
            on_map += 1
        else:
            paths.append(f"subscribers[{listed}]")
            listed += 1
    return paths


def _unique(names: list[str], field_path: str, fail) -> None:
    seen = set()
    for i, name in enumerate(names):
        if name in seen:
            fail(f"{field_path}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)
