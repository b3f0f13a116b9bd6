"""Boot a throwaway lab VM under QEMU, talk to it over SSH on 127.0.0.1, always power it off.

`with LabVM(image) as vm:` boots a copy-on-write overlay of the cached image and waits for SSH;
leaving the block (normally, on an exception, on Ctrl-C) powers the guest off, waits for QEMU to
exit (killing it after a timeout) and removes the overlay and every other run file. QEMU is also
told by the kernel to stop if this process dies (PR_SET_PDEATHSIG), so it never outlives us.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import IO

from labvm import LOG_PREFIX
from labvm.image import Image, cache_root

GUEST_REPO = "/root/hermitnet"
# Every remote command runs with these: no locale warnings, no debconf prompts, live output.
REMOTE_ENV = "export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1; "


class VMError(RuntimeError):
    """The VM failed to boot or a command in it failed; the message says which and why."""


def _log(msg: str) -> None:
    print(f"{LOG_PREFIX} {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (QEMU binds it a moment later; we retry on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def remove_stale_runs(runs: Path) -> None:
    """Remove run folders (named PID-TIME) whose harness process is gone (killed with -9)."""
    for entry in runs.iterdir():
        pid = entry.name.split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _log(f"vm: removing the run folder of a dead harness: {entry}")
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            pass  # someone else's live process


class LabVM:
    """One running lab VM. Use as a context manager."""

    def __init__(
        self,
        image: Image,
        memory_mb: int = 2048,
        cpus: int = 2,
        boot_timeout: float = 600.0,
        log_dir: Path | None = None,
    ) -> None:
        self.image = image
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.boot_timeout = boot_timeout
        self.log_dir = log_dir
        self.run_dir: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LabVM:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _qemu_cmd(self, overlay: Path, port: int) -> list[str]:
        assert self.run_dir is not None
        return [
            "qemu-system-x86_64",
            "-name", "hermitnet-labvm",
            # /dev/kvm does not accelerate ordinary kernels on this machine kind: use TCG.
            "-accel", "tcg,thread=multi",
            "-smp", str(self.cpus), "-cpu", "max", "-m", str(self.memory_mb),
            "-display", "none", "-vga", "none",
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
            "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1",
            # The overlay is thrown away, so host-side write caching is safe and faster.
            "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-rng-pci",
            "-serial", f"file:{self.run_dir / 'serial.log'}",
            "-monitor", "none",
            "-qmp", f"unix:{self.run_dir / 'qmp.sock'},server=on,wait=off",
            "-no-reboot",
        ]

    def start(self) -> None:
        runs = cache_root() / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        remove_stale_runs(runs)
        self.run_dir = runs / f"{os.getpid()}-{int(time.time())}"
        self.run_dir.mkdir()
        overlay = self.run_dir / "overlay.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
             "-b", str(self.image.disk), str(overlay)],
            check=True,
        )
        for attempt in range(3):
            self.port = free_port()
            qemu_log = open(self.run_dir / "qemu.log", "w")  # noqa: SIM115 - closed with proc
            self.proc = subprocess.Popen(
                self._qemu_cmd(overlay, self.port),
                stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # Ctrl-C reaches us, not QEMU: we power off in order
            )
            qemu_log.close()
            time.sleep(1.5)
            if self.proc.poll() is None:
                break
            log = tail(self.run_dir / "qemu.log")
            if "hostfwd" in log and attempt < 2:
                continue  # lost the race for the port: pick another
            raise VMError(f"QEMU exited at once (exit {self.proc.returncode}):\n{log}")
        _log(f"vm: QEMU pid {self.proc.pid}, SSH on 127.0.0.1:{self.port}, run dir {self.run_dir}")
        self._wait_for_ssh()

    def _wait_for_ssh(self) -> None:
        assert self.proc is not None and self.run_dir is not None
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise VMError(
                    f"QEMU exited during boot (exit {self.proc.returncode}); serial console:\n"
                    + tail(self.run_dir / "serial.log")
                )
            probe = subprocess.run(
                [*self.ssh_base(connect_timeout=5), "true"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(2)
        raise VMError(
            f"no SSH on 127.0.0.1:{self.port} after {self.boot_timeout:.0f} s; serial console:\n"
            + tail(self.run_dir / "serial.log")
        )

    def stop(self) -> None:
        """Power off (ssh, then ACPI, then kill), then remove the run files. Safe to call twice."""
        # A second Ctrl-C during shutdown must not leave QEMU or files behind.
        old = signal.getsignal(signal.SIGINT)
        with contextlib.suppress(ValueError):  # not in the main thread
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._power_off()
        finally:
            self._save_logs()
            if self.run_dir is not None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
                self.run_dir = None
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGINT, old)

    def _power_off(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        started = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run(
                [*self.ssh_base(connect_timeout=10), "systemctl poweroff"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False,
            )
        if self._wait_exit(90):
            _log(f"vm: powered off in {time.monotonic() - started:.0f} s")
            return
        _log("vm: no clean poweroff over SSH; sending ACPI power button")
        self._qmp("system_powerdown")
        if self._wait_exit(30):
            return
        _log("vm: still running; stopping QEMU")
        proc.terminate()
        if not self._wait_exit(10):
            proc.kill()
            proc.wait()

    def _wait_exit(self, seconds: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _qmp(self, command: str) -> None:
        if self.run_dir is None:
            return
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.run_dir / "qmp.sock"))
            sock.recv(4096)  # greeting
            for cmd in ("qmp_capabilities", command):
                sock.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
                sock.recv(4096)

    def _save_logs(self) -> None:
        if self.log_dir is None or self.run_dir is None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in ("serial.log", "qemu.log"):
            with contextlib.suppress(OSError):
                shutil.copyfile(self.run_dir / name, self.log_dir / name)

    # --- talking to the guest ---------------------------------------------------------------

    def ssh_base(self, connect_timeout: int = 10) -> list[str]:
        return [
            "ssh", "-F", "none",  # no user/system config: no SendEnv, no surprises
            "-i", str(self.image.ssh_key), "-p", str(self.port),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={connect_timeout}",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=8",
            "root@127.0.0.1",
        ]

    def run(
        self,
        command: str,
        timeout: float,
        log: Path | None = None,
        echo: bool = True,
        stdin: IO[bytes] | None = None,
    ) -> tuple[int, str]:
        """Run a shell command as root in the guest. Returns (exit code, output).

        Output goes to `log` (if given) and, when `echo`, to stderr line by line. On timeout the
        ssh client is killed and VMError raised.
        """
        proc = subprocess.Popen(
            [*self.ssh_base(), REMOTE_ENV + command],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        chunks: list[str] = []
        log_fh = open(log, "a") if log else None  # noqa: SIM115 - closed below
        started = time.monotonic()

        def pump() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                chunks.append(line)
                # Seconds since the command started: shows where the time goes under emulation.
                stamped = f"[{time.monotonic() - started:6.0f}s] {line}"
                if log_fh:
                    log_fh.write(stamped)
                    log_fh.flush()
                if echo:
                    sys.stderr.write("    " + stamped)
                    sys.stderr.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise VMError(f"timed out after {timeout:.0f} s in the VM: {command}") from exc
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            reader.join(timeout=10)
            if log_fh:
                log_fh.close()
        return proc.returncode, "".join(chunks)

    def check(self, command: str, timeout: float, what: str, **kwargs) -> str:
        code, out = self.run(command, timeout, **kwargs)
        if code != 0:
            last = "\n".join(out.splitlines()[-30:])
            raise VMError(f"{what} failed in the VM (exit {code}): {command}\n{last}")
        return out

    def copy_in(self, root: Path, files: list[str], dest: str, timeout: float = 300) -> None:
        """Send `files` (paths relative to `root`) to `dest` in the guest, as a tar over SSH."""
        proc = subprocess.Popen(
            [*self.ssh_base(), f"rm -rf {dest} && mkdir -p {dest} && tar -x -C {dest}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        assert proc.stdin is not None
        try:
            with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
                for rel in files:
                    tar.add(root / rel, arcname=rel, recursive=False)
            out, _ = proc.communicate(timeout=timeout)  # closes stdin: tar sees the end
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode != 0:
            raise VMError(f"copying the repository into the VM failed: {out.decode()[-2000:]}")

    def fetch(self, remote: str, timeout: float = 120) -> bytes:
        result = subprocess.run(
            [*self.ssh_base(), f"cat {remote}"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False,
        )
        if result.returncode != 0:
            raise VMError(f"cannot read {remote} in the VM: {result.stderr.decode()[-1000:]}")
        return result.stdout
