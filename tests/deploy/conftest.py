"""Fixtures of the deploy tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from adoscale.handlers import _runtime
from tests.deploy.recording import Recorder


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        if rec.current is not None:
            prefix = self.meta.service_model.signing_name or self.meta.service_model.endpoint_prefix
            rec.calls[rec.current].add(f"{prefix}:{operation_name}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    _runtime.client.cache_clear()
    yield rec
    _runtime.client.cache_clear()
