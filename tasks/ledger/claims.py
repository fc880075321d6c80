"""Claims: which run works on which subject, on a PostgreSQL ledger that several runs share.

The run lock (:mod:`tasks.ledger.lock`) lets one run at a time use a ledger. Runs that share a
PostgreSQL ledger (overlapping scheduled runs, the shards of a sharded run on several workers)
instead each *claim* the subjects they are about to work on. A subject's sessions then stay
with one run, in order, and two runs never create the same subject, batch or image. A claim is
one row of ``ledger_claims`` per (dataset, subject) that names the run and a lease:

- :func:`claim` takes the subjects that are free, or whose claim has lapsed (its run died and
  stopped renewing it), in one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``. The row lock of
  each conflicting row decides between two runs claiming at once, and each run learns which
  subjects it got (``RETURNING``).
- :func:`renew` moves the run's leases on. A :class:`ClaimHolder` does it from a thread, every
  third of the lease, for as long as the run lives.
- :func:`release` drops the run's claims when it ends.

A dead run's claims lapse after the lease (:data:`LEASE_SECONDS`), and the next run takes them
over. What the dead run left in doubt is then settled by the ledger's usual reconcile, as after
any killed run. Times are the database server's (``now()``), so workers with skewed clocks
still agree when a lease ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable
from datetime import timedelta
from types import TracebackType

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert

import tasks.ledger.tables as t

__all__ = ["LEASE_SECONDS", "ClaimHolder", "claim", "claimed_by_others", "release", "renew"]

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
"""How long a claim outlives its run's last renewal: long enough for a busy database or a
garbage-collection pause, short enough that a killed worker's subjects are taken over soon."""

_CHUNK = 500  # subjects per statement: well under PostgreSQL's parameter limit


def _lease(seconds: float) -> object:
    return func.now() + timedelta(seconds=seconds)


def claim(
    engine: Engine,
    run_id: str,
    dataset: str,
    subject_keys: Iterable[str],
    *,
    lease_seconds: float = LEASE_SECONDS,
) -> set[str]:
    """Claim ``subject_keys`` of ``dataset`` for ``run_id``: the ones it now holds (free ones,
    lapsed ones, and its own); the others are held by live runs."""
    keys = sorted(set(subject_keys))  # one order for every run: no two wait on each other
    held: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        rows = [
            {"dataset_name": dataset, "subject_key": key, "run_id": run_id}
            for key in keys[start : start + _CHUNK]
        ]
        values = insert(t.claims).values(
            [{**row, "claimed_at": func.now(), "expires_at": _lease(lease_seconds)} for row in rows]
        )
        statement = values.on_conflict_do_update(
            index_elements=[t.claims.c.dataset_name, t.claims.c.subject_key],
            set_={
                "run_id": values.excluded.run_id,
                "claimed_at": func.now(),
                "expires_at": values.excluded.expires_at,
            },
            where=or_(t.claims.c.expires_at < func.now(), t.claims.c.run_id == run_id),
        ).returning(t.claims.c.subject_key)
        with engine.begin() as connection:
            held.update(connection.execute(statement).scalars())
    return held


def renew(engine: Engine, run_id: str, *, lease_seconds: float = LEASE_SECONDS) -> int:
    """Move every claim of ``run_id`` on by a lease; how many it still holds."""
    with engine.begin() as connection:
        renewed = connection.execute(
            t.claims.update()
            .where(t.claims.c.run_id == run_id)
            .values(expires_at=_lease(lease_seconds))
        )
    return int(renewed.rowcount)


def release(engine: Engine, run_id: str) -> None:
    """Drop every claim of ``run_id`` (its run ended)."""
    with engine.begin() as connection:
        connection.execute(t.claims.delete().where(t.claims.c.run_id == run_id))


def claimed_by_others(
    engine: Engine, run_id: str, dataset: str, subject_keys: Collection[str]
) -> dict[str, str]:
    """The subjects of ``subject_keys`` that live runs other than ``run_id`` hold: key -> run."""
    keys = sorted(set(subject_keys))
    found: dict[str, str] = {}
    live = t.claims.c.expires_at >= func.now()
    with engine.connect() as connection:
        for start in range(0, len(keys), _CHUNK):
            rows = connection.execute(
                select(t.claims.c.subject_key, t.claims.c.run_id).where(
                    and_(
                        t.claims.c.dataset_name == dataset,
                        t.claims.c.subject_key.in_(keys[start : start + _CHUNK]),
                        t.claims.c.run_id != run_id,
                        live,
                    )
                )
            )
            found.update({key: run for key, run in rows})
    return found


class ClaimHolder:
    """Renews a run's claims from a daemon thread while the run lives; releases them at its
    end (``with ClaimHolder(engine, run_id): ...``). :attr:`lost` turns true when a renewal
    finds fewer claims than the run had: a lease lapsed (the process stalled past it) and
    another run took a subject over."""

    def __init__(
        self, engine: Engine, run_id: str, *, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self.lost = False
        self._held = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True)

    def claim(self, dataset: str, subject_keys: Iterable[str]) -> set[str]:
        """Claim subjects (see :func:`claim`); the ones this run now holds."""
        held = claim(
            self.engine, self.run_id, dataset, subject_keys, lease_seconds=self.lease_seconds
        )
        self._held = renew(self.engine, self.run_id, lease_seconds=self.lease_seconds)
        return held

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                count = renew(self.engine, self.run_id, lease_seconds=self.lease_seconds)
            except Exception:  # a database hiccup: the next renewal tries again
                log.warning("could not renew the claims of run %s", self.run_id, exc_info=True)
                continue
            if count < self._held:
                self.lost = True
                log.warning(
                    "run %s lost %d claim(s) to another run (its lease lapsed)",
                    self.run_id,
                    self._held - count,
                )
            self._held = count

    def __enter__(self) -> ClaimHolder:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        release(self.engine, self.run_id)
