"""Summaries of a run for people: a terminal table and an HTML report."""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path


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


def summary(results: dict) -> str:
    env = results["environment"]
    lines = [
        f"scenario {results['scenario']} (seed {results['seed']}): {results['status']}",
        f"datapath {env['datapath']}, netem {'yes' if env['netem'] else 'no'}, "
        f"controller {env['controller']}, {env['ovs']}, Mininet {env['mininet']}"
        + (", delay: userspace delay line" if env.get("delay_line") == "userspace" else ""),
    ]
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
    leak = results["leakage"]
    lines.append("")
    by_tier = ", ".join(f"{k} {v}" for k, v in sorted(leak["by_tier"].items()))
    by_path = ", ".join(f"{k} {v}" for k, v in sorted(leak["by_path"].items()))
    lines.append(f"leakage (bytes arriving where policy forbids): {by_tier} | by path: {by_path}")
    if env["not_emulated"]:
        lines.append("not emulated on this machine:")
        lines += [f"  - {item}" for item in env["not_emulated"]]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r) for r in rows
    ]


def write_html(results: dict, run_dir: Path) -> Path:
    """report.html (and its PNG plots): the summary, the reachability matrix, the plots."""
    from hermitnet import plots

    images = "".join(f"<p><img src='{html.escape(p.name)}' alt='{html.escape(p.stem)}'></p>"
                     for p in plots.write_all(results, run_dir))
    sites = sorted({r["site"] for r in results["reachability"]})
    hosts = []
    for r in results["reachability"]:
        if (r["host"], r["tier"]) not in hosts:
            hosts.append((r["host"], r["tier"]))
    cell = {(r["host"], r["site"]): r for r in results["reachability"]}
    head = "".join(f"<th>{html.escape(s)}</th>" for s in sites)
    body = []
    for host, tier in hosts:
        tds = []
        for site in sites:
            r = cell.get((host, site))
            if r is None:
                tds.append("<td></td>")
                continue
            css = "ok" if r["ok"] else "blocked"
            tds.append(f"<td class='{css}' title='{html.escape(r['zone'])}'>"
                       f"{'ok' if r['ok'] else html.escape(r['blocking'])}</td>")
        body.append(f"<tr><th>{html.escape(host)} ({html.escape(tier)})</th>{''.join(tds)}</tr>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>hermitnet: {html.escape(results['scenario'])}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 6px;border:1px solid #ccc}}
td.ok{{background:#d8f5d0}} td.blocked{{background:#f8d7d7}} table{{border-collapse:collapse}}
pre{{background:#f4f4f4;padding:1em}}</style></head><body>
<h1>hermitnet run: {html.escape(results['scenario'])}</h1>
<pre>{html.escape(summary(results))}</pre>
<h2>Reachability (HTTP fetch from each subscriber)</h2>
<table><tr><th></th>{head}</tr>
{''.join(body)}</table>
<h2>Plots</h2>
{images}
</body></html>
"""
    path = run_dir / "report.html"
    path.write_text(page)
    return path
