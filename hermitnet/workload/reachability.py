"""The reachability matrix: every subscriber fetches every site over HTTP, from its own host.

Each fetch is classified (the `blocking` field of results.json):
  "false"         the site's own page arrived
  "dns"           the name did not resolve (curl exit 6)
  "tcp_ip"        no TCP connection: dropped on the way (curl 28 before connecting)
  "refused"       the site's host answered and nothing listens there (curl 7): the site is
                  down for everyone, which is not censorship (the policy drops silently)
  "http-failure"  connected, but no complete HTTP 200 answer
  "http-diff"     an HTTP 200 answer that is not the site's page (e.g. a block page)
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from hermitnet.workload.servers import HTTP_PORT, site_marker


@dataclass(frozen=True)
class Fetch:
    exit_code: int
    http_code: int
    connect_s: float
    body: str | None


def classify(fetch: Fetch, site_name: str) -> str:
    if fetch.exit_code == 6:
        return "dns"
    if fetch.exit_code == 7:
        return "refused"
    if fetch.exit_code == 28 and fetch.connect_s == 0:
        return "tcp_ip"
    if fetch.exit_code != 0 or fetch.http_code != 200:
        return "http-failure"
    if fetch.body is None or site_marker(site_name) not in fetch.body:
        return "http-diff"
    return "false"


def fetch_script(targets: list[tuple[str, str, str]], out_dir: Path, connect_timeout_s: float,
                 max_time_s: float) -> str:
    """A shell script that fetches every (site, ip, hostname) at once and prints one line each."""
    lines = []
    for site, ip, hostname in targets:
        body = out_dir / f"{site}.html"
        cmd = ["curl", "-s", "-o", str(body), "-w",
               f"{site} %{{http_code}} %{{time_connect}} %{{exitcode}}\\n",
               "--connect-timeout", f"{connect_timeout_s:g}", "--max-time", f"{max_time_s:g}",
               "-H", f"Host: {hostname}", f"http://{ip}:{HTTP_PORT}/"]
        lines.append(f"{shlex.join(cmd)} &")
    return "\n".join(lines) + "\nwait\n"


def parse_output(stdout: str) -> dict[str, tuple[int, int, float]]:
    """'site http_code time_connect exit' lines -> {site: (exit, http_code, connect_s)}."""
    results = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            site, http_code, connect_s, exit_code = parts
            results[site] = (int(exit_code), int(http_code), float(connect_s))
    return results


def measure(emu, scenario, run_dir: Path) -> list[dict]:
    plan = emu.plan
    targets = [(s.name, plan.host(s.name).ip, s.hostname) for s in scenario.sites]
    zone_of_site = {s.name: s.zone for s in scenario.sites}
    rows = []
    processes = {}
    for sub in scenario.subscribers:
        out_dir = run_dir / "fetch" / sub.name
        out_dir.mkdir(parents=True, exist_ok=True)
        script = fetch_script(targets, out_dir, scenario.connect_timeout_s,
                              scenario.connect_timeout_s + 5)
        processes[sub.name] = (out_dir, emu.popen(sub.name, ["sh", "-c", script], "curl fetches",
                                                  stdout=-1, stderr=-1, text=True))
    for sub in scenario.subscribers:
        out_dir, process = processes[sub.name]
        stdout, _ = process.communicate(timeout=scenario.connect_timeout_s + 30)
        parsed = parse_output(stdout)
        for site in scenario.sites:
            exit_code, http_code, connect_s = parsed.get(site.name, (-1, 0, 0.0))
            body_path = out_dir / f"{site.name}.html"
            body = body_path.read_text(errors="replace") if body_path.exists() else None
            blocking = classify(Fetch(exit_code, http_code, connect_s, body), site.name)
            rows.append({"tier": sub.tier, "host": sub.name, "site": site.name,
                         "zone": zone_of_site[site.name], "ok": blocking == "false",
                         "blocking": blocking,
                         "access": "foreign-cell" if sub.handset == "foreign" else sub.access})
    return rows
