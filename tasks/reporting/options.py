"""What the reports read of an ingest's options: :class:`flows.options.IngestOptions` has it all.

A protocol, not the model: tasks/ sit below flows/ and import nothing from them.
"""

from __future__ import annotations

from typing import Any, Protocol


class RunOptions(Protocol):
    """The lake, state, dataset and service an ingest ran with."""

    @property
    def lake(self) -> str: ...
    @property
    def state_dir(self) -> str: ...
    @property
    def dataset(self) -> str: ...
    @property
    def api_url(self) -> str | None: ...
    @property
    def credentials_block(self) -> str | None: ...
    @property
    def ledger_url(self) -> object | None:
        """Set when the ledger is a database URL (its value is a secret: never printed)."""
        ...

    def fs_options(self) -> dict[str, Any] | None:
        """The lake's fsspec storage options."""
        ...
