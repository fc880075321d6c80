"""Processing of uploaded images on the emulator clock (reference §13.5).

An upload schedules one job per enabled algorithm, due at upload + base delay × the
algorithm's delay factor. ``settle`` turns due jobs into result rows (so ``/results/`` grows row
by row), and when an image's last row lands: aux images, websocket messages, webhook
deliveries and the ``clean_images_as_soon_as_ready`` retention. Jobs live in SQLite, so a
restarted emulator finishes what was pending. Analysis is cached per photo sha256.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from haut.emulator import analysis, catalog, shapes
from haut.emulator.clock import wire_time
from haut.emulator.notify import ALGORITHM_RESULT, PHOTO_CALCULATED
from haut.emulator.retention import delete_photo, sweep_expired
from haut.emulator.store import Doc

if TYPE_CHECKING:
    from haut.emulator.state import EmulatorState

log = logging.getLogger(__name__)

MAX_CACHED_PHOTOS = 512
MAX_CACHED_OUTCOMES = 2048
SWEEP_EVERY_SECONDS = 1.0


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
        _finish(state, image_id, algorithm_id, due_at)
    if now - state.last_sweep >= SWEEP_EVERY_SECONDS:
        state.last_sweep = now
        sweep_expired(state, now)


def face_detector_enabled(image: Doc) -> bool:
    return any(catalog.FACE_DETECTOR_ID in run["algorithms"] for run in image.get("runs", []))


def _finish(state: EmulatorState, image_id: str, algorithm_id: int, due_at: float) -> None:
    image = state.store.get("images", image_id)
    if image is None:
        state.store.finish_job(image_id, algorithm_id)
        return
    spec = catalog.algorithm(algorithm_id)
    run = next(r for r in image["runs"] if algorithm_id in r["algorithms"])
    photo = photo_of(state, image)
    outcome = _outcome(state, image, photo, spec)
    row = shapes.result_row(image, run, spec, outcome, wire_time(due_at))
    with state.store.transaction():
        state.store.insert("results", row, parent=image_id)
        state.store.finish_job(image_id, algorithm_id)
    message = {"event": ALGORITHM_RESULT, **_ids(image), "result": row}
    state.hub.publish(image["company_id"], message)
    if state.store.pending_jobs(image_id) == 0:
        _complete(state, image, photo, due_at)


def _outcome(
    state: EmulatorState, image: Doc, photo: analysis.Photo | None, spec: catalog.AlgorithmSpec
) -> tuple[bool, dict[str, Any]]:
    if photo is None:
        return False, {"error": "Image is not available"}
    detector = face_detector_enabled(image)
    side = _tech_name(image, "sides", "side_id", "front")
    light = _tech_name(image, "lights", "light_id", "regular")
    key = (photo.sha256, spec.id, detector, side, light)
    try:
        cached = state.outcomes.get(key)
        if cached is None:
            if len(state.outcomes) >= MAX_CACHED_OUTCOMES:
                state.outcomes.pop(next(iter(state.outcomes)))
            cached = analysis.algorithm_outcome(
                photo, spec, face_detector_enabled=detector, side=side, light=light
            )
            state.outcomes[key] = cached
        return cached
    except Exception:
        # One bad computation must not wedge the queue: the row records the failure instead.
        log.exception("algorithm %s failed on image %s", spec.id, image["id"])
        return False, {"error": "Internal processing error"}


def _tech_name(image: Doc, kind: str, key: str, default: str) -> str:
    found = shapes.find_by_id(shapes.image_type(image["image_type_id"])[kind], image[key])
    return str(found["tech_name"]) if found else default


def _ids(image: Doc) -> dict[str, Any]:
    keys = ("company_id", "dataset_id", "subject_id", "batch_id")
    return {**{key: image[key] for key in keys}, "image_id": image["id"]}


def _complete(state: EmulatorState, image: Doc, photo: analysis.Photo | None, at: float) -> None:
    image["complete"] = True
    image["completed_at"] = at
    if photo is not None:
        _store_aux(state, image, photo, wire_time(at))
    state.store.replace("images", image)
    for run in image["runs"]:
        message = {
            "event": PHOTO_CALCULATED,
            **_ids(image),
            "application_id": run["application_id"],
            "application_run_id": run["id"],
        }
        state.hub.publish(image["company_id"], message)
        _queue_webhook(state, image, run, message)
    dataset = state.store.get("datasets", image["dataset_id"])
    if dataset is not None and dataset.get("clean_images_as_soon_as_ready"):
        delete_photo(state, image)


def _store_aux(state: EmulatorState, image: Doc, photo: analysis.Photo, at: str) -> None:
    enabled = [a for run in image["runs"] for a in run["algorithms"]]
    outcomes = analysis.aux_outcomes(
        photo, enabled, face_detector_enabled=face_detector_enabled(image)
    )
    for outcome in outcomes:
        run = image["runs"][0]
        application = shapes.applications().get(run["application_id"], {})
        rows = [
            shapes.result_row(image, run, spec, (ok, payload), at)
            for spec, ok, payload in outcome.rows
        ]
        doc = {
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
            "results": rows,
        }
        state.store.insert("aux_images", doc, parent=image["id"])


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
