"""SQLite state of the emulator: every resource, image bytes, pending work and the clock offset.

``":memory:"`` by default; with a file path, reopening the same file gives the same service
(users, tokens, ids, results, pending processing, webhook deliveries, clock offset).
Resources are JSON documents in tables keyed by id, with ``parent`` (the owning resource) and
``owner`` (a second lookup key, e.g. an image's subject) columns for the lookups the API needs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from schemas.errors import HautflowError

Doc = dict[str, Any]

DOC_TABLES = (
    "datasets",  # parent: company_id
    "app_runs",  # parent: dataset_id, owner: application_id
    "subjects",  # parent: dataset_id
    "batches",  # parent: subject_id
    "images",  # parent: batch_id, owner: subject_id
    "results",  # parent: image_id
    "aux_images",  # parent: image_id
    "webhooks",  # parent: dataset_id
)

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT,
       username TEXT UNIQUE NOT NULL, company_id TEXT NOT NULL, creation_time TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS private_tokens (id INTEGER PRIMARY KEY AUTOINCREMENT,
       user_id INTEGER NOT NULL, token_sha256 TEXT UNIQUE NOT NULL, doc TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    """CREATE TABLE IF NOT EXISTS jobs (image_id TEXT NOT NULL, algorithm_id INTEGER NOT NULL,
       due_at REAL NOT NULL, PRIMARY KEY (image_id, algorithm_id))""",
    "CREATE INDEX IF NOT EXISTS jobs_due ON jobs (due_at)",
    "CREATE TABLE IF NOT EXISTS uploads (sha256 TEXT PRIMARY KEY, count INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT,
       state TEXT NOT NULL, next_at REAL NOT NULL, doc TEXT NOT NULL)""",
    *(
        f"""CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT UNIQUE NOT NULL, parent TEXT NOT NULL, owner TEXT, doc TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS {table}_parent ON {table} (parent);
            CREATE INDEX IF NOT EXISTS {table}_owner ON {table} (owner)"""
        for table in DOC_TABLES
    ),
]


class StateFileError(HautflowError, RuntimeError):
    """The emulator's state file cannot be created or opened."""


class Store:
    """Thread-safe access to the emulator's SQLite database (one connection, one lock)."""

    def __init__(self, path: Path | str | None = None):
        target = str(path) if path is not None else ":memory:"
        db: sqlite3.Connection | None = None
        try:
            if target != ":memory:":
                # ``--state runs/new/haut.sqlite`` is a place to keep state, not a demand that
                # the folder already exist.
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            for statement in _SCHEMA:
                db.executescript(statement)
        except (OSError, sqlite3.Error) as exc:
            if db is not None:
                db.close()
            raise StateFileError(
                f"cannot open the emulator state file {target}: {exc}; pass the path of a "
                "writable file (new or an emulator's earlier state), or none to keep it in memory"
            ) from exc
        self._db = db
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes so a crash leaves all or none of them."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- meta -----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        rows = self.execute("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- resource documents -----------------------------------------------------------------

    def insert(
        self,
        table: str,
        doc: Doc,
        *,
        parent: str,
        owner: str | None = None,
        text: str | None = None,
    ) -> Doc:
        """Store ``doc``; ``text``: its JSON, when the caller has it already."""
        self.execute(
            f"INSERT INTO {_doc_table(table)} (id, parent, owner, doc) VALUES (?, ?, ?, ?)",  # noqa: S608
            (doc["id"], parent, owner, json.dumps(doc) if text is None else text),
        )
        return doc

    def get(self, table: str, doc_id: str, *, parent: str | None = None) -> Doc | None:
        sql = f"SELECT doc FROM {_doc_table(table)} WHERE id = ?"  # noqa: S608
        params: tuple[Any, ...] = (doc_id,)
        if parent is not None:
            sql += " AND parent = ?"
            params += (parent,)
        rows = self.execute(sql, params)
        return json.loads(rows[0][0]) if rows else None

    def replace(self, table: str, doc: Doc) -> Doc:
        self.execute(
            f"UPDATE {_doc_table(table)} SET doc = ? WHERE id = ?",  # noqa: S608
            (json.dumps(doc), doc["id"]),
        )
        return doc

    def children(self, table: str, parent: str) -> list[Doc]:
        """Documents under ``parent``, oldest first."""
        return self._docs("WHERE parent = ? ORDER BY seq", table, (parent,))

    def count_children(self, table: str, parent: str) -> int:
        """How many documents are under ``parent`` (without reading them)."""
        sql = f"SELECT COUNT(*) FROM {_doc_table(table)} WHERE parent = ?"  # noqa: S608
        return int(self.execute(sql, (parent,))[0][0])

    def child_ids(self, table: str, parent: str) -> list[str]:
        """The ids of the documents under ``parent``, oldest first (without reading them)."""
        sql = f"SELECT id FROM {_doc_table(table)} WHERE parent = ? ORDER BY seq"  # noqa: S608
        return [str(row[0]) for row in self.execute(sql, (parent,))]

    def owned(self, table: str, owner: str) -> list[Doc]:
        return self._docs("WHERE owner = ? ORDER BY seq", table, (owner,))

    def all(self, table: str) -> list[Doc]:
        return self._docs("ORDER BY seq", table, ())

    def delete(self, table: str, doc_id: str) -> None:
        self.execute(f"DELETE FROM {_doc_table(table)} WHERE id = ?", (doc_id,))  # noqa: S608

    def count(self, table: str) -> int:
        return int(self.execute(f"SELECT COUNT(*) FROM {_doc_table(table)}")[0][0])  # noqa: S608

    def _docs(self, clause: str, table: str, params: tuple[Any, ...]) -> list[Doc]:
        rows = self.execute(f"SELECT doc FROM {_doc_table(table)} {clause}", params)  # noqa: S608
        return [json.loads(row[0]) for row in rows]

    # --- bytes ----------------------------------------------------------------------------

    def put_blob(self, blob_id: str, data: bytes) -> None:
        self.execute("INSERT OR REPLACE INTO blobs (id, data) VALUES (?, ?)", (blob_id, data))

    def blob(self, blob_id: str) -> bytes | None:
        rows = self.execute("SELECT data FROM blobs WHERE id = ?", (blob_id,))
        return bytes(rows[0][0]) if rows else None

    def drop_blob(self, blob_id: str) -> None:
        self.execute("DELETE FROM blobs WHERE id = ?", (blob_id,))

    # --- pending processing ---------------------------------------------------------------

    def add_job(self, image_id: str, algorithm_id: int, due_at: float) -> None:
        self.execute(
            "INSERT OR REPLACE INTO jobs (image_id, algorithm_id, due_at) VALUES (?, ?, ?)",
            (image_id, algorithm_id, due_at),
        )

    def due_jobs(self, now: float) -> list[tuple[str, int, float]]:
        rows = self.execute(
            "SELECT image_id, algorithm_id, due_at FROM jobs WHERE due_at <= ? "
            "ORDER BY due_at, image_id, algorithm_id",
            (now,),
        )
        return [(str(r[0]), int(r[1]), float(r[2])) for r in rows]

    def pending_jobs(self, image_id: str) -> int:
        return int(self.execute("SELECT COUNT(*) FROM jobs WHERE image_id = ?", (image_id,))[0][0])

    def finish_job(self, image_id: str, algorithm_id: int) -> None:
        self.execute(
            "DELETE FROM jobs WHERE image_id = ? AND algorithm_id = ?", (image_id, algorithm_id)
        )

    def drop_jobs(self, image_id: str) -> None:
        self.execute("DELETE FROM jobs WHERE image_id = ?", (image_id,))

    # --- upload counts (proof that nothing was uploaded twice) -----------------------------

    def count_upload(self, sha256: str) -> None:
        self.execute(
            "INSERT INTO uploads (sha256, count) VALUES (?, 1) "
            "ON CONFLICT(sha256) DO UPDATE SET count = count + 1",
            (sha256,),
        )

    def uploads(self) -> dict[str, int]:
        return {str(s): int(c) for s, c in self.execute("SELECT sha256, count FROM uploads")}


def _doc_table(table: str) -> str:
    # Table names are interpolated into SQL: only the fixed set is allowed.
    if table not in DOC_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table
