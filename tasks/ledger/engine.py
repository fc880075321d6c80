"""The ledger's database plumbing: the engine (SQLite tuned for several writers) and the
statements the ledger runs, built once per shape."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Engine,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import URL, Connection

SQLITE_BUSY_TIMEOUT_MS = 30_000


# Statements are built once per shape and run with parameters: rebuilding a statement with
# literal values on every record costs more than the database's own work.
@functools.cache
def insert_statement(table: Table) -> Insert:
    return table.insert()


@functools.cache
def update_statement(table: Table, key: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    return (
        table.update()
        .where(*(table.c[name] == bindparam(f"key_{name}") for name in key))
        .values({name: bindparam(name) for name in columns})
    )


@functools.cache
def select_statement(table: Table, key: tuple[str, ...]) -> Select[Any]:
    return select(table).where(*(table.c[name] == bindparam(f"key_{name}") for name in key))


def key_params(key: Mapping[str, Any]) -> dict[str, Any]:
    return {f"key_{name}": value for name, value in key.items()}


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" hook below open transactions: pysqlite's own deferred BEGIN lets
        # two writers deadlock on the read-to-write upgrade, where busy_timeout cannot help.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a killed process
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
