"""What a run is asked to do: one validated set of options, also the flow's parameter.

Deployments pass these as a JSON object; the command line builds them from its flags (and reads
its defaults here). The options every flow shares are defined once, in three layers:
:class:`ServiceOptions` (where the Haut.AI calls go), :class:`LakeOptions` (the lake, the state
folder and the bucket's credentials: ingest, backfill, smoothing, reports) and
:class:`LedgerOptions` (the dataset and the ledger: ingest and backfill).

Every flow's options live here, not with the flow: the flows bring Prefect along, and the
command line reads these defaults for ``hautflow --help``, which must stay fast.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Secret,
    SecretStr,
    field_validator,
    model_validator,
)

from schemas.defaults import DEFAULT_DATASET
from tasks.operations.retention import MAX_DAYS, Retention
from tasks.smoothing.settings import (
    DEFAULT_MAX_SIZE,
    DEFAULT_WINDOW_DAYS,
    Smoothing,
    SmoothingMethod,
)
from tasks.waiting import registry as waiters

DEFAULT_LAKE = "data/lake"
DEFAULT_STATE = "data/state"

# Options some flows share outside the layers below, each defined once here.
SubjectKeys = Annotated[
    list[str] | None, Field(description="Subject keys (folder names); None: every subject")
]
WindowDays = Annotated[
    int, Field(ge=1, description="Smoothing window (the API's sample_time_window), days")
]
MaxSize = Annotated[
    int,
    Field(ge=1, description="Most images a smoothed value is taken over (sample_max_size)"),
]


class ServiceOptions(BaseModel):
    """Where a flow's Haut.AI calls go: the options every flow that talks to the service has."""

    # A misspelt option in a deployment's parameters is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    api_url: str | None = Field(None, description="A Haut.AI-compatible service to use")
    emulator: bool = Field(
        False,
        description="With no credentials and no api_url, analyse with the embedded emulator; "
        "False: such a run fails (a deployment never falls back to a stand-in by accident). "
        "The command line sets it (unless --no-emulator)",
    )
    allow_mixed_services: bool = Field(
        False,
        description="Write into a lake that holds the other kind of service's results "
        "(emulator vs real); refused otherwise",
    )


class LakeOptions(ServiceOptions):
    """The options of every flow that reads or writes the lake."""

    not_recorded: ClassVar[frozenset[str]] = frozenset({"storage_options", "ledger_url"})
    """Options that may hold a secret: :meth:`public` leaves them out."""

    lake: str = Field(DEFAULT_LAKE, description="The Parquet lake: a path or a bucket URL")
    state_dir: str = Field(
        DEFAULT_STATE, description="The ledger, the embedded emulator's state and the views file"
    )
    # Secret-bearing options are Secret: Prefect records flow parameters, and these must reach
    # neither its database nor its UI. Deployments take them from the environment instead.
    storage_options: Secret[dict[str, Any]] | None = Field(
        None, description="fsspec options (e.g. endpoint, key, secret) for a bucket lake"
    )

    @property
    def views_path(self) -> Path:
        """The DuckDB file holding the lake's views, for the plain ``duckdb`` shell."""
        return Path(self.state_dir) / "lake.duckdb"

    @property
    def emulator_state(self) -> Path:
        """The embedded emulator's database, kept between runs."""
        return Path(self.state_dir) / "emulator.sqlite"

    def fs_options(self) -> dict[str, Any] | None:
        """The fsspec storage options, revealed for the filesystem that needs them."""
        return None if self.storage_options is None else self.storage_options.get_secret_value()

    def public(self) -> dict[str, Any]:
        """The options as recorded in the run manifest: nothing that may hold a secret."""
        return self.model_dump(exclude=set(self.not_recorded), mode="json")


class LedgerOptions(LakeOptions):
    """The options of every flow that moves a dataset's images through the ledger."""

    dataset: str = Field(DEFAULT_DATASET, description="Haut.AI dataset the photos go to")
    ledger_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the ledger (PostgreSQL)"
    )

    def ledger_address(self) -> str | None:
        """The ledger's SQLAlchemy URL, revealed for the engine that needs it."""
        return None if self.ledger_url is None else self.ledger_url.get_secret_value()


class IngestOptions(LedgerOptions):
    """Options of one ingest run (see ``hautflow ingest --help`` for each)."""

    not_recorded = LedgerOptions.not_recorded | {"wait_options"}

    source: str = Field(description="Image folder: a path, file://, s3://, gs:// or memory:// URL")
    manifest: str | None = Field(None, description="CSV that overrides the folder layout")
    allow_outside_source: bool = Field(
        False,
        description="Let manifest rows name photos outside the source folder (../, absolute "
        "paths, URLs elsewhere); such rows are quarantined otherwise",
    )
    # tasks.discovery.discover.READ_TIMEOUT (importing it would slow ``hautflow --help``;
    # tests/test_cli_options.py checks the two agree).
    read_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds a photo's read may give no data (a stalled drive, share or pipe) "
        "before the file is quarantined as unreadable",
    )
    image_kind: Literal["selfie", "skin", "visia"] = "selfie"
    enabled_algorithms: list[int] | None = Field(
        None,
        description="Algorithm ids to run (the face detector is always kept); None: keep the "
        "dataset's list (every algorithm when the application is first attached)",
    )
    expire_images_after_days: int | None = Field(
        None,
        ge=0,
        le=MAX_DAYS,
        description=f"Retention for a new dataset: days photos are kept (0: forever; at most "
        f"{MAX_DAYS}, the API's limit)",
    )
    expire_metadata_after_days: int | None = Field(
        None,
        ge=0,
        le=MAX_DAYS,
        description=f"Retention for a new dataset: days results are kept (0: forever; at most "
        f"{MAX_DAYS}, the API's limit)",
    )
    clean_images_as_soon_as_ready: bool | None = Field(
        None, description="Retention for a new dataset: delete each photo once analysed"
    )
    report_plots: int = Field(
        4, ge=0, le=20, description="Subjects whose skin diary the run's report draws (0: none)"
    )
    wait: str = Field(
        waiters.DEFAULT_STRATEGY,
        description="How results are awaited (tasks/waiting/registry.py lists the ways)",
        # The ways as a JSON-schema enum for the deployment's form, read when it is drawn.
        json_schema_extra=lambda schema: schema.update(enum=list(waiters.names())),
    )
    wait_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the waiter, e.g. the webhook's host, port and public_url",
    )
    webhook_auth: Literal["bearer", "basic", "query"] | None = Field(
        None,
        description="How webhook deliveries prove they are ours (default bearer); the secret "
        "comes from HAUT_WEBHOOK_SECRET, else is random per run",
    )
    webhook_auth_key: str | None = Field(
        None,
        min_length=1,
        # tasks.waiting.receiver.MAX_FIELD_LENGTH, the API's limit (importing it would slow
        # ``hautflow --help``; tests/test_cli_options.py checks the two agree).
        max_length=128,
        description="The user name (basic) or query parameter name (query) of webhook "
        "deliveries (default: hautflow)",
    )
    results_timeout: float = Field(600.0, gt=0, description="Seconds to wait for results")
    chunk_size: int = Field(50, ge=1, description="Captures per upload task")
    concurrency: int = Field(8, ge=1, description="Captures uploaded at once per chunk")
    requests_per_second: float | None = Field(
        None,
        gt=0,
        description="The client's request rate (None: HAUT_REQUESTS_PER_SECOND, 10); on a "
        "PostgreSQL ledger a budget shared by every process using it",
    )
    # Not a connection-pool size: it becomes the client's Throttle.max_concurrency.
    requests_in_flight: int | None = Field(
        None,
        ge=1,
        description="HTTP requests in flight at once (None: HAUT_MAX_CONCURRENCY, else 8)",
    )
    allow_duplicate_photos: bool = Field(
        False,
        description="Upload a photo whose content was already analysed under another subject "
        "or session (each analysis is charged); held back otherwise",
    )
    credentials_block: str | None = Field(
        None,
        min_length=1,
        description="Prefect Secret block with the Haut.AI credentials (None: "
        "HAUT_CREDENTIALS_BLOCK, else the HAUT_* variables)",
    )
    mask_coordinates: bool = Field(
        False, description="Keep each mask's GeoJSON features in masks.coordinates_json (large)"
    )
    dry_run: bool = False

    @field_validator("wait")
    @classmethod
    def _a_known_waiter(cls, wait: str) -> str:
        if wait not in waiters.names():
            raise waiters.UnknownWaiterError(wait)
        return wait

    @model_validator(mode="after")
    def _options_fit_the_waiter(self) -> IngestOptions:
        """Refuse waiter options the chosen waiter does not take, before anything is created.

        Caught here, a deployment's wrong ``wait_options`` fail when its run starts, not after
        the dataset exists and photos are uploaded.
        """
        if self.wait != "webhook" and (self.webhook_auth or self.webhook_auth_key):
            raise ValueError(
                f"webhook_auth and webhook_auth_key apply only to wait='webhook', not "
                f"wait={self.wait!r}: drop them or wait by webhook"
            )
        if self.webhook_auth == "bearer" and self.webhook_auth_key:
            raise ValueError(
                "webhook_auth_key names the basic user or the query parameter: "
                "a bearer token has none"
            )
        accepted = _waiter_parameters(self.wait)
        unknown = sorted(set(self.wait_options) - accepted)
        if unknown:
            others = [name for name in waiters.names() if name != self.wait]
            where = [n for n in others if set(unknown) <= _waiter_parameters(n)]
            hint = f" (options of wait={where[0]!r})" if where else ""
            raise ValueError(
                f"wait_options {', '.join(unknown)} do not apply to wait={self.wait!r}{hint}; "
                f"it takes: {', '.join(sorted(accepted)) or 'none'}"
            )
        return self

    def retention(self) -> Retention:
        """The retention asked for a dataset this run creates (None fields: not asked)."""
        return Retention(
            self.expire_images_after_days,
            self.expire_metadata_after_days,
            self.clean_images_as_soon_as_ready,
        )


def _waiter_parameters(wait: str) -> set[str]:
    """The keyword options the waiter called ``wait`` takes from ``wait_options``.

    ``authorization`` is set from ``webhook_auth`` and the environment, never from plain
    options: its secret would be recorded with the run's parameters.
    """
    # Imported now, not with this module: the waiters bring a web server along, and
    # ``hautflow --help`` imports this module.
    return set(waiters.parameters(wait)) - {"authorization"}


class BackfillOptions(LedgerOptions):
    """Options of one backfill run (see ``hautflow backfill --help`` for each)."""

    date_from: date | None = Field(None, description="First capture day (UTC), inclusive")
    date_to: date | None = Field(None, description="Last capture day (UTC), inclusive")
    subjects: SubjectKeys = None
    methods: list[SmoothingMethod] = Field(
        default_factory=lambda: list(SmoothingMethod),
        description="Smoothing methods to pull (none: no smoothed results)",
    )
    window_days: WindowDays = DEFAULT_WINDOW_DAYS
    max_size: MaxSize = DEFAULT_MAX_SIZE
    chunk_size: int = Field(50, ge=1, description="Images per task")
    concurrency: int = Field(8, ge=1, description="Images read at once per chunk")

    @model_validator(mode="after")
    def _range_in_order(self) -> BackfillOptions:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}: swap them"
            )
        return self

    def describe(self) -> str:
        """The run's ``source`` in the manifest, e.g. ``backfill 2026-01-01..2026-02-01
        subjects=amy,ben dataset=hautflow``."""
        days = f"{self.date_from or ''}..{self.date_to or ''}"
        subjects = ",".join(self.subjects) if self.subjects is not None else "all"
        return f"backfill {days} subjects={subjects} dataset={self.dataset}"

    def capture_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The day range as UTC instants: [start of date_from, start of the day after date_to)."""
        start = datetime.combine(self.date_from, time(), UTC) if self.date_from else None
        end = (
            datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
            if self.date_to
            else None
        )
        return start, end


class SmoothingOptions(LakeOptions):
    """What to pull or compare (see ``hautflow smoothing pull --help`` for each)."""

    subjects: SubjectKeys = None
    methods: list[SmoothingMethod] = Field(
        default_factory=lambda: [SmoothingMethod.MEAN], min_length=1
    )
    window_days: WindowDays = DEFAULT_WINDOW_DAYS
    max_size: MaxSize = DEFAULT_MAX_SIZE
    chunk_size: int = Field(50, ge=1, description="Images per pull task")

    def settings(self) -> list[Smoothing]:
        """One setting per method, all with the same window and max size."""
        return [Smoothing(method, self.window_days, self.max_size) for method in self.methods]


class ReportOptions(LakeOptions):
    """Options of one reports run: the reports go to the lake's ``reports/pdf/``
    (:data:`tasks.operations.reports.REPORTS_FOLDER`)."""

    subjects: SubjectKeys = None
    overwrite: bool = Field(False, description="Download again reports already written")
