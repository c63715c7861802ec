"""Lambda entry `adoscale.handlers.hook.handler`: Azure DevOps service hooks through an API Gateway HTTP API.

Two kinds of event reach it:

- `POST /hooks?pool=NAME` from the HTTP API (payload format 2.0, Terraform's route on the `$default` stage),
  routed by powertools' `APIGatewayHttpResolver`. The delivery is checked by `adoscale.hooks.HookValidator`;
  a valid job-waiting hook is handed on (`adoscale.hooks.requests`: queued as an asynchronous invocation of
  this function, coalesced per pool, nothing queued while the pool's lease is held) and answered 202 at once,
  before any Azure DevOps call. Answers: 202 for every authenticated delivery (run, late, replayed,
  irrelevant, for a pool not configured) and for an internal failure (logged at ERROR: a 5xx would put the
  subscription on probation); 401 for a wrong or missing secret; 413 over the size cap; 400 for a request
  that is not a delivery; 404 for another method or path.
- `{"adoscale_hook_pass": {"pool": NAME, "event_id": ID}}`, the queued pass: the pool's lease is checked
  first (held: done, no Azure DevOps call), then the pool's queue (nothing queued: the event was another
  pool's, done after that one read), then the parallel-job share and the pass, as the workflow runs it.
  Failures are logged, never raised: the asynchronous retry would only repeat them, and the workflow's next
  round (which alerts on failures) is the backstop.

Replay memory is the warm container's (`SeenIds`): a replay that gets through another container costs at
most one coalesced pass, which observes before it acts and so launches nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adoscale.config import Config, ConfigError
from adoscale.control import new_pass_id
from adoscale.handlers._control import BadEventError, load_config, pool_config, reconciler
from adoscale.handlers._runtime import SettingsError, client, deployment, source
from adoscale.hooks import HookRejected, HookValidator, resolve_hook_secret
from adoscale.hooks.requests import QUEUED_PASS, LambdaPassRequests, lease_held
from adoscale.hooks.validate import DEFAULT_MAX_AGE_S, MAX_BODY_BYTES
from adoscale.secrets import redact
from adoscale.validation import one_line

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))
app = APIGatewayHttpResolver()

LAMBDA_MARGIN_S = 2.0
# The validator (and its replay memory) lives as long as the warm container, rebuilt only when the secret,
# the pools or the age limit change.
_validators: dict[tuple[str, frozenset[str], float], HookValidator] = {}


class QueuedPass(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    pool: Annotated[str, Field(min_length=1, max_length=256)]
    event_id: Annotated[str, Field(max_length=64)] | None = None


class QueuedEvent(BaseModel):
    adoscale_hook_pass: QueuedPass


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and QUEUED_PASS in event:
        return run_queued(event, context)
    body = event.get("body") if isinstance(event, dict) else None
    if isinstance(body, str) and len(body) > MAX_BODY_BYTES * 4 // 3 + 4:  # base64 of the cap; before decoding
        return _rejected(HookRejected(413, f"body of {len(body)} characters is over the {MAX_BODY_BYTES}-byte cap"))
    try:
        parse(event=event, model=APIGatewayProxyEventV2Model)  # what the resolver then reads is there
    except ValidationError as exc:
        return _rejected(HookRejected(400, f"not an HTTP API request: {one_line(exc)}"))
    return app.resolve(event, context)


@app.post("/hooks")
def deliver() -> Response[str]:
    request = app.current_event
    try:
        config = load_config()
        validator = _validator(config)
        decision = validator.check(
            headers={k.lower(): v for k, v in (request.headers or {}).items()},
            # A repeated parameter arrives comma-joined; the first value is the one the subscription set.
            query={k: v.split(",", 1)[0] for k, v in (request.query_string_parameters or {}).items()},
            body=_body(request.body, bool(request.is_base64_encoded)),
        )
        if decision.action == "ignore":
            logger.info("hook ignored", extra={"pool": decision.pool, "reason": decision.reason})
            return _response(202, {"status": "ignored", "pool": decision.pool, "reason": decision.reason})
        queued = _requests(config, app.lambda_context).request(decision.pool, decision.event_id)
    except HookRejected as exc:
        return _response_of(_rejected(exc))
    except Exception as exc:  # any internal failure: accepted, logged at ERROR, never a 5xx
        logger.error("hook not processed", extra={"reason": redact(f"{type(exc).__name__}: {exc}")[:500]})  # noqa: TRY400
        return _response(202, {"status": "accepted", "reason": "not processed (see the function's log)"})
    logger.info("hook accepted", extra={"pool": decision.pool, "event_id": decision.event_id, "queued": queued.reason})
    return _response(
        202, {"status": "accepted", "pool": decision.pool, "queued": queued.queued, "reason": queued.reason}
    )


@app.not_found
def elsewhere(_exc: Exception) -> Response[str]:
    return _response(404, {"status": "rejected", "reason": "only POST /hooks is served"})


def run_queued(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The pass a hook queued: lease first (held: done, no Azure DevOps call), then share and pass."""
    try:
        request = parse(event=event, model=QueuedEvent).adoscale_hook_pass
        config = load_config()
        pool = pool_config(config, request.pool)
    except (ValidationError, BadEventError) as exc:
        reason = one_line(exc) if isinstance(exc, ValidationError) else str(exc)
        logger.error("queued hook pass not run", extra={"reason": reason})  # noqa: TRY400 - bad input
        return {"status": "rejected", "reason": reason}
    table = config.lease_table or deployment().lease_table
    try:
        holder = lease_held(client("dynamodb"), table, pool.name, datetime.now(UTC)) if table else None
        if holder is not None:
            logger.info("queued hook pass skipped", extra={"pool": pool.name, "holder": holder})
            return {"status": "skipped", "pool": pool.name, "holder": holder}
        deadline = max(1.0, context.get_remaining_time_in_millis() / 1000.0 - LAMBDA_MARGIN_S)
        with reconciler(config) as rec:
            # One read of the pool's queue first: the job event reached every pool's subscription, and only
            # a pool with a job queued goes on (the parallel-job cap applies then, as on the schedule).
            pass_id = new_pass_id(f"hook:{context.aws_request_id}")
            report = rec.hook_pass(pool, pass_id=pass_id, deadline_s=deadline)
    except Exception as exc:  # logged once; the workflow's next round retries and alerts
        logger.error("hook pass failed", extra={"pool": pool.name, "reason": redact(f"{type(exc).__name__}: {exc}")})  # noqa: TRY400
        return {"status": "failed", "pool": pool.name}
    if report is None:
        logger.info("hook pass not needed", extra={"event_id": request.event_id, "pool": pool.name})
        return {"status": "nothing queued", "pool": pool.name}
    logger.info("hook pass", extra={"event_id": request.event_id, **report.as_dict()})
    return {"status": "ran", "pool": pool.name, "skipped": report.skipped, "launched": report.launched}


def _requests(config: Config, context: LambdaContext) -> LambdaPassRequests:
    table = config.lease_table or deployment().lease_table
    dynamodb = client("dynamodb") if table else None
    clock = lambda: datetime.now(UTC)  # noqa: E731
    return LambdaPassRequests(client("lambda"), context.invoked_function_arn, clock, dynamodb=dynamodb, table=table)


def _validator(config: Config) -> HookValidator:
    try:
        secret = resolve_hook_secret(config, deployment(), source=source)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None
    max_age = float(config.hooks.max_age_seconds) if config.hooks is not None else DEFAULT_MAX_AGE_S
    key = (secret, frozenset(p.name for p in config.pools), max_age)
    if key not in _validators:
        _validators.clear()
        _validators[key] = HookValidator(secret, key[1], max_age_s=max_age)
    return _validators[key]


def _body(body: str | None, encoded: bool) -> bytes:
    if not encoded:
        return (body or "").encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body or "", validate=True)
    except (binascii.Error, ValueError):
        raise HookRejected(400, "body is not valid base64") from None


def _rejected(exc: HookRejected) -> dict[str, Any]:
    reason = redact(exc.reason)
    logger.warning("hook rejected", extra={"status": exc.status, "reason": reason})
    return _answer(exc.status, {"status": "rejected", "reason": reason})


def _response(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _response_of(answer: dict[str, Any]) -> Response[str]:
    return Response(status_code=answer["statusCode"], content_type=content_types.APPLICATION_JSON, body=answer["body"])


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
