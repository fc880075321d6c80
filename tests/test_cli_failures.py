"""Failures of commands that run no flow, read as one line with the fix and exit code 2:
``compact`` of a table that does not exist, ``history`` of a lake that does not exist; a ledger
password typed on the command line is warned about; ``--version``; the words of a service
failure; Prefect's run errors held back from the terminal only for failures the user fixes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import version
from io import StringIO
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from haut.errors import AuthError, RateLimitedError, RequestRefusedError, TransientError
from hautflow.cli import app
from hautflow.failures import explain, prefect_errors_held_back

LEDGER_PASSWORD = "ledger-pw-5521"
LEDGER_URL = f"postgresql+psycopg://hautflow:{LEDGER_PASSWORD}@127.0.0.1:9/ledger"


def hautflow(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})


def one_line(result: Result, command: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"hautflow {command}: "), line
    return line


def test_compact_of_a_table_that_does_not_exist_names_the_tables(tmp_path: Path) -> None:
    line = one_line(hautflow("compact", "--lake", tmp_path / "lake", "--table", "nope"), "compact")
    assert "--table 'nope' is no lake table" in line
    assert "images" in line
    assert "metrics" in line
    assert "leave --table out" in line


def test_history_of_a_lake_that_does_not_exist_says_so(tmp_path: Path) -> None:
    lake = tmp_path / "no-lake-here"
    line = one_line(hautflow("history", "alice", "--lake", lake), "history")
    assert f"no lake at {lake}" in line
    assert "hautflow ingest" in line
    assert not lake.exists()


def test_version_prints_the_installed_package_version() -> None:
    shown = hautflow("--version")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == f"hautflow {version('hautflow')}"


@pytest.fixture
def no_ledger_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAUTFLOW_LEDGER_URL", raising=False)


# Each stops at once on another option, after the warning: no ledger or service is reached.
COMMANDS_WITH_A_LEDGER = [
    ["ingest", "no-such-folder"],
    ["backfill", "--since", "yesterday"],
    ["applications", "algorithms", "ds", "--set", "thirty"],
]


@pytest.mark.usefixtures("no_ledger_url")
@pytest.mark.parametrize("command", COMMANDS_WITH_A_LEDGER, ids=lambda c: c[0])
def test_a_ledger_password_on_the_command_line_is_warned_about(
    command: list[str], tmp_path: Path
) -> None:
    typed = hautflow(*command, "--state", tmp_path / "state", "--ledger-url", LEDGER_URL)
    assert typed.exit_code == 2, typed.output
    assert "--ledger-url holds a password" in typed.stderr
    assert "`ps`" in typed.stderr
    assert "HAUTFLOW_LEDGER_URL" in typed.stderr
    assert LEDGER_PASSWORD not in typed.output

    from_environment = hautflow(
        *command, "--state", tmp_path / "state", env={"HAUTFLOW_LEDGER_URL": LEDGER_URL}
    )
    assert from_environment.exit_code == 2, from_environment.output
    assert "holds a password" not in from_environment.stderr

    no_password = hautflow(*command, "--ledger-url", "postgresql+psycopg://me@db.internal/l")
    assert "holds a password" not in no_password.stderr


# --- the words --------------------------------------------------------------------------------


AGAIN = "run the same ingest again"
SERVICE = "the service at http://127.0.0.1:9"
IMAGE_PATH = "/api/v1/companies/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/datasets/"


@pytest.mark.parametrize(
    ("error", "says", "fix"),
    [
        (
            AuthError("not authorised", method="GET", path=IMAGE_PATH, status=401),
            "refused the login",
            "HAUT_USERNAME and HAUT_PASSWORD, or HAUT_API_TOKEN",
        ),
        (
            RateLimitedError("rate limited", method="POST", path=IMAGE_PATH, status=429),
            "kept answering 429",
            "lower the request rate (HAUT_REQUESTS_PER_SECOND)",
        ),
        (
            TransientError("ConnectError, request not sent", method="GET", path=IMAGE_PATH),
            "failed to answer (ConnectError, request not sent",
            "check that it is up and that --api-url (HAUT_API_URL) points at it",
        ),
        (
            RequestRefusedError("request refused", method="POST", path=IMAGE_PATH, status=400),
            "refused a request",
            "fix what its answer names",
        ),
    ],
    ids=["auth", "429", "down", "refused"],
)
def test_a_service_failure_is_one_line_naming_the_fix(
    error: Exception, says: str, fix: str
) -> None:
    line = explain(ExceptionGroup("chunks", [error]), service=SERVICE, again=AGAIN)
    assert line.startswith(f"{SERVICE} {says}"), line
    assert fix in line
    assert line.endswith(AGAIN)
    assert "/companies/<id>/datasets/" in line  # the path says what was asked, ids cut
    assert "\n" not in line


# --- Prefect's run errors on the terminal -----------------------------------------------------


@pytest.fixture
def terminal() -> Iterator[StringIO]:
    """A Prefect console handler on the root logger, printing here."""
    from prefect.logging.handlers import PrefectConsoleHandler

    printed = StringIO()
    handler = PrefectConsoleHandler(stream=printed)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield printed
    finally:
        root.removeHandler(handler)


def log_a_failed_run(error: Exception) -> None:
    """What Prefect logs when a flow run fails (kept off its API: no run here)."""
    run_logger = logging.getLogger("prefect.flow_runs")
    run_logger.error(
        "Encountered exception during execution: %r",
        error,
        exc_info=error,
        extra={"send_to_api": False},
    )
    logging.getLogger("prefect.flow_runs").warning("a warning", extra={"send_to_api": False})
    raise error


def test_prefect_run_errors_are_dropped_for_a_failure_the_user_fixes(terminal: StringIO) -> None:
    with pytest.raises(AuthError), prefect_errors_held_back((AuthError,)):
        log_a_failed_run(AuthError("not authorised", status=401))
    assert "Encountered exception" not in terminal.getvalue()
    assert "a warning" in terminal.getvalue()  # only errors are held back


def test_prefect_run_errors_are_shown_for_any_other_failure(terminal: StringIO) -> None:
    with pytest.raises(KeyError), prefect_errors_held_back((AuthError,)):
        log_a_failed_run(KeyError("a bug"))
    shown = terminal.getvalue()
    assert shown.count("Encountered exception during execution: KeyError('a bug')") == 1
    assert "KeyError: 'a bug'" in shown  # with the exception, as Prefect printed it
