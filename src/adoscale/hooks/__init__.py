"""Event-driven scale-out: Azure DevOps service hooks ("Run job state changed") that start a pool's pass at
once, through the same `Reconciler.run_pool` and lease as the schedule (docs/hooks.md).

`validate` is pure (no I/O): authentication, size, payload, pool, freshness and replay. `server` is the
receiver `adoscale serve --hooks-port` runs; `adoscale.handlers.hook` is the Lambda behind an API Gateway HTTP API;
`subscriptions` builds the webHooks subscriptions `adoscale hooks install` creates.
"""

from adoscale.config.settings import HOOK_SECRET_ENV
from adoscale.hooks.secret import resolve_hook_secret
from adoscale.hooks.validate import (
    JOB_STATE_CHANGED,
    MAX_BODY_BYTES,
    POOL_PARAMETER,
    SECRET_HEADER,
    HookDecision,
    HookEvent,
    HookRejected,
    HookValidator,
    SeenIds,
)

__all__ = [
    "HOOK_SECRET_ENV",
    "JOB_STATE_CHANGED",
    "MAX_BODY_BYTES",
    "POOL_PARAMETER",
    "SECRET_HEADER",
    "HookDecision",
    "HookEvent",
    "HookRejected",
    "HookValidator",
    "SeenIds",
    "resolve_hook_secret",
]
