"""A command stopped by Ctrl-C or SIGTERM stops like this: at once, its run recorded, one line.

Python stops on SIGTERM (``kill``, a scheduler, ``docker stop``, systemd) without running a
single ``finally``: the run's manifest would stay "running" until the next run on the ledger
marks it died, and the terminal would show nothing. :func:`stopped_by_signals` makes SIGTERM
raise :class:`KeyboardInterrupt` in the main thread, as Ctrl-C does, wherever the command is;
while a flow runs, Prefect's own handler raises its ``TerminationSignal`` instead. Either way a
coroutine unwinds (the flow writes its runs row as ``stopped``), a blocking wait is
interrupted. :func:`stopping` wraps a command's run: it then prints one line
(:func:`stopped_line`) and exits with :data:`EXIT_STOPPED`.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import typer

EXIT_STOPPED = 130
"""The exit code of a command stopped by a signal (the shell's 128 + SIGINT)."""


class _Received:
    name = "Ctrl-C"


def stop_signals() -> tuple[type[BaseException], ...]:
    """What a signal raises in a command's run: a KeyboardInterrupt, or Prefect's
    ``ExternalSignal`` (its ``TerminationSignal`` for SIGTERM) while a flow runs."""
    from prefect.exceptions import ExternalSignal

    return (KeyboardInterrupt, ExternalSignal)


@contextmanager
def stopped_by_signals() -> Iterator[_Received]:
    """Within the block, SIGTERM interrupts like Ctrl-C; yields what was received (its
    ``name``, for the message). Outside the main thread it changes nothing (Python delivers
    signals to the main thread only)."""
    received = _Received()
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        received.name = signal.Signals(signum).name
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, before)


def stopped_line(received: _Received, *, again: str) -> str:
    """What the terminal says of a command stopped by ``received``; ``again`` says what running
    it again does."""
    return f"stopped by {received.name}; what finished is kept: {again}"


@contextmanager
def stopping(command: str, *, again: str, json_output: bool = False) -> Iterator[None]:
    """Run ``hautflow COMMAND``'s work so that Ctrl-C or SIGTERM end it with one line on stderr
    (and ``{"status": "stopped"}`` on stdout for ``--json``), exit :data:`EXIT_STOPPED`."""
    with stopped_by_signals() as received:
        try:
            yield
        except stop_signals() as stop:
            number = getattr(stop, "signal", None)  # Prefect's TerminationSignal carries it
            if isinstance(number, int):
                received.name = signal.Signals(number).name
            line = stopped_line(received, again=again)
            typer.secho(f"hautflow {command}: {line}", err=True, fg="yellow")
            if json_output:
                typer.echo(json.dumps({"status": "stopped", "error": line}))
            raise typer.Exit(EXIT_STOPPED) from None
