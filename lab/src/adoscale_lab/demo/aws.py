"""The AWS side of the demo: the networking and ECS resources an agent pool needs, inside moto."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adoscale_lab.moto_rules.ec2 import create_pool_launch_template

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient


@dataclass(frozen=True, slots=True)
class EcsWorld:
    cluster: str
    task_definition: str
    container_name: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


def create_ecs_world(
    ec2: EC2Client,
    ecs: ECSClient,
    *,
    cluster: str = "ado-agents",
    family: str = "ado-agent",
    container_name: str = "agent",
) -> EcsWorld:
    """A VPC, subnet, security group, Fargate cluster and agent task definition.

    moto's awsvpc RunTask needs DNS host names on the VPC and `memory` on every container definition.
    """
    vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    sg_id = ec2.create_security_group(GroupName="ado-agents", Description="agents: egress only", VpcId=vpc_id)[
        "GroupId"
    ]
    ecs.create_cluster(
        clusterName=cluster,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
    )
    ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": container_name, "image": "adoscale/agent:demo", "memory": 512, "essential": True}
        ],
    )
    return EcsWorld(
        cluster=cluster,
        task_definition=family,
        container_name=container_name,
        subnets=(subnet_id,),
        security_groups=(sg_id,),
    )


def create_ec2_launch_template(ec2: EC2Client, world: EcsWorld, name: str = "adoscale-docker") -> str:
    """The launch template of an EC2 pool, in the demo's VPC's security groups. Returns its id."""
    return create_pool_launch_template(ec2, name, tuple(world.security_groups))[0]
