"""results.json: the one record of a run, validated against schemas/results.schema.json.

SCHEMA_VERSION changes whenever a field consumers rely on changes meaning or shape.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hermitnet.errors import HermitError
from hermitnet.schema_check import validate

SCHEMA_VERSION = "hermitnet.results/1"


def leakage(arrived: dict, state, scenario) -> dict:
    """Bytes from each tier that arrived at a site in a zone its policy forbids, by path.

    Paths: "foreign-cell" for a smuggled handset on a foreign operator's cell, else "uplink" for
    the global zone (only reachable through the international uplink) and "internal" for zones
    inside the national network.
    """
    zone_of = {s.name: s.zone for s in scenario.sites}
    foreign = {s.name for s in scenario.subscribers if s.handset == "foreign"}
    by_tier: dict[str, int] = {t: 0 for t in state.tier_zones}
    by_path: dict[str, int] = {"uplink": 0, "internal": 0, "foreign-cell": 0}
    for site, sources in arrived.items():
        zone = zone_of[site]
        for subscriber, counter in sources.items():
            tier = state.membership[subscriber]
            if zone in state.tier_zones[tier] or counter["bytes"] == 0:
                continue
            by_tier[tier] += counter["bytes"]
            if subscriber in foreign:
                path = "foreign-cell"
            else:
                path = "uplink" if zone == "global" else "internal"
            by_path[path] += counter["bytes"]
    return {"by_tier": by_tier, "by_path": by_path, "arrived": arrived}


def write(run_dir: Path, results: dict) -> Path:
    validate(results, "results", source=str(run_dir / "results.json"))
    path = run_dir / "results.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    _write_csv(run_dir / "reachability.csv", results["reachability"],
               ["tier", "host", "site", "zone", "ok", "blocking"])
    _write_csv(run_dir / "throughput.csv", results["throughput"],
               ["tier", "src", "dst", "protocol", "bps", "expected_bps", "seconds"])
    _write_csv(run_dir / "rtt.csv", results["rtt"],
               ["tier", "src", "dst", "rtt_ms_min", "rtt_ms_avg", "configured_delay_ms"])
    return path


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
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
