"""Lambda entry `adoscale.handlers.hook.handler`: Azure DevOps service hooks through an API Gateway HTTP API.

The event is an HTTP API request in payload format 2.0 (`headers` with lower-case names, `body`,
`isBase64Encoded`, `queryStringParameters`, `requestContext.http.method`), which is also the shape of a
function URL's event. Terraform's route is `POST /hooks` on the `$default` stage, so `rawPath` is `/hooks`
and there are no `pathParameters`: the pool comes from the query (`?pool=NAME`, set at install time), and
the path is not read. A method other than POST (possible only if the API is wired differently) is refused.
The delivery is checked by `adoscale.hooks.HookValidator` (size, shared
secret, pool, payload, freshness, replay); a valid job-waiting hook runs that pool's pass at once through
the same `Reconciler.run_pool` and lease as the workflow, so a pass already running makes it a no-op
(`skipped` in the answer). Answers: 202 accepted or ignored, 401 bad secret, 400 bad delivery, 413 too
large; a rejection is logged with its reason and does nothing else.

Replay memory is the warm container's (`SeenIds`): another container, or a cold start, does not know the
ids seen here. A replay that gets through costs one pass, which observes before it acts and so launches
nothing twice; the age limit bounds the window either way.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from aws_lambda_powertools import Logger

from adoscale.ado.errors import AdoAuthError
from adoscale.config import Config, ConfigError
from adoscale.handlers._control import load_config, pool_config, reconciler
from adoscale.handlers._runtime import SettingsError, deployment, source
from adoscale.hooks import HookRejected, HookValidator, resolve_hook_secret
from adoscale.hooks.validate import DEFAULT_MAX_AGE_S, MAX_BODY_BYTES
from adoscale.reconcile import new_pass_id
from adoscale.secrets import redact

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "adoscale"))

LAMBDA_MARGIN_S = 2.0
# The validator (and its replay memory) lives as long as the warm container, rebuilt only when the secret,
# the pools or the age limit change.
_validators: dict[tuple[str, frozenset[str], float], HookValidator] = {}


def handler(event: Any, context: Any) -> dict[str, Any]:
    config = load_config()
    validator = _validator(config)
    try:
        headers, query, body = _request(event)
        decision = validator.check(headers=headers, query=query, body=body)
    except HookRejected as exc:
        reason = redact(exc.reason)
        logger.warning("hook rejected", extra={"status": exc.status, "reason": reason})
        return _answer(exc.status, {"status": "rejected", "reason": reason})
    if decision.action == "ignore":
        logger.info("hook ignored", extra={"pool": decision.pool, "reason": decision.reason})
        return _answer(202, {"status": "ignored", "pool": decision.pool, "reason": decision.reason})
    pool = pool_config(config, decision.pool)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = max(1.0, remaining() / 1000.0 - LAMBDA_MARGIN_S) if callable(remaining) else None
    origin = f"hook:{getattr(context, 'aws_request_id', 'local')}"
    try:
        with reconciler(config) as rec:
            # The parallel-job cap applies here as on the schedule (an optional read: without it, no cap).
            share = rec.parallel_share()
            report = rec.run_pool(pool, parallel=share, pass_id=new_pass_id(origin), deadline_s=deadline)
    except AdoAuthError as exc:
        logger.error("hook pass failed: Azure DevOps refused the PAT", extra={"pool": pool.name, "reason": str(exc)})  # noqa: TRY400
        return _answer(500, {"status": "failed", "pool": pool.name, "reason": "Azure DevOps authentication failed"})
    logger.info("hook pass", extra={"event_id": decision.event_id, **report.as_dict()})
    return _answer(
        202,
        {
            "status": "accepted",
            "pool": pool.name,
            "skipped": report.skipped,
            "launched": report.launched,
            "errors": len(report.errors),
        },
    )


def _validator(config: Config) -> HookValidator:
    try:
        secret = resolve_hook_secret(config, deployment(), source=source)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None  # the deployment is wrong: fail visibly, whatever the event
    max_age = float(config.hooks.max_age_seconds) if config.hooks is not None else DEFAULT_MAX_AGE_S
    key = (secret, frozenset(p.name for p in config.pools), max_age)
    if key not in _validators:
        _validators.clear()
        _validators[key] = HookValidator(secret, key[1], max_age_s=max_age)
    return _validators[key]


def _request(event: Any) -> tuple[dict[str, str], dict[str, str], bytes]:
    """Headers (lower-case names), query and body of a payload 2.0 event; the body's size is checked
    before it is decoded."""
    if not isinstance(event, dict):
        raise HookRejected(400, "not an HTTP API request")
    raw_headers = event.get("headers") or {}
    raw_query = event.get("queryStringParameters") or {}
    context = event.get("requestContext") or {}
    if not isinstance(raw_headers, dict) or not isinstance(raw_query, dict) or not isinstance(context, dict):
        raise HookRejected(400, "not an HTTP API request")
    http = context.get("http") or {}
    method = str(http.get("method", "POST")).upper() if isinstance(http, dict) else "POST"
    if method != "POST":  # Azure DevOps posts; anything else is not a delivery
        raise HookRejected(400, f"method {method[:16]} is not POST")
    headers = {str(k).lower(): str(v) for k, v in raw_headers.items()}
    # A repeated parameter arrives comma-joined; the first value is the one the subscription set.
    query = {str(k): str(v).split(",", 1)[0] for k, v in raw_query.items()}
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise HookRejected(400, "not an HTTP API request")
    encoded = bool(event.get("isBase64Encoded"))
    limit = MAX_BODY_BYTES * 4 // 3 + 4 if encoded else MAX_BODY_BYTES * 4  # chars; a UTF-8 char is ≤ 4 bytes
    if len(body) > limit:
        raise HookRejected(413, f"body of {len(body)} characters is over the {MAX_BODY_BYTES}-byte cap")
    if encoded:
        try:
            return headers, query, base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HookRejected(400, "body is not valid base64") from None
    return headers, query, body.encode("utf-8", "surrogatepass")


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
