"""Run summaries: the tier x zone matrix, throughput, leakage, what was not emulated; HTML."""

from __future__ import annotations

import re

from hermitnet import report


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


def test_write_html_embeds_its_plots(tmp_path, results_record):
    page = report.write_html(results_record(), tmp_path).read_text()
    assert "<img src='throughput.png'" in page
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
    assert "<th>a&amp;b</th>" in page
    assert "onmouseover='" not in page


def test_write_html_matrix(tmp_path, results_record):
    page = report.write_html(results_record(), tmp_path).read_text()
    assert "<th>news</th><th>video</th>" in page
    assert ("<tr><th>citizen-1 (citizen)</th><td class='ok' title='intranet'>ok</td>"
            "<td class='blocked' title='global'>tcp_ip</td></tr>") in page


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
