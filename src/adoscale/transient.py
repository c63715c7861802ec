"""The failures worth trying again, in one place.

A Lambda handler lets only these reach its trigger (Step Functions' Retry, SNS or EventBridge
redelivery); every other problem with an event is logged and acknowledged. The workflow's `Retry`
lists the same names (tests compare the two), so adding a class here is the whole change.
"""

from __future__ import annotations

from typing import Any

from adoscale.ado.errors import AdoThrottledError, AdoUnavailableError
from adoscale.aws import error_code

# botocore error codes that mean "AWS is busy or failing", not "the request is wrong".
_AWS_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
    }
)


class AwsUnavailableError(Exception):
    """An AWS call was throttled or failed on the service side after botocore's own retries."""


class RetryLaterError(Exception):
    """The Environment-VM lifecycle cannot finish now (Azure DevOps failed while an instance waits on its
    hook): the delivery must be retried (the Lambda raises, SNS or EventBridge retries)."""


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    AdoUnavailableError,
    AdoThrottledError,
    AwsUnavailableError,
    RetryLaterError,
)


def _with_subclasses(classes: tuple[type[Exception], ...]) -> set[type[Exception]]:
    found: set[type[Exception]] = set()
    todo = list(classes)
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.add(cls)
            todo.extend(cls.__subclasses__())
    return found


# Step Functions matches a Lambda error by its exact type name, so subclasses are named too (a timed-out
# call raises AdoTimeoutError, an AdoUnavailableError).
TRANSIENT_ERROR_NAMES: tuple[str, ...] = tuple(sorted({cls.__name__ for cls in _with_subclasses(TRANSIENT_ERRORS)}))


def is_transient_aws(exc: BaseException) -> bool:
    """A botocore `ClientError` whose code or HTTP status says: try again later."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = error_code(exc)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _AWS_TRANSIENT_CODES or (isinstance(status, int) and status >= 500)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS) or is_transient_aws(exc)


__all__ = [
    "TRANSIENT_ERRORS",
    "TRANSIENT_ERROR_NAMES",
    "AwsUnavailableError",
    "RetryLaterError",
    "is_transient",
    "is_transient_aws",
]
