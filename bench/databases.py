"""The finance benches' databases: a throwaway PostgreSQL server, and the statements a code path really sends,
captured from the engine, with their plans.

Plans come from the captured SQL and parameters, never from a hand-written copy of a query, so they show what the
repository asks after any change to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers.postgres import PostgresServer

# The database every fresh cluster has; the benches use the whole throwaway server, so a database of their own
# would add nothing.
POSTGRES_DATABASE = "postgres"


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server of the tests' kind (own folder, loopback port, fsync off), stopped however the block
    ends; yields its SQLAlchemy URL. Durability off only changes commits, not the plans or reads measured here."""
    server = PostgresServer()
    try:
        server.start()
        yield f"{server.url}/{POSTGRES_DATABASE}"
    finally:
        server.stop()


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any


@contextmanager
def captured(*engines: AsyncEngine) -> Iterator[list[Statement]]:
    """Every statement sent through these engines inside the block, as the driver received it."""
    found: list[Statement] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        found.append(Statement(statement, parameters))

    unique = {id(engine): engine for engine in engines}.values()
    for engine in unique:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield found
    finally:
        for engine in unique:
            event.remove(engine.sync_engine, "before_cursor_execute", record)


async def explain(engine: AsyncEngine, statement: Statement) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN as an indented tree, or PostgreSQL's EXPLAIN (ANALYZE, BUFFERS), of a statement
    with the parameters it was sent with. ANALYZE runs the statement: only for reads."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement.sql, statement.parameters)).all()
            depth: dict[int, int] = {0: -1}
            lines = []
            for row in rows:
                # A node's depth is its parent's plus one.
                node, parent, _, detail = list(row)
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + str(detail))
            return lines
        prefix = "EXPLAIN (ANALYZE, BUFFERS) "
        rows = (await conn.exec_driver_sql(prefix + statement.sql, statement.parameters)).all()
        return [str(row[0]) for row in rows]
