"""Agents as EC2 instances, one instance per job (docs/ec2.md).

A launch is one instant EC2 Fleet (`CreateFleet`, `Type: instant`) from the pool's launch template, with its
instance types and subnets as overrides, so EC2 picks among them (for Spot, by the pool's allocation
strategy). Each call carries a `ClientToken` derived from the pass's launch token: "If you repeat the request
with the same client token, the same response is returned" and nothing more is launched (EC2 API Reference,
"Ensuring idempotency in Amazon EC2 API requests"), so a call that botocore retries after a lost response
starts nothing twice. When Spot leaves the fleet short, for any reason (no capacity, its quota, its price),
the rest is asked for on demand in a second fleet with its own token (when `on_demand_fallback`), and the
result says so and why.

Instances carry the tags `adoscale:pool` and `adoscale:started-by` (the same encodings as the ECS adapter's
tag and `startedBy`, `adoscale.compute.identity`) from the moment they exist (tag-on-create), and the agent
inside names itself after its instance id (IMDSv2, the `ec2-pool` module's boot scripts), so a `TaskInfo`'s
`task_arn` and `task_id` are both the instance id. EC2 keeps a terminated instance listed for about an hour,
as ECS does a stopped task. TerminateInstances takes no reason, so `stop` writes it into the tag
`adoscale:stop-reason` right after; otherwise the instance's own state reason (a Spot interruption, a
shutdown) is the stop reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adoscale.aws import error_code
from adoscale.compute.base import LaunchResult, TaskInfo, task_id_of
from adoscale.compute.identity import POOL_TAG, STARTED_BY, checked_prefix, pool_tag_value, started_by_for
from adoscale.config import Config, Ec2Settings

log = logging.getLogger("adoscale.compute")

STARTED_BY_TAG = "adoscale:started-by"
STOP_REASON_TAG = "adoscale:stop-reason"
TAG_VALUE_MAX = 255  # EC2 allows 256; one less keeps a cut reason clear of any multi-unit edge
DESCRIBE_MAX = 1000

# EC2's error codes (EC2 API Reference, "Error codes for the Amazon EC2 API"): the fleet had no capacity of
# the kind asked for; an account quota is reached. Both are reported in words the pass and the contract
# share across adapters ("capacity is unavailable", as Fargate says it).
CAPACITY_CODES = frozenset(
    {
        "InsufficientCapacity",
        "InsufficientInstanceCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "UnfulfillableCapacity",
        "SpotMaxPriceTooLow",
    }
)
QUOTA_CODES = frozenset(
    {"VcpuLimitExceeded", "MaxSpotInstanceCountExceeded", "InstanceLimitExceeded", "MaxSpotFleetRequestCountExceeded"}
)
GONE_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed", "InvalidID"})

# Why EC2 ended an instance (`StateReason.Code`), folded onto ECS's `stopCode` vocabulary that the pass's
# start back-off reads (adoscale.control.backoff). An instance that "terminates immediately" after launch
# (EC2 User Guide, "Troubleshoot instances that terminate immediately": a volume limit, an encrypted
# volume's KMS key it may not use, a snapshot that is gone, an internal error) failed to start; a Spot
# interruption is one; a shutdown from inside is the agent's power-off after its job (or a boot script that
# gave up: EC2 cannot tell them apart, and the start-up timeout reclaims neither).
START_FAILURE_CODES = frozenset(
    {
        "Server.InternalError",
        "Server.InsufficientInstanceCapacity",
        "Client.VolumeLimitExceeded",
        "Client.InternalError",
        "Client.InvalidSnapshot.NotFound",
    }
)
STOP_CODES = {
    "Server.SpotInstanceTermination": "SpotInterruption",
    "Client.UserInitiatedShutdown": "UserInitiated",
    "Client.InstanceInitiatedShutdown": "EssentialContainerExited",
}


def stop_code(state_reason_code: str) -> str | None:
    """ECS's `stopCode` for an EC2 state reason code, or None when it says nothing we act on."""
    if state_reason_code in START_FAILURE_CODES:
        return "TaskFailedToStart"
    return STOP_CODES.get(state_reason_code)


# EC2's instance states, folded onto the ECS vocabulary `TaskInfo` speaks: (last status, desired status).
STATES: dict[str, tuple[str, str]] = {
    "pending": ("PENDING", "RUNNING"),
    "running": ("RUNNING", "RUNNING"),
    "stopping": ("STOPPING", "STOPPED"),
    "shutting-down": ("STOPPING", "STOPPED"),
    "stopped": ("STOPPED", "STOPPED"),
    "terminated": ("STOPPED", "STOPPED"),
}


# The pass report's words for this adapter's fallback (`LaunchResult.fallback_warning`): EC2 calls the two
# purchase options Spot and On-Demand Instances.
FALLBACK = "instance(s) fell back from Spot to On-Demand"


def fleet_token(token: str, fallback: bool = False) -> str:
    """CreateFleet's `ClientToken` (at most 64 ASCII characters) for one launch, or its on-demand fallback."""
    return hashlib.sha256(f"{token}/ec2/{'on-demand' if fallback else 'first'}".encode()).hexdigest()


def describe_fleet_error(lifecycle: str, code: str, message: str) -> str:
    """One line for a fleet error, in the words every adapter uses for capacity and quotas."""
    if code in CAPACITY_CODES:
        what = "capacity is unavailable"
    elif code in QUOTA_CODES:
        what = "an account quota is reached"
    else:
        what = "refused"
    return f"CreateFleet ({lifecycle}): {code}: {what}" + (f" ({message})" if message else "")


class Ec2Compute:
    """The `Compute` port on EC2, one instance per job; takes an injected boto3 EC2 client and each pool's
    placement."""

    def __init__(
        self,
        ec2: Any,
        pools: Mapping[str, Ec2Settings],
        *,
        started_by: str = STARTED_BY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ec2 = ec2
        self._pools = dict(pools)
        self._started_by = checked_prefix(started_by)
        self._clock = clock

    @classmethod
    def for_config(cls, ec2: Any, config: Config) -> Ec2Compute:
        return cls(ec2, {pool.name: pool.ec2 for pool in config.pools if pool.ec2 is not None})

    def _settings(self, pool: str) -> Ec2Settings:
        try:
            return self._pools[pool]
        except KeyError:
            raise KeyError(f"no EC2 placement configured for pool {pool!r}") from None

    # -- launch ----------------------------------------------------------------------------------

    def _tags(self, pool: str) -> list[dict[str, str]]:
        return [
            {"Key": POOL_TAG, "Value": pool_tag_value(pool)},
            {"Key": STARTED_BY_TAG, "Value": started_by_for(pool, self._started_by)},
        ]

    def fleet_args(self, pool: str, count: int, spot: bool, token: str) -> dict[str, Any]:
        settings = self._settings(pool)
        template: dict[str, str] = {"Version": settings.launch_template_version}
        key = "LaunchTemplateId" if settings.launch_template.startswith("lt-") else "LaunchTemplateName"
        template[key] = settings.launch_template
        overrides: list[dict[str, Any]] = []
        for instance_type in settings.instance_types:
            for subnet in settings.subnets:
                override: dict[str, Any] = {"InstanceType": instance_type, "SubnetId": subnet}
                if settings.root_volume_gb is not None:
                    override["BlockDeviceMappings"] = [
                        {
                            "DeviceName": settings.root_device_name,
                            "Ebs": {
                                "VolumeSize": settings.root_volume_gb,
                                "VolumeType": "gp3",
                                "Encrypted": True,
                                "DeleteOnTermination": True,
                            },
                        }
                    ]
                overrides.append(override)
        tags = self._tags(pool)
        args: dict[str, Any] = {
            "Type": "instant",
            "ClientToken": token,
            "LaunchTemplateConfigs": [{"LaunchTemplateSpecification": template, "Overrides": overrides}],
            "TargetCapacitySpecification": {
                "TotalTargetCapacity": count,
                "DefaultTargetCapacityType": "spot" if spot else "on-demand",
                ("SpotTargetCapacity" if spot else "OnDemandTargetCapacity"): count,
            },
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tags},
                {"ResourceType": "volume", "Tags": tags},
            ],
        }
        if spot:
            args["SpotOptions"] = {"AllocationStrategy": settings.allocation_strategy}
        else:
            args["OnDemandOptions"] = {"AllocationStrategy": "lowest-price"}
        return args

    def launch(self, pool: str, count: int, token: str) -> LaunchResult:
        settings = self._settings(pool)
        if count <= 0:
            return LaunchResult(())
        started, failures, outcome = self._create(pool, count, settings.spot, fleet_token(token))
        refusals: list[str] = []
        fell_back = 0
        short = count - len(started)
        # A broken connection is not an answer: EC2 may have acted, and the next pass sees what started.
        if settings.spot and settings.on_demand_fallback and short > 0 and outcome != "broken":
            refusals = failures
            log.warning(
                "%s: Spot launched %d of %d instance(s) (%s); asking for the rest on demand",
                pool,
                len(started),
                count,
                "; ".join(failures) or "no reason given",
            )
            more, failures, outcome = self._create(pool, short, False, fleet_token(token, fallback=True))
            started += more
            fell_back = len(more)
        return LaunchResult(tuple(started), tuple(failures), fell_back, tuple(refusals), FALLBACK)

    def _create(self, pool: str, count: int, spot: bool, token: str) -> tuple[list[TaskInfo], list[str], str]:
        """One instant fleet: (started, failures, outcome), the outcome `ok` (EC2 answered, perhaps with
        errors), `refused` (EC2 answered with an error) or `broken` (no answer)."""
        lifecycle = "spot" if spot else "on-demand"
        try:
            response = self._ec2.create_fleet(**self.fleet_args(pool, count, spot, token))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "error")), str(error.get("Message", ""))
            return [], [describe_fleet_error(lifecycle, code, message)], "refused"
        except BotoCoreError as exc:
            return [], [f"CreateFleet ({lifecycle}): {type(exc).__name__}: {exc}"], "broken"
        now = self._clock()
        started = [
            self._launched(instance_id, pool, str(group.get("Lifecycle") or lifecycle), now)
            for group in response.get("Instances", [])
            for instance_id in group.get("InstanceIds", [])
        ]
        # An instant fleet reports one error per override it tried: the same reason many times.
        failures = list(
            dict.fromkeys(
                describe_fleet_error(
                    str(error.get("Lifecycle") or lifecycle),
                    str(error.get("ErrorCode", "error")),
                    str(error.get("ErrorMessage", "")),
                )
                for error in response.get("Errors", [])
            )
        )
        if len(started) < count and not failures:
            failures = [f"CreateFleet ({lifecycle}): launched {len(started)} of {count} (no reason given)"]
        return started[:count], failures, "ok"

    def _launched(self, instance_id: str, pool: str, lifecycle: str, now: datetime) -> TaskInfo:
        # Built from the fleet's answer: DescribeInstances is eventually consistent and may not list an
        # instance for a while after it is launched (EC2 API Reference, "Eventual consistency").
        return TaskInfo(
            task_arn=instance_id,
            task_id=instance_id,
            last_status="PENDING",
            desired_status="RUNNING",
            created_at=now,
            started_by=started_by_for(pool, self._started_by),
            pool=pool,
            capacity_provider=lifecycle,
        )

    # -- observe ---------------------------------------------------------------------------------

    def _describe(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        paginator = self._ec2.get_paginator("describe_instances")
        for page in paginator.paginate(**kwargs):
            for reservation in page.get("Reservations", []):
                yield from reservation.get("Instances", [])

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        """This pool's instances: live ones and those terminated recently (EC2 lists them for about an
        hour), found by both tags and kept only if both are this pool's."""
        self._settings(pool)
        tag, started_by = pool_tag_value(pool), started_by_for(pool, self._started_by)
        filters = [
            {"Name": f"tag:{POOL_TAG}", "Values": [tag]},
            {"Name": f"tag:{STARTED_BY_TAG}", "Values": [started_by]},
        ]
        tasks: list[TaskInfo] = []
        for instance in self._describe(Filters=filters, PaginationConfig={"PageSize": DESCRIBE_MAX}):
            tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", [])}
            if tags.get(POOL_TAG) == tag and tags.get(STARTED_BY_TAG) == started_by:
                tasks.append(self._info(instance, pool, tags))
        return tasks

    def describe(self, pool: str, task_arns: Sequence[str]) -> list[TaskInfo]:
        """The named instances as EC2 describes them now, those of this pool only (both tags); an id EC2
        does not list (not yet visible, or long gone) is absent from the result."""
        self._settings(pool)
        tag, started_by = pool_tag_value(pool), started_by_for(pool, self._started_by)
        tasks: list[TaskInfo] = []
        ids = [task_id_of(arn) for arn in task_arns]
        for start in range(0, len(ids), DESCRIBE_MAX):
            filters = [{"Name": "instance-id", "Values": ids[start : start + DESCRIBE_MAX]}]
            for instance in self._describe(Filters=filters):
                tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", [])}
                if tags.get(POOL_TAG) == tag and tags.get(STARTED_BY_TAG) == started_by:
                    tasks.append(self._info(instance, pool, tags))
        return tasks

    def _info(self, instance: dict[str, Any], pool: str, tags: Mapping[str, str | None]) -> TaskInfo:
        state = str(instance.get("State", {}).get("Name", "pending"))
        last, desired = STATES.get(state, ("PENDING", "RUNNING"))
        created = instance.get("LaunchTime") or self._clock()
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        code = stop_code(str(instance.get("StateReason", {}).get("Code", ""))) if desired == "STOPPED" else None
        reason = tags.get(STOP_REASON_TAG)
        if reason is None and desired == "STOPPED":
            reason = instance.get("StateReason", {}).get("Message") or instance.get("StateTransitionReason") or None
        return TaskInfo(
            task_arn=instance["InstanceId"],
            task_id=instance["InstanceId"],
            last_status=last,
            desired_status=desired,
            created_at=created,
            started_by=tags.get(STARTED_BY_TAG),
            pool=pool,
            stopped_reason=reason,
            capacity_provider=str(instance.get("InstanceLifecycle") or "on-demand"),
            stop_code=code,
            # EC2 gives no separate start time: an instance past `pending` ran from its launch, unless it ended
            # because it could not start (a `Server.*` state reason).
            started_at=created if state != "pending" and code != "TaskFailedToStart" else None,
        )

    # -- act -------------------------------------------------------------------------------------

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        """Terminate an instance, then write the reason into a tag; one that is gone counts as stopped.

        TerminateInstances comes first and at once: the engine's confirming read (of the agent) is the call
        just before it, and a call in between would widen the window in which an agent can take a job."""
        self._settings(pool)
        instance_id = task_id_of(task_arn)
        try:
            self._ec2.terminate_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            code = error_code(exc)
            if code in GONE_CODES:
                log.info("%s: instance %s already gone (%s)", pool, instance_id, code)
                return
            raise
        try:
            self._ec2.create_tags(
                Resources=[instance_id], Tags=[{"Key": STOP_REASON_TAG, "Value": reason[:TAG_VALUE_MAX]}]
            )
        except (ClientError, BotoCoreError) as exc:
            # The instance is terminating; only the reason shown for it is lost.
            log.warning("%s: instance %s terminated, its stop reason not recorded: %s", pool, instance_id, exc)


def launch_progress(ec2: Any, instance_ids: list[str]) -> tuple[int, list[dict[str, str]]]:
    """For the waiter: how many of the launched instances are still starting, and which ended before they
    ran (terminated with a reason other than a shutdown from inside or by adoscale). Read-only. An instance
    that DescribeInstances does not list yet counts as starting (eventual consistency)."""
    pending, failed = 0, []
    seen: set[str] = set()
    for start in range(0, len(instance_ids), DESCRIBE_MAX):
        ids = instance_ids[start : start + DESCRIBE_MAX]
        response = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": ids}])
        for reservation in response.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                seen.add(instance["InstanceId"])
                state = instance.get("State", {}).get("Name", "")
                reason = instance.get("StateReason", {})
                code = str(reason.get("Code", ""))
                if state == "pending":
                    pending += 1
                elif state in ("shutting-down", "terminated") and code.startswith("Server."):
                    failed.append({"task": instance["InstanceId"], "reason": str(reason.get("Message", code))})
    pending += len(set(instance_ids) - seen)
    return pending, failed
