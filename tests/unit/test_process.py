"""The checked command runner: a failure is an error, never a log line."""

from __future__ import annotations

import pytest

from hermitnet.emulation.process import TRANSIENT_ERRORS, run_checked
from hermitnet.errors import HermitError


def _fake(out="", err="", code=0):
    calls = []

    def runner(argv, input_text):
        calls.append((argv, input_text))
        return out, err, code

    return runner, calls


def test_run_checked_passes_argv_and_input():
    runner, calls = _fake()
    run_checked(["nft", "-f", "-"], runner=runner, input_text="table inet x {}")
    assert calls == [(["nft", "-f", "-"], "table inet x {}")]


def test_run_checked_raises_on_exit_code():
    runner, _ = _fake(out="what went wrong", code=2)
    with pytest.raises(HermitError, match=r"command failed \(2\): tc qdisc .*what went wrong"):
        run_checked(["tc", "qdisc", "add"], runner=runner)


def test_run_checked_raises_on_error_output_even_with_exit_0():
    runner, _ = _fake(err="RTNETLINK answers: Invalid argument\n", code=0)
    with pytest.raises(HermitError, match="RTNETLINK answers"):
        run_checked(["tc", "qdisc", "add"], runner=runner)


def test_run_checked_ignores_whitespace_only_stderr():
    runner, _ = _fake(out="ok", err="\n  ", code=0)
    run_checked(["true"], runner=runner)


def test_run_checked_repeats_an_interrupted_dump_then_fails():
    runner, calls = _fake(err=TRANSIENT_ERRORS[0], code=2)
    with pytest.raises(HermitError, match="Dump was interrupted"):
        run_checked(["tc", "qdisc", "show"], runner=runner)
    assert len(calls) == 3


def test_run_checked_accepts_an_interrupted_dump_that_exited_0():
    runner, calls = _fake(err=TRANSIENT_ERRORS[0] + "\n", code=0)
    run_checked(["tc", "qdisc", "show"], runner=runner)
    assert len(calls) == 1


def test_run_checked_runs_a_real_command_here():
    run_checked(["true"])
    with pytest.raises(HermitError, match=r"command failed \(1\): false"):
        run_checked(["false"])
