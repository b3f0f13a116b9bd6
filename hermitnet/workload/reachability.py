"""The reachability matrix, measured as OONI Web Connectivity does.

Every subscriber fetches every site by name, from its own host, as a device does: its own
resolver configuration (RUN/resolv/HOST.conf bound over /etc/resolv.conf in a mount namespace
of the fetch: Mininet hosts share the root's), a DNS lookup (dig), then curl on the site's URL
(http://HOSTNAME/, or https:// for a site with `scheme: https`, trusting the run's CA)
following redirects. The control vantages (control-national for the national zones' sites,
control-global for the global ones: unfiltered, on the site's own segment) fetch every site the
same way. hermitnet.measure.webconnectivity classifies each fetch against its
site's control; each row also carries what the policy expects (`policy_expected`).

Pure helpers (`fetch_script`, `parse_*`, `to_measurement`, `row`) are unit-tested on recorded
output; `measure` runs them in the emulation.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from hermitnet import zones
from hermitnet.measure import webconnectivity as wc
from hermitnet.workload import resolvers
from hermitnet.workload.servers import HTTP_PORT, HTTPS_PORT, ca_path

DIG_STATUS = {"NXDOMAIN": "dns_nxdomain_error", "REFUSED": "dns_refused_error",
              "SERVFAIL": "dns_server_misbehaving"}
CURL_FAILURE = {7: "connection_refused", 28: "generic_timeout_error", 52: "eof_error",
                56: "connection_reset", 35: "ssl_failed_handshake", 60: "ssl_unknown_authority"}
CURL_FORMAT = "%{http_code} %{time_connect} %{exitcode} %{remote_ip} %{url_effective}"


def fetch_script(targets: list[tuple[str, str, str]], out_dir: Path, timeout_s: float,
                 ca_file: Path | None = None) -> str:
    """Shell commands that look up and fetch every (site, hostname, scheme) at once, the URL
    SCHEME://HOSTNAME/ (https trusting the run's CA, `ca_file`); per site, files SITE.dig
    (dig's answer), SITE.curl (curl's -w line), SITE.headers and SITE.html."""
    lines = []
    for site, hostname, scheme in targets:
        base = out_dir / site
        dig = ["dig", "+tries=1", f"+time={max(1, round(timeout_s))}", hostname, "A"]
        trust = ["--cacert", str(ca_file)] if scheme == "https" and ca_file else []
        curl = ["curl", "-4", "-s", "-L", "--max-redirs", "5", "-o", f"{base}.html",
                "-D", f"{base}.headers", "-w", CURL_FORMAT, *trust,
                "--connect-timeout", f"{timeout_s:g}", "--max-time", f"{timeout_s + 5:g}",
                f"{scheme}://{hostname}/"]
        lines.append(f"({shlex.join(dig)} > {shlex.quote(f'{base}.dig')}; "
                     f"{shlex.join(curl)} > {shlex.quote(f'{base}.curl')}) &")
    return "\n".join(lines) + "\nwait\n"


def in_own_resolver(script: str, resolv_conf: Path) -> list[str]:
    """argv running `script` with `resolv_conf` as /etc/resolv.conf, in a private mount
    namespace (nothing outside the command sees the bind mount)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"mount --bind {shlex.quote(str(resolv_conf))} /etc/resolv.conf || exit 1\n"
            f"{script}"]


def parse_dig(text: str) -> wc.Dns:
    status = None
    addrs = []
    in_answer = False
    for line in text.splitlines():
        if "status:" in line:
            status = line.split("status:", 1)[1].split(",", 1)[0].strip()
        if line.startswith(";; ANSWER SECTION"):
            in_answer = True
            continue
        if in_answer:
            parts = line.split()
            if not parts:
                in_answer = False
            elif len(parts) >= 5 and parts[3] == "A":
                addrs.append(parts[4])
    if status is None:
        return wc.Dns("generic_timeout_error")
    if status != "NOERROR":
        return wc.Dns(DIG_STATUS.get(status, "dns_server_misbehaving"))
    return wc.Dns(None, tuple(addrs)) if addrs else wc.Dns("dns_no_answer")


def parse_curl(line: str) -> dict:
    """curl's -w line -> {http_code, connect_s, exit_code, remote_ip, final_url}."""
    parts = line.strip().split(" ")     # one space each: an empty remote_ip stays a field
    if len(parts) < 3:
        return {"http_code": 0, "connect_s": 0.0, "exit_code": -1, "remote_ip": "",
                "final_url": ""}
    return {"http_code": int(parts[0]), "connect_s": float(parts[1]),
            "exit_code": int(parts[2]), "remote_ip": parts[3] if len(parts) > 3 else "",
            "final_url": parts[4] if len(parts) > 4 else ""}


def final_header_names(text: str) -> tuple[str, ...]:
    """The header names of the last response in curl's -D dump (redirects come first)."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    if not blocks:
        return ()
    lines = blocks[-1].splitlines()[1:]
    return tuple(line.split(":", 1)[0].strip() for line in lines if ":" in line)


def to_measurement(dns: wc.Dns, curl: dict, headers: str, body: str | None,
                   port: int = HTTP_PORT) -> wc.Measurement:
    """One vantage's recorded fetch (its first connect to `port`) -> a Web Connectivity
    measurement."""
    code = curl["exit_code"]
    if code == 6 or dns.failure is not None and not dns.addrs:
        failure = dns.failure or "dns_lookup_error"
        return wc.Measurement(dns, (), wc.Http(failure))
    ip = curl["remote_ip"] or dns.addrs[0]
    # curl names the remote address only once its TCP connect succeeded (time_connect stays 0
    # when the connect timeout runs out in the TLS handshake: curl counts that as connecting)
    connect_failed = code == 7 or (code == 28 and not curl["remote_ip"])
    failure = None if code == 0 else CURL_FAILURE.get(code, "unknown_failure")
    tcp = (wc.TcpConnect(ip, port, failure if connect_failed else None),)
    if failure is not None:
        return wc.Measurement(dns, tcp, wc.Http(failure))
    body = body or ""
    return wc.Measurement(dns, tcp, wc.Http(
        None, curl["http_code"], len(body.encode()), wc.page_title(body),
        final_header_names(headers), curl["final_url"]))


def read_fetch(out_dir: Path, site) -> wc.Measurement:
    def text(suffix):
        path = out_dir / f"{site.name}.{suffix}"
        return path.read_text(errors="replace") if path.exists() else ""

    port = HTTPS_PORT if site.scheme == "https" else HTTP_PORT
    return to_measurement(parse_dig(text("dig")), parse_curl(text("curl")), text("headers"),
                          text("html") or None, port)


def measurement_dict(m: wc.Measurement | None) -> dict | None:
    if m is None:
        return None
    http = m.http
    return {"dns": {"failure": m.dns.failure, "addrs": list(m.dns.addrs)},
            "tcp_connect": [{"ip": c.ip, "port": c.port, "failure": c.failure}
                            for c in m.tcp_connect],
            "http": None if http is None else {
                "failure": http.failure, "status_code": http.status_code,
                "body_length": http.body_length, "title": http.title,
                "headers": list(http.headers), "final_url": http.final_url}}


def policy_expected(src, dst, state, site: str) -> str:
    """"accessible" or "blocked": the tier's zones, the blocklist (on the national network)."""
    if not zones.allowed(src, dst, state):
        return "blocked"
    if src.kind == "subscriber" and site in state.blocked_for(src.tier):
        return "blocked"
    return "accessible"


def row(sub, site, resolver: str, probe: wc.Measurement, control: wc.Measurement | None,
        has_service: bool, expected: str) -> dict:
    keys = wc.classify(probe, control)
    verdict = wc.verdict(keys, probe, control, has_service)
    agrees = None
    if verdict not in ("no-service", "site-down", "unknown"):
        agrees = (verdict == "accessible") == (expected == "accessible")
    return {"tier": sub.tier, "host": sub.name, "site": site.name, "zone": site.zone,
            "hostname": site.hostname, "url": site.url, "ok": verdict == "accessible",
            "verdict": verdict, **keys.to_dict(), "policy_expected": expected, "agrees": agrees,
            "access": "foreign-cell" if sub.handset == "foreign" else sub.access,
            "resolver": resolver, "probe": measurement_dict(probe),
            "control": measurement_dict(control)}


def control_of(site) -> str:
    return "control-global" if site.zone == "global" else "control-national"


def measure(emu, scenario, state, run_dir: Path, no_service: frozenset = frozenset()
            ) -> list[dict]:
    """One sweep: the control vantages and every subscriber, at once; a row per pair."""
    plan = emu.plan
    timeout_s = scenario.connect_timeout_s
    vantages = {s.name: s for s in scenario.subscribers}
    names = [*vantages, "control-national", "control-global"]
    processes = {}
    for name in names:
        out_dir = run_dir / "fetch" / name
        out_dir.mkdir(parents=True, exist_ok=True)
        targets = [(s.name, s.hostname, s.scheme) for s in scenario.sites
                   if name in vantages or control_of(s) == name]
        conf = resolvers.write_resolv_conf(plan, state, name, run_dir / "resolv", timeout_s)
        argv = in_own_resolver(fetch_script(targets, out_dir, timeout_s, ca_path(run_dir)),
                               conf)
        processes[name] = (out_dir, emu.popen(name, argv, "dns lookups and curl fetches",
                                              stdout=-1, stderr=-1, text=True))
    for name in names:
        _, process = processes[name]
        _, err = process.communicate(timeout=2 * timeout_s + 30)
        if process.returncode != 0:
            from hermitnet.errors import HermitError

            raise HermitError(f"the fetches in {name} failed: {err.strip()}")
    controls = {}
    for site in scenario.sites:
        out_dir = processes[control_of(site)][0]
        if (out_dir / f"{site.name}.curl").exists():
            controls[site.name] = read_fetch(out_dir, site)
    ends = zones.endpoints(plan, state)
    rows = []
    for sub in scenario.subscribers:
        out_dir = processes[sub.name][0]
        resolver = resolvers.resolver_of(plan, state, sub.name)
        for site in scenario.sites:
            expected = policy_expected(ends[sub.name], ends[site.name], state, site.name)
            rows.append(row(sub, site, resolver, read_fetch(out_dir, site),
                            controls.get(site.name), sub.name not in no_service, expected))
    return rows


def disagreements(rows: list[dict]) -> list[dict]:
    """Rows where what was observed and what the policy says differ."""
    return [{k: r[k] for k in ("t_s", "host", "tier", "site", "verdict", "policy_expected")
             if k in r} for r in rows if r["agrees"] is False]
