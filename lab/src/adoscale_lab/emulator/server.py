"""Serving the emulator on 127.0.0.1 in a background thread: HTTP/1.1 with keep-alive, as the service."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

LOOPBACK = "127.0.0.1"
IDLE_CONNECTION_S = 30.0  # a kept-alive connection with no new request for this long is closed


class _NullStream:
    def write(self, _data: str) -> int:
        return 0

    def flush(self) -> None:
        return None


class _ServerHandler(ServerHandler):
    http_version = "1.1"
    request_handler: _Handler

    def handle_error(self) -> None:
        # An answer cut short on purpose (a fault, or shutdown) ends the connection without a traceback
        # and without a second status line.
        self.request_handler.close_connection = True
        self.close()


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_S

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        # Status line, headers and body go out in separate writes; without this, Nagle's algorithm and
        # the peer's delayed ACK add ~40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_stderr(self) -> Any:
        return _NullStream()

    def handle(self) -> None:
        """Serve requests on this connection until the client or an error closes it (wsgiref serves one)."""
        self.close_connection = True
        while True:
            try:
                self.raw_requestline = self.rfile.readline(65537)
            except OSError:
                return
            if not self.raw_requestline or len(self.raw_requestline) > 65536:
                return
            if not self.parse_request():
                return
            handler = _ServerHandler(
                self.rfile,
                self.wfile,  # type: ignore[arg-type]
                self.get_stderr(),
                self.get_environ(),
                multithread=True,
            )
            handler.request_handler = self
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
            if self.close_connection:
                return


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that went away is not the emulator's error


@dataclass(frozen=True, slots=True)
class RunningServer:
    url: str
    port: int


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[RunningServer]:
    """Serve `app` on 127.0.0.1 (port 0: a free one) until the block exits.

    On exit, answers held back by a fault (hanging or dripping) are released first, so shutdown never
    waits on them.
    """
    server = make_server(LOOPBACK, port, app, server_class=_ThreadingServer, handler_class=_Handler)
    thread = threading.Thread(target=server.serve_forever, name="ado-emulator", daemon=True)
    thread.start()
    try:
        actual = server.server_address[1]
        yield RunningServer(url=f"http://{LOOPBACK}:{actual}", port=int(actual))
    finally:
        close = getattr(app, "close", None)
        if callable(close):
            close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
