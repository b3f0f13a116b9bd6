"""results.json: the one record of a run, validated against schemas/results.schema.json.

A run writes it as soon as it starts (status "running") and again after each phase, always by
atomic replace, so an interrupted or killed run keeps what it measured. `hermitnet clean` marks a
run that was killed while "running" as "interrupted" (`mark_killed`).

SCHEMA_VERSION changes whenever a field consumers rely on changes meaning or shape.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

from hermitnet.errors import HermitError
from hermitnet.schema_check import validate

SCHEMA_VERSION = "hermitnet.results/1"
KILLED_REASON = "killed (SIGKILL or crash); cleaned by hermitnet clean"


def leakage(arrived: dict, state, scenario, probes_sent: int = 0) -> dict:
    """Bytes from each tier that arrived at a site in a zone its policy forbids, by path.

    `arrived` is what the observer counted at each site: by source subscriber, and escaped
    probes by kind and sender ("probe:KIND:SENDER"). Paths: "foreign-cell" for a smuggled
    handset on a foreign operator's cell; for probes their kind's path ("spoofed-source",
    "tunnel", "ipv6"); else "uplink" for the global zone (reachable only through the
    international uplink) and "internal" for zones inside the national network.
    An escaped probe's bytes count in `by_path` like any other leak; `probes_escaped_by_path`
    says which probes they were: {path: {kind: packets}}.
    """
    from hermitnet.workload.probes import path_of

    zone_of = {s.name: s.zone for s in scenario.sites}
    handset = {s.name: s.handset for s in scenario.subscribers}
    by_tier: dict[str, int] = {t: 0 for t in state.tier_zones}
    by_path: dict[str, int] = {p: 0 for p in
                               ("uplink", "internal", "foreign-cell", "spoofed-source", "tunnel",
                                "ipv6")}
    escaped: dict[str, int] = {}
    escaped_by_path: dict[str, dict[str, int]] = {}
    for site, counters in arrived.items():
        zone = zone_of[site]
        for key, counter in counters.items():
            if counter["bytes"] == 0:
                continue
            if key.startswith("probe:"):
                _, kind, sender = key.split(":", 2)
                escaped[kind] = escaped.get(kind, 0) + counter["packets"]
                path = path_of(kind, zone, handset[sender])
                kinds = escaped_by_path.setdefault(path, {})
                kinds[kind] = kinds.get(kind, 0) + counter["packets"]
            else:
                sender = key
                if zone in state.tier_zones[state.membership[sender]]:
                    continue
                path = path_of("policy-hole", zone, handset[sender])
            by_tier[state.membership[sender]] += counter["bytes"]
            by_path[path] += counter["bytes"]
    return {"by_tier": by_tier, "by_path": by_path, "probes_sent": probes_sent,
            "probes_escaped": sum(escaped.values()), "probes_escaped_by_kind": escaped,
            "probes_escaped_by_path": escaped_by_path,
            "arrived": arrived}


def write(run_dir: Path, results: dict) -> Path:
    """Validate and write results.json and the CSV files, each by atomic replace."""
    validate(results, "results", source=str(run_dir / "results.json"))
    path = run_dir / "results.json"
    _replace(path, json.dumps(results, indent=2, sort_keys=False) + "\n")
    _write_csv(run_dir / "reachability.csv", results["reachability"],
               ["tier", "host", "site", "zone", "ok", "blocking"])
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
