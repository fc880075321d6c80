"""Decoding and flattening one image's answers, against two baselines over the same bytes.

``python -m bench.flatten_bench [--write BENCHMARKS.md]``. A fresh emulator (in its own
process) analyses real photographs — matplotlib's Grace Hopper and a sample portrait — and its
``/results/`` and ``/aux/`` answers are kept as the bytes the client receives; the real
captured FSM 2.0 answer (results only) is measured too. For each answer set, CPU time per
image (``time.process_time``, the best of several repeats, so that another process on the
machine weighs less) of:

- ``orjson.loads`` of the bytes, nothing more (the floor the issue measures against);
- ``pandas.json_normalize`` of the decoded answers (a generic flattening, as an analyst might);
- hautflow: the bytes decoded into structs, every lake row built, and the Arrow tables the lake
  writes made, over a batch of images as the writer flushes them (the tables' fixed cost is
  shared by the batch, as in a run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import orjson
import pandas as pd

from bench.emulator_process import EmulatorProcess
from bench.report import _heading, _markers, _table, write_block
from haut import paths
from haut.emulator.config import EmulatorConfig
from haut.emulator.faces import render_face
from schemas.api_results import decode_aux_images, decode_result_rows
from schemas.captures import Side, SourceImage, UploadedImage
from schemas.refs import SubjectRef
from tasks.lake.flatten import flatten_image
from tasks.lake.rows import LakeRows
from tasks.service.connection import connect

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "fsm2_image_results.json"
BATCH = 50  # images per flush in the measurement (the writer flushes thousands)
COMMAND = "python -m bench.flatten_bench --write BENCHMARKS.md"


@dataclass(frozen=True)
class Answers:
    """One image's answers as bytes."""

    name: str
    results: bytes
    aux: bytes


@dataclass(frozen=True)
class Figures:
    answers: Answers
    rows: int
    orjson_ms: float
    normalize_ms: float
    hautflow_ms: float


def _photos() -> dict[str, bytes]:
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {"Grace Hopper (matplotlib)": hopper.read_bytes(), "portrait (emulator)": render_face(7)}


async def _answers_of(url: str, photos: dict[str, bytes]) -> list[Answers]:
    async with connect(api_url=url) as connection:
        client = connection.client
        dataset = await client.create_dataset("flatten bench", image_type_id=1)
        run = await client.attach_application(dataset.id)
        subject = SubjectRef(dataset.id, (await client.create_subject(dataset.id, "s")).id)
        found = []
        for name, photo in photos.items():
            batch = subject.batch((await client.create_batch(subject)).id)
            image = batch.image((await client.upload_image(batch, photo, side_id=1)).id)
            base = paths.image(await client.company_id(), image)
            # Results are due at once (no algorithm delay): a short poll, not a wait.
            while len(await client.results(image)) < len(run.enabled_algorithms):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            results = (await client.session.send("GET", base + "results/")).content
            aux = (await client.session.send("GET", base + "aux/")).content
            found.append(Answers(name, results, aux))
        return found


def emulator_answers() -> list[Answers]:
    """The emulator's answers for each photo, as the client receives them."""
    # The bench's own emulator takes any login: no credentials of anyone's here.
    os.environ.update(HAUT_USERNAME="bench@example.com", HAUT_PASSWORD="bench")  # noqa: S106
    os.environ.pop("HAUT_API_TOKEN", None)
    config = EmulatorConfig(algorithm_delay_seconds=0, rate_limit_per_second=1000)
    with EmulatorProcess(config) as emulator:
        return asyncio.run(_answers_of(emulator.url, _photos()))


def _image(index: int) -> UploadedImage:
    when = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    source = SourceImage(
        uri=f"/photos/s/{index}/front.jpg",
        side=Side.FRONT,
        sha256=f"{index:064x}",
        size=1,
        image_format="JPEG",
        captured_at=when,
        captured_at_source="exif",
    )
    return UploadedImage("c", "s", str(index), "d", "subject", "b", f"image-{index}", source, when)


def _best_ms(work: Callable[[], object], *, per: int = 1, repeats: int = 7) -> float:
    """The best CPU time of ``work`` over ``repeats`` runs, per ``per`` items, in ms."""
    gc.collect()
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / per * 1000


_ID = re.compile(rb'("id":\s*")[0-9a-f]{4}')


def _of_image(answer: bytes, index: int) -> bytes:
    """The answer with ids of its own, as another image's answer would have (same length)."""
    return _ID.sub(lambda m: m.group(1) + f"{index:04x}".encode(), answer)


def measure(answers: Answers) -> Figures:
    images = [_image(i) for i in range(BATCH)]
    batch = [
        (image, _of_image(answers.results, i), _of_image(answers.aux, i))
        for i, image in enumerate(images)
    ]

    def loads() -> None:
        for _, results, aux in batch:
            orjson.loads(results)
            orjson.loads(aux)

    def normalize() -> None:
        for _, results, aux in batch:
            pd.json_normalize(orjson.loads(results))
            pd.json_normalize(orjson.loads(aux))

    def hautflow() -> LakeRows:
        rows = LakeRows()
        for image, results, aux in batch:
            rows.extend(
                flatten_image(
                    image,
                    decode_result_rows(results),
                    decode_aux_images(aux),
                    run_id="bench",
                    status="complete",
                )
            )
        rows.tables()
        return rows

    rows = len(hautflow()) // BATCH
    return Figures(
        answers,
        rows,
        orjson_ms=_best_ms(loads, per=BATCH),
        normalize_ms=_best_ms(normalize, per=BATCH, repeats=3),
        hautflow_ms=_best_ms(hautflow, per=BATCH),
    )


def block(figures: list[Figures]) -> str:
    begin, end = _markers("flatten")
    rows = [
        [
            f.answers.name,
            f"{(len(f.answers.results) + len(f.answers.aux)) / 1024:.0f}",
            f.rows,
            f"{f.orjson_ms:.2f}",
            f"{f.normalize_ms:.2f}",
            f"{f.hautflow_ms:.2f}",
            f"{f.hautflow_ms / f.orjson_ms:.1f}x",
            f"{f.normalize_ms / f.hautflow_ms:.1f}x",
        ]
        for f in figures
    ]
    header = [
        "answers of one image",
        "KiB",
        "lake rows",
        "orjson.loads ms",
        "json_normalize ms",
        "hautflow ms",
        "hautflow / orjson",
        "json_normalize / hautflow",
    ]
    lines = [begin, *_heading(COMMAND)]
    lines += [
        f"CPU ms per image, best of several runs; hautflow = decode + every lake row + the Arrow "
        f"tables, over a batch of {BATCH} images.",
        "",
        *_table(header, rows),
        end,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", type=Path, help="replace the flatten block of this file")
    arguments = parser.parse_args()
    answer_sets = [
        *emulator_answers(),
        Answers("real capture (results only)", FIXTURE.read_bytes(), b"[]"),
    ]
    text = block([measure(answers) for answers in answer_sets])
    print(text)
    if arguments.write:
        write_block(arguments.write, text)


if __name__ == "__main__":
    main()
