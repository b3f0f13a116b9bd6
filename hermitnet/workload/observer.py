"""The leakage observer: byte counters at every server, by source subscriber and probe kind.

It counts with nftables inside each server's namespace, what actually arrived, and does not trust
the controller's own counters. Escaped probes (hermitnet.workload.probes) are counted first, by
kind, and set aside, so they are not counted again by source.
"""

from __future__ import annotations

import json

TABLE = "hermitnet_obs"


def counter_script(plan) -> str:
    from hermitnet.workload.probes import observer_rules

    subscribers = [h for h in plan.hosts if h.kind != "server"]
    rules = "\n".join(
        [f"    {rule}" for rule in observer_rules(plan)]
        + [f'    ip saddr {s.ip} counter comment "{s.name}"' for s in subscribers]
    )
    return (
        f"table inet {TABLE} {{\n"
        "  chain input {\n"
        "    type filter hook input priority -300; policy accept;\n"
        f"{rules}\n"
        "  }\n"
        "}\n"
    )


def install(emu, plan) -> None:
    script = counter_script(plan)
    for site in (h for h in plan.hosts if h.kind == "server"):
        emu.check(site.name, ["nft", "-f", "-"], script)


def read(emu, plan) -> dict[str, dict[str, dict[str, int]]]:
    """{site: {subscriber: {"packets": n, "bytes": n}}}"""
    return {h.name: read_site(emu, h.name) for h in plan.hosts if h.kind == "server"}


def read_site(emu, site: str) -> dict[str, dict[str, int]]:
    done = emu.run(site, ["nft", "-j", "list", "table", "inet", TABLE])
    return parse_counters(done.stdout)


def parse_counters(nft_json: str) -> dict[str, dict[str, int]]:
    counters = {}
    for item in json.loads(nft_json)["nftables"]:
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        for expr in rule["expr"]:
            if "counter" in expr:
                counters[rule["comment"]] = {"packets": expr["counter"]["packets"],
                                             "bytes": expr["counter"]["bytes"]}
    return counters
