"""Who analysed what a lake holds: the emulator or the real service, never both by accident.

Every run's manifest row records who answered it (``runs.service``: ``emulator``, or the real
service's host). Emulated results are not analyses: a lake that holds them and then receives
the real service's (or the other way round) would mix stand-in scores into a person's skin
history with nothing in the metrics tables to tell them apart. So a run refuses to write into a
lake that earlier runs filled from the other kind of service, unless told to.
"""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.dataset as ds

from haut.redaction import redact
from schemas.errors import HautflowError
from schemas.lake import table_spec
from tasks.lake.store import Lake

EMULATOR = "emulator"


class MixedServicesError(HautflowError, ValueError):
    """A run would add one kind of service's results to a lake holding the other kind's."""


def is_emulator(service: str) -> bool:
    return service == EMULATOR


def services_in_lake(lake: Lake) -> set[str | None]:
    """Who answered the runs that wrote rows into this lake (``runs.service``); None for runs
    from before hautflow recorded it."""
    files = lake.files("runs")
    if not files:
        return set()
    dataset = ds.dataset(
        files, filesystem=lake.fs, format="parquet", schema=table_spec("runs").schema
    )
    table = dataset.to_table(columns=["service"], filter=pc.field("rows_written") > 0)
    return set(table.column("service").to_pylist())


def check_one_kind_of_service(lake: Lake, service: str, *, allow_mixed: bool) -> None:
    """Refuse ``service``'s results in a lake filled by the other kind (emulator vs real).

    Runs from before the service was recorded count as the other kind for the real service
    (until then, hautflow's runs were most likely the embedded emulator's), and as the same
    kind for the emulator.
    """
    if allow_mixed:
        return
    found = services_in_lake(lake)
    others = sorted(s for s in found if s is not None and is_emulator(s) != is_emulator(service))
    unknown = None in found and not is_emulator(service)
    if not others and not unknown:
        return
    if is_emulator(service):
        held, now = f"results of the real service ({', '.join(others)})", "the emulator"
    elif others:
        held, now = "the emulator's results", f"the real service ({service})"
    else:
        held = "results of runs from before hautflow recorded who answered (most likely the "
        held += "embedded emulator)"
        now = f"the real service ({service})"
    raise MixedServicesError(
        f"the lake {redact(lake.url)} holds {held}, and this run is answered by {now}: emulated "
        "scores are not analyses, and mixed into one lake nothing tells them apart. Write "
        "this run to another --lake (and --state), or pass --allow-mixed-services to mix them "
        "on purpose (runs.service then says which run wrote what)"
    )
