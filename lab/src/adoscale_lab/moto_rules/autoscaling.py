"""Auto Scaling calls moto lacks: CompleteLifecycleAction and RecordLifecycleActionHeartbeat (API reference,
docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CompleteLifecycleAction.html), which the lifecycle function
makes; and the notification-configuration calls the Terraform provider makes (`aws_autoscaling_notification`)."""

from __future__ import annotations

from typing import Any

from adoscale_lab.moto_rules.patches import Patcher


def lifecycle_actions(monkeypatch: Patcher) -> list[tuple[str, dict[str, Any]]]:
    """Accept both lifecycle calls and record them: `("complete" | "heartbeat", parameters)`."""
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    calls: list[tuple[str, dict[str, Any]]] = []

    def complete(self: AutoScalingResponse) -> EmptyResult:
        calls.append(("complete", self._get_params()))
        return EmptyResult()

    def heartbeat(self: AutoScalingResponse) -> EmptyResult:
        calls.append(("heartbeat", self._get_params()))
        return EmptyResult()

    monkeypatch.setattr(AutoScalingResponse, "complete_lifecycle_action", complete, raising=False)
    monkeypatch.setattr(AutoScalingResponse, "record_lifecycle_action_heartbeat", heartbeat, raising=False)
    return calls


def notification_configurations(monkeypatch: Patcher) -> None:
    """Put/Describe/DeleteNotificationConfiguration answered as by a group with none (the provider reads its
    own write back through Describe; nothing in adoscale depends on notifications)."""
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult, EmptyResult

    def empty(self: Any) -> EmptyResult:
        return EmptyResult()

    def describe(self: Any) -> ActionResult:
        return ActionResult({"NotificationConfigurations": []})

    for name in ("put_notification_configuration", "delete_notification_configuration"):
        monkeypatch.setattr(AutoScalingResponse, name, empty, raising=False)
    monkeypatch.setattr(AutoScalingResponse, "describe_notification_configurations", describe, raising=False)
