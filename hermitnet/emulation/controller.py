"""The controller process: the tiered-routing Ryu app on 127.0.0.1, started and stopped per run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from hermitnet import shipped
from hermitnet.errors import HermitError

LAUNCHER = Path(sys.executable).with_name("hermitnet-ryu-manager")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ControllerProcess:
    """`hermitnet-ryu-manager` running the tiered-routing app (package data) for one run."""

    def __init__(self, config: dict, run_dir: Path, manifest):
        self.config_path = run_dir / "controller.json"
        self.log_path = run_dir / "controller.log"
        self.errors_path = run_dir / "controller-errors.jsonl"
        self.config = config
        self.manifest = manifest
        self.of_port = free_port()
        self.api_port = free_port()
        self.process: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        # The entry point, not `python -m hermitnet.ryu_compat`: the venv's .pth hook has
        # imported that module already, and runpy warns about running it a second time.
        return [str(LAUNCHER),
                "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", str(self.of_port),
                "--wsapi-host", "127.0.0.1", "--wsapi-port", str(self.api_port),
                str(shipped.controller_app())]

    def start(self) -> None:
        argv = self.argv()
        if not LAUNCHER.exists():
            raise HermitError(f"controller launcher not found at {LAUNCHER} (run: make setup)")
        config = {**self.config, "errors_path": str(self.errors_path)}
        self.config_path.write_text(json.dumps(config, indent=1))
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**_clean_env(), "HERMITNET_CONTROLLER_CONFIG": str(self.config_path)},
            start_new_session=True)
        log.close()
        self.manifest.add_process(self.process.pid, "controller")
        self._wait_listening(timeout_s=30)

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HermitError(f"the controller exited with code {self.process.returncode}; "
                                  f"see {self.log_path}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.of_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise HermitError(f"the controller did not listen on 127.0.0.1:{self.of_port} within "
                          f"{timeout_s:g} s; see {self.log_path}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def errors(self) -> list[dict]:
        """The exceptions the controller's handlers raised: [{time_s, where, error}]."""
        try:
            lines = self.errors_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [_error_record(line) for line in lines if line.strip()]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""


def _error_record(line: str) -> dict:
    try:
        return json.loads(line)
    except ValueError:     # cut short when the process was killed while writing it
        return {"time_s": 0.0, "where": "controller-errors.jsonl",
                "error": f"unreadable record: {line[:200]!r}"}


def _clean_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
