"""Running the commands that build and shape the emulation: checked, never merely logged."""

from __future__ import annotations

import subprocess
import time

from hermitnet.errors import HermitError

# Said by iproute2 when another process changed the kernel's tables during its netlink dump (other
# runs or users on the machine). With exit code 0 the command itself worked; otherwise it is
# repeated (all shaping commands may run twice, except "replace" of an HTB root, which exits 0).
TRANSIENT_ERRORS = ("Dump was interrupted and may be inconsistent.",)
ATTEMPTS = 3


def run_checked(argv: list[str], *, runner=None, input_text: str | None = None,
                where: str = "") -> None:
    """Run one command; any non-zero exit or error output is a failure, never a log line.

    `runner(argv, input_text) -> (stdout, stderr, exit code)` runs it elsewhere (in a host).
    """
    runner = runner or _run_here
    for attempt in range(1, ATTEMPTS + 1):
        out, err, code = runner(argv, input_text)
        transient = err.strip() in TRANSIENT_ERRORS
        if code == 0 and (not err.strip() or transient):
            return
        if transient and attempt < ATTEMPTS:
            time.sleep(0.05 * attempt)
            continue
        detail = err.strip() or out.strip()
        place = f" {where}" if where else ""
        raise HermitError(f"command failed ({code}): {' '.join(argv)}{place}: {detail}")


def _run_here(argv: list[str], input_text: str | None) -> tuple[str, str, int]:
    done = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=30)
    return done.stdout, done.stderr, done.returncode
