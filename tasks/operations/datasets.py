"""Datasets by name: find one, describe it, change its retention."""

from __future__ import annotations

from collections.abc import Mapping

from haut.client import HautClient
from schemas.api import Dataset
from tasks.operations.errors import OperationError
from tasks.operations.retention import Retention, describe
from tasks.uploading.dataset import connected_algorithms


async def dataset_named(client: HautClient, name: str) -> Dataset:
    """The dataset called exactly ``name``, with every field (the lookup gives only id and
    name)."""
    found = await client.find_dataset(name)
    if found is None:
        raise OperationError(
            f"no dataset named {name!r} at this service: `hautflow datasets list` shows the "
            "names (datasets are created by `hautflow ingest --dataset NAME`)"
        )
    return await client.get_dataset(found.id)


async def set_retention(client: HautClient, name: str, retention: Retention) -> Dataset:
    """Apply the asked-for settings to the dataset ``name``; returns it as the API now has it."""
    if not retention.asked:
        raise OperationError(
            "nothing to change: give --expire-images-after-days, --expire-metadata-after-days "
            "or --clean-images-as-soon-as-ready/--keep-images (0 days: keep forever)"
        )
    dataset = await dataset_named(client, name)
    return await client.update_dataset(dataset.id, **retention.wire())


def dataset_lines(dataset: Dataset, algorithm_names: Mapping[int, str] | None = None) -> list[str]:
    """A dataset for people: id, image type, retention and the enabled algorithms."""
    kind = dataset.image_type.name if dataset.image_type else dataset.image_type_id
    lines = [
        f"Dataset {dataset.name!r}",
        f"  id:          {dataset.id}",
        f"  image type:  {kind}",
        f"  retention:   {describe(Retention.of(dataset))}",
    ]
    for entry in dataset.connected_applications:
        if not isinstance(entry, dict):
            continue
        application_id = str(entry.get("id"))
        lines.append(f"  application: {entry.get('name') or application_id} ({application_id})")
        enabled = connected_algorithms(dataset, application_id) or ()
        names = algorithm_names or {}
        for algorithm_id in enabled:
            lines.append(f"    {algorithm_id:>4}  {names.get(algorithm_id, '?')}")
    if not dataset.connected_applications:
        lines.append("  application: none attached (the first ingest attaches one)")
    return lines


def dataset_row(dataset: Dataset) -> str:
    """One line of ``hautflow datasets list``."""
    return f"{dataset.name:<30}  {dataset.id}  {describe(Retention.of(dataset))}"
