"""EC2's documented rules for an instant fleet that moto does not enforce, and capacity for moto to run out of.

`Ec2Fleets.install` wraps moto's CreateFleet (response and backend) so that:

- **ClientToken idempotency**: "If you repeat the request with the same client token, the same response is
  returned" and nothing is launched again; the same token with different parameters is refused with
  `IdempotentParameterMismatch` (EC2 API Reference, "Ensuring idempotency in Amazon EC2 API requests",
  docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html; CreateFleet `ClientToken` links to it).
  moto launches again on every call.
- **Capacity**: an instant fleet "places a synchronous one-time request for your desired capacity" and
  "returns errors for any instances that could not be launched" in the response's `Errors`, with codes such
  as `InsufficientInstanceCapacity` (EC2 User Guide, "EC2 Fleet request types", instant; EC2 API Reference,
  CreateFleet response `Errors`, CreateFleetError). moto always has capacity; here Spot and on-demand each
  have an optional remaining budget, and what is beyond it comes back as such an error.

Every CreateFleet is recorded (its parameters as sent) for tests to read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from adoscale.config import Ec2Settings
from adoscale_lab.moto_rules.patches import Patcher

INSUFFICIENT = (
    "We currently do not have sufficient capacity in the Availability Zone you requested. Our system will be "
    "working on provisioning additional capacity."
)


@dataclass
class Ec2Fleets:
    # None: unlimited, as moto ships. Otherwise how many more instances of that kind find capacity.
    remaining: dict[str, int | None] = field(default_factory=lambda: {"spot": None, "on-demand": None})
    calls: list[dict[str, Any]] = field(default_factory=list)
    answered: dict[str, tuple[str, Any]] = field(default_factory=dict)
    _short: dict[int, tuple[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def limit(self, instances: int, kind: str | None = None) -> None:
        """From now on at most `instances` more of `kind` (spot, on-demand; both when None) find capacity."""
        for name in [kind] if kind else list(self.remaining):
            self.remaining[name] = instances

    def _place(self, kind: str, asked: int) -> int:
        budget = self.remaining.get(kind)
        if budget is None:
            return asked
        placed = min(asked, budget)
        self.remaining[kind] = budget - placed
        return placed

    @classmethod
    def install(cls, monkeypatch: Patcher) -> Ec2Fleets:
        from moto.core.responses import ActionResult
        from moto.ec2.exceptions import EC2ClientError
        from moto.ec2.models.fleets import FleetsBackend
        from moto.ec2.responses.fleets import Fleets

        rules = cls()
        answer = Fleets.create_fleet
        create_in_backend = FleetsBackend.create_fleet

        def create_fleet(backend: Any, **kwargs: Any) -> Any:
            spec = dict(kwargs["target_capacity_specification"])
            kind = str(spec.get("DefaultTargetCapacityType", "on-demand"))
            asked = int(spec.get("TotalTargetCapacity", 0))
            placed = rules._place(kind, asked)
            spec["TotalTargetCapacity"] = placed
            for key in ("SpotTargetCapacity", "OnDemandTargetCapacity"):
                if key in spec:
                    spec[key] = placed
            rules._short[threading.get_ident()] = (kind, asked - placed)
            return create_in_backend(backend, **{**kwargs, "target_capacity_specification": spec})

        def create_fleet_response(response: Any) -> Any:
            params = response._get_params()
            token = str(params.get("ClientToken") or "")
            fingerprint = json.dumps({k: v for k, v in params.items() if k != "ClientToken"}, sort_keys=True)
            with rules._lock:
                rules.calls.append(params)
                if token and token in rules.answered:
                    sent, result = rules.answered[token]
                    if sent != fingerprint:
                        raise EC2ClientError(
                            "IdempotentParameterMismatch",
                            "The client token you have provided is associated with a resource that is already "
                            "deleted or has different parameters.",
                        )
                    return result
                result = answer(response)
                kind, short = rules._short.pop(threading.get_ident(), ("on-demand", 0))
                body = dict(result.result)  # type: ignore[call-overload]  # moto types it object
                body["Errors"] = [
                    {"Lifecycle": kind, "ErrorCode": "InsufficientInstanceCapacity", "ErrorMessage": INSUFFICIENT}
                ] * min(short, 1)
                body.setdefault("Instances", [])
                final = ActionResult(body)
                if token:
                    rules.answered[token] = (fingerprint, final)
                return final

        monkeypatch.setattr(FleetsBackend, "create_fleet", create_fleet)
        monkeypatch.setattr(Fleets, "create_fleet", create_fleet_response)
        return rules


@dataclass(frozen=True)
class Ec2World:
    launch_template: str  # its id
    launch_template_name: str
    image_id: str
    subnets: tuple[str, ...]

    def settings(self, **extra: Any) -> Ec2Settings:
        body: dict[str, Any] = {
            "launch_template": self.launch_template,
            "instance_types": ["m7i.large", "m6i.large"],
            "subnets": list(self.subnets),
            **extra,
        }
        return Ec2Settings.model_validate(body)


def create_ec2_world(ec2: Any, name: str = "adoscale-docker") -> Ec2World:
    """A VPC with two subnets in two zones and a launch template as the `ec2-pool` module makes one."""
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab", start=1)
    )
    template, image = create_pool_launch_template(ec2, name)
    return Ec2World(template, name, image, subnets)


def create_pool_launch_template(ec2: Any, name: str, security_groups: tuple[str, ...] = ()) -> tuple[str, str]:
    """The launch template the `ec2-pool` module makes (IMDSv2 with one hop, shutdown terminates), on one of
    moto's images. Returns its id and the image id."""
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    data: dict[str, Any] = {
        "ImageId": image,
        "InstanceType": "m7i.large",
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
    }
    if security_groups:
        data["SecurityGroupIds"] = list(security_groups)
    template = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)["LaunchTemplate"]
    return str(template["LaunchTemplateId"]), str(image)


@contextmanager
def ec2_world() -> Iterator[tuple[Any, Ec2World]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        yield ec2, create_ec2_world(ec2)
