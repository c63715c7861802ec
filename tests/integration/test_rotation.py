"""Rotation (issue 22 item 4): when Azure DevOps refuses the PAT, the controller reads its secret again once
before giving up, so a PAT rotated in Secrets Manager is picked up at once by the Lambdas (whose secret is
cached for minutes) and by `serve`. The ADO emulator over HTTP (it accepts one PAT: the current one), Secrets
Manager, ECS and the lease table in moto, the pass Lambda's handler in process."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.ado import AdoAuthError
from adoscale.handlers import _runtime, pass_
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table
from tests.integration.test_retried_pass import Context

TABLE = "adoscale-leases"


@pytest.fixture
def deployed(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    _runtime.client.cache_clear()
    _runtime.clear_cache()
    with mock_aws():
        hold_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        manager = boto3.client("secretsmanager", region_name="us-east-1")
        model.pat = secrets.token_urlsafe(24)
        arn = manager.create_secret(Name="ado/pat", SecretString=model.pat)["ARN"]
        config = config_for(world, org_url, [{"name": "linux"}])
        monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", TABLE)
        monkeypatch.setenv("AZP_TOKEN_SECRET_ARN", arn)
        monkeypatch.delenv("AZP_TOKEN", raising=False)
        yield manager, arn
    _runtime.client.cache_clear()
    _runtime.clear_cache()


def test_the_pass_lambda_reads_a_rotated_pat_when_the_cached_one_is_refused(deployed: Any, model: AdoModel) -> None:
    manager, arn = deployed
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    event = {"action": "pass", "pool": "linux"}
    assert pass_.handler(dict(event), Context())["report"]["errors"] == []  # the PAT is now cached (300 s)
    # Rotation: the new PAT is stored, then the old one revoked.
    model.pat = secrets.token_urlsafe(24)
    manager.put_secret_value(SecretId=arn, SecretString=model.pat)
    model.queue_job(pool)
    result = pass_.handler(dict(event), Context())
    assert result["report"]["errors"] == [] and result["report"]["launched"] == 1


def test_a_refused_pat_that_was_not_rotated_still_fails_the_pass(deployed: Any, model: AdoModel) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    pass_.handler({"action": "pass", "pool": "linux"}, Context())
    model.pat = secrets.token_urlsafe(24)  # revoked, and the secret still holds the old one
    with pytest.raises(AdoAuthError):
        pass_.handler({"action": "pass", "pool": "linux"}, Context())


def test_serve_carries_on_with_a_rotated_pat(
    model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """`serve` in this process's main thread (where Python runs its signal handlers), AWS in moto (in
    process): the PAT is rotated between two passes; serve reads the secret again, carries on, and serves the
    job queued after the rotation; SIGTERM then stops it with exit 0 (before: exit 3 at the first refusal)."""
    import os
    import signal
    import threading
    import time

    from typer.testing import CliRunner

    from adoscale.cli import app
    from adoscale.cli.commands import register
    from tests.aws import ecs_world

    register()
    monkeypatch.delenv("AZP_TOKEN", raising=False)
    monkeypatch.delenv("AZP_TOKEN_SECRET_ARN", raising=False)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    stray: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: stray.append(signum))
    try:
        with ecs_world() as (ecs, resources):
            manager = boto3.client("secretsmanager", region_name="us-east-1")
            model.pat = secrets.token_urlsafe(24)
            arn = manager.create_secret(Name="ado/pat", SecretString=model.pat)["ARN"]
            path = tmp_path / "adoscale.json"
            body = config_for(resources, org_url, [{"name": "linux"}]).model_dump(mode="json", exclude_none=True)
            path.write_text(__import__("json").dumps({**body, "pat_secret": arn}))
            launched: list[bool] = []

            def drive() -> None:
                give_up = time.monotonic() + 30  # bounds on waits for serve's passes, not sleeps
                while model.stats.total < 3 and time.monotonic() < give_up:
                    time.sleep(0.01)
                model.pat = secrets.token_urlsafe(24)  # rotated: the old one revoked, the new one stored
                manager.put_secret_value(SecretId=arn, SecretString=model.pat)
                model.queue_job(pool)
                while not launched and time.monotonic() < give_up:
                    launched.extend([True] if ecs.list_tasks(cluster=resources.cluster)["taskArns"] else [])
                    time.sleep(0.05)
                os.kill(os.getpid(), signal.SIGTERM)

            driver = threading.Thread(target=drive, daemon=True)
            driver.start()
            result = CliRunner().invoke(app, ["serve", "--config", str(path), "--interval", "1"])
            driver.join(timeout=35)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert launched, result.output
    assert result.exit_code == 0 and not stray, result.output
