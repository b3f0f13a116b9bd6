"""hermitnet.counters: the controller's totals, and its counter lines -> results.json's counters."""

from __future__ import annotations

import json
from types import SimpleNamespace

from hermitnet.counters import CounterTotals, downsample, summarise
from hermitnet.policy.compile import Meter, cookie


def line(t, epoch, denied, drops, tx, allow=0):
    return {"t_s": t, "epoch": epoch, "switches": 7,
            "flows": {"citizen": {"denied": {"packets": denied, "bytes": denied * 100}},
                      "elite": {"allow": {"packets": allow, "bytes": allow * 100}}},
            "meters": {"elite": {"band_drop_packets": drops, "band_drop_bytes": drops * 1500,
                                 "in_packets": 0, "in_bytes": 0}},
            "meters_by_subscriber": {"elite-1": {"band_drop_packets": drops}},
            "uplink": {"switch": "border", "port": 5, "rx_packets": 1, "rx_bytes": tx // 2,
                       "tx_packets": 2, "tx_bytes": tx, "rx_dropped": 0, "tx_dropped": 0}}


def write(tmp_path, lines, extra=""):
    path = tmp_path / "counters.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in lines) + extra)
    return path


def test_totals_add_up_epochs_of_a_restarted_controller(tmp_path):
    path = write(tmp_path, [
        line(1, "a", 2, 0, 100), line(2, "a", 5, 3, 200),
        # controller stopped at ~2 s, restarted at 10 s: counts from zero again
        line(10, "b", 1, 0, 300, allow=4), line(11, "b", 4, 1, 400, allow=6),
    ], extra="not json\n")
    summary = summarise(path)
    assert summary["samples"] == 4 and summary["unreadable_lines"] == 1
    assert summary["epochs"] == 2
    assert summary["flows"]["citizen"]["denied"] == {"packets": 9, "bytes": 900}
    assert summary["flows"]["elite"]["allow"] == {"packets": 6, "bytes": 600}
    assert summary["meter_drops"] == {"elite": {"packets": 4, "bytes": 6000}}
    assert summary["meters_by_subscriber"] == {"elite-1": {"band_drop_packets": 4}}
    assert summary["uplink"]["tx_bytes"] == 400          # the port's own counter: the last
    assert summary["interval_s"] == 1 and summary["gaps"] == [{"from_s": 2, "to_s": 10}]
    denied = [p["packets"].get("citizen/denied", 0) for p in summary["series"]]
    assert denied == [2, 5, 6, 9]                         # never goes down across the restart
    assert [p["epoch"] for p in summary["series"]] == [0, 0, 1, 1]


def test_empty_file(tmp_path):
    summary = summarise(write(tmp_path, []))
    assert summary["samples"] == 0 and summary["flows"] == {} and summary["series"] == []
    assert summary["uplink"] == {} and summary["epochs"] == 0


def test_series_is_downsampled_keeping_first_and_last(tmp_path):
    lines = [line(t, "a", t, 0, t) for t in range(1000)]
    summary = summarise(write(tmp_path, lines))
    assert len(summary["series"]) == 300
    assert summary["series"][0]["t_s"] == 0 and summary["series"][-1]["t_s"] == 999
    assert downsample([1, 2, 3], 5) == [1, 2, 3]
    assert summary["flows"]["citizen"]["denied"]["packets"] == 999


def test_counter_totals_never_go_down():
    totals = CounterTotals({1: "citizen"})
    c = cookie("denied", 1)
    totals.add_flow("nb", 1, 10, "m", c, 5, 500)
    totals.add_flow("nb", 1, 10, "m", c, 8, 800)        # +3
    totals.add_flow("nb", 1, 10, "m", c, 2, 200)        # restarted: +2
    totals.add_flow("core", 1, 10, "m", c, 4, 400)      # another switch: +4
    totals.add_flow("nb", 1, 10, "m", cookie("denied", 9), 1, 100)    # class not in the plan
    assert totals.flows == {"citizen": {"denied": {"packets": 14, "bytes": 1400}},
                            "-": {"denied": {"packets": 1, "bytes": 100}}}
    meter = Meter("nb", 3, 2000, 1000, "elite", "elite-1")
    totals.add_meter(meter, 10, 1000, 100, 10000)
    totals.add_meter(meter, 15, 1500, 150, 15000)
    assert totals.meters["elite"] == {"band_drop_packets": 15, "band_drop_bytes": 1500,
                                      "in_packets": 150, "in_bytes": 15000}
    assert totals.subscribers["elite-1"] == totals.meters["elite"]


def test_a_totals_line_is_what_summarise_reads(tmp_path):
    totals = CounterTotals({1: "citizen"})
    totals.add_flow("nb", 1, 10, "m", cookie("denied", 1), 5, 500)
    port = SimpleNamespace(rx_packets=1, rx_bytes=2, tx_packets=3, tx_bytes=4, rx_dropped=0,
                           tx_dropped=0, port_no=5)
    totals.set_uplink("border", 5, port)
    lines = [totals.line(1.23456, 99.0, 7), totals.line(2.0, 99.0, 7)]
    assert lines[0]["t_s"] == 1.235 and lines[0]["switches"] == 7
    summary = summarise(write(tmp_path, lines))
    assert summary["flows"] == {"citizen": {"denied": {"packets": 5, "bytes": 500}}}
    assert summary["uplink"] == {"switch": "border", "port": 5, "rx_packets": 1, "rx_bytes": 2,
                                 "tx_packets": 3, "tx_bytes": 4, "rx_dropped": 0,
                                 "tx_dropped": 0}
