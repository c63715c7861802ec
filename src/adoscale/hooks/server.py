"""`adoscale serve --hooks-port`: a small threaded HTTP receiver on 127.0.0.1 and the hand-off to the
serve loop.

The receiver only validates (`HookValidator`) and hands the pool to `PendingPools`; it never runs a pass.
Passes stay on the serve loop's thread, one at a time in the process (the lease keeps them single-flight
across processes), and several hooks for one pool that arrive during a pass become one follow-up pass,
which observes again and so never launches for a job twice. Put a TLS-terminating proxy or tunnel in front
of it for a real organization: ADO delivers only to public HTTPS URLs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adoscale.hooks.validate import HookRejected, HookValidator
from adoscale.secrets import redact

log = logging.getLogger("adoscale.hooks")

READ_TIMEOUT_S = 5.0


class PendingPools:
    """Pools a hook asked a pass for, not yet started: a set (so repeats coalesce) and a wake-up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._wake = threading.Event()
        self.requested = 0

    def request(self, pool: str) -> None:
        with self._lock:
            self._pending.add(pool)
            self.requested += 1
            self._wake.set()

    def wake(self) -> None:
        """Interrupt `wait` with nothing pending (a signal asking the loop to stop)."""
        self._wake.set()

    def wait(self, timeout: float) -> set[str]:
        """Block up to `timeout` seconds for a request; return (and forget) the pools pending."""
        self._wake.wait(timeout)
        with self._lock:
            self._wake.clear()
            pools, self._pending = self._pending, set()
        return pools


class HookServer:
    """Accepts `POST /?pool=NAME` deliveries on 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(
        self,
        validator: HookValidator,
        on_run: Callable[[str], None],
        port: int = 0,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.validator = validator
        self.read_timeout_s = read_timeout_s
        self.on_run = on_run
        self.accepted = 0
        self.rejected = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> HookServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="adoscale-hooks", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> HookServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _handler_for(server: HookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = server.read_timeout_s  # a client that dribbles its body is cut off, not waited on forever

        def do_POST(self) -> None:
            try:
                self._deliver()
            except (TimeoutError, ConnectionError) as exc:
                # A client that stalls mid-body or goes away: nothing was accepted, nothing to answer.
                server.rejected += 1
                log.warning("hook dropped: %s while reading the request", type(exc).__name__)
                self.close_connection = True
            except HookRejected as exc:
                server.rejected += 1
                log.warning("hook rejected (%s): %s", exc.status, redact(exc.reason))
                self._answer(exc.status, {"status": "rejected", "reason": redact(exc.reason)}, close=True)

        def do_GET(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"status": "rejected", "reason": "POST only"}, close=True)

        def _deliver(self) -> None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                raise HookRejected(400, "chunked bodies are not accepted: send Content-Length")
            server.validator.check_length(_length(self.headers.get("Content-Length")))
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)
            if len(body) < length:
                raise HookRejected(400, "body shorter than its Content-Length")
            headers = {k.lower(): v for k, v in reversed(self.headers.items())}  # first value wins
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items() if v}
            decision = server.validator.check(headers=headers, query=query, body=body)
            server.accepted += 1
            if decision.action == "run":
                log.info("hook for pool %s: %s; pass requested", decision.pool, decision.reason)
                server.on_run(decision.pool)
            else:
                log.info("hook for pool %s ignored: %s", decision.pool, decision.reason)
            status = "accepted" if decision.action == "run" else "ignored"
            self._answer(HTTPStatus.ACCEPTED, {"status": status, "pool": decision.pool})

        def _answer(self, status: int, body: dict[str, Any], *, close: bool = False) -> None:
            import json

            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                # A refused body may still be on its way: do not read it, end the connection instead.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("hooks %s: " + format, self.address_string(), *args)

    return Handler


def _length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise HookRejected(400, "Content-Length is not a number") from None
