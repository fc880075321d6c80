"""What the counts alone would hide, worked out once at a run's end: a ledger rebuilt from the
lake or the API, captures skipped as done that went to another dataset, or that have no image
in this lake (this one reads the lake's images table), each with the command that fixes it.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence

from haut.redaction import get_logger, redact
from schemas.captures import Capture
from schemas.defaults import DEFAULT_DATASET
from tasks.lake import Lake
from tasks.reporting.options import RunOptions
from tasks.reporting.summary import RunSummary

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]

_log = get_logger(__name__)


def run_warnings(summary: RunSummary, options: RunOptions, *, log: Logger = _log) -> list[str]:
    """Every warning of the run's end: a new ledger rebuilt from the lake or the API
    (:mod:`tasks.uploading.recovery`), :func:`dataset_warnings`, then :func:`lake_warnings`
    (which reads the lake: called once per run, by the flow; ``log`` takes its line when the
    lake cannot be read)."""
    recovered = summary.plan.recovered if summary.plan is not None else None
    recovery = recovered.messages(redact(options.lake), options.dataset) if recovered else []
    return recovery + dataset_warnings(summary, options) + lake_warnings(summary, options, log=log)


def dataset_warnings(summary: RunSummary, options: RunOptions) -> list[str]:
    """Captures skipped as done that went to another dataset than this run's: the ledger knows
    a photo once per state, whatever the dataset, so a run with another ``--dataset`` on the
    same ``--state`` uploads none of them again, which the counts alone do not say."""
    elsewhere = summary.plan.done_elsewhere if summary.plan is not None else ()
    run = options.dataset
    return [
        f"{n} {'capture' if n == 1 else 'captures'} skipped as already done "
        f"{'was' if n == 1 else 'were'} analysed into dataset {name!r}, not {run!r}: each photo "
        f"is analysed once per --state; to analyse {'it' if n == 1 else 'them'} into {run!r} "
        "too, use another --state"
        for name, n in elsewhere
    ]


def lake_warnings(summary: RunSummary, options: RunOptions, *, log: Logger = _log) -> list[str]:
    """What the counts alone would hide: captures the ledger calls done (so the run skips
    them) that have no image in this lake, i.e. an existing ``--state`` pointed at a new or
    emptied ``--lake``. The run itself then writes nothing for them, silently; a backfill does.

    Captures with images still awaiting their results (``summary.awaiting``: a run stopped
    while waiting, or timed out) are left out: the next ingest writes those, carried over.
    Reads only the images table's key columns. Never fails the run: a lake that cannot be read
    here is logged and gives no warning.
    """
    done = summary.plan.done if summary.plan is not None else ()
    written = [c for c in done if (c.subject_key, c.session_key) not in summary.awaiting]
    if not written:
        return []
    try:
        missing = _missing_from_lake(written, Lake(options.lake, options.fs_options()))
    except Exception as exc:
        log.warning(
            "Could not check the lake for the skipped captures' images: %s",
            redact(f"{exc.__class__.__name__}: {exc}"),
        )
        return []
    if not missing:
        return []
    ledger_url = " (with HAUTFLOW_LEDGER_URL set)" if options.ledger_url is not None else ""
    awaiting = len(done) - len(written)
    carried = ""
    if awaiting == 1:
        carried = " The other one awaits its results: the next ingest writes it."
    elif awaiting:
        carried = f" The other {awaiting} await their results: the next ingest writes them."
    return [
        f"{missing} of the {len(done)} captures skipped as already done have no image in this "
        f"lake ({redact(options.lake)}): earlier runs analysed them into another lake. The "
        "ingest never uploads them again; to write them here, run "
        f"`{backfill_command(options)}`{ledger_url}.{carried}"
    ]


def _missing_from_lake(done: Sequence[Capture], lake: Lake) -> int:
    """How many of ``done`` have no row in the lake's images table (by subject and session)."""
    files = lake.files("images")
    if not files:
        return len(done)
    import pyarrow.dataset as ds

    table = ds.dataset(files, filesystem=lake.fs, format="parquet").to_table(
        columns=["subject_key", "session_key"]
    )
    present = set(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return sum(1 for c in done if (c.subject_key, c.session_key) not in present)


def backfill_command(options: RunOptions) -> str:
    """The ``hautflow backfill`` command that writes this ingest's uploaded images into its
    lake: same lake, state, dataset, service and credentials block (backfill has no flag for
    it: ``HAUT_CREDENTIALS_BLOCK``, which it reads like the ingest does). The ledger URL holds
    a password, so it is never printed: backfill reads it from ``HAUTFLOW_LEDGER_URL``, and
    the caller says so."""
    args = ["hautflow", "backfill", "--lake", options.lake, "--state", options.state_dir]
    if options.dataset != DEFAULT_DATASET:
        args += ["--dataset", options.dataset]
    if options.api_url:
        args += ["--api-url", options.api_url]
    command = shlex.join(args)
    if options.credentials_block:
        command = f"HAUT_CREDENTIALS_BLOCK={shlex.quote(options.credentials_block)} {command}"
    return redact(command)
