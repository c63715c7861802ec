"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from adoscale_lab.emulator import AdoModel, Faults, RunningServer, make_app, serve
from adoscale_lab.moto_rules import autoscaling, dynamodb
from adoscale_lab.moto_rules.ecs import EcsRules, run_task_client_token
from tests.lambda_package import LambdaPackage
from tests.lambda_package import build as build_lambda_package

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

PAT = "emulator-pat-0123456789"
ORG = "acme"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _aws_test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS: dummy credentials and a fixed region everywhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AZP_TOKEN", raising=False)
    monkeypatch.delenv("AZP_URL", raising=False)


@pytest.fixture(autouse=True)
def _atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB's conditional writes are atomic; moto's are not. The lease rests on that rule, so every test
    gets it (`adoscale_lab.moto_rules.dynamodb`, which cites the rule)."""
    dynamodb.atomic_writes(monkeypatch)


@pytest.fixture
def model() -> AdoModel:
    return AdoModel(org=ORG, pat=PAT)


@pytest.fixture
def faults() -> Faults:
    return Faults(seed=7)


@pytest.fixture
def ado_server(model: AdoModel, faults: Faults) -> Iterator[RunningServer]:
    """The ADO emulator over real HTTP on 127.0.0.1."""
    with serve(make_app(model, faults), port=0) as server:
        yield server


@pytest.fixture
def org_url(ado_server: RunningServer) -> str:
    return f"{ado_server.url}/{ORG}"


@pytest.fixture
def lifecycle_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """moto lacks CompleteLifecycleAction and RecordLifecycleActionHeartbeat: add them, recording calls."""
    return autoscaling.lifecycle_actions(monkeypatch)


@pytest.fixture
def idempotent_run_task(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """ECS RunTask's `clientToken` rule, which moto does not enforce: a repeated token answers the first
    call's result and starts nothing (docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html)."""
    return run_task_client_token(monkeypatch)


@pytest.fixture(scope="session")
def lambda_package(tmp_path_factory: pytest.TempPathFactory) -> LambdaPackage:
    """The Lambda zip built once per session by `adoscale package`, extracted as Lambda runs it."""
    return build_lambda_package(tmp_path_factory.mktemp("lambda"))


@pytest.fixture(autouse=True)
def ecs_rules(monkeypatch: pytest.MonkeyPatch) -> EcsRules:
    """ECS refuses requests that break its documented rules (startedBy's characters and length, tag
    characters, startedBy as ListTasks' only filter, overrides within 8,192 characters;
    `adoscale_lab.moto_rules.ecs` cites the API reference), and lists only RUNNING tasks when ListTasks
    names no status; moto does neither. Every test gets both, and may read the recorded calls through this fixture."""
    return EcsRules.install(monkeypatch)


# The layers (CONTRIBUTING.md): what talks over sockets (the emulator's HTTP API, serve, the Lambda
# runtime's processes, Terraform) is `slow`, deploy tests also `deploy`, so that `pytest -m "not slow and
# not deploy"` is the fast loop: unit, contract and in-process adapter tests (with `-n 2`, under a minute here).
SLOW_LAYERS = frozenset(
    {"integration", "workflow", "agent", "sdk", "hostile", "sim", "deploy", "emulator", "environments"}
)
SLOW_FILES = frozenset(
    {"test_demo.py", "hooks/test_end_to_end.py", "cli/test_sandbox.py", "cli/test_noise_and_width.py"}
)


# The unit layer, `pytest -m unit`: pure decisions, models, parsing and validation, in process (moto in-process
# where a reader needs AWS); the loop that runs in seconds.
UNIT_LAYERS = frozenset({"scaling", "ado", "config"})
UNIT_FILES = frozenset({"test_import_graph.py", "test_secrets.py", "hooks/test_validate.py"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).relative_to(REPO / "tests").parts
        if parts and (parts[0] in UNIT_LAYERS or "/".join(parts) in UNIT_FILES):
            item.add_marker(pytest.mark.unit)
        if parts and (parts[0] in SLOW_LAYERS or "/".join(parts) in SLOW_FILES):
            item.add_marker(pytest.mark.slow)
        if parts and parts[0] == "deploy":
            item.add_marker(pytest.mark.deploy)
