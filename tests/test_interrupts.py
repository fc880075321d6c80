"""SIGTERM stops a command as Ctrl-C does: a KeyboardInterrupt in the main thread, wherever it
waits, and the handler that was there before comes back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from hautflow.interrupts import stopped_by_signals, stopped_line


def _terminate_soon() -> threading.Timer:
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


def test_sigterm_interrupts_a_blocking_wait_and_is_named() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stopped_by_signals() as received:
        _terminate_soon()
        with pytest.raises(KeyboardInterrupt):
            threading.Event().wait(30)  # what a stalled read or a long poll looks like
    assert received.name == "SIGTERM"
    assert "stopped by SIGTERM" in stopped_line(received, again="run it again")
    assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_is_named_as_such() -> None:
    with stopped_by_signals() as received, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert stopped_line(received, again="run it again").startswith("stopped by Ctrl-C")
