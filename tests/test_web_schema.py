"""Schemathesis over the explorer's OpenAPI schema: whatever the body, no answer is a 5xx,
and every 4xx names the field it blames.

Examples are few and bounded (a handful per operation) so the whole file runs in seconds;
the deterministic derandomised run makes a failure reproducible.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from losslab.web import create_app  # noqa: E402

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_errors_name_the_field(case):
    response = case.call()
    assert response.status_code < 500, (case.path, case.body, response.text[:500])
    if 400 <= response.status_code < 500:
        body = response.json()
        assert body.get("field"), (case.path, case.body, body)
