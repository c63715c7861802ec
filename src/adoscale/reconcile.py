"""Moved: the pass is `adoscale.control` (observe -> decide -> act), wired by `adoscale.bootstrap`.

These names stay importable from here for callers not yet switched (the hook handler); new code imports
from `adoscale.control`.
"""

from adoscale.control import (
    ParallelShare,
    PassDeadlineError,
    PassLimits,
    PassReport,
    PoolReport,
    Reconciler,
    agent_view,
    describe,
    new_pass_id,
    policy_for,
    task_view,
)
from adoscale.ports import AdoPort

__all__ = [
    "AdoPort",
    "ParallelShare",
    "PassDeadlineError",
    "PassLimits",
    "PassReport",
    "PoolReport",
    "Reconciler",
    "agent_view",
    "describe",
    "new_pass_id",
    "policy_for",
    "task_view",
]
