"""How a failed command reads on the terminal: one line naming what failed and the fix.

:func:`explain` words a failure the user can act on (the service refused the credentials, is
down, kept answering 429, refused a request; a bad manifest, a busy ledger...) as that line.
:func:`prefect_errors_held_back` keeps Prefect's own ERROR records of flow and task runs
("Encountered exception during execution" with its traceback, "Finished in state Failed") off
the terminal while a flow runs, and drops them when the run ends in such a failure, so the line
is the first thing the user reads. They still reach Prefect's records: Prefect sends run logs
to its API from a handler on the run loggers themselves, and prints them from a console handler
on the root logger, which is the only one held back. Any other outcome (success, or a failure
nobody expected) prints them as they came, before the traceback.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flows.chunking import first_error
from haut.errors import AuthError, HautError, RateLimitedError, TransientError
from haut.redaction import redact

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""The loggers of Prefect's flow and task runs (their records carry the run's name)."""

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def leaf(error: BaseException) -> BaseException:
    """``error`` itself, or the first error inside it if it is an exception group."""
    return first_error(error) if isinstance(error, BaseExceptionGroup) else error


def explain(
    error: BaseException,
    *,
    service: str,
    again: str,
    rate_fix: str = "HAUT_REQUESTS_PER_SECOND",
) -> str:
    """One line for ``error``: what failed and what to do.

    ``service`` names who was asked (its URL, or "the embedded emulator"); ``again`` says what
    running the command again does (e.g. "run the same ingest again: it resumes where this one
    stopped"); ``rate_fix`` names the settings that lower the request rate.
    """
    error = leaf(error)
    if not isinstance(error, HautError):
        return redact(str(error))
    said = _short(error)
    if isinstance(error, AuthError):
        return (
            f"{service} refused the login ({said}): check HAUT_USERNAME and "
            "HAUT_PASSWORD, or HAUT_API_TOKEN (and HAUT_COMPANY_ID), or the Prefect Secret block "
            f"named by HAUT_CREDENTIALS_BLOCK; then {again}"
        )
    if isinstance(error, RateLimitedError):
        return (
            f"{service} kept answering 429 Too Many Requests after every retry ({said}): lower "
            f"the request rate ({rate_fix}) or wait a few minutes; then {again}"
        )
    if isinstance(error, TransientError):
        return (
            f"{service} failed to answer ({said}): check that it is up and that --api-url "
            f"(HAUT_API_URL) points at it; then {again}"
        )
    return (
        f"{service} refused a request ({said}): fix what its answer names (an option, a "
        f"dataset, the account's rights); then {again}"
    )


def service_name(api_url: str | None) -> str:
    """Who a command asks, in words: the service at its URL, or the embedded emulator."""
    from tasks.service.settings import HautSettings

    try:
        url = api_url or HautSettings().service_url()
    except ValueError:  # settings the command refuses itself, with their fix
        url = api_url
    return f"the service at {redact(url)}" if url else "the embedded emulator"


def _short(error: HautError) -> str:
    """The client's message with the ids in its path cut: what was asked, and the answer."""
    return _ID.sub("<id>", str(error))


class _HeldBack(logging.Filter):
    """A console handler's filter that keeps back the ERROR records of Prefect's runs."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()  # task runs log from the engine's threads too

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not record.name.startswith(RUN_LOGGERS):
            return True
        with self._lock:
            self.records.append(record)
        return False


@contextmanager
def prefect_errors_held_back(expected: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Run the block with Prefect's run ERROR records kept off the terminal; drop them if it
    raises one of ``expected`` (the command then says what failed in its own line), else print
    them when it ends."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    consoles = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    held = {console: _HeldBack() for console in consoles}
    for console, records in held.items():
        console.addFilter(records)
    shown = True
    try:
        yield
    except BaseException as error:
        shown = not isinstance(leaf(error), expected)
        raise
    finally:
        for console, records in held.items():
            console.removeFilter(records)
            for record in records.records if shown else ():
                console.handle(record)
