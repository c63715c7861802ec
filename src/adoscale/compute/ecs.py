"""Agents as ECS Fargate tasks.

Tasks carry the tag `adoscale:pool=<pool>` and a per-pool `startedBy`, and the container learns its pool
from `AZP_URL`/`AZP_POOL`; the agent names itself after its task id, so no database pairs agents and
tasks. RunTask takes at most 10 tasks per call (the AWS limit) and each call carries a `clientToken`
derived from the pass's launch token and the batch, so a call that botocore retries after a lost response
starts nothing twice. A FARGATE_SPOT batch that finds no Spot capacity is retried once on FARGATE, and the
result says so. A batch that fails does not hide the batches that started before it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adoscale.compute.base import POOL_TAG, STARTED_BY, LaunchResult, TaskInfo, started_by_for, task_id_of
from adoscale.config import Config, EcsSettings

log = logging.getLogger("adoscale.compute")

RUN_TASK_MAX = 10
DESCRIBE_MAX = 100
_CAPACITY_WORDS = ("capacity", "Capacity")


def _is_capacity_failure(reason: str) -> bool:
    return any(word in reason for word in _CAPACITY_WORDS)


def client_token(token: str, batch: int, fallback: bool = False) -> str:
    """RunTask's `clientToken` (at most 64 characters, ASCII 33-126) for one batch of one launch."""
    return hashlib.sha256(f"{token}/{batch}/{'fargate' if fallback else 'strategy'}".encode()).hexdigest()


class EcsCompute:
    """The `Compute` port on ECS; takes an injected boto3 ECS client and each pool's placement."""

    def __init__(
        self,
        ecs: Any,
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
        self._started_by = started_by

    @classmethod
    def for_config(cls, ecs: Any, config: Config) -> EcsCompute:
        return cls(ecs, {pool.name: pool.ecs for pool in config.pools}, organization_url=config.organization_url)

    # -- launch ----------------------------------------------------------------------------------

    def _settings(self, pool: str) -> EcsSettings:
        try:
            return self._pools[pool]
        except KeyError:
            raise KeyError(f"no ECS placement configured for pool {pool!r}") from None

    def _run_task_args(self, pool: str, count: int, spot: bool, token: str) -> dict[str, Any]:
        ecs = self._settings(pool)
        environment = [{"name": "AZP_POOL", "value": pool}]
        if self._organization_url:
            environment.append({"name": "AZP_URL", "value": self._organization_url})
        environment += [{"name": k, "value": v} for k, v in sorted(ecs.environment.items())]
        args: dict[str, Any] = {
            "cluster": ecs.cluster,
            "taskDefinition": ecs.task_definition,
            "count": count,
            "startedBy": started_by_for(pool, self._started_by),
            "tags": [{"key": POOL_TAG, "value": pool}],
            "clientToken": token,
            "enableECSManagedTags": True,
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(ecs.subnets),
                    "securityGroups": list(ecs.security_groups),
                    "assignPublicIp": "ENABLED" if ecs.assign_public_ip else "DISABLED",
                }
            },
            "overrides": {"containerOverrides": [{"name": ecs.container_name, "environment": environment}]},
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
        fell_back = 0
        for batch, first in enumerate(range(0, count, RUN_TASK_MAX)):
            size = min(RUN_TASK_MAX, count - first)
            tasks, batch_failures, broken = self._run(pool, size, strategy, client_token(token, batch))
            short = size - len(tasks)
            if strategy and uses_spot and short > 0 and any(_is_capacity_failure(f) for f in batch_failures):
                log.warning("%s: no FARGATE_SPOT capacity for %d task(s); falling back to FARGATE", pool, short)
                more, batch_failures, broken = self._run(pool, short, False, client_token(token, batch, fallback=True))
                tasks += more
                fell_back += len(more)
            started += tasks
            failures += batch_failures
            if broken:
                # The service or the connection failed: later batches would most likely fail the same
                # way, and the next pass sees what did start and launches what is still missing.
                break
        return LaunchResult(tuple(started), tuple(failures), fell_back)

    def _run(self, pool: str, count: int, use_strategy: bool, token: str) -> tuple[list[TaskInfo], list[str], bool]:
        """One RunTask call: (started, failures, whether the call itself failed)."""
        try:
            response = self._ecs.run_task(**self._run_task_args(pool, count, use_strategy, token))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return [], [f"RunTask: {error.get('Code', 'error')}: {error.get('Message', '')}"], True
        except BotoCoreError as exc:
            return [], [f"RunTask: {type(exc).__name__}: {exc}"], True
        tasks = [self._info(task) for task in response.get("tasks", [])]
        failures = [
            f"RunTask: {failure.get('reason', 'unknown')}"
            + (f" ({failure['detail']})" if failure.get("detail") else "")
            for failure in response.get("failures", [])
        ]
        return tasks, failures, False

    # -- observe ---------------------------------------------------------------------------------

    def _arns(self, pool: str, desired: str) -> Iterator[str]:
        paginator = self._ecs.get_paginator("list_tasks")
        started_by = started_by_for(pool, self._started_by)
        cluster = self._settings(pool).cluster
        for page in paginator.paginate(cluster=cluster, startedBy=started_by, desiredStatus=desired):
            yield from page.get("taskArns", [])

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        """This pool's tasks: live ones and those stopped recently (ECS keeps them for about an hour)."""
        cluster = self._settings(pool).cluster
        arns = list(dict.fromkeys([*self._arns(pool, "RUNNING"), *self._arns(pool, "STOPPED")]))
        tasks: list[TaskInfo] = []
        for start in range(0, len(arns), DESCRIBE_MAX):
            response = self._ecs.describe_tasks(
                cluster=cluster, tasks=arns[start : start + DESCRIBE_MAX], include=["TAGS"]
            )
            tasks += [self._info(task) for task in response.get("tasks", [])]
        return [task for task in tasks if task.pool == pool]

    def _info(self, task: dict[str, Any]) -> TaskInfo:
        tags = {tag.get("key"): tag.get("value") for tag in task.get("tags", [])}
        created = task.get("createdAt") or self._first_seen.setdefault(task["taskArn"], self._clock())
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return TaskInfo(
            task_arn=task["taskArn"],
            task_id=task_id_of(task["taskArn"]),
            last_status=str(task.get("lastStatus", "PROVISIONING")),
            desired_status=str(task.get("desiredStatus", "RUNNING")),
            created_at=created,
            started_by=task.get("startedBy"),
            pool=tags.get(POOL_TAG),
            stopped_reason=task.get("stoppedReason"),
            capacity_provider=task.get("capacityProviderName"),
        )

    # -- act -------------------------------------------------------------------------------------

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        """Stop a task; one that is already stopped or gone counts as stopped."""
        try:
            self._ecs.stop_task(cluster=self._settings(pool).cluster, task=task_arn, reason=reason[:255])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("InvalidParameterException", "ResourceNotFoundException", "TaskNotFoundException"):
                log.info("%s: task %s already gone (%s)", pool, task_arn, code)
                return
            raise
