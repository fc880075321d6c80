"""Around a command's flow run: which Prefect server it talks to, and what of Prefect's own
console lines the user sees.

:func:`prefect_session` is entered before Prefect is imported (Prefect reads its settings then):
it sets ``PREFECT_API_URL`` to hautflow's local server (:mod:`hautflow.prefect_server`) unless
the user configured one or asked for Prefect's temporary server, and holds a lease on it for
the run. From then on, Prefect's console handler shows only the runs' own warnings and
errors (the flow's "run had died", a failed task): Prefect's start-up lines, its run-state
lines and its internal warnings ("EventsWorker - Still processing items") reach the terminal
with ``--verbose`` only. Prefect's records still reach its API: only the console is filtered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""The loggers of flow and task runs: what the flow itself logs goes there."""

_verbose = False


def set_verbose(verbose: bool) -> None:
    """``hautflow --verbose``: Prefect's own lines are shown as Prefect prints them."""
    global _verbose
    _verbose = verbose or os.environ.get("HAUTFLOW_VERBOSE", "") not in ("", "0", "false")


def verbose() -> bool:
    return _verbose


class QuietPrefect(logging.Filter):
    """Lets through the runs' warnings and errors and anything not Prefect's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("prefect"):
            return True
        return record.name.startswith(RUN_LOGGERS) and record.levelno >= logging.WARNING


def quiet_prefect_console() -> None:
    """From now on, Prefect's console handlers print only what :class:`QuietPrefect` lets
    through (everything with ``--verbose``). For the rest of the process: Prefect logs its
    last warnings as the process exits ("Still processing items")."""
    if _verbose:
        return
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    for name in (None, "uvicorn", "fastapi"):
        for handler in logging.getLogger(name).handlers:
            quiet = isinstance(handler, PrefectConsoleHandler)
            if quiet and not any(isinstance(f, QuietPrefect) for f in handler.filters):
                handler.addFilter(QuietPrefect())


@contextmanager
def prefect_session() -> Iterator[None]:
    """Run a command's flows within: the Prefect server chosen and held (before Prefect is
    imported), its console lines quiet unless ``--verbose``."""
    import typer

    from hautflow.prefect_server import ServerError, server_lease

    with ExitStack() as stack:
        try:
            stack.enter_context(server_lease())
        except ServerError as exc:
            typer.secho(f"hautflow: {exc}", err=True, fg="red")
            raise typer.Exit(2) from None
        quiet_prefect_console()
        yield
