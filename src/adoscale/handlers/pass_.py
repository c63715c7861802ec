"""Lambda entry `adoscale.handlers.pass_.handler`: the workflow's one unit of work.

Its actions, thin translations onto `adoscale.control.Reconciler` (wired by `adoscale.bootstrap`) and onto the
incidents (`adoscale.control.incidents`):

- `{"action": "round", "offset": S, "task_wait_s": W}` reads the organization's parallel-job limit once for
  the round and answers the pools to visit. The workflow decides when rounds run (one at each offset of its
  input, `adoscale.workflow`); the round only says what to visit, so it needs no clock. A round that visits
  pools closes the deployment's failing-rounds incident, if one is open, and answers `recovered` (the message
  the workflow publishes once).
- `{"action": "tick", "state_machine_arn": ARN, "started": ISO, "offsets": [...], "idle_every_minutes": N,
  "task_wait_s": W}` (with hooks, from the schedule each minute instead of the workflow) reads each pool's
  live tasks (no Azure DevOps call), decides the rounds and pools (`adoscale.workflow.backoff`) and starts an
  execution with them only when there is a round to run; a round given `pools` visits only those. When the
  tasks cannot be read, every pool is visited at every offset (observing too often is safe, missing a job
  is not), logged at ERROR.
- `{"action": "pass", "pool": NAME, "parallel": {...} | null, "pass_id": ID}` runs one pass over one pool
  (lease, observe, decide, act) and answers its report and the ARNs of the tasks it launched, for the
  workflow's wait. The pool's queue metrics go out in CloudWatch embedded metric format from the report. A
  pass that succeeds closes the pool's failing-pass incident, if one is open, and answers `recovered` (the
  message the workflow publishes once).
- `{"action": "failed", "scope": "pass" | "round" | "wait", "pool": NAME, "error": {"Error": ..., "Cause": ...},
  "remind_after_hours": H}` (the workflow's Catch of a pass, of a round, or of a pool's task wait, after their
  retries) records the failure in its incident (`adoscale.control.incidents`: the pool's failing passes, the
  deployment's failing rounds (no `pool`), the pool's failing task waits; kept in the lease table) and answers
  whether to alert (`alert`, `subject`, `message`): once when the incident opens, then a reminder every H hours
  (0: never). When this fails too, the workflow alerts anyway: an alert too many beats none.
- `{"action": "waited", "pool": NAME}` (the workflow, after a wait that completed while the pool's task-wait
  incident was open: a pass that launched answers `wait_incident_open`, and the waiter passes it on) closes
  that incident and answers the message to publish once (`alert`, `subject`, `message`).

A malformed event is logged and rejected with `BadEventError` (not in the workflow's Retry list, so it is
caught and alerted, never retried); only the errors in `adoscale.transient` are retried.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from adoscale.bootstrap import compute_router
from adoscale.config import Config, MetricSet, PoolConfig
from adoscale.config.settings import METRICS_ENV
from adoscale.control import ParallelShare, PoolReport, Reconciler, new_pass_id
from adoscale.control.incidents import KINDS, PASSES, ROUNDS, WAITS, IncidentKind, failed, record, succeeded
from adoscale.handlers._control import BadEventError, load_config, pool_config, with_rotation
from adoscale.handlers._runtime import SettingsError, aws_calls, client, deployment
from adoscale.history.incidents import DynamoIncidents, IncidentStore, MemoryIncidents
from adoscale.metrics import DIMENSION, METRIC_SETS, pool_metrics
from adoscale.secrets import redact
from adoscale.validation import one_line
from adoscale.workflow import ALERT_REMINDER_HOURS, MAX_ALERT_REMINDER_HOURS, MAX_OFFSET_S
from adoscale.workflow.backoff import MAX_IDLE_EVERY_MINUTES, ExecutionPlan, activity, plan_execution

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))

# Seconds kept free before the Lambda timeout.
LAMBDA_MARGIN_S = 3.0

PoolName = Annotated[str, Field(min_length=1, max_length=256)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RoundEvent(_Event):
    action: Literal["round"]
    # Seconds after the execution's start at which the workflow started this round (logged, and passed on).
    offset: StrictInt = Field(0, ge=0, le=300)
    task_wait_s: StrictInt = Field(10, ge=0, le=120)
    # From the plan (with hooks): the pools this round visits; None (the default) visits every pool.
    pools: list[PoolName] | None = Field(None, max_length=10_000)


STATE_MACHINE_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w.-]{1,80}$"


class TickEvent(_Event):
    action: Literal["tick"]
    state_machine_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w.-]{1,80}$")
    ]
    offsets: list[Annotated[int, Field(strict=True, ge=0, le=MAX_OFFSET_S)]] = Field(min_length=1, max_length=12)
    started: AwareDatetime
    idle_every_minutes: StrictInt = Field(ge=1, le=MAX_IDLE_EVERY_MINUTES)
    task_wait_s: StrictInt = Field(10, ge=0, le=120)


class ParallelIn(_Event):
    total: StrictInt = Field(ge=0, le=1_000_000)
    running_by_pool: dict[str, StrictInt] = Field(default_factory=dict, max_length=10_000)


class PassEvent(_Event):
    action: Literal["pass"]
    pool: PoolName
    parallel: ParallelIn | None = None
    pass_id: str | None = Field(None, min_length=1, max_length=200)
    task_wait_s: StrictInt = Field(10, ge=0, le=120)


class StepError(_Event):
    """A Step Functions error as a Catch hands it on (`ResultPath` `$.error`)."""

    Error: str = Field("", max_length=1_000)
    Cause: str = Field("", max_length=40_000)  # Step Functions bounds a cause at 32,768 characters


class FailedEvent(_Event):
    action: Literal["failed"]
    # What failed: a pool's pass (the default, as the workflow before H7 sent it), a round, a pool's task wait.
    scope: Literal["pass", "round", "wait"] = "pass"
    pool: PoolName | None = None
    error: StepError = StepError()
    remind_after_hours: StrictInt = Field(ALERT_REMINDER_HOURS, ge=0, le=MAX_ALERT_REMINDER_HOURS)

    @model_validator(mode="after")
    def _pool_when_per_pool(self) -> FailedEvent:
        if self.scope != "round" and self.pool is None:
            raise ValueError(f"pool: required with scope {self.scope!r}")
        return self


class WaitedEvent(_Event):
    action: Literal["waited"]
    pool: PoolName


AnyEvent = RoundEvent | TickEvent | PassEvent | FailedEvent | WaitedEvent


class Event(BaseModel):
    body: Annotated[AnyEvent, Field(discriminator="action")]


def parse_event(event: Any) -> AnyEvent:
    """The event as the workflow sends it, or BadEventError naming the field."""
    try:
        return parse(event={"body": event}, model=Event).body
    except ValidationError as exc:
        raise BadEventError(one_line(exc, limit=5, strip=1)) from None


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(event)
        config = load_config()
        if isinstance(request, RoundEvent):
            return _round(request, config)
        if isinstance(request, TickEvent):
            return _tick(request, config)
        if isinstance(request, FailedEvent):
            return _failed(request, config)
        if isinstance(request, WaitedEvent):
            return _waited(request, config)
        pool = pool_config(config, request.pool)
    except BadEventError as exc:
        logger.error("bad event", extra={"reason": str(exc)})  # noqa: TRY400 - bad input, no traceback
        raise
    return _pass(request, pool, config, context)


def _tick(request: TickEvent, config: Config) -> dict[str, Any]:
    try:
        compute_for = compute_router(config, client)
        with aws_calls():
            pools = [activity(pool, compute_for(pool).list_tasks(pool.name)) for pool in config.pools]
        plan = plan_execution(request.offsets, request.started, pools, request.idle_every_minutes)
    except Exception as exc:  # fail open: every pool at every offset, and say so once
        reason = redact(f"{type(exc).__name__}: {exc}")[:300]
        logger.error("tick: the pools' tasks could not be read; observing every pool", extra={"reason": reason})  # noqa: TRY400
        plan = ExecutionPlan(tuple(request.offsets), tuple(p.name for p in config.pools), f"fail-open: {reason}")
    body = plan.as_dict(request.task_wait_s)
    if plan.offsets:
        with aws_calls():
            # Named after the minute it serves (and unique: a retried tick starts its own), to find it in the logs.
            name = f"tick-{request.started.astimezone(UTC):%Y%m%dT%H%M}-{uuid.uuid4().hex[:12]}"
            started = client("stepfunctions").start_execution(
                stateMachineArn=request.state_machine_arn, name=name, input=json.dumps(body)
            )
        body["execution_arn"] = started["executionArn"]
    logger.info("tick", extra=body)
    return body


def _round(request: RoundEvent, config: Config) -> dict[str, Any]:
    wanted = None if request.pools is None else set(request.pools)
    pools = [p for p in config.pools if wanted is None or p.name in wanted]
    # No pool to visit: no Azure DevOps call either.
    share = with_rotation(config, lambda rec: rec.parallel_share()) if pools else None
    logger.info("round", extra={"offset": request.offset, "pools": len(pools)})
    # A round that visits no pool made no Azure DevOps call: it proves nothing, and leaves the rounds' incident be.
    recovered = _close(ROUNDS, "", config) if pools else None
    return {
        **({"recovered": recovered} if recovered else {}),
        "offset": request.offset,
        "task_wait_s": request.task_wait_s,
        "pools": [{"pool": p.name} for p in pools],
        "parallel": share.as_dict() if share is not None else None,
    }


def _metric_set(config: Config) -> MetricSet:
    """The deployment's choice (Terraform's `metrics`, which also decides the alarms and the dashboard, so it
    wins over the configuration's, like the namespace), else the configuration's."""
    chosen = deployment().metrics
    if chosen is None:
        return config.metrics
    for known in METRIC_SETS:
        if chosen == known:
            return known
    raise SettingsError(f"{METRICS_ENV} must be one of {', '.join(METRIC_SETS)}, not {chosen[:20]!r}")


def _pass(request: PassEvent, pool: PoolConfig, config: Config, context: LambdaContext) -> dict[str, Any]:
    # Read before the pass: a deployment that names no known set fails here, before anything is launched.
    metric_set = _metric_set(config)
    parallel = ParallelShare.from_dict(request.parallel.model_dump()) if request.parallel else None
    remaining = context.get_remaining_time_in_millis() / 1000.0
    pass_id = request.pass_id or new_pass_id(f"lambda:{context.aws_request_id}")
    started = time.monotonic()

    def one_pass(rec: Reconciler) -> PoolReport:
        report = rec.run_pool(
            pool, parallel=parallel, pass_id=pass_id, deadline_s=max(1.0, remaining - LAMBDA_MARGIN_S)
        )
        if report.failure is not None:
            # The pass failed (its own log line says how): raised for the workflow, which retries a transient
            # failure by re-running the whole pass and alerts on any other. Raised inside the controller's
            # block, whose `aws_calls` names a throttled AWS call as the workflow's Retry knows it. Its metrics
            # first: a failed pass counts for the repeated-errors alarm.
            _publish(report, config, metric_set, time.monotonic() - started)
            raise report.failure
        return report

    # A refused PAT is read again once from its secret (rotation) before the pass fails.
    report = with_rotation(config, one_pass)
    _publish(report, config, metric_set, time.monotonic() - started)
    logger.info("pass", extra=report.as_dict())
    # A skipped pass (another holds the pool's lease) did not observe the pool: it neither proves the pool
    # works nor that it fails, so the incident stays as it is.
    recovered = None if report.skipped else _close(PASSES, pool.name, config)
    return {
        **({"recovered": recovered} if recovered else {}),
        "pool": pool.name,
        "report": report.as_dict(),
        "launched": report.launched_tasks,
        "task_wait_s": request.task_wait_s,
        "wait_rounds": 0,
        # The pool was already in a start-failure incident when this pass launched (its launch, if any, is
        # a probe): the workflow alerts on failed starts only outside one, once per incident.
        "start_incident_open": report.start_failures > 0,
        # Read only when the workflow will wait (a launch): the waiter passes it on, and a wait that completes
        # while it is true has the pool's task-wait incident closed (`waited`).
        "wait_incident_open": bool(report.launched_tasks) and _open(WAITS, pool.name, config),
    }


# The incidents without a lease table: this container's (a cold one alerts again: too many beats none).
_MEMORY_INCIDENTS = {kind.name: MemoryIncidents() for kind in KINDS.values()}


def _incidents(config: Config, kind: IncidentKind = PASSES) -> IncidentStore:
    """Where the incidents of `kind` live: the lease table (`incident#<pool>`, `incident-round`,
    `incident-wait#<pool>`), as the history does."""
    table = config.lease_table or deployment().lease_table
    if not table:
        return _MEMORY_INCIDENTS[kind.name]
    return DynamoIncidents(client("dynamodb"), table, prefix=kind.prefix)


def error_reason(error: StepError) -> str:
    """`Error: message` from a Catch's error: a Lambda's cause is its JSON error (`errorMessage`), any other
    (a Task timeout, Step Functions' own) the text itself."""
    message = error.Cause
    try:
        decoded = json.loads(error.Cause)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("errorMessage"), str):
        message = decoded["errorMessage"]
    return f"{error.Error or 'error'}: {message or 'no cause given'}"


def _failed(request: FailedEvent, config: Config) -> dict[str, Any]:
    kind = KINDS[request.scope]
    pool = request.pool or ""  # the rounds' incident is the deployment's: no pool
    every = timedelta(hours=request.remind_after_hours) if request.remind_after_hours else None
    reason = error_reason(request.error)
    now = datetime.now(UTC)
    with aws_calls():
        change = record(_incidents(config, kind), pool, lambda cur: failed(pool, cur, reason, now, every, kind))
    body = {"pool": request.pool, "notice": change.notice, "alert": change.alert, "subject": change.subject,
            "message": change.message, "failures": change.incident.failures if change.incident else 0}  # fmt: skip
    context = {"pool": request.pool, "scope": kind.name, "notice": change.notice, "failures": body["failures"]}
    if change.alert:
        logger.error(change.message, extra=context)
    else:
        logger.warning(f"{kind.name} failed: its incident is open (no alert)", extra=context)
    return body


def _waited(request: WaitedEvent, config: Config) -> dict[str, Any]:
    """A wait completed while the pool's task-wait incident was open: close it. Raised when the record cannot be
    read or written (the workflow then goes on without the message: the next completed wait closes it)."""
    with aws_calls():
        change = record(
            _incidents(config, WAITS), request.pool, lambda cur: succeeded(request.pool, cur, datetime.now(UTC), WAITS)
        )
    if change.alert:
        logger.warning(change.message, extra={"pool": request.pool, "scope": WAITS.name, "notice": change.notice})
    return {"pool": request.pool, "notice": change.notice, "alert": change.alert, "subject": change.subject,
            "message": change.message}  # fmt: skip


def _close(kind: IncidentKind, pool: str, config: Config) -> str | None:
    """Close the incident of `kind` after what it names succeeded (a pool's pass, a round): the message to
    publish, or None (none was open). A failure here does not fail the work (it worked): the next success
    closes the incident."""
    try:
        with aws_calls():
            change = record(_incidents(config, kind), pool, lambda cur: succeeded(pool, cur, datetime.now(UTC), kind))
    except Exception as exc:
        reason = redact(f"{type(exc).__name__}: {exc}")[:300]
        logger.warning(f"the {kind.name} incident could not be read or closed", extra={"reason": reason})
        return None
    if not change.alert:
        return None
    logger.warning(change.message, extra={"pool": pool, "scope": kind.name, "notice": change.notice})
    return change.message


def _open(kind: IncidentKind, pool: str, config: Config) -> bool:
    """Whether the pool's incident of `kind` is open; False when it cannot be read (the pass worked: a wait
    incident left open is closed by a later launch's wait)."""
    try:
        with aws_calls():
            incident, _version = _incidents(config, kind).load(pool)
    except Exception as exc:
        reason = redact(f"{type(exc).__name__}: {exc}")[:300]
        logger.warning(f"the {kind.name} incident could not be read", extra={"pool": pool, "reason": reason})
        return False
    return incident is not None


def _publish(report: PoolReport, config: Config, metric_set: MetricSet, duration_s: float) -> None:
    """The pool's metrics of the chosen set (`adoscale.metrics`), from the pass's own report (no extra reads)."""
    # The deployment's namespace (Terraform's metrics_namespace, the seed's agent_cw_namespace) wins over the
    # configuration's, like the queued-jobs metric's name; docs/configuration.md says so.
    published = pool_metrics(report, duration_s, metric_set)
    if not published:  # a skipped pass with `essential`: nothing to say (powertools warns on an empty flush)
        return
    metrics = EphemeralMetrics(namespace=deployment().metrics_namespace or config.metrics_namespace)
    metrics.add_dimension(name=DIMENSION, value=report.pool)
    renamed = deployment().metric_name or "QueuedJobs"
    for name, unit, value in published:
        metrics.add_metric(name=renamed if name == "QueuedJobs" else name, unit=MetricUnit(unit), value=value)
    metrics.flush_metrics()
