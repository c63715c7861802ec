"""Ephemeral VMs in ADO Environments: lifecycle events, the state table, and the sweeper."""

from adoscale.environments.events import Kind, LifecycleEvent, MalformedEventError, parse, parse_message
from adoscale.environments.lifecycle import HookTiming, LifecycleService, Outcome
from adoscale.environments.state import InstanceRecord, StateTable, Status
from adoscale.environments.sweeper import SweepResult, sweep
from adoscale.transient import RetryLaterError

__all__ = [
    "HookTiming",
    "InstanceRecord",
    "Kind",
    "LifecycleEvent",
    "LifecycleService",
    "MalformedEventError",
    "Outcome",
    "RetryLaterError",
    "StateTable",
    "Status",
    "SweepResult",
    "parse",
    "parse_message",
    "sweep",
]
