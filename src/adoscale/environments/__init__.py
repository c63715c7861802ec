"""Ephemeral VMs in ADO Environments: lifecycle events, the state table, and the sweeper."""

from adoscale.environments.aws import AutoScalingActions, Ec2Instances, SnsAlerts
from adoscale.environments.events import Kind, LifecycleEvent, MalformedEventError, parse, parse_message
from adoscale.environments.lifecycle import HookTiming, LifecycleService, Outcome
from adoscale.environments.ports import Alerts, Instances, LifecycleActions, NoAlerts
from adoscale.environments.state import InstanceRecord, StateTable, Status
from adoscale.environments.sweeper import SweepResult, sweep
from adoscale.transient import RetryLaterError

__all__ = [
    "Alerts",
    "AutoScalingActions",
    "Ec2Instances",
    "HookTiming",
    "InstanceRecord",
    "Instances",
    "Kind",
    "LifecycleActions",
    "LifecycleEvent",
    "LifecycleService",
    "MalformedEventError",
    "NoAlerts",
    "Outcome",
    "RetryLaterError",
    "SnsAlerts",
    "StateTable",
    "Status",
    "SweepResult",
    "parse",
    "parse_message",
    "sweep",
]
