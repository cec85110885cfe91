"""Limits on what one HTTP connection may cost ``skdigits serve``, before the app sees a request.

uvicorn reads a request's head (its request line and headers) without a
limit on its size or on the time it takes to arrive: a client could send a
300 MB header, or hold a connection open by sending one byte a minute. The
protocol below is uvicorn's own httptools protocol with two limits added;
everything else (keep-alive, pipelining, bodies, the ASGI cycle) is uvicorn's.
The body's own limits (size, time) are the app's (``skdigits.apps._server``).
"""

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["LimitedHttpToolsProtocol", "MAX_HEAD_BYTES", "HEAD_SECONDS"]

# Browsers send heads of one to a few kilobytes; 64 KiB leaves room for long cookies.
MAX_HEAD_BYTES = 64 * 1024
# From a connection's first byte (or a keep-alive request's) to the end of its head.
HEAD_SECONDS = 10.0

_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing heads over ``max_head_bytes`` (431) or ``head_seconds`` (408).

    The bytes of a head are counted as they arrive, before the parser has
    put them together, so a huge header is refused after the first
    ``max_head_bytes`` of it (and one read of the socket), not after all of it.
    """

    max_head_bytes = MAX_HEAD_BYTES
    head_seconds = HEAD_SECONDS

    def connection_made(self, transport):
        super().connection_made(transport)
        self._head_bytes = 0
        self._head_timer = None
        self._reading_head = True
        self._start_head_timer()

    def connection_lost(self, exc):
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data):
        super().data_received(data)
        # After the parser has run: if this chunk ended the head, it is not counted.
        if self._reading_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, f"the request's headers are over the limit of {self.max_head_bytes:,} bytes")

    def on_message_begin(self):
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_headers_complete(self):
        self._reading_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def _start_head_timer(self):
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_timed_out)

    def _stop_head_timer(self):
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self):
        self._head_timer = None
        # A connection opened and left idle before its first request is closed too.
        if self._reading_head and not self.transport.is_closing():
            self._refuse(408, f"the request's headers did not arrive within {self.head_seconds:g} s")

    def _refuse(self, status, message):
        self._reading_head = False
        self._stop_head_timer()
        body = json.dumps({"error": message, "status": status}).encode()
        self.transport.write(
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode("ascii") + body)
        self.transport.close()
