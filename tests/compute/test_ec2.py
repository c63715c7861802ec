"""EC2 compute (one instance per job) against moto: the fleet request, tags, idempotency, Spot fallback,
quotas, listing, stopping, and the waiter's read."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from adoscale.compute import POOL_TAG, Ec2Compute
from adoscale.compute.ec2 import STARTED_BY_TAG, STOP_REASON_TAG, fleet_token, launch_progress
from adoscale_lab.moto_rules.ec2 import Ec2Fleets, ec2_world


@pytest.fixture
def fleets(monkeypatch: pytest.MonkeyPatch) -> Ec2Fleets:
    return Ec2Fleets.install(monkeypatch)


def _instances(ec2: Any) -> list[dict[str, Any]]:
    return [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


def test_four_instances_from_the_template_in_its_subnets_tagged_with_a_client_token(fleets: Ec2Fleets) -> None:
    with ec2_world() as (ec2, world):
        compute = Ec2Compute(ec2, {"docker": world.settings(spot=True, root_volume_gb=100)})
        result = compute.launch("docker", 4, token="pass-1")
        assert len(result.started) == 4 and result.failures == ()
        (call,) = fleets.calls
        assert call["Type"] == "instant"
        assert call["ClientToken"] == fleet_token("pass-1") and len(call["ClientToken"]) <= 64
        (config,) = call["LaunchTemplateConfigs"]
        template = {"LaunchTemplateId": world.launch_template, "Version": "$Latest"}
        assert config["LaunchTemplateSpecification"] == template
        assert {o["SubnetId"] for o in config["Overrides"]} == set(world.subnets)
        assert {o["InstanceType"] for o in config["Overrides"]} == {"m7i.large", "m6i.large"}
        root = config["Overrides"][0]["BlockDeviceMappings"][0]
        assert root["Ebs"] == {"VolumeSize": 100, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}
        assert call["TargetCapacitySpecification"]["DefaultTargetCapacityType"] == "spot"
        assert call["SpotOptions"] == {"AllocationStrategy": "price-capacity-optimized"}
        instances = _instances(ec2)
        assert len(instances) == 4
        assert {i["InstanceId"] for i in instances} == {t.task_arn for t in result.started}
        for instance in instances:
            tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
            assert tags[POOL_TAG] == "docker" and tags[STARTED_BY_TAG] == "adoscale/docker"
            assert instance["SubnetId"] in world.subnets
            assert instance["ImageId"] == world.image_id  # from the launch template
        listed = compute.list_tasks("docker")
        assert {t.task_id for t in listed} == {t.task_id for t in result.started}
        assert {t.capacity_provider for t in listed} == {"spot"}


def test_a_fleet_whose_response_is_lost_launches_nothing_twice(fleets: Ec2Fleets) -> None:
    """botocore retries a CreateFleet whose connection broke after EC2 acted; the same ClientToken makes the
    retry answer the first call's instances (EC2's idempotency rule, encoded by `Ec2Fleets`)."""
    with ec2_world() as (ec2, world):
        sent: list[int] = []

        def lose_first_response(attempts: int, **_: Any) -> float | None:
            sent.append(attempts)
            return 0.0 if len(sent) == 1 else None

        ec2.meta.events.register_first("needs-retry.ec2.CreateFleet", lose_first_response)
        result = Ec2Compute(ec2, {"docker": world.settings()}).launch("docker", 3, token="pass-1")
        assert len(sent) == 2 and len(fleets.calls) == 2  # botocore did send it twice
        assert len(result.started) == 3
        assert len(_instances(ec2)) == 3


def test_without_the_rule_moto_would_launch_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rig is what makes the test above meaningful: bare moto launches again on a repeated token."""
    with ec2_world() as (ec2, world):
        compute = Ec2Compute(ec2, {"docker": world.settings()})
        compute.launch("docker", 2, token="same")
        compute.launch("docker", 2, token="same")
        assert len(_instances(ec2)) == 4


def test_spot_short_of_capacity_falls_back_to_on_demand_and_says_why(fleets: Ec2Fleets) -> None:
    with ec2_world() as (ec2, world):
        fleets.limit(1, "spot")
        result = Ec2Compute(ec2, {"docker": world.settings(spot=True)}).launch("docker", 4, token="pass-1")
        assert len(result.started) == 4 and result.failures == ()
        assert result.fell_back == 3  # the count of the fallback, whatever the service
        assert len(result.spot_refusals) == 1 and "InsufficientInstanceCapacity" in result.spot_refusals[0]
        kinds = [c["TargetCapacitySpecification"]["DefaultTargetCapacityType"] for c in fleets.calls]
        assert kinds == ["spot", "on-demand"]
        assert fleets.calls[1]["TargetCapacitySpecification"]["TotalTargetCapacity"] == 3
        assert fleets.calls[1]["ClientToken"] == fleet_token("pass-1", fallback=True)
        lifecycles = sorted(t.capacity_provider or "" for t in result.started)
        assert lifecycles == ["on-demand", "on-demand", "on-demand", "spot"]


def test_spot_short_without_fallback_reports_the_shortage(fleets: Ec2Fleets) -> None:
    with ec2_world() as (ec2, world):
        fleets.limit(2, "spot")
        settings = world.settings(spot=True, on_demand_fallback=False)
        result = Ec2Compute(ec2, {"docker": settings}).launch("docker", 5, token="pass-1")
        assert len(result.started) == 2
        assert result.failures == (
            "CreateFleet (spot): InsufficientInstanceCapacity: capacity is unavailable "
            "(We currently do not have sufficient capacity in the Availability Zone you requested. Our system will "
            "be working on provisioning additional capacity.)",
        )
        assert len(fleets.calls) == 1


def test_a_quota_refusal_is_reported_and_launches_nothing(fleets: Ec2Fleets) -> None:
    with ec2_world() as (ec2, world):

        def over_quota(**_: Any) -> None:
            error = {"Code": "VcpuLimitExceeded", "Message": "You have requested more vCPU capacity than allowed"}
            raise ClientError({"Error": error}, "CreateFleet")

        ec2.meta.events.register("before-call.ec2.CreateFleet", over_quota)
        result = Ec2Compute(ec2, {"docker": world.settings()}).launch("docker", 2, token="pass-1")
        assert result.started == ()
        assert result.failures == (
            "CreateFleet (on-demand): VcpuLimitExceeded: an account quota is reached "
            "(You have requested more vCPU capacity than allowed)",
        )


def test_pools_list_only_their_own_instances_and_stop_is_idempotent(fleets: Ec2Fleets) -> None:
    with ec2_world() as (ec2, world):
        compute = Ec2Compute(ec2, {"docker": world.settings(), "Windows Docker (x64)": world.settings()})
        docker = compute.launch("docker", 2, token="a").started
        windows = compute.launch("Windows Docker (x64)", 3, token="b").started
        # Someone else's instance from the same template, tagged with the pool but not by adoscale.
        ec2.run_instances(
            LaunchTemplate={"LaunchTemplateId": world.launch_template},
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": POOL_TAG, "Value": "docker"}]}],
        )
        assert {t.task_id for t in compute.list_tasks("docker")} == {t.task_id for t in docker}
        assert {t.task_id for t in compute.list_tasks("Windows Docker (x64)")} == {t.task_id for t in windows}
        target = docker[0].task_arn
        compute.stop("docker", target, "adoscale: idle")
        compute.stop("docker", target, "adoscale: idle, again")  # terminated already: fine
        compute.stop("docker", "i-0123456789abcdef0", "adoscale: unknown")  # never existed: fine
        after = {t.task_arn: t for t in compute.list_tasks("docker")}
        assert (after[target].last_status, after[target].desired_status) == ("STOPPED", "STOPPED")
        assert after[target].stopped_reason == "adoscale: idle, again"
        described = ec2.describe_instances(InstanceIds=[target])["Reservations"][0]["Instances"][0]
        assert {t["Key"]: t["Value"] for t in described["Tags"]}[STOP_REASON_TAG] == "adoscale: idle, again"
        assert after[docker[1].task_arn].last_status == "RUNNING"


def test_an_unknown_pool_is_a_clear_error() -> None:
    with ec2_world() as (ec2, world), pytest.raises(KeyError, match="no EC2 placement configured for pool 'java'"):
        Ec2Compute(ec2, {"docker": world.settings()}).launch("java", 1, token="t")


def test_launch_progress_reads_what_the_waiter_reports(fleets: Ec2Fleets) -> None:
    with ec2_world() as (ec2, world):
        started = Ec2Compute(ec2, {"docker": world.settings()}).launch("docker", 2, token="t").started
        ids = [t.task_arn for t in started]
        # moto starts instances as running; one not listed yet (eventual consistency) counts as starting.
        assert launch_progress(ec2, [*ids, "i-0fffffffffffffff0"]) == (1, [])


def test_an_instance_that_ends_at_once_counts_as_a_failed_start() -> None:
    """EC2's state reasons, read as the pass's start back-off reads ECS's stop codes: an instance EC2 ends
    right after launch (EC2 User Guide, "Troubleshoot instances that terminate immediately") failed to start;
    the agent's own power-off and adoscale's terminate did not."""
    from adoscale.compute.ec2 import stop_code
    from adoscale.control.backoff import start_failure

    assert stop_code("Client.VolumeLimitExceeded") == "TaskFailedToStart"
    assert stop_code("Server.SpotInstanceTermination") == "SpotInterruption"
    assert stop_code("Client.UserInitiatedShutdown") == "UserInitiated"
    assert stop_code("Client.InstanceInitiatedShutdown") == "EssentialContainerExited"
    assert stop_code("") is None
    with ec2_world() as (ec2, world):
        compute = Ec2Compute(ec2, {"docker": world.settings()})
        compute.launch("docker", 1, token="t")
        (instance,) = _instances(ec2)
        reason = {"Code": "Client.VolumeLimitExceeded", "Message": "Client.VolumeLimitExceeded: Volume limit exceeded"}
        ec2.meta.events.register(
            "after-call.ec2.DescribeInstances",
            lambda parsed, **_: [
                i.update(State={"Code": 48, "Name": "terminated"}, StateReason=reason)
                for r in parsed["Reservations"]
                for i in r["Instances"]
            ],
        )
        (task,) = compute.list_tasks("docker")
        assert task.task_id == instance["InstanceId"] and task.stop_code == "TaskFailedToStart"
        assert start_failure(task, registered=False) == (
            "TaskFailedToStart: Client.VolumeLimitExceeded: Volume limit exceeded"
        )


def test_the_fallback_is_said_in_ec2_terms(fleets: Ec2Fleets) -> None:
    """The pass report's line comes from the adapter: Spot and On-Demand instances, never FARGATE_SPOT."""
    with ec2_world() as (ec2, world):
        fleets.limit(0, "spot")
        result = Ec2Compute(ec2, {"docker": world.settings(spot=True)}).launch("docker", 2, token="pass-1")
        warning = result.fallback_warning()
        assert warning is not None
        assert warning.startswith("2 instance(s) fell back from Spot to On-Demand: CreateFleet (spot): ")
        assert "FARGATE" not in warning
