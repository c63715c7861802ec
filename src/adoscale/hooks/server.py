"""`adoscale serve --hooks-port`: a small threaded HTTP receiver on 127.0.0.1 and the hand-off to the
serve loop.

The receiver only validates (`HookValidator`) and hands the pool to `PendingPools`; it never runs a pass.
Passes stay on the serve loop's thread, one at a time in the process (the lease keeps them single-flight
across processes), and several hooks for one pool that arrive during a pass become one follow-up pass,
which observes again and so never launches for a job twice. A pool's hook passes also start at least
`MIN_GAP_S` apart, so that a flood of hooks (1,000 in a few seconds) is a handful of passes, not one per
pass's duration.

The listener is bounded: at most `MAX_THREADS` connections are served at once (another one is answered 503,
which the service treats as transient and re-sends), each connection is cut after `REQUEST_DEADLINE_S`
whatever the client sends (a slow client cannot hold a thread), a body is read only if it is declared JSON
(`application/json`, else 415), and a client that goes away costs one log line, never a traceback.

Put a TLS-terminating proxy or tunnel in front of it for a real organization: ADO delivers only to public
HTTPS URLs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
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
REQUEST_DEADLINE_S = 10.0
MAX_THREADS = 32
MIN_GAP_S = 2.0
JSON = "application/json"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 52\r\n"
    b'Connection: close\r\n\r\n{"status": "busy", "reason": "too many open requests"}'
)


class PendingPools:
    """Pools a hook asked a pass for, not yet started: a set (so repeats coalesce) and a wake-up. A pool is
    handed out at most once per `min_gap_s` (its first hook at once): the hooks between are coalesced into
    the next pass, which observes after they arrived."""

    def __init__(self, min_gap_s: float = MIN_GAP_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._last: dict[str, float] = {}
        self._wake = threading.Event()
        self._woken = False
        self._min_gap_s = min_gap_s
        self._monotonic = monotonic
        self.requested = 0
        self.handed_out = 0

    def request(self, pool: str) -> None:
        with self._lock:
            self._pending.add(pool)
            self.requested += 1
            self._wake.set()

    @property
    def waiting(self) -> int:
        """Pools requested and not handed out yet."""
        with self._lock:
            return len(self._pending)

    def wake(self) -> None:
        """Interrupt `wait` with nothing pending (a signal asking the loop to stop). Takes no lock."""
        self._woken = True
        self._wake.set()

    def wait(self, timeout: float) -> set[str]:
        """Block up to `timeout` seconds for a pool that is due; return (and forget) the pools due, or an empty
        set at the timeout or when woken by `wake`."""
        deadline = self._monotonic() + timeout
        while True:
            with self._lock:
                self._wake.clear()  # first: a request or wake from here on sets it again, and is not lost
                now = self._monotonic()
                due = {p for p in self._pending if (last := self._last.get(p)) is None or now - last >= self._min_gap_s}
                if due or self._woken or now >= deadline:
                    self._woken = False
                    self._pending -= due
                    self._last.update(dict.fromkeys(due, now))
                    self.handed_out += len(due)
                    return due
                until = min([deadline, *(self._last[p] + self._min_gap_s for p in self._pending)])
            self._wake.wait(max(0.0, until - now))


class _Listener(ThreadingHTTPServer):
    """A threading HTTP server with a cap on the threads it runs at once, whose errors are one log line."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_threads: int) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_threads)
        self.busy = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.busy += 1
            log.warning("hook refused (503): %d requests already open", MAX_THREADS)
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr by default: a client going away is no error of ours.
        exc = sys.exc_info()[1]
        log.warning("hook connection from %s dropped: %s", client_address[0], type(exc).__name__)


class HookServer:
    """Accepts `POST /?pool=NAME` deliveries on 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(
        self,
        validator: HookValidator,
        on_run: Callable[[str], None],
        port: int = 0,
        *,
        read_timeout_s: float = READ_TIMEOUT_S,
        deadline_s: float = REQUEST_DEADLINE_S,
        max_threads: int = MAX_THREADS,
    ) -> None:
        self.validator = validator
        self.read_timeout_s = read_timeout_s
        self.deadline_s = deadline_s
        self.on_run = on_run
        self.accepted = 0
        self.rejected = 0
        self._httpd = _Listener(("127.0.0.1", port), _handler_for(self), max_threads)
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> int:
        """Connections refused because `max_threads` were open."""
        return self._httpd.busy

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
        timeout = server.read_timeout_s  # a client that stops sending is cut off after this

        def setup(self) -> None:
            super().setup()
            # ... and one that dribbles (a byte every few seconds) at the connection's deadline.
            self._deadline = threading.Timer(server.deadline_s, self._expire)
            self._deadline.daemon = True
            self._deadline.start()

        def finish(self) -> None:
            self._deadline.cancel()
            with contextlib.suppress(OSError):  # the client went away before the answer was flushed
                super().finish()

        def _expire(self) -> None:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

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
                try:
                    self._answer(exc.status, {"status": "rejected", "reason": redact(exc.reason)}, close=True)
                except OSError as gone:
                    log.warning("hook dropped: %s while answering", type(gone).__name__)

        def do_GET(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"status": "rejected", "reason": "POST only"}, close=True)

        def _deliver(self) -> None:
            content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if content_type != JSON:
                raise HookRejected(415, f"Content-Type {content_type[:64] or '(none)'!r}: only {JSON} is accepted")
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
            self._answer(HTTPStatus.ACCEPTED, {"status": status, "pool": decision.pool, "reason": decision.reason})

        def _answer(self, status: int, body: dict[str, Any], *, close: bool = False) -> None:
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
