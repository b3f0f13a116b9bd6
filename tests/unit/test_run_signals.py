"""A run's teardown is never cut halfway: signals wait for it, then interrupt."""

from __future__ import annotations

import os
import signal

import pytest

from hermitnet import runner


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_during_teardown_waits_for_its_end(sig):
    done = []
    previous = signal.getsignal(sig)
    with pytest.raises(KeyboardInterrupt), runner._signals_deferred():
        os.kill(os.getpid(), sig)
        done.append("the rest of the teardown")
    assert done == ["the rest of the teardown"]
    assert signal.getsignal(sig) == previous


def test_no_signal_no_interrupt():
    with runner._signals_deferred():
        pass


def test_sigterm_is_ctrl_c_during_a_session():
    with pytest.raises(KeyboardInterrupt), runner._sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)   # the handler runs before kill() returns
        pytest.fail("SIGTERM did not interrupt")
