"""Real servers inside the site hosts: one web server process per site, iperf3 where flows end.

The web server is Python's http.server in one light process serving both HTTP (port 80) and
HTTPS (port 443, the site's certificate from the run's CA: hermitnet.workload.tls); the TLS
handshake runs in the connection's own thread, so a client that never finishes it (a censor
dropped its ClientHello) holds up no one else.
"""

from __future__ import annotations

import html
import subprocess
import sys
import time
from pathlib import Path

from hermitnet.errors import HermitError

HTTP_PORT = 80
HTTPS_PORT = 443
IPERF_PORT = 5201

# `python -m http.server`, without its reverse lookup of the bound address (socket.getfqdn in
# HTTPServer.server_bind): inside a host there is no resolver, and the lookup held every start
# for about 6 s, so a site_up event took effect late. argv: address, directory, HTTP port, and
# for HTTPS as well: its port, certificate and key files.
HTTP_SERVER = """
import functools, http.server, socketserver, ssl, sys, threading
class Server(http.server.ThreadingHTTPServer):
    tls = None
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
    def finish_request(self, request, client_address):
        if self.tls is not None:
            request.settimeout(10)
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)
    def handle_error(self, request, client_address):
        pass
address, directory = sys.argv[1], sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
servers = [Server((address, int(sys.argv[3])), handler)]
if len(sys.argv) > 4:
    https = Server((address, int(sys.argv[4])), handler)
    https.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    https.tls.load_cert_chain(sys.argv[5], sys.argv[6])
    servers.append(https)
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


def site_marker(site_name: str) -> str:
    """A string only this site's page contains: a fetch that lacks it got something else."""
    return f"hermitnet-site:{site_name}"


SITE_PAGE_SECTIONS = 24   # a page of about 3 KB: a block page is a fraction of it (OONI's
                          # body_length_match wants the two within 0.7 of each other)


def write_site_page(site, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "index.html"
    title, hostname = html.escape(site.title), html.escape(site.hostname)
    sections = "".join(f"<p>{title}, section {i}: what {hostname} publishes for its "
                       f"readers.</p>\n" for i in range(1, SITE_PAGE_SECTIONS + 1))
    page.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title></head>\n"
        f"<body><h1>{title}</h1><p>{hostname} ({site.zone})</p>\n{sections}"
        f"<!-- {site_marker(site.name)} -->\n</body></html>\n"
    )
    return page


def start_sites(emu, scenario, run_dir: Path, iperf_sites: set[str]) -> dict[str, list]:
    """Issue the run's CA and each site's certificate, start every site's servers and wait
    until they listen; returns {site: its processes} (for site_down / site_up on the
    timeline)."""
    from hermitnet.workload import tls

    authority = tls.make_authority(run_dir / "tls", scenario.name)
    for site in scenario.sites:
        authority.issue(site.hostname, emu.plan.host(site.name).ip)
    running = {site.name: _start(emu, site, run_dir, site.name in iperf_sites)
               for site in scenario.sites}
    for site in scenario.sites:
        _wait_listening(emu, site.name, _ports(site.name in iperf_sites))
    return running


def stop_site(processes: list, timeout_s: float = 5) -> None:
    """A site going down: its servers stop (a fetch then finds nothing listening)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)


def restart_site(emu, site, run_dir: Path, iperf: bool) -> list:
    """A site coming back up: its servers start again; returns once they listen."""
    processes = _start(emu, site, run_dir, iperf)
    _wait_listening(emu, site.name, _ports(iperf))
    return processes


def ca_path(run_dir: Path) -> Path:
    """The run's CA certificate: what clients trust (curl --cacert)."""
    return Path(run_dir) / "tls" / "ca.pem"


def _ports(iperf: bool) -> list[int]:
    return [HTTP_PORT, HTTPS_PORT] + ([IPERF_PORT] if iperf else [])


def _start(emu, site, run_dir: Path, iperf: bool) -> list:
    host = emu.plan.host(site.name)
    root = write_site_page(site, run_dir / "sites" / site.name).parent
    tls_dir = run_dir / "tls"
    argv = [sys.executable, "-c", HTTP_SERVER, host.ip, str(root), str(HTTP_PORT),
            str(HTTPS_PORT), str(tls_dir / f"{site.hostname}.pem"),
            str(tls_dir / f"{site.hostname}.key")]
    processes = [emu.popen(site.name, argv, "web server (http and https)",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    if iperf:
        processes.append(emu.popen(site.name, ["iperf3", "-s", "-B", host.ip, "-p",
                                               str(IPERF_PORT)], "iperf3 server",
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return processes


def _wait_listening(emu, site_name: str, ports: list[int], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        out = emu.run(site_name, ["ss", "-Hltn"]).stdout
        if all(f":{port} " in out for port in ports):
            return
        if time.monotonic() > deadline:
            raise HermitError(f"servers in {site_name} did not listen on {ports} "
                              f"within {timeout_s:g} s")
        time.sleep(0.1)
