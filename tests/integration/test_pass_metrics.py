"""The pass Lambda's EMF output (issue 24): every metric of `adoscale.metrics` for the pool, with the pass's
own figures, in CloudWatch's embedded metric format (`_aws.CloudWatchMetrics`: namespace, dimension `Pool`,
each metric's name and unit; docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html: a metric's value may be an array of up to 100 values,
each a data point). A pass that raises still publishes its error. Each job's wait and each agent's start-up
are published once, by the first pass that sees them, from the Lambda zip (`tests.lambda_runtime`) as from
another controller sharing the lease table.

ECS's tasks carry `createdAt` (API_Task.html), which moto 5.2 omits: `moto_rules.ecs.created_at` adds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale.handlers import _runtime, pass_
from adoscale.history import HistoryRecord, MemoryHistory
from adoscale.metrics import METRICS, NAMES, PUBLISHED
from adoscale.transient import AwsUnavailableError
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world, served_moto
from tests.clock import Clock
from tests.conftest import PAT
from tests.integration.test_retried_pass import Context
from tests.lambda_package import LambdaPackage
from tests.lambda_runtime import Function, InvocationError, LambdaRuntime

TABLE = "adoscale-leases"


@pytest.fixture
def pass_world(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import created_at, hold_tasks_running

    _runtime.client.cache_clear()
    with mock_aws():
        hold_tasks_running()
        created_at(monkeypatch)
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


@dataclass
class ZipWorld:
    """A pool with a placeholder and two queued jobs, ECS and the lease table in moto on 127.0.0.1, and the
    built zip's runtime: what the zip's pass tests start from."""

    clock: Clock
    pool: Any
    jobs: tuple[int, int]
    ecs: Any
    environment: dict[str, str]
    runtime: LambdaRuntime

    def function(self, name: str = "adoscale-pass", **settings: str) -> Function:
        environment = {**self.environment, **settings}
        return Function(name, "adoscale.handlers.pass_.handler", environment, timeout_s=30)


@contextmanager
def zip_world(
    model: AdoModel, org_url: str, lambda_package: LambdaPackage, monkeypatch: pytest.MonkeyPatch, **settings: str
) -> Iterator[ZipWorld]:
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import created_at, hold_tasks_running

    clock = Clock(datetime.now(UTC))
    model.clock = clock
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    jobs = (model.queue_job(pool), model.queue_job(pool))
    _runtime.client.cache_clear()
    with mock_aws(), served_moto() as endpoint:
        hold_tasks_running()
        created_at(monkeypatch)
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        config = config_for(world, org_url, [{"name": "linux", "max_agents": 5}]).model_copy(update={"metrics": "full"})
        environment = {
            "ADOSCALE_CONFIG": config.model_dump_json(),
            "ADOSCALE_LEASE_TABLE": TABLE,
            "AZP_TOKEN": PAT,
            "POWERTOOLS_METRICS_NAMESPACE": "adoscale",
            **settings,
        }
        runtime = LambdaRuntime(lambda_package, endpoint_url=endpoint)
        try:
            yield ZipWorld(clock, pool, jobs, ecs, environment, runtime)
        finally:
            runtime.close()
    _runtime.client.cache_clear()


def _throttled(self: EcsCompute, pool: str) -> list[Any]:
    raise AwsUnavailableError("ListTasks: ThrottlingException")


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
    # The service fails at once a job no registered agent meets: an old offline gpu registration keeps this one
    # waiting, and unservable (adoscale's agents never have gpu).
    model.register_agent(pool, "old-gpu-agent", {"gpu": ""}, online=False)
    model.queue_job(pool, ["gpu"])
    result = pass_.handler({"action": "pass", "pool": "linux"}, Context())
    assert result["report"]["launched"] == 3
    [record] = _emf(capsys.readouterr().out)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["Pool"]] and record["Pool"] == "linux"
    published = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    # Every per-pass metric; the per-event ones only once there is an event (none assigned or online yet).
    assert published == {m.name: m.unit for m in METRICS if not m.each}
    assert (record["QueuedJobs"], record["UnservableJobs"], record["LaunchedTasks"]) == (3, 1, 3)
    assert record["LaunchFailures"] == 0 and record["PassErrors"] == 0 and record["PassSkipped"] == 0
    assert 0 <= record["OldestQueuedSeconds"] < 120 and record["PassDuration"] > 0

    # The next pass: an agent came online and took a job; starting and busy move, nothing launches, and the
    # job's wait and the agent's start-up are published.
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
    assert {m["Name"]: m["Unit"] for m in second["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        m.name: m.unit for m in METRICS
    }
    assert 0 <= second["JobWaitSeconds"] < 120 and 0 <= second["AgentStartupSeconds"] < 120


def test_a_pass_that_raises_still_publishes_its_error(
    pass_world: Any, model: AdoModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)

    monkeypatch.setattr(EcsCompute, "list_tasks", _throttled)
    with pytest.raises(AwsUnavailableError):
        pass_.handler({"action": "pass", "pool": "linux"}, Context())
    [record] = _emf(capsys.readouterr().out)
    assert record["PassErrors"] == 1 and record["Pool"] == "linux"
    assert {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]} <= NAMES


def _per_event(records: list[dict[str, Any]], name: str) -> list[float]:
    """Every value of `name` in the records, as the pass published them (one per event)."""
    values: list[float] = []
    for record in records:
        value = record.get(name)
        values += value if isinstance(value, list) else [] if value is None else [value]
    return values


def test_the_zips_pass_publishes_each_jobs_wait_and_each_agents_start_up_once(
    model: AdoModel,
    org_url: str,
    lambda_package: LambdaPackage,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 24's acceptance: the pass Lambda (the built zip, in its own interpreter) publishes the wait of
    a job it sees assigned and the start-up of an agent it sees online, on the pass that first sees them; the
    passes after it, in the same warm environment or in another controller on the same lease table, publish
    neither again. The emulator's clock is moved on between the launch and the agent's connection."""
    with zip_world(model, org_url, lambda_package, monkeypatch) as world:
        clock, pool, (first_job, second_job), environment = world.clock, world.pool, world.jobs, world.environment
        function, runtime = world.function(), world.runtime

        def zip_pass() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            result = runtime.invoke(function, {"action": "pass", "pool": "linux"})
            return result["report"], _emf(capfd.readouterr().err)

        capfd.readouterr()
        launching, records = zip_pass()
        assert launching["launched"] == 2, launching
        assert _per_event(records, "JobWaitSeconds") == _per_event(records, "AgentStartupSeconds") == []
        [first_task, second_task] = [t.rsplit("/", 1)[-1] for t in launching["launched_tasks"]]

        # 40 s after the jobs were queued, the first task's agent connects and takes the older job.
        clock.advance(40)
        model.register_agent(pool, first_task, once=True)
        report, records = zip_pass()
        assert _per_event(records, "JobWaitSeconds") == [40.0]
        [startup] = _per_event(records, "AgentStartupSeconds")
        # From the task's createdAt (moto's clock, the real one, a few seconds after the clock above
        # started, when the first pass launched) to the agent's connection on the emulator's clock.
        assert 20.0 < startup <= 40.0, startup
        assert report["job_waits"] == [{"request_id": first_job, "wait_s": 40.0}]
        assert report["agent_startups"] == [{"agent": first_task, "startup_s": startup}]

        # Passes that see nothing new publish neither: the zip's warm environment again, then another
        # controller (this process's handler) reading the same lease table.
        report, records = zip_pass()
        assert (report["job_waits"], report["agent_startups"]) == ([], [])
        assert _per_event(records, "JobWaitSeconds") == _per_event(records, "AgentStartupSeconds") == []
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        other = pass_.handler({"action": "pass", "pool": "linux"}, Context())["report"]
        assert (other["job_waits"], other["agent_startups"], other["errors"]) == ([], [], [])
        assert _per_event(_emf(capfd.readouterr().out), "JobWaitSeconds") == []

        # The second agent connects 20 s later: only its job and itself are new.
        clock.advance(20)
        model.register_agent(pool, second_task, once=True)
        report, records = zip_pass()
        assert _per_event(records, "JobWaitSeconds") == [60.0]
        assert [s["agent"] for s in report["agent_startups"]] == [second_task]
        assert report["job_waits"] == [{"request_id": second_job, "wait_s": 60.0}]
        assert _per_event(records, "AgentStartupSeconds") == [report["agent_startups"][0]["startup_s"]]


def test_the_zips_pass_publishes_only_the_essential_metrics_when_the_deployment_says_so(
    model: AdoModel,
    org_url: str,
    lambda_package: LambdaPackage,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 25 item 3: with ADOSCALE_METRICS=essential (Terraform's `metrics`) the pass Lambda of the built zip
    publishes two metrics a pool, the queued jobs under the deployment's name (the seed's `agent_cw_metric`)
    and the pass's errors, with the pass's figures, and nothing else: not the counts, not the per-event waits.
    The configuration's own `metrics: full` loses to the deployment's choice, which also decides the alarms.
    A value the code does not know fails the invocation in one line before the pass runs (nothing launched)."""
    settings = {"ADOSCALE_METRICS_NAMESPACE": "ado-agents", "ADOSCALE_METRIC_NAME": "queue_depth"}
    with zip_world(model, org_url, lambda_package, monkeypatch, ADOSCALE_METRICS="essential", **settings) as world:
        clock, pool, ecs, runtime = world.clock, world.pool, world.ecs, world.runtime
        function, wrong = world.function(), world.function("adoscale-pass-wrong", ADOSCALE_METRICS="everything")
        capfd.readouterr()
        with pytest.raises(InvocationError) as refused:
            runtime.invoke(wrong, {"action": "pass", "pool": "linux"})
        assert refused.value.error_type == "SettingsError"
        assert refused.value.message == "ADOSCALE_METRICS must be one of full, essential, not 'everything'"
        assert ecs.list_tasks(cluster="ado-agents")["taskArns"] == []  # refused before the pass
        capfd.readouterr()

        launching = runtime.invoke(function, {"action": "pass", "pool": "linux"})["report"]
        assert launching["launched"] == 2, launching
        [record] = _emf(capfd.readouterr().err)
        [directive] = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ado-agents" and record["Pool"] == "linux"
        assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
            "queue_depth": "Count",
            "PassErrors": "Count",
        }
        assert (record["queue_depth"], record["PassErrors"]) == (2, 0)
        assert not set(record) & (NAMES - PUBLISHED["essential"])

        # An agent connects and takes a job: the pass counts a wait and a start-up (its report says so) but
        # publishes neither; the queue shrinks.
        clock.advance(30)
        model.register_agent(pool, launching["launched_tasks"][0].rsplit("/", 1)[-1], once=True)
        report = runtime.invoke(function, {"action": "pass", "pool": "linux"})["report"]
        assert len(report["job_waits"]) == 1 and len(report["agent_startups"]) == 1
        [record] = _emf(capfd.readouterr().err)
        assert {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
            "queue_depth",
            "PassErrors",
        }
        assert (record["queue_depth"], record["PassErrors"]) == (1, 0)


def test_the_configurations_metric_set_applies_when_the_deployment_names_none(
    pass_world: Any, model: AdoModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`metrics: essential` in the configuration (a deployment of one's own, without ADOSCALE_METRICS); a pass
    that raises publishes its error in that set too."""
    from adoscale.config import Config

    config = Config.model_validate_json(__import__("os").environ["ADOSCALE_CONFIG"])
    monkeypatch.setenv("ADOSCALE_CONFIG", config.model_copy(update={"metrics": "essential"}).model_dump_json())
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    model.queue_job(pool, ["docker"])
    pass_.handler({"action": "pass", "pool": "linux"}, Context())
    [record] = _emf(capsys.readouterr().out)
    assert {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {"QueuedJobs", "PassErrors"}
    assert (record["QueuedJobs"], record["PassErrors"]) == (1, 0)

    monkeypatch.setattr(EcsCompute, "list_tasks", _throttled)
    with pytest.raises(AwsUnavailableError):
        pass_.handler({"action": "pass", "pool": "linux"}, Context())
    [failed] = _emf(capsys.readouterr().out)
    assert {m["Name"] for m in failed["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {"PassErrors"}
    assert failed["PassErrors"] == 1


class _FailingSave(MemoryHistory):
    """History whose next save fails as an unavailable table does, when told to; counts the saves."""

    fail_next = False
    saves = 0

    def save(self, pool: str, record: HistoryRecord) -> None:
        self.saves += 1
        if self.fail_next:
            self.fail_next = False
            raise AwsUnavailableError("PutItem: ProvisionedThroughputExceededException")
        super().save(pool, record)


def test_a_pass_that_could_not_keep_its_marks_reports_nothing_the_next_pass_counts_once(
    model: AdoModel, org_url: str
) -> None:
    """The figures are reported only once the record carrying the marks past them is saved: a pass whose save
    failed publishes no wait (the next pass, which sees the same job, would count it again), and the next one
    counts it, once. A pass that counts nothing new writes nothing (no warm pool here)."""
    clock = Clock(datetime.now(UTC))
    model.clock = clock
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    job = model.queue_job(pool)
    history = _FailingSave()
    with ecs_world() as (ecs, resources):
        config = config_for(resources, org_url, [{"name": "linux"}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock, history=history)
            [task] = reconciler.run().pools[0].launched_tasks
            clock.advance(30)
            model.register_agent(pool, task.rsplit("/", 1)[-1], once=True)
            history.fail_next = True
            unsaved = reconciler.run().pools[0]
            counted = reconciler.run().pools[0]
            saves = history.saves
            after = reconciler.run().pools[0]
    assert unsaved.errors and unsaved.job_waits == [] and unsaved.agent_startups == [], unsaved.as_dict()
    assert counted.errors == [] and counted.job_waits == [{"request_id": job, "wait_s": 30.0}]
    assert len(counted.agent_startups) == 1
    assert (after.job_waits, after.agent_startups) == ([], [])
    # A pool without a warm pool writes its record only when a mark moved: the steady pass wrote nothing.
    assert history.saves == saves


def test_reconcile_json_reports_each_jobs_wait_and_each_agents_start_up_once(
    model: AdoModel, org_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`adoscale reconcile --json` carries the same figures (issue 24 item 1), counted once across runs that
    share the lease table; `--dry-run` shows what the next pass would count and keeps nothing."""
    from adoscale.cli import app
    from adoscale.cli.commands import register
    from adoscale_lab.moto_rules.ecs import created_at

    register()
    clock = Clock(datetime.now(UTC))
    model.clock = clock
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    job = model.queue_job(pool)
    with ecs_world() as (_ecs, resources):
        created_at(monkeypatch)
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        path = tmp_path / "adoscale.json"
        path.write_text(config_for(resources, org_url, [{"name": "linux"}]).model_dump_json())
        monkeypatch.setenv("AZP_TOKEN", PAT)
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", TABLE)

        def reconcile(*extra: str) -> dict[str, Any]:
            result = CliRunner().invoke(app, ["reconcile", "-c", str(path), "--json", *extra])
            assert result.exit_code == 0, result.output
            report: dict[str, Any] = json.loads(result.stdout)["pools"][0]
            return report

        [task] = reconcile()["launched_tasks"]
        clock.advance(45)
        model.register_agent(pool, task.rsplit("/", 1)[-1], once=True)
        dry, real, again = reconcile("--dry-run"), reconcile(), reconcile()
    assert dry["job_waits"] == real["job_waits"] == [{"request_id": job, "wait_s": 45.0}]
    assert [a["agent"] for a in real["agent_startups"]] == [task.rsplit("/", 1)[-1]]
    assert 0.0 < real["agent_startups"][0]["startup_s"] <= 45.0
    assert (again["job_waits"], again["agent_startups"]) == ([], [])


def test_a_skipped_pass_publishes_no_pass_errors_and_with_essential_nothing(
    pass_world: Any, model: AdoModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another pass holds the pool's lease: this one is skipped. It publishes that it was skipped, but no
    PassErrors 0, which would count as a pass that worked in the pass-errors alarm's p50 over a window (the
    pass holding the lease publishes its own); with `essential` it publishes nothing, and no empty flush."""
    import warnings

    from adoscale.config import Config
    from adoscale.lease import DynamoLease

    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    leases = DynamoLease(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
    assert leases.acquire("linux", "another", 60) is None  # taken (None: nobody else held it)
    report = pass_.handler({"action": "pass", "pool": "linux"}, Context())["report"]
    assert report["skipped"], report
    [record] = _emf(capsys.readouterr().out)
    assert record["PassSkipped"] == 1 and "PassErrors" not in record

    config = Config.model_validate_json(__import__("os").environ["ADOSCALE_CONFIG"])
    monkeypatch.setenv("ADOSCALE_CONFIG", config.model_copy(update={"metrics": "essential"}).model_dump_json())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pass_.handler({"action": "pass", "pool": "linux"}, Context())
    assert _emf(capsys.readouterr().out) == []
