"""Azure DevOps REST: the client, its models and errors, demand matching and queue counts."""

from adoscale.ado.client import AdoClient, ClientStats
from adoscale.ado.demands import Demand, satisfies
from adoscale.ado.errors import (
    AdoAuthError,
    AdoConflictError,
    AdoError,
    AdoNotFoundError,
    AdoScopeError,
    AdoThrottledError,
    AdoTimeoutError,
    AdoUnavailableError,
)
from adoscale.ado.models import Agent, Environment, JobRequest, JobState, ParallelLimit, Pool, PoolReference, VmResource
from adoscale.ado.queue import count_queued_for, count_running
from adoscale.ado.retry import RetryPolicy

__all__ = [
    "AdoAuthError",
    "AdoClient",
    "AdoConflictError",
    "AdoError",
    "AdoNotFoundError",
    "AdoScopeError",
    "AdoThrottledError",
    "AdoTimeoutError",
    "AdoUnavailableError",
    "Agent",
    "ClientStats",
    "Demand",
    "Environment",
    "JobRequest",
    "JobState",
    "ParallelLimit",
    "Pool",
    "PoolReference",
    "RetryPolicy",
    "VmResource",
    "count_queued_for",
    "count_running",
    "satisfies",
]
