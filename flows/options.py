"""What an ingest run is asked to do: one validated set of options, also the flow's parameter.

Deployments pass these as a JSON object; the command line builds them from its flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Secret, SecretStr

from tasks.operations.retention import MAX_DAYS, Retention

DEFAULT_LAKE = "data/lake"
DEFAULT_STATE = "data/state"


class IngestOptions(BaseModel):
    """Options of one ingest run (see ``hautflow ingest --help`` for each)."""

    # A misspelt option in a deployment's parameters is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Image folder: a path, file://, s3://, gs:// or memory:// URL")
    lake: str = Field(DEFAULT_LAKE, description="Where the Parquet lake is written")
    state_dir: str = Field(
        DEFAULT_STATE, description="The ledger, the embedded emulator's state and the views file"
    )
    manifest: str | None = Field(None, description="CSV that overrides the folder layout")
    dataset: str = Field("hautflow", description="Haut.AI dataset the photos go to")
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
    wait: Literal["poll", "websocket", "webhook"] = "poll"
    wait_options: dict[str, Any] = Field(
        default_factory=dict, description="Options of the waiter, e.g. the webhook's address"
    )
    results_timeout: float = Field(600.0, gt=0, description="Seconds to wait for results")
    chunk_size: int = Field(50, ge=1, description="Captures per upload task")
    concurrency: int = Field(8, ge=1, description="Captures uploaded at once per chunk")
    api_url: str | None = Field(None, description="A Haut.AI-compatible service to use")
    # Secret-bearing options are Secret: Prefect records flow parameters, and these must reach
    # neither its database nor its UI. Deployments take them from the environment instead.
    ledger_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the ledger (PostgreSQL)"
    )
    storage_options: Secret[dict[str, Any]] | None = Field(
        None, description="fsspec options (e.g. endpoint, key, secret) for buckets"
    )
    dry_run: bool = False

    @property
    def views_path(self) -> Path:
        """The DuckDB file holding the lake's views, for the plain ``duckdb`` shell."""
        return Path(self.state_dir) / "lake.duckdb"

    def retention(self) -> Retention:
        """The retention asked for a dataset this run creates (None fields: not asked)."""
        return Retention(
            self.expire_images_after_days,
            self.expire_metadata_after_days,
            self.clean_images_as_soon_as_ready,
        )

    def fs_options(self) -> dict[str, Any] | None:
        """The fsspec storage options, revealed for the filesystem that needs them."""
        return None if self.storage_options is None else self.storage_options.get_secret_value()

    def ledger_address(self) -> str | None:
        """The ledger's SQLAlchemy URL, revealed for the engine that needs it."""
        return None if self.ledger_url is None else self.ledger_url.get_secret_value()

    def public(self) -> dict[str, Any]:
        """The options as recorded in the run manifest: nothing that may hold a secret."""
        return self.model_dump(
            exclude={"storage_options", "wait_options", "ledger_url"}, mode="json"
        )
