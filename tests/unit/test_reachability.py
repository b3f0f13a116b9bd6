"""Reachability: classifying one HTTP fetch, parsing curl's lines, the fetch script."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from hermitnet.workload import reachability
from hermitnet.workload.reachability import Fetch, classify
from hermitnet.workload.servers import HTTP_PORT, site_marker

PAGE = f"<html><body>{site_marker('news')}</body></html>"


@pytest.mark.parametrize(
    "fetch,expected",
    [
        (Fetch(6, 0, 0.0, None), "dns"),
        (Fetch(7, 0, 0.0, None), "refused"),              # nothing listens: the site is down
        (Fetch(28, 0, 0.0, None), "tcp_ip"),              # connect timed out: dropped
        (Fetch(28, 0, 0.004, None), "http-failure"),      # connected, then no answer in time
        (Fetch(56, 0, 0.004, None), "http-failure"),      # reset after connecting
        (Fetch(52, 0, 0.004, None), "http-failure"),      # empty reply
        (Fetch(0, 404, 0.004, "not found"), "http-failure"),
        (Fetch(0, 500, 0.004, PAGE), "http-failure"),
        (Fetch(0, 200, 0.004, "<html>blocked by order</html>"), "http-diff"),
        (Fetch(0, 200, 0.004, site_marker("video")), "http-diff"),   # another site's page
        (Fetch(0, 200, 0.004, None), "http-diff"),
        (Fetch(0, 200, 0.004, PAGE), "false"),
        (Fetch(-1, 0, 0.0, None), "http-failure"),        # no line from curl at all
    ],
)
def test_classify(fetch, expected):
    assert classify(fetch, "news") == expected


def test_parse_output():
    stdout = ("news 200 0.001234 0\n"
              "video 000 0.000000 28\n"
              "\n"
              "garbage line\n"
              "world-news 404 0.5 0\n")
    assert reachability.parse_output(stdout) == {
        "news": (0, 200, 0.001234),
        "video": (28, 0, 0.0),
        "world-news": (0, 404, 0.5),
    }
    assert reachability.parse_output("") == {}


def test_fetch_script_backgrounds_one_curl_per_site_then_waits(tmp_path):
    targets = [("news", "10.1.0.10", "rodong.rep.kp"), ("video", "198.18.0.12", "video.example")]
    script = reachability.fetch_script(targets, tmp_path, 2, 7.5)
    lines = script.splitlines()
    assert lines[-1] == "wait"
    curls = [line for line in lines if line.startswith("curl ")]
    assert len(curls) == 2 and len(lines) == 3
    for line, (site, ip, hostname) in zip(curls, targets, strict=True):
        assert line.endswith(" &")
        argv = shlex.split(line[:-2])
        assert argv[-1] == f"http://{ip}:{HTTP_PORT}/"
        assert argv[argv.index("-H") + 1] == f"Host: {hostname}"
        assert Path(argv[argv.index("-o") + 1]) == tmp_path / f"{site}.html"
        assert argv[argv.index("--connect-timeout") + 1] == "2"
        assert argv[argv.index("--max-time") + 1] == "7.5"
        write_out = argv[argv.index("-w") + 1]
        assert write_out.startswith(f"{site} ") and write_out.endswith("\\n")


def test_fetch_script_output_format_round_trips_through_parse_output(tmp_path):
    """What curl prints for the -w format (variables filled in) is what parse_output reads."""
    script = reachability.fetch_script([("news", "10.1.0.10", "a.kp")], tmp_path, 2, 7)
    argv = shlex.split(script.splitlines()[0][:-2])
    write_out = argv[argv.index("-w") + 1]
    printed = (write_out.replace("%{http_code}", "200").replace("%{time_connect}", "0.000412")
               .replace("%{exitcode}", "0").replace("\\n", "\n"))
    assert reachability.parse_output(printed) == {"news": (0, 200, 0.000412)}


def test_fetch_script_quotes_paths_with_spaces(tmp_path):
    out_dir = tmp_path / "a folder"
    script = reachability.fetch_script([("news", "10.1.0.10", "a.kp")], out_dir, 1, 6)
    argv = shlex.split(script.splitlines()[0][:-2])
    assert argv[argv.index("-o") + 1] == str(out_dir / "news.html")
