"""Summaries of a run for people: a terminal table, and report.html.

report.html is one self-contained file (its plots are embedded as data: URIs; the CSV, pcap and
JSON files it was built from are linked relatively, so the folder can be moved whole). Each
section is one function of SECTIONS: it takes the results and the page's context and returns
its HTML, or None when the run holds no data for it (the section is then left out). What a run
does not record has no section rather than a made-up one.
"""

from __future__ import annotations

import base64
import html
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from hermitnet.emulation.watchdog import one_line

# What the testbed never emulates, whatever the machine: said beside what this run lacked.
BY_DESIGN_NOT_EMULATED = (
    "radio signals: a phone's air link gets the rate and loss the radio model computes for its "
    "serving cell (hermitnet/radio); the radio itself is not emulated",
    "the global internet and foreign operators: a few real servers behind standalone learning "
    "switches, outside the national controller",
)
# Reachability cells: (css class, legend text), by (what the policy expects, what was observed).
VERDICTS = {
    ("allow", True): ("ok", "reached, as the policy allows"),
    ("deny", False): ("denied", "not reached, as the policy forbids (the reason: how it failed)"),
    ("deny", True): ("leak", "reached although the policy forbids it: a leak"),
    ("allow", False): ("lost", "not reached although the policy allows it"),
    ("window", True): ("window", "on a timed blocklist entry: reached"),
    ("window", False): ("window", "on a timed blocklist entry: not reached"),
    ("unknown", True): ("unknown", "reached (the policy was not recorded)"),
    ("unknown", False): ("unknown", "not reached (the policy was not recorded)"),
}
LINKED_FILES = (
    ("results.json", "the run's full record (schema hermitnet.results/2)"),
    ("reachability.csv", "reachability, one row per subscriber and site"),
    ("throughput.csv", "throughput per flow"),
    ("rtt.csv", "round-trip times"),
    ("counters.jsonl", "the controller's counters, one line per poll"),
    ("radio-map.png", "the radio map, full size"),
    ("controller.log", "the controller's log"),
)


def tier_zone_matrix(results: dict) -> dict[str, dict[str, tuple[int, int]]]:
    """{tier: {zone: (fetches ok, fetches)}}; smuggled foreign handsets get a row of their own
    ("citizen (foreign handset)"): they do not go through the national network at all."""
    matrix: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for row in results["reachability"]:
        group = row["tier"]
        if row.get("access") == "foreign-cell":
            group += " (foreign handset)"
        cell = matrix[group][row["zone"]]
        cell[0] += int(row["ok"])
        cell[1] += 1
    return {t: {z: (c[0], c[1]) for z, c in zones.items()} for t, zones in matrix.items()}


def summary(results: dict, status: str | None = None, note: str | None = None) -> str:
    """The terminal summary; `status` overrides the recorded one (e.g. while a run is held),
    `note` is a line under the heading."""
    env = results["environment"]
    lines = [
        f"scenario {results['scenario']} (seed {results['seed']}): "
        f"{status or results['status']}",
        f"datapath {env['datapath']}, netem {'yes' if env['netem'] else 'no'}, "
        f"controller {env['controller']}, {env['ovs']}, Mininet {env['mininet']}"
        + (", delay: userspace delay line" if env.get("delay_line") == "userspace" else ""),
    ]
    if note:
        lines.append(note)
    if results.get("error"):
        lines.append(f"error: {results['error']}")
    matrix = tier_zone_matrix(results)
    zones = sorted({z for t in matrix.values() for z in t})
    throughput = defaultdict(list)
    for row in results["throughput"]:
        throughput[row["tier"]].append(row)
    header = ["tier", *[f"{z} ok" for z in zones], "throughput Mbit/s (expected)"]
    rows = []
    for tier in sorted(set(matrix) | set(throughput)):
        cells = []
        for zone in zones:
            ok, total = matrix.get(tier, {}).get(zone, (0, 0))
            cells.append(f"{ok}/{total}" if total else "-")
        flows = ", ".join(
            f"{r['bps'] / 1e6:.2f} ({r['expected_bps'] / 1e6:.2f}) to {r['dst']}"
            if r.get("expected_bps") else f"{r['bps'] / 1e6:.2f} to {r['dst']}"
            for r in throughput.get(tier, [])
        )
        rows.append([tier, *cells, flows or "-"])
    lines.append("")
    lines += _table(header, rows)
    lines += leakage_section(results)
    escaped = _escaped_probes_text(results["leakage"])
    if escaped:
        lines.append(escaped)
    for outage in results.get("outages") or []:
        lines.append(("planned: " if outage["planned"] else "FAULT: ") + one_line(outage))
    rounds = results.get("remeasurements") or []
    if rounds:
        lines.append(f"reachability measured again {len(rounds)} time(s) while held: "
                     "results.json `remeasurements`, report.html")
    timings = results.get("timings_s") or {}
    if timings:
        lines.append(timings_text(timings))
    if env["not_emulated"]:
        lines.append("not emulated on this machine:")
        lines += [f"  - {item}" for item in aggregate_not_emulated(env["not_emulated"])]
    return "\n".join(lines)


# "air link phone-1-nb-cell-0: delay_ms=40 ..." (hermitnet.emulation.shaping, uplink)
_PER_LINK = re.compile(r"^(?P<kind>\S+ link|uplink) (?P<ends>\S+): (?P<detail>.+)$")


def aggregate_not_emulated(lines: list[str], examples: int = 2) -> list[str]:
    """One line per kind of link and what it lacks, however many links share it:
    'air link, 1000 links (phone-0-nb-cell-0, phone-1-nb-cell-1, ...): delay_ms=40 ...'.
    Lines that name no link are kept as they are; order of first appearance."""
    groups: dict[tuple[str, str], list[str]] = {}
    for line in lines:
        match = _PER_LINK.match(line)
        key = (match["kind"], match["detail"]) if match else (line, "")
        groups.setdefault(key, []).append(match["ends"] if match else "")
    out = []
    for (kind, detail), ends in groups.items():
        if not detail:
            out.append(kind)
        elif len(ends) == 1:
            out.append(f"{kind} {ends[0]}: {detail}")
        else:
            shown = ", ".join(ends[:examples]) + (", ..." if len(ends) > examples else "")
            out.append(f"{kind}, {len(ends)} links ({shown}): {detail}")
    return out


TIMING_PHASES = ("setup", "controller_start", "build", "policy_install", "servers",
                 "observers", "probes", "reachability", "throughput", "timeline", "analysis",
                 "teardown", "results")


def timings_text(timings: dict[str, float]) -> str:
    """'time: build 13.3 s, ..., total 141.0 s' (the phases in run order; what no phase
    covers, e.g. a held network, as 'other')."""
    phases = [k for k in TIMING_PHASES if k in timings]
    phases += sorted(k for k in timings if k not in TIMING_PHASES and k != "total")
    text = "time: " + ", ".join(f"{k.replace('_', ' ')} {timings[k]:.1f} s" for k in phases)
    if "total" in timings:
        other = timings["total"] - sum(timings[k] for k in phases)
        text += (f"; total {timings['total']:.1f} s"
                 + (f" (other {other:.1f} s)" if other >= 0.05 else ""))
    return text


def _escaped_probes_text(leak: dict) -> str | None:
    """'probes escaped: 44 of 330 packets; foreign-cell: ipv6 8, policy-hole 9, ...' or None."""
    if "probes_sent" not in leak:
        return None
    sent, escaped = leak["probes_sent"], leak.get("probes_escaped", 0)
    text = f"probes escaped: {escaped} of {sent} packets"
    by_path = leak.get("probes_escaped_by_path")
    if by_path:
        text += "; " + "; ".join(
            f"{path}: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
            for path, kinds in sorted(by_path.items()))
    elif leak.get("probes_escaped_by_kind"):
        text += " (" + ", ".join(f"{kind} {n}" for kind, n in
                                 sorted(leak["probes_escaped_by_kind"].items())) + ")"
    return text


def leakage_section(results: dict) -> list[str]:
    """Leakage by tier and path (not measured paths say why), positive controls, and the
    reconciliation of controller counters, observers and the uplink capture."""
    leak = results["leakage"]
    by_tier = ", ".join(f"{k} {v}" for k, v in sorted(leak["by_tier"].items()))
    by_path = ", ".join(f"{k} {'not measured' if v is None else v}"
                        for k, v in sorted(leak["by_path"].items()))
    lines = ["", f"leakage (bytes that crossed where the policy forbids): {by_tier} | "
             f"by path: {by_path}"]
    lines += [f"  {path} not measured: {why}" for path, why in
              sorted(leak.get("not_measured", {}).items())]
    if "controls" in leak:
        passed = sum(1 for c in leak["controls"] if c["arrived_packets"])
        lines.append(f"  positive controls arrived: {passed}/{len(leak['controls'])}; probe "
                     f"packets sent {leak.get('probes_sent', 0)}, send errors "
                     f"{leak.get('probe_send_errors', 0)}; without radio service: "
                     f"{', '.join(leak.get('senders_without_service', [])) or 'none'}")
    if leak.get("test_holes"):
        lines.append(f"  TEST HOLES IN THE POLICY: {leak['test_holes']}")
    table = leak.get("reconciliation")
    if table:
        tol = table["tolerance"]
        lines.append(f"reconciliation (packets; agree within {tol['packets']} or "
                     f"{tol['fraction']:.0%}):")

        def show(value):
            return "-" if value is None else str(value)

        rows = [[r["class"], r["decision"], show(r["controller_packets"]),
                 show(r["observer_packets"]), show(r.get("capture_packets")),
                 {True: "yes", False: "NO", None: ""}[r["agrees"]]] for r in table["rows"]]
        lines += ["  " + line for line in _table(
            ["class", "decision", "controller", "observers", "capture", "agree"], rows)]
        if table["disagreements"]:
            lines.append(f"WARNING: {table['disagreements']} reconciliation row(s) disagree "
                         "beyond the tolerance: a counter or an observer is wrong")
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r) for r in rows
    ]


# -- report.html ------------------------------------------------------------------------------

@dataclass
class Page:
    """What the sections of one report share: its folder and the plots drawn for it."""

    run_dir: Path
    images: dict[str, Path] = field(default_factory=dict)


def write_html(results: dict, run_dir: Path) -> Path:
    """run_dir/report.html (drawing its PNG plots beside it first)."""
    from hermitnet import plots

    page = Page(Path(run_dir), plots.write_all(results, Path(run_dir)))
    radio_map = page.run_dir / "radio-map.png"
    if radio_map.exists():
        page.images["radio-map"] = radio_map
    body = "\n".join(part for section in SECTIONS if (part := section(results, page)))
    path = page.run_dir / "report.html"
    path.write_text(_document(f"hermitnet: {results['scenario']}", body))
    return path


def _document(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style></head>
<body>
{body}
</body></html>
"""


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;
 color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
section{margin-bottom:1em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{padding:3px 7px;border:1px solid #ccc;text-align:left;vertical-align:top;
 overflow-wrap:break-word}
th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.matrix{table-layout:fixed;width:100%}
table.matrix td,table.matrix th{font-size:.85em;text-align:center;padding:2px 3px;
 overflow-wrap:anywhere}
table.matrix th.host{text-align:left;width:11em}
.zone{display:block;font-weight:normal;color:#555;font-size:.9em}
.expect{display:block;color:#555;font-size:.85em}
td.ok,.key.ok{background:#d8f5d0} td.denied,.key.denied{background:#eeeeee}
td.leak,.key.leak{background:#f5a3a3;font-weight:bold} td.lost,.key.lost{background:#ffd59a}
td.window,.key.window{background:#dde7f7} td.unknown,.key.unknown{background:#ffffff}
.key{display:inline-block;width:1.2em;height:1em;border:1px solid #999;vertical-align:middle}
ul.legend{list-style:none;padding-left:0} ul.legend li{margin:.15em 0}
img{max-width:100%;height:auto;display:block;margin:.5em 0;border:1px solid #eee;
 box-sizing:border-box}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em}
dl.meta dt{font-weight:bold} dl.meta dd{margin:0;overflow-wrap:anywhere}
p.note{color:#555;font-size:.9em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _section(key: str, title: str, *parts: str) -> str:
    return f"<section id='{key}'>\n<h2>{_e(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _html_table(header: list[str], rows: list[list], numeric: set[int] = frozenset(),
                css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    cls = f" class='{css}'" if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(page: Page, name: str, alt: str) -> str:
    """One of the page's plots, embedded as a data: URI (the report stays one file)."""
    path = page.images.get(name)
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<img id='img-{name}' src='data:image/png;base64,{data}' alt='{_e(alt)}' "
            f"title='{_e(path.name)}'>")


def _mbit(bps) -> str:
    return "-" if bps is None else f"{bps / 1e6:.2f}"


def section_header(results: dict, page: Page) -> str:
    status = results["status"]
    items = [("status", status), ("run id", results.get("run_id", "-")),
             ("seed", results["seed"]), ("scenario file", results.get("scenario_file", "-")),
             ("started", results["started"]), ("finished", results["finished"] or "-")]
    if results.get("error"):
        items.append(("error", results["error"]))
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return (f"<header id='scenario'><h1>hermitnet run: {_e(results['scenario'])}</h1>"
            f"<dl class='meta'>{meta}</dl></header>")


def section_environment(results: dict, page: Page) -> str:
    env = results["environment"]
    versions = [("datapath", env["datapath"]), ("netem", "yes" if env["netem"] else "no"),
                ("controller", env["controller"]), ("Open vSwitch", env["ovs"]),
                ("Mininet", env["mininet"]), ("kernel", env["kernel"]),
                ("iperf3", env.get("iperf3")), ("scapy", env.get("scapy"))]
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v if v is not None else '-')}</dd>"
                   for k, v in versions)
    emulated = "".join(f"<li>{_e(item)}</li>" for item in env["emulated"]) or "<li>-</li>"
    missing = "".join(f"<li>{_e(item)}</li>"
                      for item in aggregate_not_emulated(env["not_emulated"]))
    missing = missing or "<li>nothing the scenario configures was left out</li>"
    design = "".join(f"<li>{_e(item)}</li>" for item in BY_DESIGN_NOT_EMULATED)
    return _section(
        "environment", "Environment: what was and was not emulated",
        f"<dl class='meta'>{meta}</dl>",
        f"<h3>Emulated on this machine</h3><ul>{emulated}</ul>",
        "<h3>Not emulated on this machine, and why</h3>"
        f"<ul id='not-emulated'>{missing}</ul>",
        f"<h3>Never emulated (by design)</h3><ul>{design}</ul>")


def expectation(results: dict, row: dict) -> tuple[str, str]:
    """(allow | deny | window | unknown, words) for one reachability row, from the policy the
    run started with: the zones of the subscriber's tier, and the blocklist."""
    policy = results.get("policy")
    if not policy:
        return "unknown", "policy not recorded"
    entries = [b for b in policy.get("blocklist", []) if b["site"] == row["site"]]
    for entry in entries:
        if entry.get("from_s") is None and entry.get("until_s") is None:
            return "deny", "blocklist"
    if row["zone"] not in policy["tier_zones"].get(row["tier"], []):
        return "deny", f"{row['tier']} may not reach {row['zone']}"
    if entries:
        spans = ", ".join(f"{_time(b.get('from_s'), 'start')}-{_time(b.get('until_s'), 'end')}"
                          for b in entries)
        return "window", f"blocklist {spans}"
    return "allow", f"{row['tier']} may reach {row['zone']}"


def _time(value, default: str) -> str:
    return default if value is None else f"{value:g} s"


def section_reachability(results: dict, page: Page) -> str:
    return _section("reachability", "Reachability: policy and observation",
                    "<p>Each subscriber fetches each site by name with its own resolver, and a "
                    "control vantage fetches it unfiltered; OONI Web Connectivity's rules "
                    "classify the pair. Each column is a site, "
                    "under it the zone it is in; each cell is what was observed (ok, or OONI's "
                    "reason: dns, tcp_ip, http-failure, http-diff; or no-service, site-down) "
                    "and, below it, what "
                    "the policy the run started with expects (with several sweeps on the run's "
                    "clock, the last of each; all of them in the plot below and in "
                    "results.json).</p>",
                    *_matrix(results["reachability"], results),
                    _disagreements(results.get("reachability_disagreements")),
                    _image(page, "reachability_over_time", "reachability over time"))


def _disagreements(rows: list[dict] | None) -> str:
    if rows is None:
        return ""
    if not rows:
        return ("<p id='reachability-disagreements'>every measured fetch agrees with the "
                "policy</p>")
    return ("<h3 id='reachability-disagreements'>Observation and policy disagree</h3>"
            + _html_table(["t (s)", "subscriber", "tier", "site", "observed", "policy"],
                          [[r.get("t_s", ""), r["host"], r["tier"], r["site"], r["verdict"],
                            r["policy_expected"]] for r in rows]))


def _matrix(rows: list[dict], results: dict) -> tuple[str, str]:
    """(the matrix, its legend: the kinds of cell it shows)."""
    if not rows:
        return "<p class='note'>no reachability was measured</p>", ""
    shown = set()
    shown_verdicts: set[str] = set()
    sites, zone_of, hosts = [], {}, []
    for r in rows:
        if r["site"] not in zone_of:
            sites.append(r["site"])
            zone_of[r["site"]] = r["zone"]
        key = (r["host"], r["tier"], r.get("access"))
        if key not in hosts:
            hosts.append(key)
    cell = {(r["host"], r["site"]): r for r in rows}
    head = "".join(f"<th>{_e(s)}<span class='zone'>{_e(zone_of[s])}</span></th>" for s in sites)
    body = []
    for host, tier, access in hosts:
        tds = []
        for site in sites:
            r = cell.get((host, site))
            if r is None:
                tds.append("<td></td>")
                continue
            expected, why = expectation(results, r)
            css, _ = VERDICTS[(expected, bool(r["ok"]))]
            shown.add((expected, bool(r["ok"])))
            seen = "ok" if r["ok"] else r.get("verdict", r["blocking"])
            shown_verdicts.add(seen)
            tds.append(f"<td class='{css}' title='{_e(why)}'>{_e(seen)}"
                       f"<span class='expect'>{_e(expected)}</span></td>")
        where = " on a foreign cell" if access == "foreign-cell" else ""
        body.append(f"<tr><th class='host'>{_e(host)}<span class='zone'>{_e(tier)}{where}"
                    f"</span></th>{''.join(tds)}</tr>")
    matrix = (f"<table class='matrix'><thead><tr><th class='host'>subscriber (tier)</th>{head}"
              f"</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return matrix, _legend(shown, any(access == "foreign-cell" for _, _, access in hosts),
                           shown_verdicts)


# What each observation in a cell means (OONI Web Connectivity's classes, then ours).
OBSERVATIONS = {
    "ok": "the site's own page, as the control saw it (OONI: accessible)",
    "dns": "OONI blocking=dns: the name did not resolve, or resolved to other addresses than "
           "for the control, and the page did not match",
    "tcp_ip": "OONI blocking=tcp_ip: the same addresses as the control, no TCP connection",
    "http-failure": "OONI blocking=http-failure: connected, then the HTTP exchange failed",
    "http-diff": "OONI blocking=http-diff: an answer that is not the control's page (status, "
                 "body length, headers and title compared)",
    "unknown": "OONI cannot conclude (blocking null): no usable control",
    "no-service": "not OONI's: the phone had no radio service, nothing was measured",
    "site-down": "not OONI's: the site failed for the control vantage too",
}


def _legend(shown: set, foreign_handsets: bool, verdicts: set | None = None) -> str:
    items = [f"<li><span class='key {css}'></span> {_e(text)}</li>"
             for key, (css, text) in VERDICTS.items() if key in shown]
    items += [f"<li><b>{_e(name)}</b>: {_e(text)}</li>"
              for name, text in OBSERVATIONS.items() if name in (verdicts or ())]
    items.append("<li>under each observation: <b>allow</b> or <b>deny</b>, the expectation "
                 "from the tier's zones and the blocklist"
                 + ("; <b>window</b>: the site is on the blocklist for a time window"
                    if any(expected == "window" for expected, _ in shown) else "") + "</li>")
    if foreign_handsets:
        items.append("<li>a smuggled foreign handset reaches the global zone on a foreign "
                     "operator's cell, outside the national network: the policy of its tier "
                     "does not apply there</li>")
    return "<ul class='legend' id='reachability-legend'>" + "".join(items) + "</ul>"


def section_remeasurements(results: dict, page: Page) -> str | None:
    rounds = results.get("remeasurements") or []
    if not rounds:
        return None
    previous = {(r["host"], r["site"]): r["ok"] for r in results["reachability"]}
    lines = []
    for item in rounds:
        now = {(r["host"], r["site"]): r["ok"] for r in item["reachability"]}
        changed = [f"{host} -> {site}: {'ok' if ok else 'not reached'}"
                   for (host, site), ok in now.items() if previous.get((host, site)) != ok]
        lines.append([item["round"], f"{item['t_s']:.0f}",
                      f"{sum(now.values())}/{len(now)}", "; ".join(changed) or "no change"])
        previous = now
    return _section("remeasurements", "Reachability measured again while the run was held",
                    _html_table(["round", "t (s since the network came up)", "fetches ok",
                                 "changes from the round before"], lines, numeric={0, 1}))


def section_throughput(results: dict, page: Page) -> str | None:
    rows = results["throughput"]
    if not rows:
        return None
    table = _html_table(
        ["tier", "from", "to", "start s", "seconds", "measured Mbit/s",
         "configured bottleneck Mbit/s", "expected goodput Mbit/s", "verdict"],
        [[r["tier"], r["src"], r["dst"], _dash(r.get("start_s")), f"{r['seconds']:g}",
          _mbit(r["bps"]), _mbit(r.get("configured_bottleneck_bps")),
          _mbit(r.get("expected_goodput_bps", r.get("expected_bps"))), r.get("verdict", "-")]
         for r in rows],
        numeric={3, 4, 5, 6, 7})
    return _section("throughput", "Throughput per tier", table,
                    _image(page, "throughput", "throughput per tier against its bottleneck"),
                    _image(page, "throughput_over_time",
                           "throughput per tier over time, the timeline's events marked"))


def section_rtt(results: dict, page: Page) -> str | None:
    rows = results["rtt"]
    if not rows:
        return None

    def ms(value) -> str:
        return "-" if value is None else f"{value:.1f}"

    table = _html_table(
        ["tier", "from", "to", "measured min ms", "measured avg ms", "configured ms"],
        [[r["tier"], r["src"], r["dst"], ms(r["rtt_ms_min"]), ms(r["rtt_ms_avg"]),
          ms(r["configured_delay_ms"])] for r in rows],
        numeric={3, 4, 5})
    note = ""
    if not results["environment"]["netem"]:
        note = ("<p class='note'>This machine has no netem: configured delay shows in the "
                "measured round trips only where another mechanism emulated it (see the "
                "environment above).</p>")
    return _section("rtt", "Round-trip time: measured and configured",
                    "<p>Configured: twice the one-way delay of the links on the path.</p>",
                    table, note)


def section_leakage(results: dict, page: Page) -> str:
    leak = results["leakage"]
    by_tier = _html_table(["sender class (tier, or zone:Z for traffic a site sent)", "bytes"],
                          [[t, b] for t, b in sorted(leak["by_tier"].items())], numeric={1})
    not_measured = leak.get("not_measured") or {}
    by_path = _html_table(
        ["path", "bytes", "why not measured"],
        [[p, "not measured" if b is None else b, not_measured.get(p, "")]
         for p, b in sorted(leak["by_path"].items())],
        numeric={1})
    parts = ["<p>Traffic that crossed from one zone into a zone the policy does not allow its "
             "source to reach, in either direction, counted by observers inside every host and "
             "at the edges (they do not trust the controller); see docs/measurement.md. A path "
             "whose positive controls did not arrive is not measured, never 0.</p>",
             "<h3>By sender class</h3>", by_tier, "<h3>By path</h3>", by_path]
    text = _escaped_probes_text(leak)
    if text:
        parts.append(f"<p>{_e(text)}</p>")
    controls = leak.get("controls") or []
    if controls:
        arrived = sum(1 for c in controls if c.get("arrived_packets"))
        parts.append(f"<p>Positive controls (probes to allowed destinations): {arrived} of "
                     f"{len(controls)} arrived.</p>")
    escaped = [p for p in leak.get("probes") or [] if p.get("arrived_packets")]
    if escaped:
        parts += ["<h3>Escaped probes</h3>", _html_table(
            ["probe kind", "sender", "destination", "path", "packets arrived", "bytes arrived"],
            [[p["kind"], p["sender"], p["destination"], p["path"], p["arrived_packets"],
              p.get("arrived_bytes", 0)] for p in escaped], numeric={4, 5}, css="escaped")]
    leaks = leak.get("leaks") or []
    if leaks:
        parts += ["<h3>Everything that crossed where the policy forbids it</h3>", _html_table(
            ["source", "class", "destination", "zone", "path", "seen at", "packets", "bytes"],
            [[r["source"], r["sender_class"], r["destination"], r["dst_zone"], r["path"],
              r.get("seen_at", ""), r["packets"], r["bytes"]] for r in leaks], numeric={6, 7})]
    table = leak.get("reconciliation")
    if table:
        tol = table["tolerance"]
        parts += [f"<h3>Reconciliation: controller counters, observers, uplink capture</h3>"
                  f"<p>Packets; rows agree within {_e(tol.get('packets'))} packets or "
                  f"{_e(tol.get('fraction'))} of the count. Disagreeing rows: "
                  f"{table['disagreements']}.</p>",
                  _html_table(["class", "decision", "controller", "observers", "capture",
                               "agree"],
                              [[r["class"], r["decision"], _dash(r["controller_packets"]),
                                _dash(r["observer_packets"]), _dash(r.get("capture_packets")),
                                {True: "yes", False: "NO", None: ""}[r["agrees"]]]
                               for r in table["rows"]], numeric={2, 3, 4})]
    return _section("leakage", "Leakage by tier and path", *parts)


def _dash(value) -> str:
    return "-" if value is None else str(value)


def section_counters(results: dict, page: Page) -> str | None:
    counters = results.get("counters")
    if not counters:
        return None
    decisions = ("classify", "allow", "denied", "blocked", "spoofed")
    rows = [[name, *[cells.get(d, {}).get("packets", 0) for d in decisions]]
            for name, cells in sorted(counters["flows"].items()) if name != "-"]
    parts = [f"<p>The switches' own counters, polled by the controller every "
             f"{counters.get('interval_s') or 0:.1f} s ({counters['samples']} samples, "
             f"{counters['epochs']} controller process(es)); packets per class and decision "
             "at the ingress switch.</p>",
             _html_table(["class", *decisions], rows, numeric={1, 2, 3, 4, 5})]
    drops = counters.get("meter_drops") or {}
    if drops:
        parts.append(_html_table(["tier", "packets dropped by its meter", "bytes"],
                                 [[t, d.get("packets", 0), d.get("bytes", 0)]
                                  for t, d in sorted(drops.items())], numeric={1, 2}))
    uplink = counters.get("uplink") or {}
    if uplink:
        parts.append(f"<p>uplink ({_e(uplink.get('switch'))} port {_e(uplink.get('port'))}): "
                     f"out {_e(uplink.get('tx_bytes'))} bytes, in {_e(uplink.get('rx_bytes'))} "
                     "bytes</p>")
    if counters.get("gaps"):
        parts.append("<p class='note'>gaps in the series (no poll answered): " + _e(", ".join(
            f"{g['from_s']:.1f}-{g['to_s']:.1f} s" for g in counters["gaps"])) + "</p>")
    parts.append(_image(page, "counters", "the controller's counters over time"))
    return _section("counters", "The controller's counters over time", *parts)


def section_outages(results: dict, page: Page) -> str | None:
    """What the watchdog saw down while the run was up, and the control plane's gaps."""
    outages = results.get("outages") or []
    if not outages:
        return None
    rows = [[o["component"], "planned" if o["planned"] else "FAULT", f"{o['down_at_s']:.2f}",
             _dash(o["up_at_s"]), _dash(o["gap_s"]), o["detail"]] for o in outages]
    parts = [_html_table(["component", "kind", "down at s", "up at s", "gap s", "detail"],
                         rows, numeric={2, 3, 4})]
    plane = results.get("control_plane") or {}
    for outage in plane.get("outages", []):
        if outage.get("crossed") is None:
            parts.append("<p class='note'>what crossed the uplink while the controller was "
                         f"down is not measured: {_e(plane.get('capture_error', ''))}</p>")
            continue
        parts.append(
            f"<p>controller down at {outage['down_at_s']:.2f} s: {outage['crossed']} frames "
            f"crossed the uplink, the last {_dash(outage['last_crossing_s'])} s after it went "
            f"(lease {plane['lease_s']:g} s + {plane['grace_s']:g} s); {outage['forbidden']} "
            f"forbidden, {outage['after_lease']} after the lease</p>")
    return _section("outages", "Outages during the run", *parts)


def section_radio(results: dict, page: Page) -> str | None:
    radio = results.get("radio")
    if not radio:
        return None
    population = radio.get("population") or {}
    figures = []
    effectiveness = radio.get("jamming_effectiveness") or {}
    kept_off = ("jamming effectiveness: share of the border phones that would reach a foreign "
                "cell with every jammer off, kept off it by the jammers")
    for key, when in (("time_averaged", "averaged over the timeline"),
                      ("worst_moment", "at its lowest moment"),
                      ("every_jammer_on", "with every jammer on, whatever the schedules")):
        if effectiveness.get(key) is not None:
            figures.append([f"{kept_off}, {when}", f"{effectiveness[key]:.1%}"])
    words = {
        "national_coverage_share": "phones with national coverage",
        "foreign_reach_share": "phones that could camp on a foreign cell (with a foreign "
                               "handset)",
        "border_foreign_reach_share": "border phones that could camp on a foreign cell",
        "border_foreign_reach_share_unjammed": "the same with every jammer off",
    }
    figures += [[text, f"{population[key]:.1%}"] for key, text in words.items()
                if isinstance(population.get(key), (int, float))]
    parts = []
    if population:
        parts.append(f"<p>The radio model over {population.get('phones', 0):,} sampled phones, "
                     f"jammers {_e(population.get('jammers', '-'))}:</p>")
    if figures:
        parts.append(_html_table(["figure", "value"], figures, numeric={1}))
    attached = radio.get("attached")
    if attached:
        parts.append("<p>Emulated phones at t = 0 by serving cell: " + _e(", ".join(
            f"{kind} {n}" for kind, n in attached.items())) + "</p>")
    parts.append(_image(page, "radio-map", "radio map: coverage, foreign reach, jammer "
                                            "footprints, phones by serving cell"))
    parts.append(_image(page, "timeline", "phones by serving cell and traffic arriving along "
                                           "the timeline"))
    return _section("radio", "Radio: map and jamming", *parts)


def section_files(results: dict, page: Page) -> str:
    found = [(name, what) for name, what in LINKED_FILES if (page.run_dir / name).exists()]
    found[1:1] = [(pcap.name, "packets captured on a link of the run (uplink, foreign backhaul)")
                  for pcap in sorted(page.run_dir.glob("*.pcap"))]
    items = [f"<li><a href='{_e(name)}'>{_e(name)}</a>: {_e(what)}</li>" for name, what in found]
    if not items:
        return _section("files", "Files", "<p class='note'>the files of the run are not in "
                                          "this folder</p>")
    return _section("files", "Files this report was built from",
                    "<p>In the same folder as this report.</p>",
                    f"<ul>{''.join(items)}</ul>")


SECTIONS = (section_header, section_environment, section_outages, section_reachability,
            section_remeasurements, section_throughput, section_rtt, section_leakage,
            section_counters, section_radio, section_files)
