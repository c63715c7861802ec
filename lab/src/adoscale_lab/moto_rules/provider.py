"""What the Terraform AWS provider needs of moto and moto lacks or gets wrong (scripts/moto_server.py installs it):

- Auto Scaling: CompleteLifecycleAction and RecordLifecycleActionHeartbeat accepted, notification
  configurations (`autoscaling.notification_configurations`).
- Step Functions: ValidateStateMachineDefinition answers OK (the provider validates before creating; the
  definitions are checked by statelint and tests/workflow) and ListStateMachineVersions answers none.
- EC2: a deleted transit gateway VPC attachment stays listed in state `deleted`, as EC2 lists it
  (docs.aws.amazon.com/vpc/latest/tgw/tgw-vpc-attachments.html, "Deleted" lifecycle state); moto forgets
  it, and the provider's delete waiter then retries for minutes before failing.
- Step Functions executions interpreted, Lambda without Docker (moto's own settings).
"""

from __future__ import annotations

from typing import Any

from adoscale_lab.moto_rules.autoscaling import notification_configurations
from adoscale_lab.moto_rules.patches import Patcher


def install(monkeypatch: Patcher) -> None:
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.config import default_user_config
    from moto.core.responses import ActionResult, EmptyResult
    from moto.ec2.models.transit_gateway_attachments import TransitGatewayAttachmentBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    def empty(self: Any) -> EmptyResult:
        return EmptyResult()

    def validate(self: Any) -> ActionResult:
        return ActionResult({"result": "OK", "diagnostics": []})

    def versions(self: Any) -> ActionResult:
        return ActionResult({"stateMachineVersions": []})

    forget = TransitGatewayAttachmentBackend.delete_transit_gateway_vpc_attachment

    def delete_attachment(self: TransitGatewayAttachmentBackend, transit_gateway_attachment_id: str) -> Any:
        attachment = forget(self, transit_gateway_attachment_id)  # sets state "deleted"
        self.transit_gateway_attachments[transit_gateway_attachment_id] = attachment
        return attachment

    for name in ("complete_lifecycle_action", "record_lifecycle_action_heartbeat"):
        monkeypatch.setattr(AutoScalingResponse, name, empty, raising=False)
    notification_configurations(monkeypatch)
    monkeypatch.setattr(StepFunctionResponse, "validate_state_machine_definition", validate, raising=False)
    monkeypatch.setattr(StepFunctionResponse, "list_state_machine_versions", versions, raising=False)
    monkeypatch.setattr(TransitGatewayAttachmentBackend, "delete_transit_gateway_vpc_attachment", delete_attachment)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    default_user_config["lambda"]["use_docker"] = False
