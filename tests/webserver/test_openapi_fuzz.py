"""The API description holds: schemathesis generates requests from /openapi.json for every operation and checks
that the real server, on loopback, never answers 5xx and never answers anything the description does not list
(statuses, content types, bodies, headers). Bounded per operation and in total, so it stays a few minutes at most."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.helpers.served import served_app

EXAMPLES_PER_OPERATION = 12
TOTAL_SECONDS = 150
_ACCOUNTS = itertools.count()


def fresh_token(base: str) -> str:
    """A new account per operation: logout, password changes and session deletion must not spoil the others."""
    body = {"email": f"fuzz{next(_ACCOUNTS)}@example.org", "password": "Fuzzing-Heron-Lantern-42"}
    answer = requests.post(f"{base}/api/v1/auth/register", json=body, timeout=30)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def fuzz(operation: Any, base: str, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        # Schema-valid data may still be refused for reasons no schema states (a common password, a taken
        # name): 422 is documented for those, so "valid data must be accepted" is not checked.
        case.call_and_validate(base_url=base, headers=headers, timeout=30, excluded_checks=[positive_data_acceptance])

    check()


def test_every_operation_keeps_to_its_description(tmp_path: Path) -> None:
    unlimited = {"enabled": False}
    with served_app(tmp_path, ratelimit=unlimited) as base:
        spec = requests.get(f"{base}/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(spec)
        deadline = time.monotonic() + TOTAL_SECONDS
        failures: list[str] = []
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an unusable operation fails loudly here
            operations += 1
            if time.monotonic() > deadline:
                failures.append(f"time budget spent before {operation.label}")
                break
            try:
                fuzz(operation, base, {"Authorization": f"Bearer {fresh_token(base)}"})
            except (Exception, BaseExceptionGroup) as exc:  # every operation runs; failures are reported together
                failures.append(f"{operation.label}: {exc}")
        assert operations > 20
        assert not failures, "\n\n".join(failures)
