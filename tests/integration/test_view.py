"""The live view in headless Chromium: a held baseline run with --view, a live policy change seen
on the page, a screenshot, and nothing left behind when the run ends.

Chromium is driven over the DevTools protocol (its WebSocket), with the small client below.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RUN_UP_TIMEOUT_S = 300


class DevTools:
    """A DevTools-protocol client over one WebSocket (RFC 6455, client side, stdlib only)."""

    def __init__(self, ws_url: str):
        found = re.match(r"ws://([^:/]+):(\d+)(/.*)", ws_url)
        host, port, path = found.group(1), int(found.group(2)), found.group(3)
        self.sock = socket.create_connection((host, port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(4096)
        head, self.buffer = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.next_id = 0

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _message(self) -> dict:
        payload = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload += self._read(length)
            if first & 0x80:  # FIN
                return json.loads(payload)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        data = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        while True:
            message = self._message()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self.sock.close()


def _lines(process) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, pattern: str, timeout_s: float) -> re.Match:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"the run ended before printing {pattern!r}")
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"nothing matched {pattern!r} within {timeout_s:g} s")


def _poll(devtools: DevTools, expression: str, timeout_s: float = 20):
    """Evaluate until the result is truthy; returns (value, seconds waited)."""
    started = time.monotonic()
    while True:
        value = devtools.evaluate(expression)
        if value or time.monotonic() - started > timeout_s:
            return value, time.monotonic() - started
        time.sleep(0.1)


@pytest.fixture
def chromium(tmp_path):
    if CHROMIUM is None:
        pytest.skip("needs Chromium for the headless page test (apt-get install chromium)")
    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=1600,900", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        browser_ws = None
        for line in process.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                browser_ws = found.group(1)
                break
        assert browser_ws, "Chromium did not print its DevTools address"
        threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()
        port = int(re.match(r"ws://[^:]+:(\d+)", browser_ws).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            page = next(t for t in json.loads(answer.read()) if t["type"] == "page")
        devtools = DevTools(page["webSocketDebuggerUrl"])
        devtools.call("Emulation.setDeviceMetricsOverride", width=1600, height=900,
                      deviceScaleFactor=1, mobile=False)
        yield devtools
        devtools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_page_shows_a_policy_change_of_a_held_run(chromium, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "run", "baseline", "--hold", "--view",
         "--out", str(out)],
        cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        lines = _lines(run)
        url = _wait_for(lines, r"live view (http://127\.0\.0\.1:\d+/)", RUN_UP_TIMEOUT_S).group(1)
        chromium.call("Page.navigate", url=url)
        status, _ = _poll(chromium, "document.getElementById('status')?.textContent == 'live'")
        assert status, "the page never received a snapshot"
        # The whole plan is drawn, from phones to the global zone's sites.
        topology = json.loads(urllib.request.urlopen(url + "topology", timeout=10).read())
        assert chromium.evaluate("cy.nodes().length") == len(topology["nodes"])
        # The measurements run with the view open; wait for the hold.
        api = _wait_for(lines, r"controller API (http://127\.0\.0\.1:\d+)",
                        RUN_UP_TIMEOUT_S).group(1)
        _wait_for(lines, r"press Enter", 60)
        shown, _ = _poll(chromium, "document.getElementById('blocklist').innerText")
        assert shown.strip() == "empty"
        counters, _ = _poll(chromium,
                            "document.querySelectorAll('#counters tbody tr').length >= 4")
        assert counters, "the counters table never filled"
        assert "elite" in chromium.evaluate("document.getElementById('counters').innerText")

        asked = time.monotonic()
        block = subprocess.run(
            [sys.executable, "-m", "hermitnet.cli", "policy", "--api", api, "block", "video",
             "--reason", "live view test"],
            env=env, capture_output=True, text=True, timeout=60)
        assert block.returncode == 0, block.stderr
        changed = time.monotonic()
        seen, waited = _poll(chromium, "document.getElementById('blocklist').innerText"
                             ".includes('video: blocked')", timeout_s=30)
        delay = time.monotonic() - changed
        assert seen, chromium.evaluate("document.getElementById('blocklist').innerText")
        assert chromium.evaluate("viewErrors") == []
        print(f"\npolicy change shown on the page {delay:.2f} s after `hermitnet policy block` "
              f"returned ({time.monotonic() - asked - delay:.2f} s in the command, which waits "
              "for every switch's barrier)")
        assert chromium.evaluate("cy.getElementById('video').hasClass('blocked')")

        shot = chromium.call("Page.captureScreenshot", format="png")
        screenshot = out / "live-view.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {screenshot}")
        if os.environ.get("HERMITNET_VIEW_SCREENSHOT"):
            shutil.copy(screenshot, os.environ["HERMITNET_VIEW_SCREENSHOT"])

        run.stdin.close()  # end of input ends the hold
        assert run.wait(timeout=300) == 0
        ended, _ = _poll(chromium, "document.getElementById('status').textContent != 'live'")
        assert ended, "the page still says live after the run ended"
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(timeout=60)
    run_id = json.loads((out / "results.json").read_text())["run_id"]
    assert leftovers(run_id) == []
    listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    assert f":{url.rsplit(':', 1)[1].strip('/')} " not in listening


def test_the_page_follows_the_radio_timeline_and_shows_leakage(chromium, tmp_path):
    """The border scenario: radio attachments change on the page during the timeline, and the
    smuggled handset's traffic over the foreign cell appears as leakage events."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "run", "border", "--view", "--out", str(out)],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        lines = _lines(run)
        url = _wait_for(lines, r"live view (http://127\.0\.0\.1:\d+/)", RUN_UP_TIMEOUT_S).group(1)
        chromium.call("Page.navigate", url=url)
        status, _ = _poll(chromium, "document.getElementById('status')?.textContent == 'live'")
        assert status, "the page never received a snapshot"
        assert chromium.evaluate("cy.nodes('.foreign-cell').length") == 3
        labels = ("JSON.stringify(cy.nodes('.mobile, .foreign-handset')"
                  ".map((n) => n.data('label')))")
        before = chromium.evaluate(labels)
        assert "no service" in before or "Mbit/s" in before
        _wait_for(lines, r"timeline: ", RUN_UP_TIMEOUT_S)
        phase, _ = _poll(chromium, "document.getElementById('phase').textContent"
                         ".startsWith('radio timeline')", timeout_s=30)
        assert phase
        assert chromium.evaluate("cy.edges('.radio').length") > 0
        changed, waited = _poll(chromium, f"{labels} != {json.dumps(before)}", timeout_s=70)
        assert changed, f"no phone's radio attachment changed on the page: {before}"
        print(f"\nfirst attachment change shown {waited:.1f} s into the timeline wait")
        leak, waited = _poll(chromium, "document.getElementById('leak-events').innerText"
                             ".includes('via foreign-cell')", timeout_s=70)
        assert leak, chromium.evaluate("document.getElementById('leakage').innerText")
        print("leakage events on the page:\n"
              + chromium.evaluate("document.getElementById('leak-events').innerText")[:600])
        shot = chromium.call("Page.captureScreenshot", format="png")
        (out / "live-view-timeline.png").write_bytes(base64.b64decode(shot["data"]))
        if os.environ.get("HERMITNET_VIEW_SCREENSHOT"):
            target = Path(os.environ["HERMITNET_VIEW_SCREENSHOT"])
            shutil.copy(out / "live-view-timeline.png",
                        target.with_name(target.stem + "-timeline.png"))
        assert chromium.evaluate("viewErrors") == []
        assert run.wait(timeout=300) == 0
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(timeout=60)
    run_id = json.loads((out / "results.json").read_text())["run_id"]
    assert leftovers(run_id) == []
