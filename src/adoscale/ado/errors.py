"""Errors of the Azure DevOps client. Messages carry ADO's own `message` and `typeKey`, never a body dump
and never the PAT."""

from __future__ import annotations

REQUIRED_SCOPES = "Agent Pools (read & manage) and Environment (read & manage)"


class AdoError(Exception):
    """A call to Azure DevOps failed."""

    def __init__(self, message: str, *, status: int | None = None, type_key: str | None = None, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.type_key = type_key
        self.url = url


class AdoAuthError(AdoError):
    """The PAT was refused: invalid, expired, or lacking a scope (HTTP 203 sign-in page, or 401)."""


class AdoScopeError(AdoError):
    """The PAT reads the pool but may not change it: it lacks the "Agent Pools (read & manage)" scope. Found by a
    write refused (401/203) right after reads with the same PAT succeeded, before the pass launches anything.
    Not an `AdoAuthError`: the PAT works, so it fails this pool's pass (reported, alerted), not the controller."""


MANAGE_SCOPE = "Agent Pools (read & manage)"


def scope_error(pool: str, refused: AdoAuthError) -> AdoScopeError:
    return AdoScopeError(
        f"the PAT reads pool {pool} but may not manage it: it lacks the {MANAGE_SCOPE} scope "
        f"(vso.agentpools_manage; HTTP {refused.status} on a change); nothing was launched",
        status=refused.status,
        type_key=refused.type_key,
        url=refused.url,
    )


class AdoNotFoundError(AdoError):
    """HTTP 404, or a lookup by name that found nothing."""


class AdoConflictError(AdoError):
    """The service refused a change in the current state (e.g. deleting an agent that runs a job)."""


class AdoThrottledError(AdoError):
    """Still throttled (429) when the call's deadline ran out."""


class AdoUnavailableError(AdoError):
    """5xx, connection errors or timeouts until the call's deadline ran out."""


class AdoTimeoutError(AdoUnavailableError):
    """The call's total deadline (or the enclosing `AdoClient.bounded` block's) ran out: a response that
    never came, or a body that arrived too slowly. The message names the route and the seconds."""


def auth_error(status: int, url: str) -> AdoAuthError:
    how = "HTTP 203 with a sign-in page" if status == 203 else f"HTTP {status}"
    return AdoAuthError(
        f"Azure DevOps refused the PAT ({how}): it is invalid, expired, or lacks a scope. "
        f"adoscale needs {REQUIRED_SCOPES}.",
        status=status,
        type_key="UnauthorizedRequestException",
        url=url,
    )
