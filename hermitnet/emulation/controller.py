"""The controller process: the tiered-routing Ryu app, started and stopped per run.

OpenFlow listens on 127.0.0.1 only (the run's switches are local), or for a run over several
machines on the first machine's address towards the others (of_host). The REST API listens on
127.0.0.1 unless the run asks for another address (`hermitnet run --api-host`); then a token is
generated for the run (secrets.token_urlsafe), written to API_TOKEN_NAME in the run folder
(mode 0600, root-only) and named in the controller's config, and every request must carry it
(`Authorization: Bearer TOKEN`), on every address the API listens on.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from hermitnet import shipped
from hermitnet.errors import HermitError

LAUNCHER = Path(sys.executable).with_name("hermitnet-ryu-manager")
LOOPBACK = "127.0.0.1"
API_TOKEN_NAME = "api-token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def write_token(path: Path) -> str:
    """A new token in a new file only its owner can read (created 0600, never widened)."""
    token = secrets.token_urlsafe(32)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ControllerProcess:
    """`hermitnet-ryu-manager` running the tiered-routing app (package data) for one run."""

    def __init__(self, config: dict, run_dir: Path, manifest, api_host: str = LOOPBACK,
                 of_host: str = LOOPBACK):
        self.config_path = run_dir / "controller.json"
        self.log_path = run_dir / "controller.log"
        self.errors_path = run_dir / "controller-errors.jsonl"
        self.config = config
        self.manifest = manifest
        self.api_host = api_host
        self.of_host = of_host    # OpenFlow: loopback, or a cluster run's address to its machines
        # a token whenever the API listens beyond loopback
        self.token_path = None if is_loopback(api_host) else run_dir / API_TOKEN_NAME
        self.of_port = free_port()
        self.api_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        """Where a client on this machine reaches the API."""
        host = {"0.0.0.0": LOOPBACK, "::": "::1"}.get(self.api_host, self.api_host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"

    def argv(self) -> list[str]:
        # The entry point, not `python -m hermitnet.ryu_compat`: the venv's .pth hook has
        # imported that module already, and runpy warns about running it a second time.
        return [str(LAUNCHER),
                "--ofp-listen-host", self.of_host, "--ofp-tcp-listen-port", str(self.of_port),
                "--wsapi-host", self.api_host, "--wsapi-port", str(self.api_port),
                str(shipped.controller_app())]

    def start(self) -> None:
        argv = self.argv()
        if not LAUNCHER.exists():
            raise HermitError(f"controller launcher not found at {LAUNCHER} (run: make setup)")
        self.write_config()
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**_clean_env(), "HERMITNET_CONTROLLER_CONFIG": str(self.config_path)},
            start_new_session=True)
        log.close()
        self.manifest.add_process(self.process.pid, "controller")
        self._wait_listening(timeout_s=30)

    def write_config(self) -> None:
        """The app's config (and, when the API listens beyond loopback, a new token)."""
        config = {**self.config, "errors_path": str(self.errors_path)}
        if self.token_path is not None:
            write_token(self.token_path)
            config["api_token_path"] = str(self.token_path)
        self.config_path.write_text(json.dumps(config, indent=1))

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HermitError(f"the controller exited with code {self.process.returncode}; "
                                  f"see {self.log_path}:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.of_host, self.of_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise HermitError(f"the controller did not listen on {self.of_host}:{self.of_port} within "
                          f"{timeout_s:g} s; see {self.log_path}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, timeout_s: float = 5) -> int | None:
        """SIGKILL, as a crash would end it (no goodbye to the switches); returns its exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.kill()
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.token_path is not None:
            self.token_path.unlink(missing_ok=True)     # the run's token dies with it
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
