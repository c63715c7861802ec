"""Seeded fault injection: which requests get a 5xx, a 429, latency or a damaged answer."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """Faults for requests whose path contains `route`; each rate is a probability per request.

    `drip_interval_s`: send the answer one byte every that many seconds. `hang`: accept the request and
    never answer (until the server shuts down). `repeat_continuation_token`: every page of a list answers
    the same `x-ms-continuationtoken`. `truncated_body`: announce the whole body, send half, close.
    """

    route: str = ""
    error_5xx: float = 0.0
    throttle_429: float = 0.0
    retry_after_s: float = 1.0
    rate_limit_delay: float = 0.0
    latency_s: float = 0.0
    drip_interval_s: float = 0.0
    hang: bool = False
    repeat_continuation_token: bool = False
    truncated_body: bool = False


@dataclass
class Faults:
    """Seeded fault injection; `rules` may be replaced at run time (e.g. to make ADO recover)."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def rule_for(self, path: str) -> FaultRule | None:
        return next((rule for rule in self.rules if rule.route in path), None)
