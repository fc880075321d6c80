"""Photo bytes and their deletion: aux JPEGs, ``clean_images_as_soon_as_ready`` and expiry.

Deleting a photo keeps the image record, its results and its aux images, as the real
"Delete photos from storage" does (reference §4.3, §8, §13.11), so aux JPEGs are rendered
and kept before the photo goes. Expiry counts days from the upload on the emulator clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from haut.emulator import analysis
from haut.emulator.store import Doc

if TYPE_CHECKING:
    from haut.emulator.state import EmulatorState

DAY_SECONDS = 86400.0


def aux_blob_id(aux_id: str) -> str:
    return f"aux:{aux_id}"


def aux_jpeg(state: EmulatorState, aux: Doc) -> bytes | None:
    """The aux image's JPEG: kept bytes, or a fresh crop of the photo while it exists."""
    kept = state.store.blob(aux_blob_id(aux["id"]))
    if kept is not None:
        return kept
    photo = state.store.blob(aux["image_id"])
    if photo is None:
        return None
    kind = aux["aux_image_type"]
    left, top, right, bottom = (int(v) for v in aux["box"])
    outcome = analysis.AuxOutcome(
        tech_name=kind["tech_name"],
        name=kind["name"],
        type_id=kind["id"],
        box=(left, top, right, bottom),
        rows=[],
    )
    return analysis.render_aux_jpeg(photo, outcome)


def delete_photo(state: EmulatorState, image: Doc) -> None:
    """Delete the photo bytes of an image, keeping everything computed from them."""
    if image.get("photo_deleted"):
        return
    for aux in state.store.children("aux_images", image["id"]):
        data = aux_jpeg(state, aux)
        if data is not None:
            state.store.put_blob(aux_blob_id(aux["id"]), data)
    state.store.drop_blob(image["id"])
    image["photo_deleted"] = True
    state.store.replace("images", image)


def delete_metadata(state: EmulatorState, image: Doc) -> None:
    """Delete the computed results of an image (``expire_metadata_after_days``)."""
    if image.get("metadata_deleted"):
        return
    for table in ("results", "aux_images"):
        for doc in state.store.children(table, image["id"]):
            state.store.delete(table, doc["id"])
            state.store.drop_blob(aux_blob_id(doc["id"]))
    state.answers.forget(image["id"])
    image["metadata_deleted"] = True
    state.store.replace("images", image)


def sweep_expired(state: EmulatorState, now: float) -> None:
    """Apply every dataset's ``expire_images_after_days`` / ``expire_metadata_after_days``."""
    for dataset in state.store.all("datasets"):
        photo_days = dataset.get("expire_images_after_days")
        metadata_days = dataset.get("expire_metadata_after_days")
        if photo_days is None and metadata_days is None:
            continue
        for subject in state.store.children("subjects", dataset["id"]):
            for image in state.store.owned("images", subject["id"]):
                age_days = (now - float(image["uploaded_at"])) / DAY_SECONDS
                if photo_days is not None and age_days >= photo_days:
                    delete_photo(state, image)
                if (
                    metadata_days is not None
                    and age_days >= metadata_days
                    and image.get("complete")
                ):
                    delete_metadata(state, image)
