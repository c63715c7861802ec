"""Ephemeral VMs in ADO Environments: lifecycle events, the state table, and the sweeper."""

from adoscale.environments.events import Kind, LifecycleEvent, MalformedEventError, parse, parse_message
from adoscale.environments.lifecycle import HookTiming, LifecycleService, Outcome, RetryLaterError
from adoscale.environments.state import StateTable
from adoscale.environments.sweeper import SweepResult, sweep

__all__ = [
    "HookTiming",
    "Kind",
    "LifecycleEvent",
    "LifecycleService",
    "MalformedEventError",
    "Outcome",
    "RetryLaterError",
    "StateTable",
    "SweepResult",
    "parse",
    "parse_message",
    "sweep",
]
