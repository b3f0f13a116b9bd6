"""The controller's counters: totals kept while it runs, and their time series (counters.jsonl)
-> the `counters` section of results.json.

The controller feeds each poll's flow and meter stats into a CounterTotals and appends its
`line()` to counters.jsonl (every counters_interval_s):

    {"t_s": seconds since the run started, "epoch": wall time its process started,
     "switches": connected switches,
     "flows": {class: {decision: {"packets": n, "bytes": n}}},   # class: tier, "zone:Z" or "-"
     "meters": {tier: {"band_drop_packets", "band_drop_bytes", "in_packets", "in_bytes"}},
     "meters_by_subscriber": {subscriber: {...same...}},
     "uplink": {"switch", "port", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
                "rx_dropped", "tx_dropped"}}

Flow and meter numbers are totals since that controller process started (they never go down
while it runs); a restarted controller starts a new epoch from zero, so totals here add up the
last line of every epoch. Uplink numbers are the switch port's own counters (since the bridge
was created), so the last one is the total. Classification decisions (classify, spoofed, allow,
denied, blocked) happen once per packet, at its ingress switch; `forward` and `trunk` count once
per switch a packet crosses. Traffic in the last poll interval before a flow is removed or a
controller stops is not counted.
"""

from __future__ import annotations

import json
from pathlib import Path

from hermitnet.policy.compile import Meter, decode_cookie

MAX_SERIES_POINTS = 300
UPLINK_FIELDS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_dropped", "tx_dropped")


class CounterTotals:
    """Totals since this controller started, from polled cumulative counters.

    Switch counters restart when a flow is replaced or removed; totals here never go down: per
    flow (switch, table, priority, match, cookie) and per meter, only the increase since the last
    poll is added (a counter found lower than before restarted, and counts from zero).
    """

    def __init__(self, names: dict[int, str]):
        self.names = names              # class id -> tier or "zone:Z" (compile.class_names)
        self.flows: dict[str, dict[str, dict[str, int]]] = {}
        self.meters: dict[str, dict[str, int]] = {}
        self.subscribers: dict[str, dict[str, int]] = {}
        self.uplink: dict = {}
        self._last: dict[tuple, tuple[int, int]] = {}

    def _delta(self, key: tuple, packets: int, nbytes: int) -> tuple[int, int]:
        last = self._last.get(key)
        self._last[key] = (packets, nbytes)
        if last is None or packets < last[0] or nbytes < last[1]:
            return packets, nbytes
        return packets - last[0], nbytes - last[1]

    def add_flow(self, switch: str, table: int, priority: int, match_key, cookie: int,
                 packets: int, nbytes: int) -> None:
        dp, db = self._delta(("flow", switch, table, priority, match_key, cookie), packets, nbytes)
        decision, class_id, _ = decode_cookie(cookie)
        name = self.names.get(class_id, "-")
        cell = self.flows.setdefault(name, {}).setdefault(decision, {"packets": 0, "bytes": 0})
        cell["packets"] += dp
        cell["bytes"] += db

    def add_meter(self, meter: Meter, band_packets: int, band_bytes: int, in_packets: int,
                  in_bytes: int) -> None:
        """Stats of one compiled meter: packets its band dropped, packets it saw."""
        key = (meter.switch, meter.meter_id)
        dp, db = self._delta(("band", *key), band_packets, band_bytes)
        ip, ib = self._delta(("meter", *key), in_packets, in_bytes)
        for table, name in ((self.meters, meter.tier), (self.subscribers, meter.subscriber)):
            cell = table.setdefault(name, {"band_drop_packets": 0, "band_drop_bytes": 0,
                                           "in_packets": 0, "in_bytes": 0})
            cell["band_drop_packets"] += dp
            cell["band_drop_bytes"] += db
            cell["in_packets"] += ip
            cell["in_bytes"] += ib

    def set_uplink(self, switch: str, port: int, stats) -> None:
        """The uplink port's own counters (`stats` has the UPLINK_FIELDS as attributes)."""
        self.uplink = {"switch": switch, "port": port,
                       **{name: getattr(stats, name) for name in UPLINK_FIELDS}}

    def line(self, t_s: float, epoch: float, switches: int) -> dict:
        """One line of counters.jsonl (the format above)."""
        return {"t_s": round(t_s, 3), "epoch": epoch, "switches": switches,
                "flows": self.flows, "meters": self.meters,
                "meters_by_subscriber": self.subscribers, "uplink": self.uplink}


def read_lines(path: Path) -> tuple[list[dict], int]:
    """Parsed lines in file order, and how many lines could not be read."""
    lines, bad = [], 0
    for raw in Path(path).read_text().splitlines():
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            bad += 1
            continue
        if isinstance(item, dict) and "t_s" in item:
            lines.append(item)
        else:
            bad += 1
    return lines, bad


def _add(into: dict, numbers: dict) -> None:
    for key, value in numbers.items():
        if isinstance(value, dict):
            _add(into.setdefault(key, {}), value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value


def _flat_packets(flows: dict) -> dict[str, int]:
    return {f"{cls}/{decision}": cell.get("packets", 0)
            for cls, decisions in flows.items() for decision, cell in decisions.items()}


def summarise(path: Path) -> dict:
    """Totals per class (tier or zone) x decision, meter drops per tier and subscriber, uplink
    port totals, controller epochs and gaps, and a time series of at most 300 points."""
    lines, bad = read_lines(path)
    epochs: list[list[dict]] = []
    for line in lines:
        if not epochs or line.get("epoch") != epochs[-1][-1].get("epoch"):
            epochs.append([])
        epochs[-1].append(line)

    flows: dict = {}
    meters: dict = {}
    by_subscriber: dict = {}
    series = []
    for index, epoch in enumerate(epochs):
        before_flows = _copy(flows)
        before_meters = _copy(meters)
        for line in epoch:
            current_flows = _copy(before_flows)
            _add(current_flows, line.get("flows") or {})
            current_meters = _copy(before_meters)
            _add(current_meters, line.get("meters") or {})
            uplink = line.get("uplink") or {}
            series.append({
                "t_s": line["t_s"], "epoch": index, "switches": line.get("switches"),
                "packets": {k: v for k, v in _flat_packets(current_flows).items() if v},
                "meter_drop_packets": {t: m.get("band_drop_packets", 0)
                                       for t, m in current_meters.items()},
                "uplink_tx_bytes": uplink.get("tx_bytes"),
                "uplink_rx_bytes": uplink.get("rx_bytes"),
            })
        last = epoch[-1]
        _add(flows, last.get("flows") or {})
        _add(meters, last.get("meters") or {})
        _add(by_subscriber, last.get("meters_by_subscriber") or {})

    uplink_last = next((line["uplink"] for line in reversed(lines) if line.get("uplink")), {})
    pairs = list(zip(lines, lines[1:], strict=False))
    interval = _median([b["t_s"] - a["t_s"] for a, b in pairs if b["t_s"] > a["t_s"]])
    gaps = [{"from_s": a["t_s"], "to_s": b["t_s"]} for a, b in pairs
            if interval and b["t_s"] - a["t_s"] > 3 * interval]
    return {
        "source": str(path),
        "samples": len(lines),
        "unreadable_lines": bad,
        "interval_s": interval,
        "epochs": len(epochs),
        "gaps": gaps,
        "first_s": lines[0]["t_s"] if lines else None,
        "last_s": lines[-1]["t_s"] if lines else None,
        "flows": flows,
        "meter_drops": {tier: {"packets": m.get("band_drop_packets", 0),
                               "bytes": m.get("band_drop_bytes", 0)}
                        for tier, m in meters.items()},
        "meters": meters,
        "meters_by_subscriber": by_subscriber,
        "uplink": {k: uplink_last[k] for k in ("switch", "port", *UPLINK_FIELDS)
                   if k in uplink_last},
        "series": downsample(series, MAX_SERIES_POINTS),
    }


def downsample(points: list, limit: int) -> list:
    """At most `limit` points, evenly spread, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _copy(data: dict) -> dict:
    return json.loads(json.dumps(data))


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return round(ordered[middle], 3)
    return round((ordered[middle - 1] + ordered[middle]) / 2, 3)
