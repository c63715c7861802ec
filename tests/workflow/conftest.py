"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from adoscale.handlers import _runtime
from tests.aws import served_moto
from tests.lambda_package import LambdaPackage
from tests.lambda_runtime import LambdaRuntime, route_moto_invoke


@pytest.fixture
def aws() -> Iterator[str]:
    """moto in this process, also served on 127.0.0.1 for the functions' own interpreters."""
    _runtime.client.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), served_moto() as endpoint:
        yield endpoint
    _runtime.client.cache_clear()


@pytest.fixture
def routed_lambdas(aws: str, lambda_package: LambdaPackage, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """moto's Lambda invoke wants Docker: run each function's handler from the built zip instead."""
    runtime = LambdaRuntime(lambda_package, endpoint_url=aws)
    route_moto_invoke(monkeypatch, runtime)
    try:
        yield runtime.invoked
    finally:
        runtime.close()
