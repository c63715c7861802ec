"""The Step Functions workflow (ASL JSON): the cadence, the wait for launched tasks, and alerts — nothing
else.

The cadence. EventBridge Scheduler starts one Express execution a minute (`SCHEDULE_INTERVAL_S`, Terraform's
`schedule_expression`). Its input (`schedule_input()`, the same list Terraform's schedule sends) names the
rounds' offsets from the execution's start: 0, 15, 30 and 45 s by default. A Map runs all the rounds at
once; each first waits for its offset, then reads the parallel-job limit once (the pass function's `round`
action), then a Map runs one pass per pool (`pass` action: lease, observe, decide, act) and, for a pool that
launched, waits for its tasks (waiter, at most `TASK_CHECKS` checks `task_wait_s` apart) and alerts on
failed starts. A round's task wait therefore never delays the next round: every pool is observed at the
execution's start plus each offset, whether rounds launch or not.

The timeout. A round that launches in the last offset finishes its wait after the minute; it overlaps the
next execution's first rounds, which is harmless (the waiter only reads; passes hold their pool's lease).
`TimeoutSeconds` is set so that only a retried failure can reach it: the last offset (at most
`MAX_OFFSET_S`) plus every Task on a round's longest path taking its full Task timeout once
(`longest_round_s()`) fits, with room for the transitions (`test_the_timeout_fits_the_last_round`).

Retry lists only the transient errors of `adoscale.transient` and re-runs the whole pass, which observes
again; a pool's failure alerts naming the pool and does not stop the others, once per failing-pass incident
(`RecordFailure` asks the pass function, which keeps the incident in the lease table:
`adoscale.control.incidents`; a pass that succeeds closes it and the workflow says so once); a failed round
alerts once per failing-rounds incident (`RecordRoundFailure`; a round that visits pools closes it), lets the
other rounds finish, and then fails the execution (so the state machine's failed-execution metric counts
it); a pool's failed task wait alerts once per the pool's failing-wait incident (`RecordWaitFailure`; a wait
that completes closes it, `CloseWaitIncident`). Where an incident cannot be recorded, the failure is
published as it is: an alert too many beats none.

The definition carries `${name}` placeholders for the function ARNs and the alert topic (`PLACEHOLDERS`,
strings), and for the module's settings rendered as bare JSON numbers (`SETTINGS`: `alert_reminder_hours`,
the reminder interval of every incident's alerts); Terraform renders it with `templatefile()`, and `render()`
does the same in Python, refusing a setting the module's validation refuses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adoscale.control.incidents import REMIND_EVERY
from adoscale.workflow.backoff import IDLE_EVERY_MINUTES

# The definition lives with the Terraform module that deploys it (a module needs nothing outside its folder);
# only the tests read it from Python, in a source checkout.
ASL = Path(__file__).resolve().parents[3] / "deploy" / "terraform" / "modules" / "control-plane" / "workflow.asl.json"

PLACEHOLDERS = ("pass_arn", "waiter_arn", "alert_topic_arn")

# The module's `alert_reminder_hours` (variables.tf: its default and bounds, which
# tests/deploy/test_alert_reminder.py compares with these): 0 sends no reminder.
ALERT_REMINDER_HOURS = int(REMIND_EVERY.total_seconds() // 3600)
MAX_ALERT_REMINDER_HOURS = 720
# Settings rendered as bare numbers, with Terraform's defaults.
SETTINGS: dict[str, int] = {"alert_reminder_hours": ALERT_REMINDER_HOURS}

# Terraform's defaults (`schedule_expression` rate(1 minute), `rounds_per_execution`, `cadence_seconds`); the
# task wait is fixed in the schedule's input.
SCHEDULE_INTERVAL_S = 60
ROUNDS = 4
# With `enable_hooks`, `rounds_per_execution` defaults to one round (`hooks_input`).
HOOK_ROUNDS = 1
CADENCE_S = 15
TASK_WAIT_S = 10
# The waiter checks a launch's tasks at most this many times (the ASL's `StillStarting` choice).
TASK_CHECKS = 3
# What the simulator models between a round's Wait ending and its passes reading the pools: the round
# Lambda (one ADO read for the parallel-job limit), the Map's transitions, the pass Lambda taking its lease.
# An assumption checked against two measurements: issue 19 saw the deployed first pass about 1 s into each
# minute, and moto's interpreter with the handlers in-process shows 0.2-0.5 s (tests/workflow/test_cadence.py).
ROUND_LATENCY_S = 1.0
# With the back-off, the tick comes first: the schedule invokes the pass function, which reads the pools'
# tasks and starts the execution (an assumption, as ROUND_LATENCY_S: a warm Lambda answering one ECS ListTasks
# and one StartExecution, about 0.1-0.3 s each).
PLAN_LATENCY_S = 0.5
# The last round starts at most this long after the execution: it must leave most of the minute to the
# next execution's first round, and it bounds `TimeoutSeconds` (the module docstring).
MAX_OFFSET_S = 50


def round_offsets(rounds: int = ROUNDS, cadence_s: int = CADENCE_S) -> list[int]:
    """Seconds from an execution's start at which each round starts (Terraform's schedule input computes
    `[for i in range(var.rounds_per_execution) : i * var.cadence_seconds]`, the same list)."""
    if rounds < 1:
        raise ValueError("a workflow execution needs at least one round")
    if cadence_s < 0:
        raise ValueError("cadence_s must not be negative")
    offsets = [i * cadence_s for i in range(rounds)]
    if offsets[-1] > MAX_OFFSET_S:
        raise ValueError(
            f"the last round would start {offsets[-1]} s into the execution; at most {MAX_OFFSET_S} s "
            "(rounds_per_execution - 1) x cadence_seconds)"
        )
    return offsets


def schedule_input(rounds: int = ROUNDS, cadence_s: int = CADENCE_S, task_wait_s: int = TASK_WAIT_S) -> dict[str, Any]:
    """The execution input the schedule sends (Terraform's `aws_scheduler_schedule.workflow` target input)."""
    return {"offsets": round_offsets(rounds, cadence_s), "task_wait_s": task_wait_s}


# EventBridge Scheduler replaces this in a target's input with the invocation's scheduled time (ISO 8601, UTC):
# the same for a retried invocation, so a retry judges the same minute.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def tick_input(
    state_machine_arn: str,
    idle_every_minutes: int = IDLE_EVERY_MINUTES,
    rounds: int = HOOK_ROUNDS,
    cadence_s: int = CADENCE_S,
    task_wait_s: int = TASK_WAIT_S,
) -> dict[str, Any]:
    """What the schedule sends the pass function each minute with `enable_hooks` (Terraform's
    `aws_scheduler_schedule.tick`): the tick reads the pools' tasks and starts an execution of
    `state_machine_arn` only when a pool is due (`adoscale.workflow.backoff`). One round by default: hooks
    start a pass for each job within seconds, so more rounds would buy no wait and cost 45 s of Express
    duration a minute."""
    return {
        "action": "tick",
        "state_machine_arn": state_machine_arn,
        "started": SCHEDULED_TIME,
        "idle_every_minutes": idle_every_minutes,
        **schedule_input(rounds, cadence_s, task_wait_s),
    }


DEFAULT_INPUT = schedule_input()


def observation_instants(
    until_s: float, *, interval_s: float = SCHEDULE_INTERVAL_S, offsets: list[int] | None = None, latency_s: float = 0.0
) -> list[float]:
    """The instants, in seconds from the first execution's start, at which the deployed workflow observes a
    pool before `until_s`: one execution every `interval_s`, a round at each offset, `latency_s` after it
    (what passes between a round's Wait ending and its pass reading the pool)."""
    offsets = DEFAULT_INPUT["offsets"] if offsets is None else offsets
    instants: list[float] = []
    start = 0.0
    while start < until_s:
        instants += [start + offset + latency_s for offset in offsets if start + offset + latency_s < until_s]
        start += interval_s
    return instants


def template() -> str:
    return ASL.read_text()


def reminder_hours(value: object) -> int:
    """`alert_reminder_hours` as the module's validation accepts it (a whole number, 0 to 720), else
    ValueError with the module's message."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ALERT_REMINDER_HOURS:
        raise ValueError(
            f"alert_reminder_hours must be a whole number of hours from 1 to {MAX_ALERT_REMINDER_HOURS} (30 days), "
            "or 0 for no reminder."
        )
    return value


def render(values: Mapping[str, str], *, alert_reminder_hours: int = ALERT_REMINDER_HOURS) -> str:
    """The definition as Terraform's `templatefile()` renders it: `values` for `PLACEHOLDERS` (strings inside
    JSON strings), the settings as bare numbers."""
    missing = [name for name in PLACEHOLDERS if name not in values]
    if missing:
        raise KeyError(f"workflow placeholders without a value: {', '.join(missing)}")
    filled: dict[str, str] = {**values, "alert_reminder_hours": str(reminder_hours(alert_reminder_hours))}
    return re.sub(r"\$\{(\w+)\}", lambda m: filled[m.group(1)], template())


def definition(values: Mapping[str, str], *, alert_reminder_hours: int = ALERT_REMINDER_HOURS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(values, alert_reminder_hours=alert_reminder_hours))
    return data


def longest_round_s(machine: Mapping[str, Any], task_wait_s: int = TASK_WAIT_S) -> float:
    """A round's longest path when every Task takes its full timeout once (no retry): the round action, a
    pass, then `TASK_CHECKS` waits each followed by a check, then the pool's task-wait incident recorded (the
    last check failed) or closed (it completed). Read from the definition, so that a change to a Task timeout
    shows in the arithmetic."""
    rounds = machine["States"]["Rounds"]["Iterator"]["States"]
    per_pool = rounds["EachPool"]["Iterator"]["States"]
    return float(
        rounds["Round"]["TimeoutSeconds"]
        + per_pool["PoolPass"]["TimeoutSeconds"]
        + TASK_CHECKS * (task_wait_s + per_pool["CheckTasks"]["TimeoutSeconds"])
        + max(per_pool["RecordWaitFailure"]["TimeoutSeconds"], per_pool["CloseWaitIncident"]["TimeoutSeconds"])
    )
