"""Serving the emulator on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

LOOPBACK = "127.0.0.1"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    # HTTP/1.1 keeps connections open between a client's calls, as the real service does.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class RunningServer:
    url: str
    port: int


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[RunningServer]:
    """Serve `app` on 127.0.0.1 (port 0: a free one) until the block exits."""
    server = make_server(LOOPBACK, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="ado-emulator", daemon=True)
    thread.start()
    try:
        actual = server.server_address[1]
        yield RunningServer(url=f"http://{LOOPBACK}:{actual}", port=int(actual))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
