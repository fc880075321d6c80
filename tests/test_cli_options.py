"""Options of ``hautflow ingest``, ``compact`` and ``emulator`` that are refused or reach their
target before any flow runs: webhook flags, the webhook's authorization, a missing folder, the
client's limits, the compaction line, the emulator's faults and state, Prefect's telemetry."""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from flows.ingest import _waiter_options
from flows.options import IngestOptions
from haut.emulator.config import EmulatorConfig
from haut.emulator.server import EmulatorServer
from hautflow.cli import app
from tasks.discovery.discover import READ_TIMEOUT
from tasks.lake import Lake, flatten_image
from tasks.service.settings import ConfigurationError, HautSettings
from tasks.waiting import WebhookAuthScheme, WebhookWaiter, make_waiter
from tasks.waiting.receiver import MAX_FIELD_LENGTH
from tests.tasks.lake_support import capture_rows, uploaded_image

REPO = Path(__file__).resolve().parents[1]
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing here may reach a service


def hautflow(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})


# --- webhook flags and options ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait", "flags"),
    [
        ("poll", ["--webhook-url", "http://127.0.0.1:8/hook/"]),
        ("websocket", ["--webhook-port", "8123", "--webhook-auth", "basic"]),
        ("poll", ["--webhook-auth-key", "me"]),
    ],
)
def test_webhook_flags_without_wait_webhook_are_refused_up_front(
    wait: str, flags: list[str], tmp_path: Path
) -> None:
    refused = hautflow(
        "ingest", tmp_path, "--state", tmp_path / "state", "--api-url", NOWHERE, "--wait", wait,
        *flags,
    )  # fmt: skip
    assert refused.exit_code == 2, refused.output
    for flag in flags[::2]:
        assert flag in refused.output
    assert "--wait webhook" in refused.output
    assert not (tmp_path / "state").exists()


def test_deployment_options_are_checked_against_the_waiter() -> None:
    with pytest.raises(ValidationError, match=r"host do not apply to wait='poll'.*webhook"):
        IngestOptions(source="photos", wait="poll", wait_options={"host": "0.0.0.0"})  # noqa: S104
    with pytest.raises(ValidationError, match=r"url do not apply.*public_url"):
        IngestOptions(source="photos", wait="webhook", wait_options={"url": "http://a/"})
    with pytest.raises(ValidationError, match="only to wait='webhook'"):
        IngestOptions(source="photos", wait="websocket", webhook_auth="query")
    with pytest.raises(ValidationError, match="bearer token has none"):
        IngestOptions(source="photos", wait="webhook", webhook_auth="bearer", webhook_auth_key="k")
    fine = IngestOptions(
        source="photos",
        wait="webhook",
        wait_options={"host": "127.0.0.1", "port": 0, "public_url": "http://h/hook/"},
        webhook_auth="query",
    )
    waiter = make_waiter(fine.wait, **_waiter_options(fine, HautSettings()))
    assert isinstance(waiter, WebhookWaiter)
    assert waiter.public_url == "http://h/hook/"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_the_webhook_secret_comes_from_the_environment_and_stays_out_of_the_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "hook-secret-from-env-4711"
    monkeypatch.setenv("HAUT_WEBHOOK_SECRET", secret)
    options = IngestOptions(
        source="photos", wait="webhook", webhook_auth="basic", webhook_auth_key="hook-user"
    )
    waiter = make_waiter(options.wait, **_waiter_options(options, HautSettings()))
    assert isinstance(waiter, WebhookWaiter)
    auth = waiter.authorization
    assert auth.scheme is WebhookAuthScheme.BASIC
    assert auth.accepts(_basic("hook-user", secret), {})
    assert not auth.accepts(_basic("hook-user", "guess"), {})
    assert secret not in json.dumps(options.public()) + options.model_dump_json() + repr(waiter)

    monkeypatch.delenv("HAUT_WEBHOOK_SECRET")
    query = options.model_copy(update={"webhook_auth": "query", "webhook_auth_key": "k"})
    first, second = (_waiter_options(query, HautSettings())["authorization"] for _ in range(2))
    assert first.scheme is WebhookAuthScheme.QUERY
    assert first.key == "k"
    assert first.value.get_secret_value() != second.value.get_secret_value()  # random per run

    monkeypatch.setenv("HAUT_WEBHOOK_SECRET", "x" * 129)
    with pytest.raises(ConfigurationError, match="HAUT_WEBHOOK_SECRET"):
        _waiter_options(options, HautSettings())


def test_the_read_timeout_default_is_discoverys() -> None:
    """flows/options.py copies discovery's default (importing it slows ``hautflow --help``)."""
    assert IngestOptions(source="photos").read_timeout == READ_TIMEOUT


def test_the_webhook_key_limit_is_the_receivers() -> None:
    """flows/options.py copies the receiver's limit (importing it slows ``hautflow --help``)."""
    key = "k" * MAX_FIELD_LENGTH
    options = IngestOptions(
        source="photos", wait="webhook", webhook_auth="basic", webhook_auth_key=key
    )
    assert options.webhook_auth_key == key
    with pytest.raises(ValidationError, match="webhook_auth_key"):
        IngestOptions(
            source="photos", wait="webhook", webhook_auth="basic", webhook_auth_key=key + "k"
        )


# --- a missing folder -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_a_missing_local_folder_is_refused_before_the_flow_starts(
    scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flow_started(*args: Any) -> None:
        raise AssertionError("the flow was started for a folder that does not exist")

    monkeypatch.setattr("hautflow.ingest_cli.run_ingest", flow_started)
    missing = tmp_path / "no-such-folder"
    refused = hautflow("ingest", f"{scheme}{missing}", "--api-url", NOWHERE)
    assert refused.exit_code == 2, refused.output
    assert f"{missing} does not exist" in refused.output
    assert "Traceback" not in refused.output

    a_file = tmp_path / "photo.jpg"
    a_file.write_bytes(b"not a folder")
    refused = hautflow("ingest", a_file, "--api-url", NOWHERE)
    assert refused.exit_code == 2, refused.output
    assert "is a file" in refused.output


# --- the client's limits -------------------------------------------------------------------


def test_requests_in_flight_reaches_the_run_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[IngestOptions] = []

    def run_ingest(options: IngestOptions) -> None:
        received.append(options)
        raise typer.Exit(0)  # the run itself is the flow tests' business

    monkeypatch.setattr("hautflow.ingest_cli.run_ingest", run_ingest)
    started = hautflow(
        "ingest", tmp_path, "--api-url", NOWHERE, "--requests-in-flight", "3",
        "--requests-per-second", "5", "--concurrency", "2",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    [options] = received
    assert (options.requests_in_flight, options.requests_per_second, options.concurrency) == (
        3, 5.0, 2,
    )  # fmt: skip

    refused = hautflow("ingest", tmp_path, "--api-url", NOWHERE, "--requests-in-flight", "0")
    assert refused.exit_code == 2, refused.output
    assert "--requests-in-flight" in refused.output
    assert len(received) == 1
    with pytest.raises(ValidationError, match="max_connections"):  # the old name is gone
        IngestOptions.model_validate({"source": "photos", "max_connections": 4})


# --- compact --------------------------------------------------------------------------------


def test_compact_says_what_it_merged(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    image = uploaded_image()
    for status in ("pending", "complete"):
        rows = flatten_image(
            image, capture_rows(image.image_id), [], run_id=f"run-{status}", status=status
        )
        lake.write(rows, run_id=f"run-{status}", publish=False)

    merged = hautflow("compact", "--lake", tmp_path / "lake")
    assert merged.exit_code == 0, merged.output
    assert "CompactionReport" not in merged.output
    assert f"Compacted 6 partitions of {tmp_path / 'lake'} (every table): 12 files -> 6," in (
        merged.output
    )
    assert "older copies of a row dropped" in merged.output

    again = hautflow("compact", "--lake", tmp_path / "lake", "--table", "metrics")
    assert again.exit_code == 0, again.output
    assert "Nothing to compact" in again.output
    assert "table metrics" in again.output


# --- the emulator's faults ------------------------------------------------------------------


@pytest.mark.server
def test_every_fault_flag_reaches_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def serve_once(config: EmulatorConfig, *, host: str, port: int) -> None:
        """The real emulator with this config, asked what it runs with, then stopped."""
        with EmulatorServer(config) as server:
            served.update(httpx.get(f"{server.url}/_emulator/config", timeout=10).json())

    monkeypatch.setattr("haut.emulator.server.serve", serve_once)
    started = hautflow(
        "emulator", "--fault-429", "0.1", "--retry-after", "7", "--fault-5xx", "0.2",
        "--fault-drop", "0.3", "--latency", "0.01", "--fault-websocket-drop", "0.4",
        "--fault-webhook", "0.5", "--seed", "42",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    assert served["faults"] == {
        "rate_429": 0.1,
        "retry_after_seconds": 7.0,
        "rate_5xx": 0.2,
        "rate_drop": 0.3,
        "latency_seconds": 0.01,
        "websocket_drop": 0.4,
        "webhook_failure": 0.5,
        "seed": 42,
    }

    for flag, share in (("--fault-webhook", "1.5"), ("--fault-429", "-0.1")):
        refused = hautflow("emulator", flag, share)
        assert refused.exit_code == 2, refused.output
        assert flag in refused.output


def test_an_unusable_state_file_is_refused_before_the_emulator_says_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def serve(config: EmulatorConfig, *, host: str, port: int) -> None:
        raise AssertionError("the emulator was started with a state it cannot open")

    monkeypatch.setattr("haut.emulator.server.serve", serve)
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database, " * 100)
    for state in (not_sqlite, not_sqlite / "state.sqlite"):  # not SQLite; under a file
        refused = hautflow("emulator", "--state", state)
        assert refused.exit_code == 2, refused.output
        assert "--state" in refused.output
        assert "cannot open the emulator state file" in refused.output
        assert "Haut.AI emulator on" not in refused.output


# --- telemetry ------------------------------------------------------------------------------


def test_the_command_line_turns_prefect_telemetry_off_before_anything_imports_prefect() -> None:
    """Prefect reads its settings once, when first imported: the ``hautflow`` entry point must
    set them before its first import that may bring Prefect in (a subprocess proving it would
    cost seconds of imports; the order of the module's statements is what decides)."""
    package = ast.parse((REPO / "hautflow" / "__init__.py").read_text())
    assert not [node for node in package.body if isinstance(node, ast.Import | ast.ImportFrom)]
    module = ast.parse((REPO / "hautflow" / "cli.py").read_text())
    before: list[str] = []
    defaults: dict[str, str] = {}
    for node in module.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if len(defaults) == 3:
                break
            if isinstance(node, ast.ImportFrom):
                before.append(node.module or "")
            else:
                before.extend(alias.name for alias in node.names)
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "os.environ.setdefault":
            name, value = (ast.literal_eval(arg) for arg in call.args)
            defaults[name] = value
    assert defaults == {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    assert set(before) <= {"__future__", "os"}, before


def test_the_temporary_prefect_server_gets_time_to_start_unless_the_user_says() -> None:
    program = (
        "import os, hautflow.cli; "
        "print(os.environ['PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_EPHEMERAL")}
    ran = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert int(ran.stdout) >= 60
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "7"
    ran = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == "7"
