"""The workflow's cadence, measured: the deployed definition run in moto's Step Functions interpreter, its
Lambda invocations served by the built zip's handlers (`tests.lambda_runtime`), against the ADO emulator
over HTTP. Each pool must be
observed at each offset of the schedule's input (every 15 s, 4 times an execution), whether its round
launched and waited for tasks or not, and the execution must end well inside its timeout. Also: the
timeout's arithmetic, and a failed round that alerts without stopping the other rounds."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

import pytest

from adoscale.workflow import (
    CADENCE_S,
    DEFAULT_INPUT,
    MAX_OFFSET_S,
    PLACEHOLDERS,
    ROUNDS,
    TASK_CHECKS,
    longest_round_s,
    render,
    round_offsets,
    schedule_input,
)
from adoscale_lab.emulator import AdoModel
from tests.workflow.conftest import Routing
from tests.workflow.test_workflow import _alerts, _finish, _machine, _world

# How far an observation may fall from its offset (the acceptance: 15 s ± 3 s).
TOLERANCE_S = 3.0


def _started(sfn: Any, execution: str) -> datetime:
    started: datetime = sfn.describe_execution(executionArn=execution)["startDate"]
    return started


def test_schedule_input_is_the_default_cadence() -> None:
    assert DEFAULT_INPUT == {"offsets": [0, 15, 30, 45], "task_wait_s": 10}
    assert schedule_input(ROUNDS, CADENCE_S) == DEFAULT_INPUT
    assert round_offsets(3, 20) == [0, 20, 40]
    assert round_offsets(1, 15) == [0]
    with pytest.raises(ValueError, match="at most 50 s"):
        round_offsets(5, 15)  # the last round at 60 s: into the next execution's first


def test_the_timeout_fits_the_last_round() -> None:
    """Only a retried failure may reach the execution's timeout: the latest allowed offset plus a round whose
    every Task takes its full timeout once (round, pass, and every task check after its wait) fits, with 5 s
    left for the transitions; and an Express execution may not last over 5 minutes."""
    values = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in PLACEHOLDERS}
    machine = json.loads(render(values))
    longest = longest_round_s(machine, DEFAULT_INPUT["task_wait_s"])
    assert longest == 20 + 30 + TASK_CHECKS * (10 + 15) + 10  # the arithmetic docs/architecture.md states
    assert MAX_OFFSET_S + longest + 5 <= machine["TimeoutSeconds"] <= 300
    still_starting = machine["States"]["Rounds"]["Iterator"]["States"]["EachPool"]["Iterator"]["States"]
    bound = still_starting["StillStarting"]["Choices"][0]["And"][1]
    assert bound == {"Variable": "$.wait_rounds", "NumericLessThan": TASK_CHECKS}


@pytest.mark.slow
@pytest.mark.background  # real Wait states: about 45 s of waiting for 12 s of CPU
def test_each_pool_is_observed_every_15_s_while_a_launch_waits_for_its_tasks(
    aws: None,
    routing: Routing,
    fargate_still_starting: None,
    model: AdoModel,
    org_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schedule's own input (4 rounds, 15 s, a 10 s task wait), two pools: `busy` has two queued jobs, so
    its first round launches and then waits 3 x 10 s for tasks that stay PROVISIONING; `idle` has none.
    Both must still be observed at 0, 15, 30 and 45 s (± 3 s), and the execution must succeed well inside
    the minute."""
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "busy", "max_agents": 5}, {"name": "idle"}])
    monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")
    for name, jobs in (("busy", 2), ("idle", 0)):
        pool = model.create_pool(name)
        model.register_agent(pool, "adoscale-placeholder", online=False)
        for _ in range(jobs):
            model.queue_job(pool)
    sfn, machine, queue = _machine(lease_table="adoscale-leases")
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(DEFAULT_INPUT))["executionArn"]
    started = _started(sfn, execution).timestamp()
    status = _finish(sfn, execution)

    assert status["status"] == "SUCCEEDED", status
    duration = status["stopDate"].timestamp() - started
    offsets = DEFAULT_INPUT["offsets"]
    report = {pool: [round(t - started, 1) for t in routing.passes(pool)] for pool in ("busy", "idle")}
    print(f"\npasses (s after the execution started): {report}; execution {duration:.1f} s")
    for pool, instants in report.items():
        assert len(instants) == len(offsets), (pool, instants)
        for instant, offset in zip(instants, offsets, strict=True):
            assert offset <= instant <= offset + TOLERANCE_S, (pool, instants)
        gaps = [b - a for a, b in itertools.pairwise(instants)]
        assert all(abs(gap - CADENCE_S) <= TOLERANCE_S for gap in gaps), (pool, gaps)
    # The launch waited its full task wait, and that wait overlapped the following rounds instead of
    # delaying them: its last check came after the busy pool's second observation.
    checks = [round(t - started, 1) for t in routing.checks("busy")]
    assert len(checks) == TASK_CHECKS, checks
    assert checks[-1] > report["busy"][1] + 5, (checks, report["busy"])
    assert routing.checks("idle") == []
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 2  # later rounds counted them as starting
    # The execution ends soon after its last round: nowhere near its timeout, inside the minute.
    assert offsets[-1] <= duration < 60, duration
    assert _alerts(queue) == []


def test_a_failed_round_alerts_lets_the_others_run_and_fails_the_execution(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _world(model, org_url, monkeypatch, [{"name": "linux"}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    routing.fail_rounds_at = {0}
    sfn, machine, queue = _machine()
    run = json.dumps({"offsets": [0, 1], "task_wait_s": 1})
    execution = sfn.start_execution(stateMachineArn=machine, input=run)["executionArn"]
    status = _finish(sfn, execution)
    assert status["status"] == "FAILED", status
    assert status.get("error") == "RoundFailed", status
    bodies = _alerts(queue)
    # The failing-rounds incident's opening alert (tests/workflow/test_round_alerts.py for the incident itself).
    assert any(b.startswith("rounds fail, no pool is observed") and "RuntimeError" in b for b in bodies), bodies
    # The round at +1 s was not stopped by the one that failed: it visited the pool.
    assert len(routing.passes("linux")) == 1
