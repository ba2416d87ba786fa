"""The finance benches run end to end with tiny sizes, so they cannot rot between the runs that give figures."""

from __future__ import annotations

import pytest

from bench import finance_entry, finance_month


async def test_month_bench_times_and_explains_the_repository_queries(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await finance_month.main(database_url, rows=300, runs=2, deep_page=3)
    printed = capsys.readouterr().out
    assert "transactions, page 3 (by cursor)" in printed
    # Each plan follows the statement the repository really sent, captured from the engine.
    for label in ("quick entry's draft", "month summary by category", "transactions, page 1", "transactions, page 3"):
        assert f"\n{label}:\n    SELECT " in printed
    assert "finance_transactions" in printed.split("month summary by category:\n", 1)[1]


def test_entry_bench_adds_by_rest_and_through_the_webhook(capsys: pytest.CaptureFixture[str]) -> None:
    status = finance_entry.main(
        [
            "--requests",
            "10",
            "--sequential",
            "3",
            "--connections",
            "2",
            "--rounds",
            "1",
            "--messages",
            "1",
            "--warmup",
            "1",
            "--no-pin",
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "app, Idempotency-Key" in printed
    assert "Save tap -> its answer at the stand-in" in printed
