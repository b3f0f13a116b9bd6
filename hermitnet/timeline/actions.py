"""What each kind of event does to a live run; `LiveActions.apply(event)` returns notes for the
event's record in results.json.

  policy  block, unblock, move_subscriber, set_tier_zones: the controller's REST API, as
          `hermitnet policy` sends them; returns once every switch confirmed (barrier); the
          leakage observers are read just before and just after each group of policy events
          planned for the same time (`bracket`; each event records requested_s, confirmed_s)
  radio   jammer_on, jammer_off, phone_move: the radio model at the event's time, and every
          air link whose settings changed re-shaped (hermitnet.workload.timeline.LiveRadio)
  uplink  uplink_down, uplink_up, uplink_degrade: hermitnet.emulation.uplink's commands
  site    site_down, site_up: the site's servers stopped or started again
  control controller_down, controller_up: the controller killed (SIGKILL), or started again;
          up takes effect once every switch is connected to it again

The run's watchdog (LiveRun.watchdog) is told before a planned outage begins and after it
ends, so that it reports the outage as planned and not as a fault.
  flood   flood_start, flood_stop: a flood sender (hermitnet.workload.flood) started in the
          global-zone site and stopped with SIGTERM; `stop_floods()` stops those still running
          at the end of the run, and `floods` is what each one asked for and sent
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

from hermitnet.commands.policy import call
from hermitnet.emulation import uplink
from hermitnet.emulation.process import run_checked
from hermitnet.errors import HermitError
from hermitnet.timeline.events import CONTROLLER_NAME, Event
from hermitnet.workload import flood, servers

RECONNECT_TIMEOUT_S = 30    # every switch back on a restarted controller (OVS backs off to 8 s)


def policy_request(event: Event) -> tuple[str, str, dict | None]:
    """(method, path, body) of the REST request that makes a policy event."""
    if event.kind == "block":
        body = {"site": event.target}
        if event.tier is not None:
            body["tier"] = event.tier
        if event.reason:
            body["reason"] = event.reason
        return "POST", "/v1/blocklist", body
    if event.kind == "unblock":
        tier = f"/tiers/{event.tier}" if event.tier is not None else ""
        return "DELETE", f"/v1/blocklist/{event.target}{tier}", None
    if event.kind == "move_subscriber":
        return "PUT", f"/v1/subscribers/{event.target}/tier", {"tier": event.tier}
    if event.kind == "set_tier_zones":
        return "PUT", f"/v1/tiers/{event.target}/zones", {"zones": list(event.zones)}
    raise ValueError(event.kind)


class LiveActions:
    def __init__(self, live, live_radio=None, site_processes=None):
        self.live = live
        self.radio = live_radio
        self.site_processes = site_processes if site_processes is not None else {}
        self.not_emulated: list[str] = []
        self.running_floods: dict[str, tuple] = {}   # site -> (process, its record)
        self.floods: list[dict] = []

    def apply(self, event: Event) -> dict:
        return getattr(self, f"_{event.domain}")(event)

    def _token(self) -> str | None:
        """The run's API token, when the API listens beyond loopback (controller.py)."""
        path = getattr(self.live.controller, "token_path", None)
        return path.read_text().strip() if path is not None else None

    def _expect(self, component: str, down: bool) -> None:
        dog = getattr(self.live, "watchdog", None)
        if dog is not None:
            (dog.expect_down if down else dog.expect_up)(component)

    @contextlib.contextmanager
    def bracket(self, domain: str):
        """Around policy events planned for the same time: the leakage observers read just
        before the first request and just after the last confirmation (LiveRun.read_observers),
        so what arrived in between is judged under every policy in force meanwhile
        (hermitnet.policy.timeline). One reading pair for the group, not one per event: seven
        blocks at once are not held up by fourteen readings."""
        read = getattr(self.live, "read_observers", None) if domain == "policy" else None
        if read is not None:
            read()
        yield
        if read is not None:
            read()

    def _policy(self, event: Event) -> dict:
        """The change through the REST API (inside `bracket`)."""
        method, path, body = policy_request(event)
        requested_s = self.live.clock.now_s()
        answer = call(self.live.controller_api, method, path, body, self._token())
        confirmed_s = self.live.clock.now_s()
        enforced = answer.get("enforced") or {}
        if not enforced.get("all_confirmed"):
            missing = sorted(set(enforced.get("switches_changed", ()))
                             - set(enforced.get("confirmed", ())))
            raise HermitError(f"{event.describe()} ({event.field}): not confirmed by "
                              f"{', '.join(missing)} within the controller's barrier timeout")
        return {"request": f"{method} {path}",
                "switches_changed": len(enforced.get("switches_changed", ())),
                # not rounded: the observer readings before and after bound them exactly
                "requested_s": requested_s, "confirmed_s": confirmed_s}

    def _radio(self, event: Event) -> dict:
        if self.radio is None:
            raise HermitError(f"{event.describe()} ({event.field}): the run has no radio model")
        _, changed = self.radio.update(event.at_s)
        return {"reshaped": changed}

    def _uplink(self, event: Event) -> dict:
        plan, name = self.live.plan, event.target
        if event.kind == "uplink_down":
            self._expect(uplink.component(name), True)
            change = uplink.down(plan, name)
        else:
            spec = self.live.scenario.uplink_spec(name)
            if event.kind == "uplink_degrade":
                spec = spec.merged(dict(event.settings))
            change = uplink.shaped(plan, spec, self.live.caps, name)
        for argv in change.commands:
            run_checked(list(argv))
        for script in change.nft:
            run_checked(["nft", "-f", "-"], input_text=script)
        if event.kind != "uplink_down":
            self._expect(uplink.component(name), False)
        for line in change.not_emulated:
            if line not in self.not_emulated:
                self.not_emulated.append(line)
                self.live.progress(f"NOT emulated: {line}")
        notes = {"interfaces": list(uplink.interfaces(plan, name))}
        if change.not_emulated:
            notes["not_emulated"] = list(change.not_emulated)
        return notes

    def _site(self, event: Event) -> dict:
        site = self.live.scenario.site(event.target)
        running = self.site_processes.get(site.name, [])
        iperf = len(running) > 1 or site.name in {f.dst for f in self.live.scenario.flows}
        started = time.monotonic()
        if event.kind == "site_down":
            self._expect(f"site:{site.name}", True)
            servers.stop_site(running)
            self.site_processes[site.name] = []
        else:
            self.site_processes[site.name] = servers.restart_site(
                self.live.emu, site, self.live.run_dir, iperf)
            self._expect(f"site:{site.name}", False)
        return {"servers": "stopped" if event.kind == "site_down" else "listening",
                "servers_s": round(time.monotonic() - started, 3)}

    def _control(self, event: Event) -> dict:
        controller = self.live.controller
        if event.kind == "controller_down":
            self._expect(CONTROLLER_NAME, True)
            return {"controller": f"killed (exit code {controller.kill()})"}
        started = time.monotonic()
        controller.start()
        deadline = started + RECONNECT_TIMEOUT_S
        while True:
            switches = call(controller.api_url, "GET", "/v1/health", None,
                            self._token())["switches"]
            if all(switches.values()):
                break
            if time.monotonic() > deadline:
                missing = sorted(s for s, connected in switches.items() if not connected)
                raise HermitError(f"{event.describe()} ({event.field}): {', '.join(missing)} "
                                  f"not connected within {RECONNECT_TIMEOUT_S} s")
            time.sleep(0.1)
        self._expect(CONTROLLER_NAME, False)
        return {"controller": "listening", "reconnected_s": round(time.monotonic() - started, 3)}

    def _flood(self, event: Event) -> dict:
        if event.kind == "flood_start":
            return self._start_flood(event)
        return self._stop_flood(event.target, event)

    def _start_flood(self, event: Event) -> dict:
        options, rate_mbps = dict(event.options), dict(event.settings)["rate_mbps"]
        host = self.live.plan.host(event.target)
        dst_ips = flood.destinations(self.live.plan, options["toward"])
        neighbours = flood.neighbour_lines(dst_ips, f"{host.node}-eth0")
        if neighbours:
            self.live.emu.check(host.name, ["ip", "-batch", "-"], "\n".join(neighbours) + "\n")
        process = self.live.emu.popen(
            host.name, flood.argv(host.ip, dst_ips, options["protocol"], rate_mbps),
            f"{options['protocol']} flood", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        record = {"from": event.target, "toward": options["toward"],
                  "protocol": options["protocol"], "destinations": dst_ips,
                  "rate_mbps_asked": rate_mbps, "planned_start_s": event.at_s,
                  "sender_started_s": round(self.live.clock.now_s(), 3),
                  "start_field": event.field}
        self.running_floods[event.target] = (process, record)
        return {"destinations": dst_ips, "pid": process.pid}

    def _stop_flood(self, site: str, event: Event | None) -> dict:
        process, record = self.running_floods.pop(site)
        process.terminate()
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate(timeout=10)
        stopped_s = round(self.live.clock.now_s(), 3)
        record.update({"planned_stop_s": event.at_s if event else None,
                       "stop_field": event.field if event else "end of the run",
                       "sender_stopped_s": stopped_s})
        self.floods.append(record)
        try:
            sent = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            record["error"] = (f"the flood from {site} stopped without its report (exit "
                               f"{process.returncode}): {err.strip()[-300:] or 'no output'}")
            raise HermitError(record["error"]) from None
        record.update({"rate_mbps_achieved": sent["achieved_mbps"], "packets": sent["packets"],
                       "bytes": sent["bytes"], "seconds": sent["seconds"],
                       "send_errors": sent["errors"]})
        return {"rate_mbps_asked": record["rate_mbps_asked"],
                "rate_mbps_achieved": sent["achieved_mbps"], "packets": sent["packets"]}

    def stop_floods(self) -> None:
        """Stop the floods still running (the run is over); each is recorded in `floods` (with
        an `error` if its sender gave no report)."""
        for site in list(self.running_floods):
            # an error is kept in the flood's record; the run's own outcome stands
            with contextlib.suppress(HermitError):
                self._stop_flood(site, None)
