"""The backfill's plain parts, testable without Prefect: which images to re-read and in which
chunks (:mod:`~tasks.backfill.plan`), reading what the API holds for them now
(:mod:`~tasks.backfill.read`) and writing it to the lake and the ledger
(:mod:`~tasks.backfill.write`). The flow that wraps them is :mod:`flows.backfill`.
"""
