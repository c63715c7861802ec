"""Recording the AWS calls each Lambda handler makes, for the least-privilege checks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from adoscale.handlers import _runtime
from tests.workflow.test_workflow import Context


class Recorder:
    def __init__(self) -> None:
        self.current: str | None = None
        self.calls: dict[str, set[str]] = defaultdict(set)

    def run(
        self, name: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any]
    ) -> dict[str, Any]:
        # Each function is its own process in Lambda: no cache is shared between them.
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()  # type: ignore[no-untyped-call]  # powertools leaves it unannotated
        _runtime.client.cache_clear()
        self.current = name
        try:
            return handler(event, Context(f"adoscale-{name}"))
        finally:
            self.current = None
