"""Agents as ECS Fargate tasks.

Tasks carry the tag `adoscale:pool` and a per-pool `startedBy`, both made from the pool's name by
`adoscale.compute.identity` (the one place, so that ECS accepts them for any name), and the container
learns its pool from `AZP_URL`/`AZP_POOL`; the agent names itself after its task id, so no database pairs
agents and tasks. RunTask takes at most 10 tasks per call (the AWS limit) and each call carries a
`clientToken` derived from the pass's launch token and the batch, so a call that botocore retries after a
lost response starts nothing twice. A FARGATE_SPOT batch that Spot refuses, for any reason (no capacity, a
platform version or CPU architecture Spot does not take), is retried once on FARGATE, and the result says
so and why. A batch that fails does not hide the batches that started before it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from adoscale.aws import error_code
from adoscale.compute.base import LaunchResult, TaskInfo, task_id_of
from adoscale.compute.identity import (
    POOL_TAG,
    STARTED_BY,
    checked_prefix,
    pool_tag_value,
    started_by_for,
    task_definition_family,
)
from adoscale.config import Config, EcsSettings
from adoscale.config.overrides import container_overrides

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import TaskTypeDef

SKEW_TOLERANCE_S = 5.0

log = logging.getLogger("adoscale.compute")

RUN_TASK_MAX = 10
DESCRIBE_MAX = 100


# The pass report's words for this adapter's fallback (`LaunchResult.fallback_warning`).
FALLBACK = "task(s) fell back from FARGATE_SPOT to FARGATE"


def client_token(token: str, batch: int, fallback: bool = False) -> str:
    """RunTask's `clientToken` (at most 64 characters, ASCII 33-126) for one batch of one launch."""
    return hashlib.sha256(f"{token}/{batch}/{'fargate' if fallback else 'strategy'}".encode()).hexdigest()


class EcsCompute:
    """The `Compute` port on ECS; takes an injected boto3 ECS client and each pool's placement."""

    def __init__(
        self,
        ecs: ECSClient,
        pools: Mapping[str, EcsSettings],
        *,
        organization_url: str | None = None,
        started_by: str = STARTED_BY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ecs = ecs
        self._pools = dict(pools)
        self._clock = clock
        # Emulators may omit createdAt; then the first time a task is seen stands in for it.
        self._first_seen: dict[str, datetime] = {}
        self._organization_url = organization_url
        self._started_by = checked_prefix(started_by)  # refused now rather than at every launch
        # Recently stopped tasks of a cluster and task family that belong to someone else (another pool,
        # another tool): `startedBy` never changes, so they need describing only once.
        self._foreign: dict[tuple[str, str], frozenset[str]] = {}
        self._foreign_lock = threading.Lock()

    @classmethod
    def for_config(cls, ecs: ECSClient, config: Config) -> EcsCompute:
        pools = {pool.name: pool.ecs for pool in config.pools if pool.ecs is not None}
        return cls(ecs, pools, organization_url=config.organization_url)

    # -- launch ----------------------------------------------------------------------------------

    def _settings(self, pool: str) -> EcsSettings:
        try:
            return self._pools[pool]
        except KeyError:
            raise KeyError(f"no ECS placement configured for pool {pool!r}") from None

    def _run_task_args(self, pool: str, count: int, spot: bool, token: str) -> dict[str, Any]:
        ecs = self._settings(pool)
        args: dict[str, Any] = {
            "cluster": ecs.cluster,
            "taskDefinition": ecs.task_definition,
            "count": count,
            "startedBy": started_by_for(pool, self._started_by),
            "tags": [{"key": POOL_TAG, "value": pool_tag_value(pool)}],
            "clientToken": token,
            "enableECSManagedTags": True,
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(ecs.subnets),
                    "securityGroups": list(ecs.security_groups),
                    "assignPublicIp": "ENABLED" if ecs.assign_public_ip else "DISABLED",
                }
            },
            "overrides": container_overrides(ecs.container_name, pool, self._organization_url, ecs.environment),
        }
        if spot and ecs.capacity_provider_strategy:
            args["capacityProviderStrategy"] = [
                {"capacityProvider": p.capacity_provider, "weight": p.weight, "base": p.base}
                for p in ecs.capacity_provider_strategy
            ]
        else:
            args["launchType"] = "FARGATE"
        return args

    def launch(self, pool: str, count: int, token: str) -> LaunchResult:
        settings = self._settings(pool)
        strategy = bool(settings.capacity_provider_strategy)
        uses_spot = any(p.capacity_provider == "FARGATE_SPOT" for p in settings.capacity_provider_strategy)
        started: list[TaskInfo] = []
        failures: list[str] = []
        refusals: list[str] = []
        fell_back = 0
        spot_refused = False  # Spot refused the request itself: later batches of this launch go to FARGATE
        for batch, first in enumerate(range(0, count, RUN_TASK_MAX)):
            size = min(RUN_TASK_MAX, count - first)
            use_strategy = strategy and not spot_refused
            tasks, batch_failures, outcome = self._run(
                pool, size, use_strategy, client_token(token, batch, fallback=spot_refused)
            )
            short = size - len(tasks)
            # Any answer from ECS that leaves a Spot batch short is a refusal to fall back from: a shortage
            # ("Capacity is unavailable"), or a platform version or CPU architecture that FARGATE_SPOT does
            # not take (AWS's pages have disagreed over time on which; FARGATE takes them all). A broken
            # connection is not an answer: ECS may have acted, and the next pass sees what started.
            if use_strategy and uses_spot and short > 0 and outcome != "broken":
                refusals += batch_failures
                spot_refused = spot_refused or outcome == "refused"
                log.warning(
                    "%s: FARGATE_SPOT refused %d task(s) (%s); falling back to FARGATE",
                    pool,
                    short,
                    "; ".join(batch_failures) or "no reason given",
                )
                more, batch_failures, outcome = self._run(pool, short, False, client_token(token, batch, fallback=True))
                tasks += more
                fell_back += len(more)
            started += tasks
            failures += batch_failures
            if outcome != "ok":
                # The service refused or the connection failed: later batches would most likely fail the
                # same way, and the next pass sees what did start and launches what is still missing.
                break
        return LaunchResult(tuple(started), tuple(failures), fell_back, tuple(refusals), FALLBACK)

    def _run(self, pool: str, count: int, use_strategy: bool, token: str) -> tuple[list[TaskInfo], list[str], str]:
        """One RunTask call: (started, failures, outcome), the outcome `ok` (ECS answered, perhaps with
        failures), `refused` (ECS answered with an error) or `broken` (no answer)."""
        try:
            response = self._ecs.run_task(**self._run_task_args(pool, count, use_strategy, token))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return [], [f"RunTask: {error.get('Code', 'error')}: {error.get('Message', '')}"], "refused"
        except BotoCoreError as exc:
            return [], [f"RunTask: {type(exc).__name__}: {exc}"], "broken"
        skew = self._skew(response)
        tasks = [self._info(task, pool, skew) for task in response.get("tasks", [])]
        failures = [
            f"RunTask: {failure.get('reason', 'unknown')}"
            + (f" ({failure['detail']})" if failure.get("detail") else "")
            for failure in response.get("failures", [])
        ]
        return tasks, failures, "ok"

    # -- observe ---------------------------------------------------------------------------------

    def _list(self, **filters: Any) -> list[str]:
        paginator = self._ecs.get_paginator("list_tasks")
        return [arn for page in paginator.paginate(**filters) for arn in page.get("taskArns", [])]

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        """This pool's tasks: live ones and those stopped recently (ECS keeps them for about an hour).

        ListTasks allows `startedBy` only as its sole filter ("When you specify startedBy as the filter, it
        must be the only filter that you use", ECS API Reference), and then lists tasks whose desired
        status is RUNNING (its default). Tasks asked to stop, which still count against `max_agents` until
        they have, come from the task family's STOPPED list; every task is kept only if its `startedBy`
        and pool tag are this pool's, checked on the described task."""
        settings = self._settings(pool)
        cluster = settings.cluster
        started_by = started_by_for(pool, self._started_by)
        tag = pool_tag_value(pool)
        live = self._list(cluster=cluster, startedBy=started_by)
        key = (cluster, task_definition_family(settings.task_definition))
        stopped = self._list(cluster=cluster, family=key[1], desiredStatus="STOPPED")
        with self._foreign_lock:
            # Forget what ECS no longer lists, so the memory stays as small as the list itself.
            foreign = self._foreign.get(key, frozenset()) & set(stopped)
            self._foreign[key] = foreign
        arns = list(dict.fromkeys([*live, *(arn for arn in stopped if arn not in foreign)]))
        tasks: list[TaskInfo] = []
        others: set[str] = set()
        for start in range(0, len(arns), DESCRIBE_MAX):
            response = self._ecs.describe_tasks(
                cluster=cluster, tasks=arns[start : start + DESCRIBE_MAX], include=["TAGS"]
            )
            skew = self._skew(response)
            for task in response.get("tasks", []):
                tags = {t.get("key"): t.get("value") for t in task.get("tags", [])}
                if task.get("startedBy") == started_by and tags.get(POOL_TAG) == tag:
                    tasks.append(self._info(task, pool, skew))
                elif task.get("startedBy") != started_by:
                    others.add(task["taskArn"])
        if others:
            with self._foreign_lock:
                self._foreign[key] = self._foreign.get(key, frozenset()) | (others & set(stopped))
        return tasks

    def describe(self, pool: str, task_arns: Sequence[str]) -> list[TaskInfo]:
        """The named tasks as ECS describes them now (DescribeTasks, 100 at a time); an ARN ECS answers in
        `failures` (MISSING), or started for another pool (`startedBy`), is absent from the result."""
        cluster = self._settings(pool).cluster
        started_by = started_by_for(pool, self._started_by)
        tasks: list[TaskInfo] = []
        for start in range(0, len(task_arns), DESCRIBE_MAX):
            response = self._ecs.describe_tasks(cluster=cluster, tasks=list(task_arns[start : start + DESCRIBE_MAX]))
            skew = self._skew(response)
            tasks += [self._info(t, pool, skew) for t in response.get("tasks", []) if t.get("startedBy") == started_by]
        return tasks

    def _skew(self, response: Any) -> timedelta:
        """How far this controller's clock is ahead of ECS's, from the answer's `Date` header (whole seconds).

        A task's times are ECS's; the engine compares them with the controller's clock. Shifted by this, a
        task's age is what ECS's own clock says, so a controller whose clock is wrong neither stops new tasks
        as past their start-up timeout (15 minutes ahead: every task was) nor keeps stalled ones."""
        stamp = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        try:
            server = parsedate_to_datetime(stamp) if stamp else None
        except (TypeError, ValueError):
            server = None
        if server is None or server.tzinfo is None:
            return timedelta(0)
        skew = self._clock() - server
        # Within the header's one-second resolution and the request's own time, the clocks agree.
        return skew if abs(skew) > timedelta(seconds=SKEW_TOLERANCE_S) else timedelta(0)

    def _info(self, task: TaskTypeDef, pool: str, skew: timedelta = timedelta(0)) -> TaskInfo:
        stamped = _utc(task.get("createdAt"))
        created = stamped + skew if stamped else self._first_seen.setdefault(task["taskArn"], self._clock())
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        started, stopped = _utc(task.get("startedAt")), _utc(task.get("stoppedAt"))
        return TaskInfo(
            task_arn=task["taskArn"],
            task_id=task_id_of(task["taskArn"]),
            last_status=str(task.get("lastStatus", "PROVISIONING")),
            desired_status=str(task.get("desiredStatus", "RUNNING")),
            created_at=created,
            started_by=task.get("startedBy"),
            pool=pool,
            stopped_reason=task.get("stoppedReason"),
            capacity_provider=task.get("capacityProviderName"),
            stop_code=task.get("stopCode"),
            started_at=started + skew if started else None,
            stopped_at=stopped + skew if stopped else None,
            exit_code=_exit_code(task.get("containers") or []),
        )

    # -- act -------------------------------------------------------------------------------------

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        """Stop a task; one that is already stopped or gone counts as stopped."""
        try:
            self._ecs.stop_task(cluster=self._settings(pool).cluster, task=task_arn, reason=reason[:255])
        except ClientError as exc:
            code = error_code(exc)
            if code in ("InvalidParameterException", "ResourceNotFoundException", "TaskNotFoundException"):
                log.info("%s: task %s already gone (%s)", pool, task_arn, code)
                return
            raise


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _exit_code(containers: Sequence[Mapping[str, Any]]) -> int | None:
    """The first non-zero exit code among the task's containers, 0 when all that exited did so cleanly, None
    when none has exited (DescribeTasks gives `exitCode` only once a container has stopped)."""
    codes = [c["exitCode"] for c in containers if isinstance(c.get("exitCode"), int)]
    return next((code for code in codes if code != 0), 0 if codes else None)
