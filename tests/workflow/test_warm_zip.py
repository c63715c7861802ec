"""The predictive warm pool through the shipped Lambda zip (issue 25; what `tests/integration/test_job_durations.py`
checks in-process): the pass function of the built zip, invoked through moto's Lambda API and run by
`tests.lambda_runtime` in its own interpreter, against the ADO emulator over HTTP with ECS and the lease table in
moto, pass after pass while jobs are assigned and finish. From what ships:

- the durations it learns are in the `history#<pool>` item of the lease table (read here with boto3), each counted
  once, to the second where the finish was seen and within half the pass interval where it was not;
- once `DURATIONS_NEEDED` have finished, its warm decision uses them: at `idle_share` 0.5, jobs of about a minute
  leave nothing to pay a warm agent with (`affordable_quantile`), so the pool that kept agents warm for the jobs
  still arriving keeps none from that pass on, and its log names the median of the stored durations; jobs of
  half an hour keep them;
- a cold start of the function (a fresh interpreter) reads the record back and goes on learning: a job seen
  running before it and finished after it is counted, one counted before it is not counted again.

Time: the zip's pass reads the real clock (it has no other), so nothing here waits for a job to run. A job's
service stamps are set back instead (`ServiceClock.back`): it was queued and taken by an agent `D` seconds
before the pass that first sees it running, and finishes (on the real clock) before the next pass. Every stamp is
at or before the pass that reads it, as in the service, and a job's true duration is its finish stamp less its
assign stamp. The agents are registered by hand and run one job each (`--once`): half of them stay registered,
offline, showing their last completed request (the exact finish), the other half remove their registration as
adoscale's own agents do on exit, so their jobs' finish is estimated at the midpoint of two passes.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from adoscale.history.base import DURATIONS_NEEDED
from adoscale_lab.emulator import AdoModel
from tests.lambda_package import LambdaPackage
from tests.lambda_runtime import LambdaRuntime, route_moto_invoke
from tests.workflow.test_workflow import _machine, _world

TABLE = "adoscale-leases"
POOL = "linux"
JOBS = 7  # more than DURATIONS_NEEDED: the decision is seen before and after, and learning after a cold start
COLD_START_AFTER = DURATIONS_NEEDED  # passes counting a job before the function's environment is thrown away
# Jobs that came before the first pass (seconds before it), after every agent had taken its job: they wait.
WAITING_BACK_S = (30.0, 20.0, 10.0)
QUEUED_FOR_S = 30.0
SHORT_S = 60.0  # at idle_share 0.5 and start-up 60 s: under 120 s, a job leaves no idle to pay a warm agent with
LONG_S = 1800.0


class ServiceClock:
    """The ADO emulator's clock: the real one, `back` seconds earlier while an event is set back."""

    def __init__(self) -> None:
        self.back = 0.0

    def __call__(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.back)


@pytest.fixture
def zip_runtime(aws: str, lambda_package: LambdaPackage, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaRuntime]:
    """The zip's functions behind moto's Lambda Invoke (`route_moto_invoke`), with the runtime at hand so that
    a test can end its execution environments: the next invocation is a cold start."""
    runtime = LambdaRuntime(lambda_package, endpoint_url=aws)
    route_moto_invoke(monkeypatch, runtime)
    try:
        yield runtime
    finally:
        runtime.close()


@dataclass(frozen=True)
class Pass:
    began: float  # real time (time.time()), as the zip's clock reads it
    ended: float
    body: dict[str, Any]
    log: str = ""  # the pass's warm pool line, as the function logged it

    @property
    def warm(self) -> int:
        return int(self.body["report"]["warm"])


def _run_pass() -> Pass:
    lam = boto3.client("lambda", region_name="us-east-1")
    began = time.time()
    answer = lam.invoke(FunctionName="adoscale-pass", Payload=json.dumps({"action": "pass", "pool": POOL}))
    ended = time.time()
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    report = body["report"]
    assert (report["skipped"], report["errors"], report["warnings"]) == (None, [], []), report
    return Pass(began, ended, body)


def _warm_line(log: str) -> str:
    """The message of the pass's `warm pool` log line (powertools' JSON, one object a line): the size and why."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    found = [e["message"] for e in lines if str(e.get("message", "")).startswith(f"{POOL}: warm pool ")]
    assert len(found) == 1, log
    return str(found[0])


def _stored() -> dict[str, Any]:
    """The pool's history item as DynamoDB holds it (the product's own reader is not used here)."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    item = dynamodb.get_item(TableName=TABLE, Key={"pool": {"S": f"history#{POOL}"}}).get("Item")
    assert item is not None, "no history item"
    return item


def _durations(item: dict[str, Any]) -> list[float]:
    return [float(n["N"]) for n in item.get("durations", {}).get("L", [])]


def _running(item: dict[str, Any]) -> set[int]:
    return {int(rid) for rid in item.get("running", {}).get("M", {})}


@pytest.mark.parametrize(("job_s", "warm_after"), [(SHORT_S, False), (LONG_S, True)], ids=["short", "long"])
def test_the_zips_pass_stores_job_durations_warms_by_them_and_keeps_them_across_a_cold_start(
    zip_runtime: LambdaRuntime,
    model: AdoModel,
    org_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    job_s: float,
    warm_after: bool,
) -> None:
    clock = ServiceClock()
    model.clock = clock
    warm_pool = {"mode": "predictive", "idle_share": 0.5, "startup_seconds": 60, "quantile": 0.8, "max_agents": 2}
    _world(model, org_url, monkeypatch, [{"name": POOL, "max_agents": 20, "warm_pool": warm_pool}])
    _machine(lease_table=TABLE)  # the pass function as Terraform deploys it, with the lease table
    pool = model.create_pool(POOL)
    model.register_agent(pool, "adoscale-placeholder", online=False)
    # The jobs, queued QUEUED_FOR_S before an agent takes each, up to `job_s` before the first pass: a duration
    # measured from the queue time would be that much too long.
    jobs: list[int] = []
    for i in range(JOBS):
        clock.back = job_s + QUEUED_FOR_S - i
        jobs.append(model.queue_job(pool))
    agents: list[int] = []
    for i in range(JOBS):
        clock.back = job_s - 4 * i
        agents.append(model.register_agent(pool, f"builder-{i}", once=True))  # takes the oldest waiting job
    for back in WAITING_BACK_S:
        clock.back = back
        model.queue_job(pool)
    clock.back = 0.0
    assert [model.job(rid).reserved_agent for rid in jobs] == agents

    def arrive_and_pass() -> Pass:
        # Jobs keep coming, one before each pass: with every agent busy they wait (the pass launches a task for
        # each), and to the forecast they are a burst in progress, whatever the test's own pace.
        model.queue_job(pool)
        capfd.readouterr()
        done = _run_pass()
        return replace(done, log=_warm_line(capfd.readouterr().err))

    first = arrive_and_pass()
    assert _running(_stored()) == set(jobs)
    assert _durations(_stored()) == []
    assert first.warm >= 1  # no duration known yet: the quantile alone

    passes = [first]
    truths: list[float] = []
    bounds: list[float] = []  # how far each stored duration may be from the truth
    for k, (rid, agent) in enumerate(zip(jobs, agents, strict=True), start=1):
        model.finish_job(rid)  # on the real clock: after the last pass, before the next
        job = model.job(rid)
        assert job.finish_time is not None and job.assign_time is not None
        truths.append((job.finish_time - job.assign_time).total_seconds())
        exact = k % 2 == 1  # the agent stays registered (offline: it ran `--once`) showing its last completed job
        if not exact:
            model.remove_agent(pool, agent)  # as adoscale's agents do on exit: its last completed job goes too
        if k == COLD_START_AFTER + 1:
            zip_runtime.close()  # every execution environment ends: this pass runs in a fresh interpreter
        passes.append(arrive_and_pass())
        # Stored to the whole second. A finish not seen is the midpoint of the two passes' clocks, each read
        # within its invocation (half the time from the last one's start to this one's end at most), the last
        # pass's as the record stores it, to the whole second (a quarter of a second more at the midpoint).
        between = passes[-1].ended - passes[-2].began
        bounds.append(0.5 + (0.0 if exact else between / 2 + 0.25))
        item = _stored()
        stored = _durations(item)
        # (a) Each job counted once, oldest first, near its true duration; the unfinished ones still running.
        assert len(stored) == k, (k, stored, truths)
        for got, truth, bound in zip(stored, truths, bounds, strict=True):
            assert abs(got - truth) <= bound, (k, stored, truths, bounds)
        assert _running(item) == set(jobs[k:])
        # (b) The warm decision: the quantile alone until DURATIONS_NEEDED jobs have finished; then, where the
        # jobs are too short to pay for a warm agent, none, and the log names their typical length: the median
        # of the durations stored.
        last = passes[-1]
        if k < DURATIONS_NEEDED or warm_after:
            assert last.warm >= 1, (k, last.log)
            assert "(jobs of" not in last.log, (k, last.log)
        else:
            assert last.warm == 0, (k, last.log)
            assert last.log.endswith(f"q=0 (jobs of {statistics.median(stored):.0f} s))"), (k, last.log)
    # (c) After the cold start (before the pass that counted job COLD_START_AFTER + 1, a removed agent's: known
    # only from the `running` jobs stored before it), nothing learnt was lost and nothing counted twice.
    assert len(_durations(_stored())) == JOBS
