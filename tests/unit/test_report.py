"""Run summaries: the tier x zone matrix, throughput, leakage, what was not emulated; HTML."""

from __future__ import annotations

import re

import pytest

from hermitnet import report
from hermitnet.errors import HermitError
from hermitnet.schema_check import validate


def test_tier_zone_matrix(results_record):
    assert report.tier_zone_matrix(results_record()) == {
        "citizen": {"intranet": (1, 1), "global": (0, 1)},
        "elite": {"intranet": (1, 1), "global": (1, 1)},
    }


def test_summary_has_the_matrix_throughput_leakage_and_not_emulated(results_record):
    text = report.summary(results_record())
    lines = text.splitlines()
    assert lines[0] == "scenario baseline (seed 1): ok"
    assert "datapath userspace, netem no, controller ryu 4.34" in lines[1]
    header = next(line for line in lines if line.startswith("tier "))
    assert header.split()[:5] == ["tier", "global", "ok", "intranet", "ok"]
    citizen = next(line for line in lines if line.startswith("citizen "))
    elite = next(line for line in lines if line.startswith("elite "))
    assert citizen.split()[1:3] == ["0/1", "1/1"]
    assert elite.split()[1:3] == ["1/1", "1/1"]
    assert "1.91 (2.00) to news" in citizen
    assert "4.80 to video" in elite
    assert re.search(r"leakage .*citizen 0, elite 0 \| by path: uplink 0", text)
    assert "probes escaped: 0 of 20 packets" in text
    index = lines.index("not emulated on this machine:")
    assert lines[index + 1] == "  - air link citizen-1-nb-a: delay_ms=40 jitter_ms=0 (no netem)"


def test_summary_columns_line_up(results_record):
    lines = report.summary(results_record()).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("tier "))
    header, rule = lines[start], lines[start + 1]
    assert set(rule.replace(" ", "")) == {"-"}
    for column in re.finditer(r"-+", rule):
        assert header[column.start()] != " "


def test_summary_of_a_failed_run(results_record):
    data = results_record()
    data.update(status="failed", error="controller did not start", reachability=[],
                throughput=[])
    data["environment"]["not_emulated"] = []
    text = report.summary(data)
    assert "scenario baseline (seed 1): failed" in text
    assert "error: controller did not start" in text
    assert "not emulated" not in text


def test_write_html_embeds_its_plots_as_data_uris(tmp_path, results_record):
    page = report.write_html(results_record(), tmp_path).read_text()
    assert "<img id='img-throughput' src='data:image/png;base64," in page
    assert "src='throughput.png'" not in page   # one file: nothing to lose when it is mailed
    assert (tmp_path / "throughput.png").read_bytes().startswith(b"\x89PNG")


def test_write_html_escapes_names(tmp_path, results_record):
    data = results_record()
    data["scenario"] = "<b>bold</b>"
    data["reachability"][0]["host"] = "<script>alert(1)</script>"
    data["reachability"][1]["site"] = "a&b"
    data["reachability"][1]["zone"] = "x' onmouseover='alert(2)"
    data["environment"]["not_emulated"] = ["<img src=x>"]
    path = report.write_html(data, tmp_path)
    page = path.read_text()
    assert path == tmp_path / "report.html"
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page
    assert "<th>a&amp;b<span class='zone'>" in page
    assert "onmouseover='" not in page


def test_write_html_matrix_shows_zone_expectation_and_observation(tmp_path, results_record):
    page = report.write_html(results_record(), tmp_path).read_text()
    assert ("<th>news<span class='zone'>intranet</span></th>"
            "<th>video<span class='zone'>global</span></th>") in page
    assert ("<td class='ok' title='citizen may reach intranet'>ok"
            "<span class='expect'>allow</span></td>") in page
    assert ("<td class='denied' title='citizen may not reach global'>tcp_ip"
            "<span class='expect'>deny</span></td>") in page
    legend = page[page.index("id='reachability-legend'"):]
    assert "reached, as the policy allows" in legend and "a leak" not in legend.split("</ul>")[0]


def test_a_forbidden_fetch_that_got_through_is_marked_a_leak(tmp_path, results_record):
    data = results_record()
    data["reachability"][1].update(ok=True, blocking=False, accessible=True,
                                   verdict="accessible")
    page = report.write_html(data, tmp_path).read_text()
    assert "<td class='leak' title='citizen may not reach global'>ok" in page
    assert "reached although the policy forbids it: a leak" in page


def test_expectation_follows_tier_zones_and_the_blocklist(results_record):
    data = results_record()
    row = data["reachability"][3]   # elite -> video (global)
    assert report.expectation(data, row)[0] == "allow"
    data["policy"]["blocklist"] = [{"site": "video", "from_s": None, "until_s": None,
                                    "reason": ""}]
    assert report.expectation(data, row) == ("deny", "blocklist")
    data["policy"]["blocklist"][0].update(from_s=10.0, until_s=40.0)
    assert report.expectation(data, row) == ("window", "blocklist 10 s-40 s")
    del data["policy"]
    assert report.expectation(data, row)[0] == "unknown"


def test_every_section_is_one_function_and_left_out_without_its_data(tmp_path, results_record):
    page = report.write_html(results_record(), tmp_path).read_text()
    for key in ("scenario", "environment", "reachability", "throughput", "rtt", "leakage",
                "files"):
        assert f"id='{key}'" in page
    for key in ("counters", "radio", "remeasurements"):   # the record has no such data
        assert f"id='{key}'" not in page
    assert all(callable(section) for section in report.SECTIONS)


def test_sections_with_data_appear(tmp_path, results_record, rich_record):
    page = report.write_html(rich_record(), tmp_path).read_text()
    for key in ("counters", "radio", "remeasurements"):
        assert f"id='{key}'" in page
    assert "<img id='img-counters'" in page and "<img id='img-timeline'" in page
    assert "citizen-1 -&gt; video: ok" in page   # a change between held rounds


def test_leakage_lists_paths_escaped_probes_crossings_and_the_reconciliation(tmp_path,
                                                                            rich_record):
    page = report.write_html(rich_record(), tmp_path).read_text()
    section = page[page.index("id='leakage'"):page.index("id='counters'")]
    assert "<td>foreign-cell</td><td class='num'>738</td><td></td>" in section
    assert ("<td>internal</td><td class='num'>not measured</td>"
            "<td>no positive control arrived</td>") in section
    assert ("<td>policy-hole</td><td>smuggler-1</td><td>video</td><td>foreign-cell</td>"
            "<td class='num'>2</td><td class='num'>138</td>") in section
    assert "probes escaped: 3 of 20 packets (ipv6 1, policy-hole 2)" in section
    assert "<td>smuggler-1</td><td>citizen</td><td>video</td><td>global</td>" in section
    assert "Positive controls (probes to allowed destinations): 1 of 1 arrived." in section
    assert "<td>citizen</td><td>allow</td><td class='num'>40</td><td class='num'>40</td>" \
        in section


def test_files_are_linked_relatively(tmp_path, results_record):
    from hermitnet import results

    results.write(tmp_path, results_record())
    (tmp_path / "capture-border-global.pcap").write_bytes(b"")
    page = report.write_html(results_record(), tmp_path).read_text()
    for name in ("results.json", "reachability.csv", "throughput.csv", "rtt.csv",
                 "capture-border-global.pcap"):
        assert f"<a href='{name}'>" in page


def test_summary_keeps_throughput_of_a_tier_without_reachability_rows(results_record):
    data = results_record()
    data["reachability"] = [r for r in data["reachability"] if r["tier"] != "elite"]
    text = report.summary(data)
    elite = next((line for line in text.splitlines() if line.startswith("elite ")), "")
    assert "4.80 to video" in elite


def test_foreign_handsets_get_their_own_row(results_record):
    data = results_record()
    row = dict(data["reachability"][0], host="smuggler-1", access="foreign-cell")
    data["reachability"].append(row)
    matrix = report.tier_zone_matrix(data)
    assert f"{row['tier']} (foreign handset)" in matrix
    assert sum(total for _, total in matrix[f"{row['tier']} (foreign handset)"].values()) == 1
    assert f"{row['tier']} (foreign handset)" in report.summary(data)


def test_summary_names_the_escaped_probes_by_kind(rich_record):
    text = report.summary(rich_record())
    assert "probes escaped: 3 of 20 packets (ipv6 1, policy-hole 2)" in text
    assert "reachability measured again 1 time(s) while held" in text


def test_summary_status_can_be_overridden_while_held(results_record):
    data = results_record()
    data["status"] = "failed"   # what the record says until the run ends
    text = report.summary(data, status="running (network up, held)", note="round 1")
    assert text.splitlines()[0] == "scenario baseline (seed 1): running (network up, held)"
    assert text.splitlines()[2] == "round 1"


def test_the_fields_a_held_border_run_adds_are_in_the_schema(tmp_path, rich_record):
    from hermitnet import results

    results.write(tmp_path, rich_record())   # validates against results.schema.json
    data = rich_record()
    data["remeasurements"][0]["reachability"][0]["blocking"] = "maybe"
    with pytest.raises(HermitError, match=r"remeasurements\[0\]\.reachability\[0\]\.blocking"):
        results.write(tmp_path, data)


def test_the_legend_explains_only_what_the_matrix_shows(tmp_path, results_record, rich_record):
    plain = report.write_html(results_record(), tmp_path).read_text()
    assert "smuggled foreign handset" not in plain and "<b>window</b>" not in plain
    rich = report.write_html(rich_record(), tmp_path).read_text()
    assert "smuggled foreign handset reaches the global zone" in rich


def test_outages_are_in_the_summary_and_the_report(tmp_path, results_record):
    record = results_record()
    assert "id='outages'" not in report.write_html(record, tmp_path).read_text()
    outage = {"down_at_s": 2.0, "up_at_s": 12.0, "gap_s": 10.0, "planned": True,
              "detail": "exited with -9"}
    record["outages"] = [{"component": "controller", **outage},
                         {"component": "site:news", "down_at_s": 3.0, "up_at_s": None,
                          "gap_s": 5.0, "planned": False, "detail": "no server running"}]
    record["control_plane"] = {"lease_s": 5.0, "grace_s": 1.0, "down_s": 10.0,
                               "border_closed": True, "outages": [
                                   {**outage, "crossed": 40, "forbidden": 0,
                                    "last_crossing_s": 4.6, "after_lease": 0}]}
    text = report.summary(record)
    assert "planned: controller down at t=2.00 s for 10.00 s (exited with -9)" in text
    assert "FAULT: site:news down at t=3.00 s until the end (5.00 s)" in text
    page = report.write_html(record, tmp_path).read_text()
    assert "id='outages'" in page and "40 frames crossed the uplink, the last 4.6 s" in page
    validate(record, "results", source="record")


def test_per_link_lines_are_aggregated_one_per_kind_and_what_it_lacks():
    from hermitnet.report import aggregate_not_emulated

    lines = [f"air link phone-{i}-nb-cell-{i % 3}: delay_ms=40 jitter_ms=0 (no netem in this "
             "kernel)" for i in range(1000)]
    lines += ["air link phone-7-nb-cell-1: loss_pct=1 (no netem in this kernel)",
              "uplink border-global: bw_mbps=10 (no HTB qdisc in this kernel)",
              "tier rate limits of elite: this datapath offers no OpenFlow meters"]
    assert aggregate_not_emulated(lines) == [
        "air link, 1000 links (phone-0-nb-cell-0, phone-1-nb-cell-1, ...): delay_ms=40 "
        "jitter_ms=0 (no netem in this kernel)",
        "air link phone-7-nb-cell-1: loss_pct=1 (no netem in this kernel)",
        "uplink border-global: bw_mbps=10 (no HTB qdisc in this kernel)",
        "tier rate limits of elite: this datapath offers no OpenFlow meters",
    ]


def test_the_summary_shows_every_phase_and_what_no_phase_covers(results_record):
    from hermitnet.report import summary, timings_text

    text = timings_text({"total": 10.0, "teardown": 2.0, "build": 5.0, "custom": 1.0})
    assert text == "time: build 5.0 s, teardown 2.0 s, custom 1.0 s; total 10.0 s (other 2.0 s)"
    assert timings_text({"build": 1.5}) == "time: build 1.5 s"
    results = results_record()
    results["environment"]["not_emulated"] = [
        f"air link p{i}-nb-c: delay_ms=40 (no netem)" for i in range(300)]
    shown = summary(results)
    assert "air link, 300 links (p0-nb-c, p1-nb-c, ...): delay_ms=40 (no netem)" in shown
    assert "p299-nb-c" not in shown and "time: build 1.5 s" in shown
