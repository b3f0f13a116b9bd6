"""The scenario library on the real emulator: each scenario run as shipped, its expected outcome.

Each scenario's clock is already compressed through its `timeline.time_scale` (one run second
for a day, or an hour, of history), so a run takes about a minute and a half here. Every test
checks what the scenario's README gives as the expected outcome: reachability by tier over
time, the change in throughput, leakage by path.
"""

from __future__ import annotations

import csv
import statistics
import subprocess
import sys

import pytest

from hermitnet import radio, runner, scenario
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

SCENARIOS = REPO / "scenarios"


def _run(name: str, tmp_path_factory) -> dict:
    loaded = scenario.load(SCENARIOS / f"{name}.yaml")
    _, results = runner.run(loaded, tmp_path_factory.mktemp(name), progress=print)
    return results


def _reach(results: dict, at_s: float | None) -> dict[tuple[str, str], bool]:
    """{(subscriber, site): ok} of the sweep planned at `at_s` (None: the one sweep, in turn)."""
    rows = [r for r in results["reachability"] if at_s is None or at_s <= r["t_s"] < at_s + 1]
    assert rows, f"no reachability sweep at {at_s} s"
    return {(r["host"], r["site"]): r["ok"] for r in rows}


def _flow(results: dict, src: str, dst: str | None = None) -> dict:
    (row,) = [f for f in results["throughput"]
              if f["src"] == src and (dst is None or f["dst"] == dst)]
    return row


def _mean_mbps(flow: dict, t_from: float, t_to: float) -> float:
    values = [p["mbps"] for p in flow["series"] if t_from < p["t_s"] <= t_to]
    assert values, (flow["src"], t_from, t_to, flow["series"])
    return sum(values) / len(values)


def _measured_paths_leak_nothing(results: dict) -> None:
    by_path = results["leakage"]["by_path"]
    assert by_path["uplink"] == 0, results["leakage"]
    assert all(v in (0, None) for v in by_path.values()), by_path


# --- visitors-2013 ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def visitors(tmp_path_factory):
    return _run("visitors-2013", tmp_path_factory)


GLOBAL_2013 = ["social", "search", "video", "shop", "game", "world-news"]
INTRANET_2013 = ["news", "recipes", "university", "mail", "airline", "ministry"]


def test_visitors_2013_foreigners_have_no_data_before_the_day(visitors):
    before = _reach(visitors, 0.5)
    for phone in ("visitor-1", "resident-1"):
        assert not any(before[(phone, site)] for site in [*GLOBAL_2013, "portal"]), phone
    assert all(before[("elite-1", site)] for site in GLOBAL_2013)


def test_visitors_2013_foreigners_have_data_citizens_never(visitors):
    first = _reach(visitors, 8)
    for phone in ("visitor-1", "resident-1"):
        assert all(first[(phone, site)] for site in [*GLOBAL_2013, "portal"]), phone
        assert not any(first[(phone, site)] for site in INTRANET_2013), phone
    for phone in ("citizen-1", "citizen-2", "library-1"):
        assert not any(first[(phone, site)] for site in GLOBAL_2013), phone
        assert all(first[(phone, site)] for site in INTRANET_2013), phone
    widened = [e for e in visitors["timeline"]["events"] if e["planned_s"] == 4]
    assert sorted(e["target"] for e in widened) == ["resident", "visitor"]
    assert all(e["kind"] == "set_tier_zones" and not e["late"] for e in widened), widened


def test_visitors_2013_tourists_lose_data_residents_keep_it(visitors):
    after = _reach(visitors, 34)
    assert not any(after[("visitor-1", site)] for site in [*GLOBAL_2013, "portal"])
    assert all(after[("resident-1", site)] for site in [*GLOBAL_2013, "portal"])
    assert not any(after[("citizen-1", site)] for site in GLOBAL_2013)
    assert all(after[("elite-1", site)] for site in GLOBAL_2013)
    (cut,) = [e for e in visitors["timeline"]["events"] if e["planned_s"] == 32]
    assert cut["kind"] == "set_tier_zones" and cut["target"] == "visitor"
    assert cut["scenario_s"] == 32 * 86400      # 25 March: four days before the day, then 28
    assert not cut["late"]


def test_visitors_2013_foreigners_traffic_crosses_the_uplink_and_leaks_nothing(visitors):
    for phone in ("visitor-1", "resident-1"):
        flow = _flow(visitors, phone)
        assert flow["path"] == "uplink" and flow["verdict"] == "ok", flow
    assert _flow(visitors, "citizen-1")["path"] == "national"
    _measured_paths_leak_nothing(visitors)
    assert visitors["status"] == "ok" and leftovers(visitors["run_id"]) == []


# --- blocklist-2016 --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def blocklist(tmp_path_factory):
    return _run("blocklist-2016", tmp_path_factory)


LISTED_2016 = ["video", "social", "microblog", "world-news", "south-news", "adult", "gambling"]
UNLISTED_2016 = ["photos", "search", "shop"]
BEFORE_2016, DURING_2016, AFTER_2016 = 2, 14, 26   # run seconds: the window is 8-20 s


def test_blocklist_2016_the_list_is_applied_mid_run_then_lifted(blocklist):
    before, during, after = (_reach(blocklist, t) for t in (BEFORE_2016, DURING_2016,
                                                            AFTER_2016))
    for phone in ("elite-1", "visitor-1"):
        for matrix in (before, after):            # every global site, listed or not
            assert all(matrix[(phone, site)] for site in [*LISTED_2016, *UNLISTED_2016]), phone
        assert not any(during[(phone, site)] for site in LISTED_2016), phone
        assert all(during[(phone, site)] for site in UNLISTED_2016), phone
        assert during[(phone, "portal")], phone    # the national block: never on the list
    # citizens and public terminals never reach the global zone, list or not (citizen-1's own
    # download fills its air link all along: its fetches are not asserted)
    for phone in ("citizen-2", "library-1", "cafe-1"):
        for matrix in (before, during, after):
            assert not any(matrix[(phone, s)] for s in [*LISTED_2016, *UNLISTED_2016]), phone
            assert all(matrix[(phone, s)] for s in INTRANET_2013), phone
    events = blocklist["timeline"]["events"]
    assert sorted((e["kind"], e["planned_s"]) for e in events if e["target"] == "video") == [
        ("block", 8), ("unblock", 20)]
    assert len(events) == 2 * len(LISTED_2016) and not [e for e in events if e["late"]]


def test_blocklist_2016_unlisted_traffic_carries_on_and_nothing_leaks(blocklist):
    # elite-1's download from photos runs across the block (3-13 s), visitor-1's from shop
    # across the unblock (15-24 s): neither site is on the list, and each keeps at least half
    # its rate on the other side (a loose margin: three to five 1 s intervals each side, and
    # iperf3's intervals are bursty here, a 0 now and then)
    for phone, site, edge_s, end_s in (("elite-1", "photos", 8, 13), ("visitor-1", "shop", 20, 24)):
        flow = _flow(blocklist, phone, site)
        assert flow["path"] == "uplink", flow
        before, after = _mean_mbps(flow, edge_s - 4, edge_s), _mean_mbps(flow, edge_s, end_s)
        assert after > 0.5 * before, (phone, before, after, flow["series"])
    # the sweep in the window: the switches dropped the elite's fetches of listed sites
    assert blocklist["counters"]["flows"]["elite"]["blocked"]["packets"] > 0
    # the leakage probes are sent at 21 s, after the window: the uplink path's positive
    # controls (to `video`) arrive then, so the path is measured, and is 0
    _measured_paths_leak_nothing(blocklist)
    assert blocklist["status"] == "ok" and leftovers(blocklist["run_id"]) == []


# --- elite-traffic-2017 ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def elite(tmp_path_factory):
    return _run("elite-traffic-2017", tmp_path_factory)


ELITE = ("elite-stream", "elite-game", "elite-social", "elite-search", "elite-shop")
BEFORE, CONGESTED = (7, 19), (23, 38)   # run seconds: alone on the uplink, with the visitors


def test_elite_traffic_2017_gaming_and_streaming_are_about_65_percent(elite):
    before = {phone: _mean_mbps(_flow(elite, phone), *BEFORE) for phone in ELITE}
    share = (before["elite-stream"] + before["elite-game"]) / sum(before.values())
    assert 0.55 <= share <= 0.75, before
    assert all(_flow(elite, phone)["path"] == "uplink" for phone in ELITE)


def test_elite_traffic_2017_uplink_congests_and_the_elite_loses_throughput(elite):
    uplink_mbps = scenario.load(SCENARIOS / "elite-traffic-2017.yaml").uplink.bw_mbps
    before = sum(_mean_mbps(_flow(elite, phone), *BEFORE) for phone in ELITE)
    during = sum(_mean_mbps(_flow(elite, phone), *CONGESTED) for phone in ELITE)
    visitors = sum(_mean_mbps(_flow(elite, phone), *CONGESTED)
                   for phone in ("visitor-1", "visitor-2"))
    assert during < 0.85 * before, (before, during)
    assert visitors > 0.5
    assert during + visitors > 0.8 * uplink_mbps          # the uplink is full
    assert during + visitors < 1.05 * uplink_mbps         # and it is the bottleneck
    # the heaviest elite flow is squeezed to a share of the uplink (12-31 % less in runs here)
    stream = _flow(elite, "elite-stream")
    assert _mean_mbps(stream, *CONGESTED) < 0.95 * _mean_mbps(stream, *BEFORE)


def test_elite_traffic_2017_the_intranet_does_not_notice(elite):
    library = _flow(elite, "library-1")
    assert library["path"] == "national"
    before, during = _mean_mbps(library, *BEFORE), _mean_mbps(library, *CONGESTED)
    assert during > 0.9 * before, (before, during)
    _measured_paths_leak_nothing(elite)
    assert elite["status"] == "ok" and leftovers(elite["run_id"]) == []


# --- uplink-outage-2014 ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    return _run("uplink-outage-2014", tmp_path_factory)


def test_uplink_outage_2014_what_stays_reachable_for_whom(outage):
    steady, offline, after = _reach(outage, 1), _reach(outage, 12.5), _reach(outage, 21)
    for phone in ("elite-1", "visitor-1"):
        assert all(steady[(phone, site)] for site in GLOBAL_2013), phone
        assert not any(offline[(phone, site)] for site in GLOBAL_2013), phone
        assert offline[(phone, "portal")], phone          # the national block is at home
        assert all(after[(phone, site)] for site in GLOBAL_2013), phone
    for phone in ("elite-1", "citizen-1", "citizen-2", "library-1"):
        assert all(offline[(phone, site)] for site in INTRANET_2013), phone


def test_uplink_outage_2014_elite_throughput_stops_and_recovers(outage):
    elite = _flow(outage, "elite-1", "search")
    assert _mean_mbps(elite, 0, 3) > 0.5
    assert _mean_mbps(elite, 13, 16.5) < 0.05
    assert _mean_mbps(_flow(outage, "elite-1", "shop"), 25, 31) > 0.5   # a new one, after
    intranet = _flow(outage, "citizen-1")
    assert _mean_mbps(intranet, 13, 16.5) > 0.8 * _mean_mbps(intranet, 3, 11)


def test_uplink_outage_2014_nine_hours_31_minutes_on_the_history_clock(outage):
    events = outage["timeline"]["events"]
    assert outage["timeline"]["time_scale"] == 7200 and len(events) == 10
    down = next(e for e in events if e["kind"] == "uplink_down" and e["planned_s"] == 12)
    up = next(e for e in events if e["kind"] == "uplink_up" and 16 < e["planned_s"] < 17)
    assert up["scenario_s"] - down["scenario_s"] == pytest.approx(9 * 3600 + 31 * 60, abs=1)
    assert not [e for e in events if e["late"]]
    _measured_paths_leak_nothing(outage)
    assert outage["status"] == "ok" and leftovers(outage["run_id"]) == []


# --- uplink-ddos-2022 ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ddos(tmp_path_factory):
    return _run("uplink-ddos-2022", tmp_path_factory)


FLOOD_2022 = (8, 20)                       # run seconds: flood_start, flood_stop
CALM_2022, FLOODED_2022, AFTER_2022 = (5.5, 8), (10, 19), (24, 29)


def test_uplink_ddos_2022_the_elite_collapses_the_intranet_does_not_notice(ddos):
    elite, citizen = _flow(ddos, "elite-1", "search"), _flow(ddos, "citizen-1", "university")
    assert elite["path"] == "uplink" and citizen["path"] == "national"
    assert elite["direction"] == citizen["direction"] == "download"   # the flooded direction
    calm = _mean_mbps(elite, *CALM_2022)
    # flooded: the median second, not the mean: iperf3's 1 s intervals are bursty here (the
    # userspace datapath and delay line share two cores with the flood), and a second or two
    # of near-full rate inside the flood would move a mean of nine seconds a lot
    flooded = statistics.median(p["mbps"] for p in elite["series"]
                                if FLOODED_2022[0] < p["t_s"] <= FLOODED_2022[1])
    after = _mean_mbps(_flow(ddos, "elite-1", "shop"), *AFTER_2022)   # a new connection
    print(f"elite: {calm:.2f} Mbit/s calm, {flooded:.2f} flooded (median), {after:.2f} after")
    assert calm > 2.0, elite["series"]               # the 4 Mbit/s uplink, less framing
    # collapses: below a third of its calm rate (under 1 % of it in runs here). A ratio, not
    # an absolute: the flood's bite depends on what else this shared machine runs (the
    # switches' userspace datapath forwards every flood packet on two shared cores)
    assert flooded < calm / 3, elite["series"]
    # a new connection after the flood gets at least half the calm rate again: the uplink was
    # full, never down
    assert after > 0.5 * calm, (calm, after)
    # the intranet keeps at least 80 % of its rate (98 % in runs here): its path never crosses
    # the uplink; the margin is for the CPU the flood takes from the userspace datapath
    intranet_calm, intranet_flooded = (_mean_mbps(citizen, *CALM_2022),
                                       _mean_mbps(citizen, *FLOODED_2022))
    assert intranet_flooded > 0.8 * intranet_calm, citizen["series"]


def test_uplink_ddos_2022_the_flood_filled_the_uplink_and_died_at_the_border(ddos):
    uplink_mbps = scenario.load(SCENARIOS / "uplink-ddos-2022.yaml").uplink.bw_mbps
    (flood,) = ddos["timeline"]["floods"]
    assert flood["from"] == "game" and flood["rate_mbps_asked"] == 40
    assert flood["destinations"] == ["203.0.113.10"]           # portal, the national block
    # the generator sent at least twice the uplink's 4 Mbit/s (40 in runs here)
    assert flood["rate_mbps_achieved"] > 2 * uplink_mbps, flood
    assert flood["sender_started_s"] >= FLOOD_2022[0]
    events = ddos["timeline"]["events"]
    assert [e["kind"] for e in events] == ["flood_start", "flood_stop"]
    assert events[1]["scenario_s"] - events[0]["scenario_s"] == 6 * 3600   # six hours
    assert not [e for e in events if e["late"]]
    # what crossed the uplink died at the border (the global zone may not reach the national
    # block), and it was about the uplink's capacity over the flood's seconds: the uplink was
    # full of flood (3.9 of 4 Mbit/s in runs here; at least half, at most the capacity plus
    # framing counted by the switch)
    denied = ddos["counters"]["flows"]["zone:global"]["denied"]
    assert denied["packets"] <= flood["packets"]
    denied_mbps = denied["bytes"] * 8 / flood["seconds"] / 1e6
    assert 0.5 * uplink_mbps < denied_mbps < 1.2 * uplink_mbps, (denied, flood)


def test_uplink_ddos_2022_what_stays_reachable_and_nothing_leaks(ddos):
    calm, flooded, after = _reach(ddos, 1), _reach(ddos, 13), _reach(ddos, 30)
    # visitor-1 runs no flow of its own: its fetches show the uplink, in sweeps while no
    # download crosses it (a download filling it queues the fetches past the 1 s timeout;
    # elite-1's during the flood: not asserted)
    assert all(calm[("visitor-1", site)] for site in GLOBAL_2013)
    assert all(after[("visitor-1", site)] for site in GLOBAL_2013)
    assert flooded[("visitor-1", "portal")]   # at home: the flood is dropped before it
    for phone in ("citizen-2", "library-1", "cafe-1"):   # no flows of their own either
        assert all(flooded[(phone, site)] for site in INTRANET_2013), phone
    _measured_paths_leak_nothing(ddos)
    assert ddos["status"] == "ok" and leftovers(ddos["run_id"]) == []


# --- second-upstream-2017 --------------------------------------------------------------------

@pytest.fixture(scope="module")
def upstreams(tmp_path_factory):
    return _run("second-upstream-2017", tmp_path_factory)


DOWN_2017, UP_2017, RUN_2017 = 10, 20, 30    # run seconds: unicom down, up; the run's length


def test_second_upstream_2017_traffic_fails_over_and_comes_back(upstreams):
    results = upstreams
    assert results["uplinks"]["names"] == ["unicom", "transtelecom"]
    elite = _flow(results, "elite-1", "search")
    assert elite["uplinks_used"] == ["unicom", "transtelecom"], elite["uplinks"]
    # one flow per phase: each on the uplink up then
    phases = {"shop": ["unicom"], "video": ["transtelecom"], "world-news": ["unicom"]}
    for site, used in phases.items():
        flow = _flow(results, "visitor-1", site)
        assert flow["uplinks_used"] == used, (site, flow["uplinks"])
    # the elite's download kept going over the fallback: at least half its rate before
    before = _mean_mbps(elite, 1, DOWN_2017 - 1)
    during = _mean_mbps(elite, DOWN_2017 + 2, UP_2017)
    assert during > 0.5 * before, elite["series"]
    changes = results["uplinks"]["controller"]["changes"]
    assert [(c["uplink"], c["down"], c["active"]) for c in changes] == [
        ("unicom", True, "transtelecom"), ("unicom", False, "unicom")]


def test_second_upstream_2017_the_failover_gap(upstreams):
    failover = upstreams["uplinks"]["failover"]
    (event,) = failover["events"]
    assert (event["uplink"], event["to"]) == ("unicom", "transtelecom")
    print(f"failover: {event['failover_s']} s, {event['lost_probes']} probes lost")
    # the goal is under 1 s (target_s); 3 s leaves room for a loaded shared machine (runs
    # here: see the README)
    assert event["failover_s"] is not None and 0 <= event["failover_s"] < 3, event
    assert failover["failover_s_p95"] == event["failover_s"]


def test_second_upstream_2017_reachability_by_tier_never_changes(upstreams):
    # visitor-1 and the phones without a flow at the sweeps' times (elite-1's and citizen-1's
    # own downloads fill their air links all along, where their fetches would queue)
    for t_s in (2, 13, 23):                       # before, during, after the outage
        matrix = _reach(upstreams, t_s)
        assert all(matrix[("visitor-1", site)] for site in [*GLOBAL_2013, "portal"]), t_s
        for phone in ("citizen-2", "library-1", "cafe-1"):
            assert not any(matrix[(phone, site)] for site in GLOBAL_2013), (t_s, phone)
            assert all(matrix[(phone, site)] for site in INTRANET_2013), (t_s, phone)
    intranet = _flow(upstreams, "citizen-1", "university")
    assert intranet["path"] == "national" and "uplinks_used" not in intranet
    _measured_paths_leak_nothing(upstreams)
    assert upstreams["status"] == "ok" and leftovers(upstreams["run_id"]) == []


# --- border-jamming --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jamming(tmp_path_factory):
    return _run("border-jamming", tmp_path_factory)


SMUGGLER = "smuggler-1->world-news"


def _arrived(results, flow, t_from, t_to) -> int:
    at = {row["t_s"]: row["arrived_bytes_total"][flow] for row in results["radio"]["timeline"]}
    return at[t_to] - at[t_from]


def test_border_jamming_sometimes_it_works(jamming):
    model = scenario.load(SCENARIOS / "border-jamming.yaml").radio
    # the premise: every jammer on for the first 10 s of each 20 s, the smuggler off meanwhile
    assert radio.evaluate(model, 5)["smuggler-1"].cell is None
    assert radio.evaluate(model, 15)["smuggler-1"].cell_kind == "foreign"
    assert _arrived(jamming, SMUGGLER, 1, 10) == 0          # jammed
    assert _arrived(jamming, SMUGGLER, 11, 20) > 0          # in the gap: it works
    assert _arrived(jamming, SMUGGLER, 21, 30) == 0
    assert _arrived(jamming, SMUGGLER, 31, 40) > 0
    assert _arrived(jamming, "citizen-1->news", 1, 10) > 0  # national phones are not jammed


def test_border_jamming_leaks_through_foreign_cells_only(jamming):
    by_path = jamming["leakage"]["by_path"]
    assert by_path["foreign-cell"] > 0 and by_path["uplink"] == 0
    shares = [row["attached"]["foreign"] for row in jamming["radio"]["timeline"]]
    assert max(shares) > 0 and min(shares) < max(shares)
    assert jamming["status"] == "ok" and leftovers(jamming["run_id"]) == []


def test_border_jamming_radio_sweep_of_power_and_duty_cycle_resumes(tmp_path):
    """The two-parameter sweep of the README, radio only (no network), then resumed."""
    out = tmp_path / "sweep"
    argv = [sys.executable, "-m", "hermitnet.cli", "sweep", "border-jamming",
            "--set", "radio.jammers.power_dbm=35,55",
            "--set", "radio.jammers.duty_cycle.on_fraction=0.25,1",
            "--phones", "20000", "--duration-s", "40", "--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "point 4/4 done" in done.stdout
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    power, duty = "radio.jammers.power_dbm", "radio.jammers.duty_cycle.on_fraction"
    share = {(float(r[power]), float(r[duty])): float(r["foreign_reach_share"]) for r in rows}
    assert share[(55, 1)] < share[(35, 1)]          # more power, fewer phones escape
    assert share[(55, 1)] < share[(55, 0.25)]       # always on beats a quarter of the time
    assert (out / "sweep.png").stat().st_size > 10_000
    again = subprocess.run([sys.executable, "-m", "hermitnet.cli", "sweep", "--resume", str(out)],
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming: 4 of 4 points already done" in again.stdout
    assert "point 1/4" not in again.stdout                  # nothing ran again
    assert list(csv.DictReader((out / "sweep.csv").open())) == rows
