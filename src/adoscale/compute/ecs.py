"""Agents as ECS Fargate tasks.

Tasks carry the tag `adoscale:pool=<pool>` and `startedBy=adoscale`, and the container learns its pool
from `AZP_URL`/`AZP_POOL`; the agent names itself after its task id, so no database pairs agents and
tasks. RunTask takes at most 10 tasks per call (the AWS limit). A FARGATE_SPOT batch that finds no Spot
capacity is retried once on FARGATE, and the result says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from adoscale.compute.base import POOL_TAG, STARTED_BY, LaunchResult, TaskInfo, started_by_for, task_id_of
from adoscale.config import PoolConfig

log = logging.getLogger("adoscale.compute")

RUN_TASK_MAX = 10
DESCRIBE_MAX = 100
_CAPACITY_WORDS = ("capacity", "Capacity")


def _is_capacity_failure(reason: str) -> bool:
    return any(word in reason for word in _CAPACITY_WORDS)


class EcsCompute:
    """The `Compute` port on ECS; takes an injected boto3 ECS client."""

    def __init__(
        self,
        ecs: Any,
        *,
        organization_url: str | None = None,
        started_by: str = STARTED_BY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ecs = ecs
        self._clock = clock
        # Emulators may omit createdAt; then the first time a task is seen stands in for it.
        self._first_seen: dict[str, datetime] = {}
        self._organization_url = organization_url
        self._started_by = started_by

    # -- launch ----------------------------------------------------------------------------------

    def _run_task_args(self, pool: PoolConfig, count: int, spot: bool) -> dict[str, Any]:
        ecs = pool.ecs
        environment = [{"name": "AZP_POOL", "value": pool.name}]
        if self._organization_url:
            environment.append({"name": "AZP_URL", "value": self._organization_url})
        environment += [{"name": k, "value": v} for k, v in sorted(ecs.environment.items())]
        args: dict[str, Any] = {
            "cluster": ecs.cluster,
            "taskDefinition": ecs.task_definition,
            "count": count,
            "startedBy": started_by_for(pool.name, self._started_by),
            "tags": [{"key": POOL_TAG, "value": pool.name}],
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

    def launch(self, pool: PoolConfig, count: int) -> LaunchResult:
        started: list[TaskInfo] = []
        failures: list[str] = []
        fell_back = 0
        calls = 0
        remaining = count
        while remaining > 0:
            batch = min(RUN_TASK_MAX, remaining)
            remaining -= batch
            use_strategy = bool(pool.ecs.capacity_provider_strategy)
            tasks, batch_failures, call_count = self._run(pool, batch, use_strategy)
            calls += call_count
            uses_spot = any(p.capacity_provider == "FARGATE_SPOT" for p in pool.ecs.capacity_provider_strategy)
            short = batch - len(tasks)
            if use_strategy and uses_spot and short > 0 and any(_is_capacity_failure(f) for f in batch_failures):
                log.warning(
                    "%s: FARGATE_SPOT capacity unavailable for %d task(s); falling back to FARGATE", pool.name, short
                )
                more, batch_failures, call_count = self._run(pool, short, False)
                calls += call_count
                tasks += more
                fell_back += len(more)
            started += tasks
            failures += batch_failures
        return LaunchResult(tuple(started), tuple(failures), fell_back, calls)

    def _run(self, pool: PoolConfig, count: int, use_strategy: bool) -> tuple[list[TaskInfo], list[str], int]:
        try:
            response = self._ecs.run_task(**self._run_task_args(pool, count, use_strategy))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return [], [f"RunTask: {error.get('Code', 'error')}: {error.get('Message', '')}"], 1
        tasks = [self._info(task) for task in response.get("tasks", [])]
        failures = [
            f"RunTask: {failure.get('reason', 'unknown')}"
            + (f" ({failure['detail']})" if failure.get("detail") else "")
            for failure in response.get("failures", [])
        ]
        return tasks, failures, 1

    # -- observe ---------------------------------------------------------------------------------

    def _arns(self, pool: PoolConfig, desired: str) -> Iterator[str]:
        paginator = self._ecs.get_paginator("list_tasks")
        started_by = started_by_for(pool.name, self._started_by)
        for page in paginator.paginate(cluster=pool.ecs.cluster, startedBy=started_by, desiredStatus=desired):
            yield from page.get("taskArns", [])

    def list_tasks(self, pool: PoolConfig) -> list[TaskInfo]:
        """This pool's tasks: live ones and those stopped recently (ECS keeps them for about an hour)."""
        cluster = pool.ecs.cluster
        arns = list(dict.fromkeys([*self._arns(pool, "RUNNING"), *self._arns(pool, "STOPPED")]))
        tasks: list[TaskInfo] = []
        for start in range(0, len(arns), DESCRIBE_MAX):
            response = self._ecs.describe_tasks(
                cluster=cluster, tasks=arns[start : start + DESCRIBE_MAX], include=["TAGS"]
            )
            tasks += [self._info(task) for task in response.get("tasks", [])]
        return [task for task in tasks if task.pool == pool.name]

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

    def stop(self, pool: PoolConfig, task_arn: str, reason: str) -> None:
        """Stop a task; one that is already stopped or gone counts as stopped."""
        try:
            self._ecs.stop_task(cluster=pool.ecs.cluster, task=task_arn, reason=reason[:255])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("InvalidParameterException", "ResourceNotFoundException", "TaskNotFoundException"):
                log.info("%s: task %s already gone (%s)", pool.name, task_arn, code)
                return
            raise
