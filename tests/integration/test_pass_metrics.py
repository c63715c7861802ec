"""The pass Lambda's EMF output (issue 24): every metric of `adoscale.metrics` for the pool, with the pass's
own figures, in CloudWatch's embedded metric format (`_aws.CloudWatchMetrics`: namespace, dimension `Pool`,
each metric's name and unit; docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html). A pass that raises still publishes its error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.handlers import _runtime, pass_
from adoscale.metrics import METRICS, NAMES
from adoscale.transient import AwsUnavailableError
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table
from tests.conftest import PAT
from tests.integration.test_retried_pass import Context

TABLE = "adoscale-leases"


@pytest.fixture
def pass_world(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    _runtime.client.cache_clear()
    with mock_aws():
        hold_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        config = config_for(world, org_url, [{"name": "linux", "max_agents": 5, "capabilities": ["docker"]}])
        monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", TABLE)
        monkeypatch.setenv("AZP_TOKEN", PAT)
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "adoscale")
        yield ecs
    _runtime.client.cache_clear()


def _emf(out: str) -> list[dict[str, Any]]:
    """The EMF records printed, each metric's value unwrapped (powertools writes a list of values)."""
    records = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            records.append({k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in record.items()})
    return records


def test_the_pass_publishes_every_metric_with_its_figures(
    pass_world: Any, model: AdoModel, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    for _ in range(3):
        model.queue_job(pool, ["docker"])
    model.queue_job(pool, ["gpu"])
    result = pass_.handler({"action": "pass", "pool": "linux"}, Context())
    assert result["report"]["launched"] == 3
    [record] = _emf(capsys.readouterr().out)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["Pool"]] and record["Pool"] == "linux"
    published = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert published == {m.name: m.unit for m in METRICS}
    assert (record["QueuedJobs"], record["UnservableJobs"], record["LaunchedTasks"]) == (3, 1, 3)
    assert record["LaunchFailures"] == 0 and record["PassErrors"] == 0 and record["PassSkipped"] == 0
    assert 0 <= record["OldestQueuedSeconds"] < 120 and record["PassDuration"] > 0

    # The next pass: an agent came online and took a job; starting and busy move, nothing launches.
    task = next(iter(pass_world.list_tasks(cluster="ado-agents")["taskArns"]))
    model.register_agent(pool, task.rsplit("/", 1)[-1], {"docker": ""}, once=True)
    pass_.handler({"action": "pass", "pool": "linux"}, Context())
    [second] = _emf(capsys.readouterr().out)
    assert (second["QueuedJobs"], second["BusyAgents"], second["StartingTasks"], second["LaunchedTasks"]) == (
        2,
        1,
        2,
        0,
    )


def test_a_pass_that_raises_still_publishes_its_error(
    pass_world: Any, model: AdoModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from adoscale.compute import EcsCompute

    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)

    def unavailable(self: EcsCompute, pool: str) -> list[Any]:
        raise AwsUnavailableError("ListTasks: ThrottlingException")

    monkeypatch.setattr(EcsCompute, "list_tasks", unavailable)
    with pytest.raises(AwsUnavailableError):
        pass_.handler({"action": "pass", "pool": "linux"}, Context())
    [record] = _emf(capsys.readouterr().out)
    assert record["PassErrors"] == 1 and record["Pool"] == "linux"
    assert {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]} <= NAMES
