"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from adoscale.handlers import _runtime
from tests.aws import served_moto


@pytest.fixture
def aws() -> Iterator[str]:
    """moto in this process, also served on 127.0.0.1 for the functions' own interpreters."""
    _runtime.client.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), served_moto() as endpoint:
        yield endpoint
    _runtime.client.cache_clear()
