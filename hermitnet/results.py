"""results.json: the one record of a run, validated against schemas/results.schema.json.

A run writes it as soon as it starts (status "running") and again after each phase, always by
atomic replace, so an interrupted or killed run keeps what it measured. `hermitnet clean` marks a
run that was killed while "running" as "interrupted" (`mark_killed`).

SCHEMA_VERSION changes whenever a field consumers rely on changes meaning or shape. Version 2:
leakage is judged by where traffic crossed (`by_tier` counts sender classes, `by_path` is null
where a path was not measured), and every event and measurement is stamped on the one run clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

from hermitnet import zones
from hermitnet.errors import HermitError
from hermitnet.schema_check import validate
from hermitnet.workload.probes import PACKETS_PER_PROBE

SCHEMA_VERSION = "hermitnet.results/2"
KILLED_REASON = "killed (SIGKILL or crash); cleaned by hermitnet clean"


def leakage(arrived: dict, probes: list[dict], edges: dict, plan, state) -> dict:
    """Traffic that crossed into a zone its source may not reach, by sender class and path.

    Pure. `arrived` is every host observer's counters ({host: {counter: {packets, bytes}}},
    hermitnet.workload.observer), `probes` the probes with what was sent
    (hermitnet.workload.probes.run), `edges` the edge captures judged
    (observer.read_edges). Every arrival is judged by its crossing (hermitnet.zones.allowed):
    untagged traffic by the address it came from, a probe by its real sender (its tag), so a
    smuggled foreign handset is judged as the global-zone source it is. Traffic towards an
    address that is no host's counts as seen at an edge.

    A path whose positive controls did not all arrive, or that no probe takes, is reported as
    not measured (`by_path[path]` None, `not_measured[path]` says why) unless leakage was found
    on it; never as 0.
    """
    leaks = host_leaks(arrived, probes, zones.endpoints(plan, state), state)
    for edge, seen in edges.items():
        for cell in seen.get("unlisted_forbidden", []):
            leaks.append({**{k: cell[k] for k in ("source", "sender_class", "destination",
                                                 "dst_zone", "path", "probe_kind", "packets",
                                                 "bytes")},
                          "seen_at": f"edge:{edge}"})

    arrivals = _probe_arrivals(arrived, edges)
    records = [{**{k: p.get(k) for k in PROBE_FIELDS}, **arrivals.get(p["id"], _NONE)}
               for p in probes]
    controls = [r for r in records if r["control"]]
    by_class, by_path_found = leaked_bytes(leaks, state)
    by_path, not_measured = {}, {}
    for path in zones.PATHS:
        reason = _not_measured(path, probes, controls)
        if reason and not by_path_found[path]:
            by_path[path] = None
            not_measured[path] = reason
        else:
            by_path[path] = by_path_found[path]
    escaped = [r for r in records if not r["control"] and r["arrived_packets"]]
    kinds: dict[str, int] = {}
    for record in escaped:
        kinds[record["kind"]] = kinds.get(record["kind"], 0) + record["arrived_packets"]
    return {
        "by_tier": by_class, "by_path": by_path, "not_measured": not_measured, "leaks": leaks,
        "probes_planned": len(probes) * PACKETS_PER_PROBE,
        "probes_sent": sum(p.get("packets_sent", 0) for p in probes if not p["control"]),
        "probe_send_errors": sum(p.get("send_errors", 0) for p in probes),
        "probes_escaped": sum(kinds.values()), "probes_escaped_by_kind": kinds,
        "senders_without_service": sorted({p["sender"] for p in probes if p.get("no_service")}),
        "controls": controls,
        "controls_by_path": _controls_by_path(controls),
        "probes": [r for r in records if not r["control"]],
        "edges": {edge: {k: v for k, v in seen.items() if k != "probes_seen"}
                  for edge, seen in edges.items()},
        "arrived": arrived,
    }


def host_leaks(arrived: dict, probes: list[dict], ends: dict, state) -> list[dict]:
    """Every host counter of `arrived` that is leakage, judged by its crossing. Pure.

    Untagged traffic is judged by the address it came from, a probe by its real sender (its tag),
    so a smuggled foreign handset is judged as the global-zone source it is.
    """
    by_id = {p["id"]: p for p in probes}
    leaks = []
    for host, counters in arrived.items():
        for key, counter in counters.items():
            if not counter["packets"] or key == "other":
                continue
            leak = judge_counter(host, key, by_id, ends, state)
            if leak is not None:
                leaks.append({**leak, "seen_at": "host", **counter})
    return leaks


def leaked_bytes(leaks: list[dict], state) -> tuple[dict[str, int], dict[str, int]]:
    """Leaked bytes by sender class (every tier listed) and by path (every path listed)."""
    by_class = {t: 0 for t in state.tier_zones}
    by_path = {p: 0 for p in zones.PATHS}
    for leak in leaks:
        by_class[leak["sender_class"]] = by_class.get(leak["sender_class"], 0) + leak["bytes"]
        by_path[leak["path"]] += leak["bytes"]
    return by_class, by_path


def judge_counter(host: str, key: str, probes_by_id: dict, ends: dict, state) -> dict | None:
    """Where the counter `key` of `host`'s observer counts leakage: who crossed into what, by
    which path; None where the crossing is allowed (or the probe is a positive control)."""
    dst = ends[host]
    if key.startswith("probe:"):
        probe = probes_by_id[int(key.split(":", 1)[1])]
        src, path, kind = ends[probe["sender"]], probe["path"], probe["kind"]
        if probe["control"] or zones.allowed(src, dst, state):
            return None
    else:
        src = ends.get(key) or _zone_source(key)
        if zones.allowed(src, dst, state):
            return None
        path, kind = zones.path(src, dst), None
    return {"source": src.name, "sender_class": src.sender_class, "destination": host,
            "dst_zone": dst.zone, "path": path, "probe_kind": kind}


PROBE_FIELDS = ("id", "tag", "kind", "sender", "sender_class", "src_ip", "destination",
                "dst_zone", "path", "control", "packets_sent", "bytes_sent", "send_errors",
                "send_error", "no_service")
_NONE = {"arrived_packets": 0, "arrived_bytes": 0, "edge_packets": 0}


def _zone_source(key: str):
    """The catch-all counter "zone:Z": an address of zone Z that is no host's."""
    zone = key.split(":", 1)[1]
    return zones.Endpoint(key, "unlisted", zone, None, "")


def _probe_arrivals(arrived: dict, edges: dict) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for counters in arrived.values():
        for key, counter in counters.items():
            if key.startswith("probe:"):
                cell = found.setdefault(int(key.split(":", 1)[1]), dict(_NONE))
                cell["arrived_packets"] += counter["packets"]
                cell["arrived_bytes"] += counter["bytes"]
    for seen in edges.values():
        for key, packets in seen.get("probes_seen", {}).items():
            cell = found.setdefault(int(key), dict(_NONE))
            cell["edge_packets"] += packets
    return found


def _not_measured(path: str, probes: list[dict], controls: list[dict]) -> str | None:
    """Why leakage on `path` cannot be read as a number (None: it can)."""
    if not any(p["path"] == path and not p["control"] for p in probes):
        return "no probe takes this path in this scenario"
    mine = [c for c in controls if c["path"] == path]
    if not mine:
        return "no destination the policy allows on this path, so no positive control"
    sent = [c for c in mine if c.get("packets_sent")]
    if not sent:
        return "no positive control of this path could be sent: " + ", ".join(
            f"{c['sender']} ({'no radio service' if c.get('no_service') else 'send failed'})"
            for c in mine)
    failed = [c for c in sent if not c["arrived_packets"]]
    if failed:
        return "positive control did not arrive: " + ", ".join(
            f"{c['kind']} {c['sender']} -> {c['destination']} ({c['packets_sent']} sent)"
            for c in failed)
    return None


def _controls_by_path(controls: list[dict]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for control in controls:
        cell = table.setdefault(control["path"], {"planned": 0, "sent": 0, "arrived": 0})
        cell["planned"] += 1
        cell["sent"] += int(bool(control.get("packets_sent")))
        cell["arrived"] += int(bool(control["arrived_packets"]))
    return table


def write(run_dir: Path, results: dict) -> Path:
    """Validate and write results.json and the CSV files, each by atomic replace."""
    validate(results, "results", source=str(run_dir / "results.json"))
    path = run_dir / "results.json"
    _replace(path, json.dumps(results, indent=2, sort_keys=False) + "\n")
    _write_csv(run_dir / "reachability.csv", results["reachability"],
               ["tier", "host", "site", "zone", "ok", "verdict", "blocking", "accessible",
                "policy_expected", "agrees", "resolver"])
    _write_csv(run_dir / "throughput.csv", results["throughput"],
               ["tier", "src", "dst", "protocol", "bps", "expected_bps", "seconds"])
    _write_csv(run_dir / "rtt.csv", results["rtt"],
               ["tier", "src", "dst", "rtt_ms_min", "rtt_ms_avg", "configured_delay_ms"])
    return path


def mark_killed(run_dir: str | Path) -> bool:
    """A run that died while "running" (no chance to say so): mark it "interrupted".

    Returns whether results.json was changed; a missing, unreadable or finished record is left
    as it is.
    """
    path = Path(run_dir) / "results.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("status") != "running":
        return False
    data["status"] = "interrupted"
    data["error"] = KILLED_REASON
    data["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    _replace(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return True


def load(run_dir: Path) -> dict:
    path = Path(run_dir) / "results.json"
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise HermitError(f"cannot read the run's results: {error.strerror}; expected a results "
                          "folder made by `hermitnet run`", source=str(path)) from error
    except ValueError as error:
        raise HermitError(f"not valid JSON: {error}", source=str(path)) from error
    validate(data, "results", source=str(path))
    return data


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    _replace(path, text.getvalue())


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
