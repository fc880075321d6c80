"""A dataset's retention settings: how long the API keeps photos and results.

Reference §13 (retention): expiry counts from the upload; metadata expiry deletes results and
aux images; ``clean_images_as_soon_as_ready`` deletes the photo once every algorithm finished.
On the wire ``None`` means "keep forever"; here ``None`` means "not asked for" and ``0`` days
means "keep forever", so a command can clear an expiry and an ingest can leave a setting alone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from schemas.api import Dataset

NEVER = 0
"""Days meaning "never expire" (sent to the API as null)."""
MAX_DAYS = 365
"""The longest expiry the API takes (the emulator's ``MAX_RETENTION_DAYS``); keeping longer
means keeping for ever (0)."""


@dataclass(frozen=True)
class Retention:
    """Retention settings; a field left None is not asked for (and not changed)."""

    expire_images_after_days: int | None = None
    expire_metadata_after_days: int | None = None
    clean_images_as_soon_as_ready: bool | None = None

    def __post_init__(self) -> None:
        for name in ("expire_images_after_days", "expire_metadata_after_days"):
            days = getattr(self, name)
            if days is not None and not NEVER <= days <= MAX_DAYS:
                raise ValueError(
                    f"{name}={days}: expected 1 to {MAX_DAYS} days (the API's limit), or 0 "
                    "to keep for ever"
                )

    @classmethod
    def of(cls, dataset: Dataset) -> Retention:
        """The dataset's settings as the API reports them (unset expiries read as 0: never)."""
        return cls(
            dataset.expire_images_after_days or NEVER,
            dataset.expire_metadata_after_days or NEVER,
            bool(dataset.clean_images_as_soon_as_ready),
        )

    @property
    def asked(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def wire(self) -> dict[str, Any]:
        """The fields asked for, as the API takes them (0 days sent as null: keep forever)."""
        changes: dict[str, Any] = {}
        for name in ("expire_images_after_days", "expire_metadata_after_days"):
            days = getattr(self, name)
            if days is not None:
                changes[name] = None if days == NEVER else days
        if self.clean_images_as_soon_as_ready is not None:
            changes["clean_images_as_soon_as_ready"] = self.clean_images_as_soon_as_ready
        return changes

    def differences(self, dataset: Dataset) -> dict[str, tuple[Any, Any]]:
        """Asked-for fields whose value differs at the API: name -> (at the API, asked)."""
        current = Retention.of(dataset)
        return {
            f.name: (getattr(current, f.name), getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
            and getattr(self, f.name) != getattr(current, f.name)
        }


def describe(retention: Retention) -> str:
    """One line for people: "photos expire after: 30 days; results expire after: never"."""

    def days(value: int | None) -> str:
        if value is None:
            return "unchanged"
        return "never" if value == NEVER else f"{value} days"

    parts = [
        f"photos expire after: {days(retention.expire_images_after_days)}",
        f"results expire after: {days(retention.expire_metadata_after_days)}",
    ]
    if retention.clean_images_as_soon_as_ready is not None:
        clean = retention.clean_images_as_soon_as_ready
        parts.append("photos deleted once analysed" if clean else "photos kept after analysis")
    return "; ".join(parts)
