"""boto3 adapters of the Environment-VM ports (`adoscale.environments.ports`): thin, one AWS call each.

The clients are typed with `boto3-stubs`, imported for type checking only (the Lambda zip needs nothing new).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from adoscale.aws import error_code
from adoscale.environments.events import LifecycleEvent

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sns import SNSClient

DESCRIBE_BATCH = 200  # instance ids per DescribeInstances filter (the filter takes up to 200 values)


class Ec2Instances:
    def __init__(self, ec2: EC2Client) -> None:
        self._ec2 = ec2

    @property
    def region(self) -> str:
        return str(self._ec2.meta.region_name or "this region")

    def tags(self, instance_id: str) -> dict[str, str]:
        response = self._ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])
        return {t["Key"]: t["Value"] for t in response.get("Tags", []) if "Key" in t and "Value" in t}

    def states(self, instance_ids: Sequence[str]) -> dict[str, str]:
        states: dict[str, str] = {}
        paginator = self._ec2.get_paginator("describe_instances")
        for start in range(0, len(instance_ids), DESCRIBE_BATCH):
            batch = list(instance_ids[start : start + DESCRIBE_BATCH])
            for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": batch}]):
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        if "InstanceId" in instance:
                            states[instance["InstanceId"]] = instance.get("State", {}).get("Name", "")
        return states


class AutoScalingActions:
    def __init__(self, autoscaling: AutoScalingClient) -> None:
        self._autoscaling = autoscaling

    def complete(self, event: LifecycleEvent, result: str) -> bool:
        if event.hook_name is None or event.action_token is None:
            return True  # a plain event notification: no action waits on us
        try:
            self._autoscaling.complete_lifecycle_action(
                LifecycleHookName=event.hook_name,
                AutoScalingGroupName=event.asg_name,
                LifecycleActionToken=event.action_token,
                LifecycleActionResult=result,
                InstanceId=event.instance_id,
            )
        except ClientError as exc:
            if not _no_such_action(exc):
                raise
            return False
        return True

    def heartbeat(self, event: LifecycleEvent) -> None:
        if event.hook_name is None or event.action_token is None:
            return
        self._autoscaling.record_lifecycle_action_heartbeat(
            LifecycleHookName=event.hook_name,
            AutoScalingGroupName=event.asg_name,
            LifecycleActionToken=event.action_token,
            InstanceId=event.instance_id,
        )


class SnsAlerts:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def alert(self, subject: str, message: str) -> None:
        self._sns.publish(TopicArn=self._topic_arn, Subject=subject[:100], Message=message)


def _no_such_action(exc: ClientError) -> bool:
    """Auto Scaling's answer for a token whose action is already completed, expired, or never was."""
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) == "ValidationError" and "lifecycle action" in message.lower()
