"""A request and an answer as the HTTP layer passes them between the app, the router's handlers and WSGI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    base_url: str = "http://127.0.0.1"
    route: str | None = None
    fault: str | None = None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    # How the bytes go out (fault injection): dripped, never, or cut short.
    drip_interval_s: float = 0.0
    hang: bool = False
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the admin API shows it: never the headers, so never a credential."""

    seq: int
    at: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    route: str | None
    fault: str | None

    def to_json(self) -> JSON:
        return {
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "route": self.route,
            "fault": self.fault,
        }
