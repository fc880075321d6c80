"""Processing of uploaded images on the emulator clock (reference §13.5).

An upload schedules one job per enabled algorithm, due at upload + base delay × the
algorithm's delay factor. ``settle`` turns due jobs into result rows (so ``/results/`` grows row
by row), and when an image's last row lands: aux images, websocket messages, webhook
deliveries and the ``clean_images_as_soon_as_ready`` retention. Jobs live in SQLite, so a
restarted emulator finishes what was pending: the last row and the image's completion (aux
images, webhook deliveries) are one transaction, so a crash cannot leave an image with every
row but never complete. A job that raises becomes an ``is_ok: false`` row; it never blocks
the queue. Analysis is cached per photo sha256.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from haut.emulator import analysis, catalog, shapes
from haut.emulator.clock import moment
from haut.emulator.config import DetectorRow
from haut.emulator.notify import ALGORITHM_RESULT, PHOTO_CALCULATED
from haut.emulator.retention import delete_photo, sweep_expired
from haut.emulator.store import Doc
from schemas.wire_time import format_wire_time

if TYPE_CHECKING:
    from haut.emulator.state import EmulatorState

log = logging.getLogger(__name__)

MAX_CACHED_PHOTOS = 512
MAX_CACHED_OUTCOMES = 2048
SWEEP_EVERY_SECONDS = 1.0
FAILED_OUTCOME: tuple[bool, dict[str, Any]] = (False, {"error": "Internal processing error"})


def photo_of(state: EmulatorState, image: Doc) -> analysis.Photo | None:
    """The analysed photo of an image (cached by sha256); None once its bytes are deleted."""
    cached = state.photos.get(image["sha256"])
    if cached is not None:
        return cached
    data = state.store.blob(image["id"])
    if data is None:
        return None
    return remember_photo(state, analysis.inspect_photo(data))


def remember_photo(state: EmulatorState, photo: analysis.Photo) -> analysis.Photo:
    if len(state.photos) >= MAX_CACHED_PHOTOS:
        state.photos.pop(next(iter(state.photos)))
    state.photos[photo.sha256] = photo
    return photo


def schedule(state: EmulatorState, image: Doc) -> None:
    """Snapshot the dataset's application runs onto the image and queue its algorithm jobs."""
    runs = []
    for run in state.store.children("app_runs", image["dataset_id"]):
        algorithms = [a for a in run["enabled_algorithms"] if _known(a)]
        runs.append(
            {"id": run["id"], "application_id": run["application_id"], "algorithms": algorithms}
        )
    image["runs"] = runs
    start = state.clock.timestamp()
    for run in runs:
        for algorithm_id in run["algorithms"]:
            delay = (
                state.config.algorithm_delay_seconds * catalog.algorithm(algorithm_id).delay_factor
            )
            state.store.add_job(image["id"], algorithm_id, start + delay)


def _known(algorithm_id: int) -> bool:
    try:
        catalog.algorithm(algorithm_id)
    except KeyError:
        return False
    return True


def settle(state: EmulatorState) -> None:
    """Materialise every algorithm row that is due by now, and apply expiry retention."""
    now = state.clock.timestamp()
    for image_id, algorithm_id, due_at in state.store.due_jobs(now):
        try:
            _finish(state, image_id, algorithm_id, due_at)
        except Exception:
            # One bad job must not wedge the queue: its row records the failure instead.
            log.exception("algorithm %s failed on image %s", algorithm_id, image_id)
            _record_failure(state, image_id, algorithm_id, due_at)
    if now - state.last_sweep >= SWEEP_EVERY_SECONDS:
        state.last_sweep = now
        sweep_expired(state, now)


def settle_logged(state: EmulatorState) -> None:
    """``settle`` for callers whose own answer does not depend on it: failures are logged."""
    try:
        settle(state)
    except Exception:
        log.exception("emulator processing failed")


def face_detector_enabled(image: Doc) -> bool:
    return any(catalog.FACE_DETECTOR_ID in run["algorithms"] for run in image.get("runs", []))


def _finish(
    state: EmulatorState, image_id: str, algorithm_id: int, due_at: float, *, failed: bool = False
) -> None:
    """Write the job's row; with the image's last row, complete the image in the same commit.

    Heavy work (analysis, aux crops) happens before the transaction; messages go out after
    it, so a crash anywhere leaves the job queued and the next settle redoes it whole.
    """
    image = state.store.get("images", image_id)
    if image is None:
        state.store.finish_job(image_id, algorithm_id)
        return
    spec = catalog.algorithm(algorithm_id)
    run = next(r for r in image["runs"] if algorithm_id in r["algorithms"])
    photo = _readable_photo(state, image) if failed else photo_of(state, image)
    outcome = FAILED_OUTCOME if failed else _outcome(state, image, photo, spec)
    row = shapes.result_row(image, run, spec, outcome, format_wire_time(moment(due_at)))
    is_last = state.store.pending_jobs(image_id) == 1
    aux = []
    if is_last and photo is not None:
        rows = _image_rows(state, image_id, (spec, *outcome))
        aux = _aux_docs(image, photo, rows, format_wire_time(moment(due_at)))
    shown = _row_is_sent(state, spec, outcome)
    messages = [{"event": ALGORITHM_RESULT, **_ids(image), "result": row}] if shown else []
    completed = False
    # Serialised once, for the store and for the reads to come (:mod:`haut.emulator.answers`).
    text = to_json(row) if shown else b""
    with state.store.transaction():
        if shown:
            state.store.insert("results", row, parent=image_id, text=text.decode())
        state.store.finish_job(image_id, algorithm_id)
        if state.store.pending_jobs(image_id) == 0:
            messages += _complete(state, image, aux, due_at)
            completed = True
    if shown:  # once committed
        state.answers.row_added(image_id, row, text)
    if completed:
        state.answers.aux_added(image_id, aux)
    for message in messages:
        state.hub.publish(image["company_id"], message)


def _row_is_sent(
    state: EmulatorState, spec: catalog.AlgorithmSpec, outcome: tuple[bool, dict[str, Any]]
) -> bool:
    """Whether the row goes into ``/results/``: always, but the face detector's as the
    config's :class:`~haut.emulator.config.DetectorRow` says (its job still runs: it is part
    of the image's completion)."""
    if spec.id != catalog.FACE_DETECTOR_ID:
        return True
    when = state.config.detector_row
    if when is DetectorRow.WHEN_NO_FACE:
        params = outcome[1].get("detection_params") or {}
        return params.get("face_detected") is False
    return when is DetectorRow.ALWAYS


def _record_failure(state: EmulatorState, image_id: str, algorithm_id: int, due_at: float) -> None:
    """An error row for a job that raised, so its image still completes."""
    try:
        _finish(state, image_id, algorithm_id, due_at, failed=True)
    except Exception:
        # Even the error row cannot be written: drop the job rather than fail every settle.
        log.exception("dropping algorithm %s of image %s", algorithm_id, image_id)
        state.store.finish_job(image_id, algorithm_id)


def _readable_photo(state: EmulatorState, image: Doc) -> analysis.Photo | None:
    """The photo for the aux images of an image whose job failed; None if it is the problem."""
    try:
        return photo_of(state, image)
    except Exception:
        return None  # already logged by the failure that led here


def _outcome(
    state: EmulatorState, image: Doc, photo: analysis.Photo | None, spec: catalog.AlgorithmSpec
) -> tuple[bool, dict[str, Any]]:
    if photo is None:
        return False, {"error": "Image is not available"}
    detector = face_detector_enabled(image)
    side, light = shapes.side_of(image), shapes.light_of(image)
    key = (photo.sha256, spec.id, detector, side, light)
    cached = state.outcomes.get(key)
    if cached is None:
        if len(state.outcomes) >= MAX_CACHED_OUTCOMES:
            state.outcomes.pop(next(iter(state.outcomes)))
        cached = analysis.algorithm_outcome(
            photo, spec, face_detector_enabled=detector, side=side, light=light
        )
        state.outcomes[key] = cached
    return cached


def _ids(image: Doc) -> dict[str, Any]:
    keys = ("company_id", "dataset_id", "subject_id", "batch_id")
    return {**{key: image[key] for key in keys}, "image_id": image["id"]}


def _complete(state: EmulatorState, image: Doc, aux: list[Doc], at: float) -> list[dict[str, Any]]:
    """Record the image as complete (inside the caller's transaction); its messages to send."""
    image["complete"] = True
    image["completed_at"] = at
    for doc in aux:
        state.store.insert("aux_images", doc, parent=image["id"], text=to_json(doc).decode())
    state.store.replace("images", image)
    messages = []
    for run in image["runs"]:
        message = {
            "event": PHOTO_CALCULATED,
            **_ids(image),
            "application_id": run["application_id"],
            "application_run_id": run["id"],
        }
        messages.append(message)
        _queue_webhook(state, image, run, message)
    dataset = state.store.get("datasets", image["dataset_id"])
    if dataset is not None and dataset.get("clean_images_as_soon_as_ready"):
        delete_photo(state, image)
    return messages


def _image_rows(state: EmulatorState, image_id: str, last: analysis.Row) -> list[analysis.Row]:
    """The image's rows as analysis sees them: the stored ones plus the one being written."""
    rows: dict[int, analysis.Row] = {}
    # The rows written by this process are at hand; after a restart they are read back.
    stored_rows = state.answers.rows_of(image_id, state.store.count_children("results", image_id))
    if stored_rows is None:
        stored_rows = state.store.children("results", image_id)
    for stored in stored_rows:
        spec = catalog.algorithm(stored["algorithm_version_id"])
        rows.setdefault(spec.id, (spec, stored["is_ok"], stored["result"]))
    rows.setdefault(last[0].id, last)
    return list(rows.values())


def _aux_docs(image: Doc, photo: analysis.Photo, rows: list[analysis.Row], at: str) -> list[Doc]:
    """The image's aux image documents; none when the crops cannot be computed."""
    enabled = [a for run in image["runs"] for a in run["algorithms"]]
    try:
        # The rows just computed are reused: recomputing them (masks and all) doubled the cost.
        outcomes = analysis.aux_outcomes(
            photo, enabled, face_detector_enabled=face_detector_enabled(image), rows=rows
        )
    except Exception:
        # Aux images are extras: the image still completes with its result rows.
        log.exception("aux images of image %s failed", image["id"])
        return []
    run = image["runs"][0]
    application = shapes.applications().get(run["application_id"], {})
    return [
        {
            "id": str(uuid.uuid4()),
            "image_id": image["id"],
            "aux_image_type": {
                "id": outcome.type_id,
                "name": outcome.name,
                "tech_name": outcome.tech_name,
            },
            "creation_time": at,
            "application_id": run["application_id"],
            "application_name": application.get("name"),
            "application_run_id": run["id"],
            "application_description": application.get("description"),
            "box": list(outcome.box),
            "results": [
                shapes.result_row(image, run, spec, (ok, payload), at)
                for spec, ok, payload in outcome.rows
            ],
        }
        for outcome in outcomes
    ]


def _queue_webhook(state: EmulatorState, image: Doc, run: Doc, message: dict[str, Any]) -> None:
    webhooks = state.store.children("webhooks", image["dataset_id"])
    if not webhooks or not webhooks[-1].get("enabled", True):
        return
    subject = state.store.get("subjects", image["subject_id"])
    rows = [
        r
        for r in state.store.children("results", image["id"])
        if r["application_run_id"] == run["id"]
    ]
    payload = {
        **message,
        "subject_name": subject["name"] if subject else None,
        "application_name": shapes.applications().get(run["application_id"], {}).get("name"),
        "area_results": webhook_area_results(rows),
    }
    state.webhooks.enqueue(webhooks[-1], payload)


def webhook_area_results(rows: list[Doc]) -> list[dict[str, Any]]:
    """The §7 flattened metrics: one entry per area main metric of every ok row."""
    flattened = []
    for row in rows:
        if not row["is_ok"]:
            continue
        for area in row["result"].get("area_results") or []:
            metric = area.get("main_metric") or {}
            subs = area.get("sub_metrics")
            flattened.append(
                {
                    "area_name": area.get("area_name"),
                    "name": metric.get("name"),
                    "tech_name": metric.get("tech_name"),
                    "value": metric.get("value"),
                    "widget_meta": metric.get("widget_meta"),
                    "widget_type": metric.get("widget_type"),
                    "sub_metrics": subs if isinstance(subs, list) else [],
                }
            )
    return flattened
