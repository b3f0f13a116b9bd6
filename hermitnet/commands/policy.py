"""Read or change the tier policy of a running run, live (the controller's REST API).

  hermitnet policy show                          tiers, members, rates, blocklist
  hermitnet policy block SITE [--tier TIER]      block a site for every tier (or one tier)
  hermitnet policy unblock SITE [--tier TIER]
  hermitnet policy zones TIER ZONE...            the zones a tier may reach
  hermitnet policy move SUBSCRIBER TIER          put a subscriber in another tier
  hermitnet policy rate TIER MBPS                per-subscriber rate of a tier ("none": no limit)
  hermitnet policy counters                      packets per tier and decision, meter drops, uplink
  hermitnet policy health                        connected switches, rule lease, OpenFlow errors

The API of the running run is found from its manifest (in /run/hermitnet); with several runs,
pick one with --run RUN_ID, or give --api http://127.0.0.1:PORT. When the run's API needs a
token (`hermitnet run --api-host`), it is read from the run's api-token file named in the
manifest (or --token-file, with --api) and sent as `Authorization: Bearer`. A change returns
once every switch has confirmed it (an OpenFlow barrier). A change at a planned time is a
scenario timeline event (README: the timeline section). See docs/policy-api.md.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from hermitnet.emulation import manifest as manifest_module
from hermitnet.errors import HermitError

TIMEOUT_S = 30


def add_arguments(parser) -> None:
    parser.add_argument("--api", help="the controller API URL (default: from the run's manifest)")
    parser.add_argument("--run", help="the run id, when several runs are in progress")
    parser.add_argument("--token-file", type=Path,
                        help="the API token file (default: the run's, from its manifest)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("show", help="tiers, members, rates and the blocklist")
    block = sub.add_parser("block", help="block a site for every tier (or one tier)")
    block.add_argument("site")
    block.add_argument("--tier", help="block it for this tier only")
    block.add_argument("--reason", default="", help="why (kept with the entry)")
    unblock = sub.add_parser("unblock", help="take a site off the blocklist")
    unblock.add_argument("site")
    unblock.add_argument("--tier", help="remove only its block for this tier")
    zones = sub.add_parser("zones", help="set the zones a tier may reach")
    zones.add_argument("tier")
    zones.add_argument("zones", nargs="*", metavar="ZONE", help="intranet, national, global")
    move = sub.add_parser("move", help="put a subscriber in another tier")
    move.add_argument("subscriber")
    move.add_argument("tier")
    rate = sub.add_parser("rate", help="set a tier's per-subscriber rate limit")
    rate.add_argument("tier")
    rate.add_argument("mbps", help='Mbit/s, or "none" to remove the limit')
    sub.add_parser("counters", help="packets per tier and decision, meter drops, uplink bytes")
    sub.add_parser("health", help="connected switches and OpenFlow errors")


def find_api(api: str | None, run_id: str | None,
             token_file: Path | None = None) -> tuple[str, str | None]:
    """(the API URL, its token or None): given, or from the manifest of the run in progress."""
    if api:
        return api.rstrip("/"), read_token(token_file)
    running = [m for m in manifest_module.list_manifests()
               if m.controller_api and m.owner_alive()]
    if run_id:
        running = [m for m in running if m.run_id == run_id]
        if not running:
            raise HermitError(f"no run {run_id!r} in progress with a controller API "
                              f"(looked in {manifest_module.state_dir()})")
    if not running:
        raise HermitError("no hermitnet run in progress (looked in "
                          f"{manifest_module.state_dir()}); start one (`hermitnet run "
                          "SCENARIO` in another shell), or give --api URL")
    if len(running) > 1:
        raise HermitError("several runs in progress: " + ", ".join(m.run_id for m in running)
                          + "; choose one with --run RUN_ID")
    chosen = running[0]
    token_path = token_file or (Path(chosen.api_token_path) if chosen.api_token_path else None)
    return chosen.controller_api.rstrip("/"), read_token(token_path)


def read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        raise HermitError(f"cannot read the API token: {error.strerror} (it is readable by "
                          "its owner only: run as the user who started the run)",
                          source=str(path)) from None
    if not token:
        raise HermitError("the API token file is empty", source=str(path))
    return token


def call(api: str, method: str, path: str, body: dict | None = None,
         token: str | None = None) -> dict:
    """One API request; a 4xx/5xx answer becomes a HermitError naming the field."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        request = urllib.request.Request(f"{api}{path}", data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            raise HermitError(f"{method} {path}: HTTP {error.code}") from None
        raise HermitError(answer.get("error", raw.decode(errors="replace")),
                          field=answer.get("field"),
                          source=f"{method} {path} (HTTP {error.code})") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise HermitError(f"cannot reach the controller API at {api}: {reason}") from None
    except ValueError as error:   # not a URL at all
        raise HermitError(f"{error}; expected http://127.0.0.1:PORT", field="--api") from None


def request_for(args) -> tuple[str, str, dict | None]:
    action = args.action
    if action == "show":
        return "GET", "/v1/policy", None
    if action == "counters":
        return "GET", "/v1/counters", None
    if action == "health":
        return "GET", "/v1/health", None
    if action == "block":
        body = {"site": args.site}
        if args.tier:
            body["tier"] = args.tier
        if args.reason:
            body["reason"] = args.reason
        return "POST", "/v1/blocklist", body
    if action == "unblock":
        tier = f"/tiers/{args.tier}" if args.tier else ""
        return "DELETE", f"/v1/blocklist/{args.site}{tier}", None
    if action == "zones":
        return "PUT", f"/v1/tiers/{args.tier}/zones", {"zones": args.zones}
    if action == "move":
        return "PUT", f"/v1/subscribers/{args.subscriber}/tier", {"tier": args.tier}
    if action == "rate":
        if args.mbps.lower() in ("none", "null", "off"):
            rate = None
        else:
            try:
                rate = float(args.mbps)
            except ValueError:
                raise HermitError(f"expected a number of Mbit/s or 'none', got {args.mbps!r}",
                                  field="MBPS") from None
        return "PUT", f"/v1/tiers/{args.tier}/rate", {"rate_mbps": rate}
    raise HermitError(f"unknown action {action!r}")


def run(args) -> int:
    method, path, body = request_for(args)
    api, token = find_api(args.api, args.run, args.token_file)
    answer = call(api, method, path, body, token)
    if args.json:
        print(json.dumps(answer, indent=1))
        return 1 if args.action == "health" and not _healthy(answer) else 0
    if args.action == "counters":
        print(format_counters(answer))
    elif args.action == "health":
        print(format_health(answer))
        if not _healthy(answer):
            return 1
    else:
        policy = answer.get("policy", answer)
        print(format_policy(policy))
        enforced = answer.get("enforced")
        if enforced is not None:
            print(format_enforced(enforced))
            if not enforced.get("all_confirmed"):
                return 1
    return 0


def format_policy(policy: dict) -> str:
    lines = [f"policy at t={policy['now_s']:.1f} s"]
    lines.append(f"  {'tier':10} {'zones':30} {'rate':>10}  members")
    for tier, info in policy["tiers"].items():
        rate = f"{info['rate_mbps']:g} Mbit/s" if info["rate_mbps"] else "-"
        members = ", ".join(m["name"] for m in info["members"]) or "-"
        lines.append(f"  {tier:10} {','.join(info['zones']):30} {rate:>10}  {members}")
    if policy["blocklist"]:
        lines.append("  blocklist:")
        for entry in policy["blocklist"]:
            whom = "every tier" if entry.get("tier") is None else f"tier {entry['tier']}"
            reason = f" ({entry['reason']})" if entry.get("reason") else ""
            lines.append(f"    {entry['site']}: {whom}{reason}")
    else:
        lines.append("  blocklist: empty")
    return "\n".join(lines)


def format_enforced(enforced: dict) -> str:
    changed = enforced["switches_changed"]
    if not changed:
        return "no switch needed a change"
    if enforced["all_confirmed"]:
        return (f"enforced on {len(changed)} switches (confirmed by barrier in "
                f"{enforced['seconds'] * 1000:.0f} ms)")
    missing = sorted(set(changed) - set(enforced["confirmed"]))
    return f"NOT confirmed by: {', '.join(missing)} (sent; the switches did not answer in time)"


def _healthy(health: dict) -> bool:
    """Every switch is connected (exit status 1 otherwise, whatever the output format)."""
    return all(health.get("switches", {}).values())


def format_health(health: dict) -> str:
    """The controller's health in words: which switches are connected, its OpenFlow errors."""
    switches = health.get("switches", {})
    down = sorted(name for name, up in switches.items() if not up)
    lines = [f"controller at t={health['now_s']:.1f} s: {len(switches) - len(down)} of "
             f"{len(switches)} switches connected"]
    if down:
        lines.append(f"  NOT connected: {', '.join(down)}")
    if health.get("lease_s") is not None:
        lines.append(f"  rules that cross the uplink are leased for {health['lease_s']:g} s "
                     "(renewed while the controller runs)")
    errors = health.get("openflow_errors") or []
    if errors:
        lines.append(f"  OpenFlow errors from the switches ({len(errors)}, latest last):")
        lines += [f"    t={e['t_s']:.1f} s {e['switch']}: type {e['type']} code {e['code']}"
                  for e in errors[-10:]]
    else:
        lines.append("  no OpenFlow errors")
    return "\n".join(lines)


def format_counters(counters: dict) -> str:
    lines = [f"counters at t={counters['t_s']:.1f} s ({counters['switches']} switches "
             "connected; packets since the controller started)"]
    decisions = ("classify", "allow", "denied", "blocked", "spoofed")
    lines.append(f"  {'class':16}" + "".join(f"{d:>10}" for d in decisions))
    for name, cells in sorted(counters["flows"].items()):
        if name == "-":
            continue
        lines.append(f"  {name:16}" + "".join(
            f"{cells.get(d, {}).get('packets', 0):>10}" for d in decisions))
    for tier, meter in sorted(counters.get("meters", {}).items()):
        lines.append(f"  meter {tier}: {meter['band_drop_packets']} packets dropped over the "
                     f"rate, {meter['in_packets']} in")
    uplink = counters.get("uplink") or {}
    if uplink:
        lines.append(f"  uplink ({uplink['switch']} port {uplink['port']}): "
                     f"out {uplink['tx_bytes']} bytes, in {uplink['rx_bytes']} bytes")
    return "\n".join(lines)
