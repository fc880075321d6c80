"""End to end on an S3 bucket: data/sample in a moto server on loopback, the lake in the same
bucket, read back through DuckDB; the same counts as the local run, and a rerun uploads nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import s3fs
from moto.server import ThreadedMotoServer
from prefect.client.orchestration import get_client

from flows.options import IngestOptions
from tasks.lake import connect
from tests.flows.support import (
    SAMPLE_CAPTURES,
    SAMPLE_FILES_SEEN,
    SAMPLE_IMAGES,
    SAMPLE_NO_FACE,
    SAMPLE_QUARANTINE,
    SAMPLE_SUBJECTS,
    Emulator,
    assert_each_photo_uploaded_once,
    assert_lake_complete,
    column_types,
    copy_sample,
    run_flow,
    view_counts,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

BUCKET = "hautflow-e2e"
SECRET = "moto-secret-not-for-logs"


@pytest.fixture
def storage_options(haut_env: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto S3 server on 127.0.0.1 with an empty bucket; s3fs options with its credentials
    (passed as options, not environment: that is the path a secret could leak through)."""
    haut_env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        haut_env.delenv(name, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {
            "key": "moto-key",
            "secret": SECRET,
            "client_kwargs": {"endpoint_url": f"http://{host}:{port}"},
        }
        s3fs.S3FileSystem(**options).mkdir(BUCKET)
        yield options
    finally:
        server.stop()


@pytest.fixture
def bucket_sample(tmp_path: Path, storage_options: dict[str, Any]) -> str:
    local = copy_sample(tmp_path / "sample")
    s3fs.S3FileSystem(**storage_options).put(f"{local}/", f"{BUCKET}/sample/", recursive=True)
    return f"s3://{BUCKET}/sample"


def prefect_flow_run_parameters() -> str:
    """Every flow run's parameters as Prefect stored them (its database, its UI), as JSON."""

    async def read() -> list[Any]:
        async with get_client() as client:
            return list(await client.read_flow_runs())

    return json.dumps([run.parameters for run in asyncio.run(read())], default=str)


def test_a_bucket_ingests_like_a_local_folder(
    tmp_path: Path, emulator: Emulator, storage_options: dict[str, Any], bucket_sample: str
) -> None:
    options = IngestOptions(
        source=bucket_sample,
        lake=f"s3://{BUCKET}/lake",
        state_dir=str(tmp_path / "state"),
        api_url=emulator.url,
        storage_options=storage_options,
    )

    summary = run_flow(options)

    record = summary.record
    assert (record.files_seen, record.captures_new) == (SAMPLE_FILES_SEEN, SAMPLE_CAPTURES)
    assert record.images_uploaded == SAMPLE_IMAGES
    assert (record.images_complete, record.images_no_face) == (
        SAMPLE_IMAGES - SAMPLE_NO_FACE,
        SAMPLE_NO_FACE,
    )
    assert Counter(q.reason.value for q in summary.quarantined) == SAMPLE_QUARANTINE
    assert all(q.uri.startswith(f"{bucket_sample}/") for q in summary.quarantined)
    stats = emulator.stats()
    assert_each_photo_uploaded_once(stats, SAMPLE_IMAGES)
    assert (stats["subjects"], stats["batches"]) == (SAMPLE_SUBJECTS, SAMPLE_CAPTURES)

    con = connect(options.lake, storage_options=storage_options)
    assert_lake_complete(con, stats, no_face=SAMPLE_NO_FACE)
    counts = view_counts(con)
    assert (counts["subjects"], counts["batches"], counts["runs"]) == (5, SAMPLE_CAPTURES, 1)
    assert Counter(r for (r,) in con.execute("SELECT reason FROM quarantine").fetchall()) == (
        SAMPLE_QUARANTINE
    )
    uris = con.execute("SELECT DISTINCT source_uri FROM images").fetchall()
    assert all(uri.startswith(f"{bucket_sample}/") for (uri,) in uris)
    assert column_types(con, "metrics")["value"] == "DOUBLE"
    # the bucket's secret is never written to the lake
    (options_json,) = con.execute("SELECT options_json FROM runs").fetchone() or ("",)
    assert SECRET not in options_json
    assert "storage_options" not in options_json
    con.close()
    assert not Path(options.lake).exists(), "an s3:// lake must not land on local disk"
    recorded = prefect_flow_run_parameters()
    assert bucket_sample in recorded  # the run's parameters are there...
    assert SECRET not in recorded, "Prefect recorded the bucket's secret"  # ...but not the secret

    again = run_flow(options)
    assert (again.record.images_uploaded, again.record.captures_skipped) == (0, SAMPLE_CAPTURES)
    assert emulator.stats() == stats
    con = connect(options.lake, storage_options=storage_options)
    assert view_counts(con) == {**counts, "runs": 2}
    con.close()
