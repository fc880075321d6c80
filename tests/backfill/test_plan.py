"""The backfill's plain parts, without a server: chunk planning, the history range, the
summary's capped lists, the command's defaults and the ledger's application filter."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime
from pathlib import Path

from flows.backfill import LISTED_IMAGES, BackfillSummary
from flows.options import BackfillOptions
from haut.paths import FSM2_APPLICATION_ID
from hautflow.backfill_cli import backfill_command
from schemas.captures import Side, SourceImage, UploadedImage
from tasks.backfill.plan import SubjectSlice, Target, plan_chunks
from tasks.lake import RunRecord
from tasks.ledger import ImageState, Ledger
from tasks.smoothing.settings import DEFAULT_MAX_SIZE, DEFAULT_WINDOW_DAYS


def _target(subject: str, day: int, *, at: datetime | None = None) -> Target:
    source = SourceImage(
        uri=f"/photos/{subject}/{day}/front.jpg",
        side=Side.FRONT,
        sha256=f"{subject}{day}",
        size=1,
        image_format="JPEG",
        captured_at=at or datetime(2026, 1, day, 12, tzinfo=UTC),
        captured_at_source="folder",
        light_id=1,
    )
    image = UploadedImage(
        capture_id=f"{subject}{day}",
        subject_key=subject,
        session_key=str(day),
        dataset_id="d",
        subject_id=subject,
        batch_id=f"b{subject}{day}",
        image_id=f"i{subject}{day}",
        source=source,
        uploaded_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    return Target(image, ImageState.WRITTEN)


def test_chunks_keep_a_subject_together_in_time_order_and_share_room() -> None:
    targets = [_target("amy", d) for d in (9, 2, 5)] + [_target("ben", 3), _target("cy", 4)]

    chunks = plan_chunks(targets, size=2)

    def shape(slices: list[SubjectSlice]) -> list[tuple[str, list[int]]]:
        return [
            (s.subject.subject_id, [t.image.source.captured_at.day for t in s.targets])
            for s in slices
        ]

    assert [shape(chunk) for chunk in chunks] == [
        [("amy", [2, 5])],
        [("amy", [9]), ("ben", [3])],
        [("cy", [4])],
    ]
    assert [len(chunk) for chunk in plan_chunks(targets, size=50)] == [3]


def test_the_history_range_covers_the_slice_from_its_first_to_just_after_its_last_second() -> None:
    first = datetime(2026, 1, 2, 8, 30, 5, 700_000, tzinfo=UTC)
    last = datetime(2026, 1, 9, 23, 59, 59, 999_999, tzinfo=UTC)
    piece = SubjectSlice((_target("amy", 2, at=first), _target("amy", 9, at=last)))

    assert piece.history_range == (
        datetime(2026, 1, 2, 8, 30, 5, tzinfo=UTC),  # whole seconds, as the API keeps them
        datetime(2026, 1, 10, 0, 0, 0, tzinfo=UTC),  # exclusive: the last image stays in
    )


def test_the_summary_names_at_most_twenty_images_then_counts_the_rest() -> None:
    record = RunRecord(
        run_id="r", started_at=datetime(2026, 1, 1, tzinfo=UTC), source="s", status="x"
    )
    summary = BackfillSummary(
        record=record,
        images=40,
        pending=[f"p{i}" for i in range(15)],
        failed=[(f"f{i}", "gone") for i in range(10)],
        smoothing_failed=[("s0", "mean", "refused")],
    )

    lines = summary.problems()

    assert len(lines) == LISTED_IMAGES + 1
    assert lines[0].startswith("pending p0")
    assert lines[15] == "not rewritten f0: gone"
    assert lines[-1] == f"... and {26 - LISTED_IMAGES} more"
    assert not summary.ok
    assert ("rows written (all tables)", 0) in summary.count_rows()
    short = BackfillSummary(record=record, images=1, smoothing_failed=[("s0", "mean", "no")])
    assert short.problems() == ["smoothing mean refused for s0: no"]


def test_defaults_are_the_smoothing_defaults_and_need_no_options() -> None:
    options = BackfillOptions()  # a deployment may leave every option out
    assert (options.window_days, options.max_size) == (DEFAULT_WINDOW_DAYS, DEFAULT_MAX_SIZE)
    parameters = inspect.signature(backfill_command).parameters
    assert parameters["window"].default == DEFAULT_WINDOW_DAYS
    assert parameters["max_size"].default == DEFAULT_MAX_SIZE
    assert options.capture_bounds() == (None, None)
    bounded = BackfillOptions(date_from=date(2026, 1, 5), date_to=date(2026, 1, 5))
    assert bounded.capture_bounds() == (
        datetime(2026, 1, 5, tzinfo=UTC),
        datetime(2026, 1, 6, tzinfo=UTC),
    )


def test_the_complete_rule_comes_from_the_ingests_application_only(tmp_path: Path) -> None:
    ledger = Ledger.sqlite(tmp_path / "ledger.sqlite")
    try:
        ledger.dataset_creating("hautflow", 1)
        ledger.dataset_created("hautflow", "dataset-1")
        assert ledger.enabled_algorithms("hautflow") is None
        ledger.application_creating("hautflow", "another-app", None)
        ledger.application_created("hautflow", "another-app", "run-1", [99])
        assert ledger.enabled_algorithms("hautflow") is None  # not the ingest's application
        ledger.application_creating("hautflow", FSM2_APPLICATION_ID, None)
        assert ledger.enabled_algorithms("hautflow") is None  # attach not done yet
        ledger.application_created("hautflow", FSM2_APPLICATION_ID, "run-1", [40, 30])
        assert ledger.enabled_algorithms("hautflow") == (30, 40)
        assert ledger.enabled_algorithms("hautflow", "another-app") == (99,)
    finally:
        ledger.close()
