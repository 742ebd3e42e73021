"""schemathesis against the app's own /openapi.json: no generated request (odd sensor ids,
out-of-range limits, non-numeric times, bodies) may produce a server error, and every
response must match the documented schema and status codes.

Driven from a plain test over ``get_all_operations()`` (one hypothesis run per operation)
rather than ``schemathesis.pytest.from_fixture``, whose lazy loader does not work with
pytest 9 here.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_support import TOKEN, Fed, build_app
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def operations(fed: Fed) -> dict[str, schemathesis.APIOperation]:
    # schemathesis calls the app as http://testserver: a host this app is configured to
    # serve (service.allowed_hosts), as a deployment behind that name would be.
    app = build_app(fed, TOKEN, allowed_hosts=["testserver"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    ops = [result.ok() for result in schema.get_all_operations()]
    return {f"{op.method.upper()} {op.path}": op for op in ops}


def test_the_schema_covers_every_route(fed: Fed) -> None:
    assert set(operations(fed)) == {
        "GET /",
        "GET /api/health",
        "GET /api/sensors",
        "GET /api/sensors/{sensor_id}",
        "GET /api/sensors/{sensor_id}/features",
        "GET /api/sensors/{sensor_id}/indices",
        "GET /api/alerts",
        "POST /api/sensors/{sensor_id}/baseline",
        "GET /metrics",
    }


@pytest.mark.parametrize(
    "name",
    [
        "GET /api/health",
        "GET /api/sensors",
        "GET /api/sensors/{sensor_id}",
        "GET /api/sensors/{sensor_id}/features",
        "GET /api/sensors/{sensor_id}/indices",
        "GET /api/alerts",
        "POST /api/sensors/{sensor_id}/baseline",
        "GET /metrics",
        "GET /",
    ],
)
def test_no_server_error_and_responses_match_the_schema(fed: Fed, name: str) -> None:
    op = operations(fed)[name]

    @given(case=op.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()
