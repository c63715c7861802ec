"""Fixtures of the workflow tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaBackend
from moto.ecs.models import EC2ContainerServiceBackend

from adoscale.handlers import _runtime
from tests.aws import served_moto
from tests.lambda_package import LambdaPackage
from tests.lambda_runtime import Function, InvocationError, LambdaRuntime, configured_function, route_moto_invoke


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


@dataclass(frozen=True)
class Invocation:
    at: float  # wall-clock seconds (time.time()), comparable with the execution's startDate
    function: str
    event: Any


class Routing:
    """moto's Lambda invoke wants Docker: run each invocation's configured handler from the built zip (in
    its own interpreter, `tests.lambda_runtime`), recording when it came; `fail_rounds_at` makes the `round`
    action at those offsets fail as a function error would."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self.runtime = runtime
        self.invocations: list[Invocation] = []
        self.fail_rounds_at: set[int] = set()
        self.fail_actions: set[str] = set()  # actions (`plan`, `round`, `pass`) that fail as a function error
        self.fail_functions: set[str] = set()  # functions (`adoscale-waiter`) whose every invocation fails so

    def invoke(self, function: Function, body: Any, response_headers: Any) -> bytes:
        event = json.loads(body) if body else {}
        self.invocations.append(Invocation(time.time(), function.name, event))
        try:
            if event.get("action") == "round" and event.get("offset") in self.fail_rounds_at:
                raise InvocationError("RuntimeError", f"injected failure of the round at +{event['offset']} s")
            if event.get("action") in self.fail_actions:
                raise InvocationError("RuntimeError", f"injected failure of the {event['action']} action")
            if function.name in self.fail_functions:
                raise InvocationError("RuntimeError", f"injected failure of {function.name}")
            result = self.runtime.invoke(function, event)
        except InvocationError as exc:  # a function error, as Lambda reports it
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}).encode()
        return json.dumps(result).encode()

    def passes(self, pool: str) -> list[float]:
        return [
            i.at
            for i in self.invocations
            if i.function == "adoscale-pass" and i.event.get("action") == "pass" and i.event.get("pool") == pool
        ]

    def checks(self, pool: str) -> list[float]:
        return [i.at for i in self.invocations if i.function == "adoscale-waiter" and i.event.get("pool") == pool]


@pytest.fixture
def routing(aws: str, lambda_package: LambdaPackage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Routing]:
    runtime = LambdaRuntime(lambda_package, endpoint_url=aws)
    routing = Routing(runtime)

    def invoke(
        self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        return routing.invoke(configured_function(self, function_name, qualifier), body, response_headers)

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    try:
        yield routing
    finally:
        runtime.close()


@pytest.fixture
def fargate_still_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fargate takes 30-60 s to bring a task to RUNNING; moto creates it RUNNING. Leave new tasks
    PROVISIONING, so that a launch makes the workflow wait its full task wait (every check finds them
    pending): the case in which a round's wait used to push the next round late."""
    original = EC2ContainerServiceBackend.run_task

    def run_task(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            task.last_status = "PROVISIONING"
        return tasks

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", run_task)
