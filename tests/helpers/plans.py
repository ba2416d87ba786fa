"""The plan the database makes for a query the code builds (for tests and bench/admin_users.py).

SQLite: EXPLAIN QUERY PLAN. PostgreSQL: EXPLAIN for the values at hand (a custom plan, what the first executions of
a prepared statement get), or with `generic=True` the plan made without looking at the values, which PostgreSQL may
switch to from the sixth execution of a prepared statement on (asyncpg prepares every statement SQLAlchemy sends).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, literal, text
from sqlalchemy.ext.asyncio import AsyncSession

PROBE = "plan_probe"


async def explain(session: AsyncSession, query: Select[Any], *, generic: bool = False) -> list[str]:
    """One line per plan node: SQLite's detail column, PostgreSQL's text format."""
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite" or not generic:
        compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
        rows = (await session.execute(text(prefix + str(compiled)))).all()
        return [str(row[-1]) for row in rows]
    # The statement as the driver gets it ($1, $2, ... with their casts), prepared and planned generically.
    compiled = query.compile(dialect=dialect)
    positions = compiled.positiontup or []
    values = [
        str(literal(compiled.params[name]).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for name in positions
    ]
    connection = await session.connection()
    await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    await connection.exec_driver_sql(f"PREPARE {PROBE} AS {compiled}")
    arguments = f"({', '.join(values)})" if values else ""
    rows = (await connection.exec_driver_sql(f"EXPLAIN EXECUTE {PROBE}{arguments}")).all()
    await connection.exec_driver_sql(f"DEALLOCATE {PROBE}")
    return [str(row[0]) for row in rows]
