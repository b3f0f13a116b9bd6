"""Shared fixtures for every test: the CLI run in-process, scenario dicts and files, the baseline.

`run_cli(*args)` calls `hermitnet.cli.main` in this process (as pipx's tests do) and returns
(exit code, stdout, stderr); anything a command writes goes under `tmp_path`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = REPO_ROOT / "scenarios"
BASELINE = SCENARIO_DIR / "baseline.yaml"

_MINIMAL_SCENARIO = {
    "schema": 1,
    "name": "mini",
    "tiers": {
        "citizen": {"zones": ["intranet"]},
        "elite": {"zones": ["intranet", "national", "global"]},
    },
    "cells": [{"name": "cell-1"}],
    "subscribers": [
        {"name": "phone-1", "tier": "citizen", "cell": "cell-1"},
        {"name": "phone-2", "tier": "elite", "cell": "cell-1"},
        {"name": "desk-1", "tier": "citizen", "access": "fixed"},
    ],
    "sites": [
        {"name": "news", "zone": "intranet"},
        {"name": "portal", "zone": "national"},
        {"name": "video", "zone": "global"},
    ],
}


@pytest.fixture
def run_cli(capsys, monkeypatch, tmp_path):
    """Run `hermitnet ARGS...` in-process from `tmp_path`: returns (code, stdout, stderr)."""
    from hermitnet import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HERMITNET_STATE_DIR", str(tmp_path / "state"))

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit_:   # argparse: --help, --version, usage errors
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def scenario_dict():
    """A factory: `scenario_dict(**top_level_overrides)` -> a fresh, minimal, valid scenario."""

    def make(**overrides) -> dict:
        data = copy.deepcopy(_MINIMAL_SCENARIO)
        data.update(copy.deepcopy(overrides))
        return data

    return make


@pytest.fixture
def write_scenario(tmp_path):
    """Write a scenario dict (or raw text) to a YAML file under tmp_path and return its path."""

    def write(data, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def baseline():
    from hermitnet import scenario

    return scenario.load(BASELINE)


@pytest.fixture(scope="session")
def baseline_plan(baseline):
    from hermitnet import plan

    return plan.build(baseline, run_tag=0x2a, prefix="hnab")


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """HERMITNET_STATE_DIR pointed at an empty folder under tmp_path."""
    directory = tmp_path / "state"
    monkeypatch.setenv("HERMITNET_STATE_DIR", str(directory))
    return directory


@pytest.fixture
def results_record():
    """A factory: a fresh, complete, valid results.json record of a small baseline run."""
    return make_results_record


def make_results_record() -> dict:
    """See the results_record fixture."""
    from hermitnet import results

    return {
        "schema": results.SCHEMA_VERSION,
        "scenario": "baseline",
        "scenario_file": "scenarios/baseline.yaml",
        "run_id": "hnab",
        "seed": 1,
        "started": "2024-05-01T10:00:00+00:00",
        "finished": "2024-05-01T10:01:00+00:00",
        "status": "ok",
        "error": None,
        "environment": {
            "datapath": "userspace", "netem": False, "controller": "ryu 4.34",
            "ovs": "Open vSwitch 3.1.0", "mininet": "2.3.0", "kernel": "6.1.0",
            "emulated": ["link rates: HTB shaping (bw_mbps)"],
            "not_emulated": ["air link citizen-1-nb-a: delay_ms=40 jitter_ms=0 (no netem)"],
        },
        "reachability": [
            {"tier": "citizen", "host": "citizen-1", "site": "news", "zone": "intranet",
             "ok": True, "blocking": False, "accessible": True, "verdict": "accessible",
             "policy_expected": "accessible"},
            {"tier": "citizen", "host": "citizen-1", "site": "video", "zone": "global",
             "ok": False, "blocking": "tcp_ip", "accessible": False, "verdict": "tcp_ip",
             "policy_expected": "blocked"},
            {"tier": "elite", "host": "elite-1", "site": "news", "zone": "intranet",
             "ok": True, "blocking": False, "accessible": True, "verdict": "accessible",
             "policy_expected": "accessible"},
            {"tier": "elite", "host": "elite-1", "site": "video", "zone": "global",
             "ok": True, "blocking": False, "accessible": True, "verdict": "accessible",
             "policy_expected": "accessible"},
        ],
        "throughput": [
            {"tier": "citizen", "src": "citizen-1", "dst": "news", "protocol": "tcp",
             "bps": 1.91e6, "seconds": 5, "expected_bps": 2e6, "error": None},
            {"tier": "elite", "src": "elite-1", "dst": "video", "protocol": "tcp",
             "bps": 4.8e6, "seconds": 5, "expected_bps": None},
        ],
        "rtt": [
            {"tier": "citizen", "src": "citizen-1", "dst": "news", "rtt_ms_min": 84.1,
             "rtt_ms_avg": 84.5, "configured_delay_ms": 84},
        ],
        "leakage": {"by_tier": {"citizen": 0, "elite": 0}, "by_path": {"uplink": 0},
                    "probes_sent": 20, "probes_escaped": 0},
        "policy": {"tier_zones": {"citizen": ["intranet"],
                                  "elite": ["intranet", "national", "global"]},
                   "tier_rate_mbps": {"citizen": None, "elite": None},
                   "membership": {"citizen-1": "citizen", "elite-1": "elite"},
                   "blocklist": []},
        "timings_s": {"build": 1.5},
    }



@pytest.fixture
def rich_record():
    """A factory: results_record with what a border run under --hold adds: a smuggled handset
    whose traffic and probes escaped, the radio timeline, the controller's counters and one
    held re-measurement."""
    return make_rich_record


def make_rich_record() -> dict:
    """See the rich_record fixture."""
    data = make_results_record()
    data["scenario"] = "border"
    data["reachability"].append(
        {"tier": "citizen", "host": "smuggler-1", "site": "video", "zone": "global",
         "ok": True, "blocking": False, "accessible": True, "verdict": "accessible",
             "policy_expected": "accessible", "access": "foreign-cell"})
    data["policy"]["membership"]["smuggler-1"] = "citizen"
    probe = {"tag": "hn00000001", "sender": "smuggler-1", "sender_class": "citizen",
             "src_ip": "198.19.0.10", "destination": "video", "dst_zone": "global",
             "path": "foreign-cell", "control": False, "packets_sent": 1, "bytes_sent": 69,
             "send_errors": 0, "send_error": None, "no_service": False, "edge_packets": 0}
    data["leakage"] = {
        "by_tier": {"citizen": 738, "elite": 0},
        "by_path": {"uplink": 0, "internal": None, "foreign-cell": 738},
        "not_measured": {"internal": "no positive control arrived"},
        "probes_sent": 20, "probes_escaped": 3,
        "probes_escaped_by_kind": {"policy-hole": 2, "ipv6": 1},
        "leaks": [{"source": "smuggler-1", "sender_class": "citizen", "destination": "video",
                   "dst_zone": "global", "path": "foreign-cell", "probe_kind": None,
                   "seen_at": "host", "packets": 5, "bytes": 500}],
        "probes": [{**probe, "id": 1, "kind": "policy-hole", "arrived_packets": 2,
                    "arrived_bytes": 138},
                   {**probe, "id": 2, "kind": "ipv6", "arrived_packets": 1,
                    "arrived_bytes": 100}],
        "controls": [{**probe, "id": 3, "kind": "policy-hole", "control": True,
                      "destination": "news", "arrived_packets": 1, "arrived_bytes": 69}],
        "reconciliation": {"tolerance": {"packets": 10, "fraction": 0.02}, "disagreements": 0,
                           "rows": [{"class": "citizen", "decision": "allow",
                                     "controller_packets": 40, "observer_packets": 40,
                                     "capture_packets": None, "agrees": True}]},
        "arrived": {"video": {"smuggler-1": {"packets": 5, "bytes": 500},
                              "probe:1": {"packets": 2, "bytes": 138},
                              "probe:2": {"packets": 1, "bytes": 100},
                              "elite-1": {"packets": 9, "bytes": 9000}}},
    }
    steps = [(0.0, 1, 0), (1.0, 1, 1000), (2.0, 0, 0), (3.0, 1, 900)]
    data["radio"] = {
        "attached": {"national": 2, "foreign": 1, "none": 0},
        "timeline": [
            {"t_s": t, "attached": {"national": 2, "foreign": on, "none": 1 - on},
             "changed": [], "arrived_bytes": {"smuggler-1->video": step,
                                              "citizen-1->news": 1200},
             "arrived_bytes_total": {}}
            for t, on, step in steps],
        "jamming_effectiveness": {"time_averaged": 0.54, "worst_moment": 0.5,
                                      "worst_moment_t_s": 10.0, "every_jammer_on": 0.6},
        "population": {"phones": 1000, "jammers": "all on", "national_coverage_share": 0.95,
                       "foreign_reach_share": 0.32, "border_foreign_reach_share": 0.33,
                       "border_foreign_reach_share_unjammed": 0.71},
    }
    data["counters"] = {
        "samples": 3, "epochs": 1, "interval_s": 1.0, "gaps": [],
        "flows": {"citizen": {"classify": {"packets": 30, "bytes": 3000},
                              "allow": {"packets": 20, "bytes": 2000},
                              "denied": {"packets": 10, "bytes": 1000}}},
        "meter_drops": {}, "uplink": {},
        "series": [{"t_s": float(t), "epoch": 0,
                    "packets": {"citizen/allow": 10 * t, "citizen/denied": 5 * t}}
                   for t in range(3)],
    }
    flipped = [dict(r) for r in data["reachability"]]
    # citizen-1 -> video, after a policy move
    flipped[1].update(ok=True, blocking=False, accessible=True, verdict="accessible")
    data["remeasurements"] = [{"round": 1, "t_s": 42.0, "seconds": 3.1,
                               "reachability": flipped}]
    return data
