"""Pure validation of one service-hook delivery: is it ours, is it fresh, which pool, should a pass run.

Every check runs before the next one looks at more of the request, so that an unauthenticated caller
learns nothing and costs almost nothing:

1. size: the body (or its declared `Content-Length`) is capped before anything is parsed (413);
2. authentication: the shared secret, as the HTTP Basic password or in the `X-Adoscale-Hook-Secret`
   header, compared in constant time (401);
3. pool: the delivery URL's `?pool=NAME`, written by `adoscale hooks install`, names the pool (ADO's job
   events carry no pool or agent id, so the URL is the only thing that can say); a pool no longer configured
   is acknowledged and ignored (202, see below);
4. payload: a bounded pydantic model of "Run job state changed" (400);
5. relevance: only a job that is `waiting` (queued, or waiting for an agent) triggers a pass; any other
   event type or state is acknowledged and ignored (202), so ADO does not count it as a failure;
6. freshness and replay: an event older than `max_age_s` (or from the future beyond a little clock skew), or
   one whose id was already accepted for this pool within that window, is acknowledged and ignored (202).

Why an authenticated delivery is never refused for being late, repeated or for a pool we do not serve:
Microsoft's service-hooks troubleshooting doc treats every answer other than 2xx (or the transient
408/502/503/504) as a failure that puts the subscription on probation ("any new events are lost"), re-sends
the same notification 20 min, 40 min ... later and disables the subscription after about 36 h. A 400 to a
replay or a stale event would turn one incident into a dead subscription, since every re-send is stale by
then. So: 401 only for a wrong or missing secret, 413 for a body over the cap (checked before anything else),
400 only for a request that is not a service-hook delivery at all (no `?pool=`, a payload that is not an
event); everything else authenticated is 2xx. A pool no longer configured is 202 too, not 410: a 410 would
make the service disable the subscription, and a configuration briefly without a pool (an edit, a rollback)
would then silently end event-driven scale-out for it until `adoscale hooks install` repairs it.

`HookValidator.check` returns a `HookDecision` or raises `HookRejected` (status and reason): nothing else,
whatever the bytes (a property test holds it to that).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError

from adoscale.validation import one_line

JOB_STATE_CHANGED = "ms.vss-pipelines.job-state-changed-event"
# A job event with full resource details is a few kilobytes; a quarter of a megabyte leaves a wide margin
# and is still far below anything that could hurt a Lambda or the serve loop.
MAX_BODY_BYTES = 256 * 1024
MAX_HEADER_CHARS = 4096
SECRET_HEADER = "x-adoscale-hook-secret"  # noqa: S105 - a header's name, not a secret
POOL_PARAMETER = "pool"
DEFAULT_MAX_AGE_S = 300.0
MAX_CLOCK_SKEW_S = 60.0
SEEN_CAPACITY = 10_000
TRIGGER_STATES = frozenset({"waiting"})

Status = Literal[400, 401, 413, 415]


class HookRejected(Exception):  # noqa: N818 - a verdict, not a fault: the caller answers `status`
    """The delivery is refused: answer `status`, log `reason`, do nothing else."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status: Status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HookDecision:
    """An authenticated, valid delivery: `run` a pass for `pool`, or `ignore` it (and say why)."""

    action: Literal["run", "ignore"]
    pool: str
    reason: str
    event_id: str | None = None


Short = Annotated[str, Field(max_length=64)]
Label = Annotated[str, Field(max_length=256)]


class _Lenient(BaseModel):
    # The service adds fields over time (attempt, repositories, _links ...): unknown ones are ignored, the
    # ones read are bounded.
    model_config = ConfigDict(extra="ignore", frozen=True)


class JobState(_Lenient):
    id: Short | None = None
    name: Label | None = None
    state: Annotated[str, Field(min_length=1, max_length=32)]
    result: Short | None = None


class JobResource(_Lenient):
    job: JobState | None = None
    projectId: Short | None = None  # noqa: N815 - the wire's name


class HookEvent(_Lenient):
    """The parts of a `ms.vss-pipelines.job-state-changed-event` notification adoscale reads
    (../shared/ado-api/README.md §7.1)."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    eventType: Annotated[str, Field(min_length=1, max_length=128)]  # noqa: N815
    publisherId: Short | None = None  # noqa: N815
    subscriptionId: Short | None = None  # noqa: N815
    notificationId: Annotated[StrictInt, Field(ge=0, le=2**53)] | None = None  # noqa: N815
    createdDate: AwareDatetime  # noqa: N815
    resource: JobResource | None = None


class SeenIds:
    """Ids accepted recently, forgotten after `window_s`, at most `capacity` of them (oldest first out).

    An id is only worth remembering while an event carrying it would still pass the age check, so the
    window bounds the set in time; the capacity bounds it in memory when a flood of valid deliveries
    arrives (then the oldest are forgotten early: a replay of one of those costs one extra pass, which the
    lease and the pass's own reads make harmless). Thread-safe: `serve` validates on several threads.
    """

    def __init__(
        self, window_s: float, capacity: int = SEEN_CAPACITY, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._capacity = capacity
        self._monotonic = monotonic
        self._until: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: tuple[str, str]) -> bool:
        now = self._monotonic()
        with self._lock:
            while self._until and next(iter(self._until.values())) <= now:
                self._until.popitem(last=False)
            if key in self._until:
                return False
            if len(self._until) >= self._capacity:
                self._until.popitem(last=False)
            self._until[key] = now + self._window_s
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)


class HookValidator:
    """Validates deliveries for the pools of one configuration with one shared secret."""

    def __init__(
        self,
        secret: str,
        pools: Iterable[str],
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        seen: SeenIds | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a hook secret is required")
        self._secret = secret.encode("utf-8")
        self._pools = {name: name for name in pools}
        self._max_age = timedelta(seconds=max_age_s)
        self._skew = timedelta(seconds=MAX_CLOCK_SKEW_S)
        self._clock = clock
        self.seen = seen or SeenIds(max_age_s + MAX_CLOCK_SKEW_S)

    @property
    def pools(self) -> frozenset[str]:
        return frozenset(self._pools)

    # -- the checks, in order ------------------------------------------------------------------

    @staticmethod
    def check_length(declared: int | None) -> None:
        """Before reading a body: refuse one that says it is too long (413), or says nothing (400)."""
        if declared is None:
            raise HookRejected(400, "no Content-Length: a hook body must declare its length")
        if declared < 0:
            raise HookRejected(400, "negative Content-Length")
        if declared > MAX_BODY_BYTES:
            raise HookRejected(413, f"body of {declared} bytes is over the {MAX_BODY_BYTES}-byte cap")

    def check(self, *, headers: Mapping[str, str], query: Mapping[str, str], body: bytes | None) -> HookDecision:
        """The whole verdict on one delivery. `headers` keys are lower case; `query` maps a parameter to
        its (first) value."""
        data = body or b""
        if len(data) > MAX_BODY_BYTES:
            raise HookRejected(413, f"body of {len(data)} bytes is over the {MAX_BODY_BYTES}-byte cap")
        self.authenticate(headers)
        pool = self.pool(query)
        event = self.parse(data)
        if pool not in self._pools:
            return HookDecision("ignore", pool, f"pool {pool[:64]!r} is not configured here", event.id)
        if event.eventType != JOB_STATE_CHANGED:
            return HookDecision("ignore", pool, f"event type {event.eventType!r} is not a job event", event.id)
        job = event.resource.job if event.resource is not None else None
        if job is None:
            raise HookRejected(400, "job event without resource.job")
        if job.state not in TRIGGER_STATES:
            return HookDecision("ignore", pool, f"job state {job.state!r} needs no new agent", event.id)
        late = self.late(event)
        if late is not None:
            return HookDecision("ignore", pool, late, event.id)
        if not self.seen.first_time((pool, event.id)):
            return HookDecision("ignore", pool, f"replayed delivery: event {event.id} was already accepted", event.id)
        return HookDecision("run", pool, f"job {job.id or '?'} is waiting", event.id)

    def authenticate(self, headers: Mapping[str, str]) -> None:
        offered: list[bytes] = []
        header = headers.get(SECRET_HEADER)
        if header is not None:
            offered.append(header.strip().encode("utf-8", "replace"))
        password = _basic_password(headers.get("authorization"))
        if password is not None:
            offered.append(password)
        if not offered:
            raise HookRejected(401, "no credentials (Basic auth or the X-Adoscale-Hook-Secret header)")
        # Every offered value is compared, so the time taken does not depend on which one is wrong.
        matched = [hmac.compare_digest(value, self._secret) for value in offered]
        if not any(matched):
            raise HookRejected(401, "wrong hook secret")

    def pool(self, query: Mapping[str, str]) -> str:
        name = query.get(POOL_PARAMETER)
        if not name:
            raise HookRejected(400, "no ?pool= in the delivery URL (set by `adoscale hooks install`)")
        if len(name) > 255:
            raise HookRejected(400, "pool name over 255 characters")
        return self._pools.get(name, name)

    @staticmethod
    def parse(body: bytes) -> HookEvent:
        try:
            return HookEvent.model_validate_json(body)
        except ValidationError as exc:
            raise HookRejected(400, f"not a job-state-changed payload: {one_line(exc, root='(body)')}") from None

    def late(self, event: HookEvent) -> str | None:
        """Why the event is too old (or dated in the future) to act on, or None when it is fresh."""
        now = self._clock()
        created = event.createdDate
        if created < now - self._max_age:
            age = int((now - created).total_seconds())
            return f"stale event {event.id}: created {age} s ago (limit {self._max_age.seconds} s)"
        if created > now + self._skew:
            return f"event {event.id} is dated in the future ({created.isoformat()})"
        return None


def _basic_password(value: str | None) -> bytes | None:
    if value is None:
        return None
    if len(value) > MAX_HEADER_CHARS:
        return b""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
    _user, sep, password = decoded.partition(b":")
    return password if sep else b""
