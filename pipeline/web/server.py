"""How the page is served: uvicorn with a deadline for a request's headers (a client that
sends them a byte at a time is cut off) and, inside the app, a rate its body must keep up."""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from pipeline.settings import Settings


class SlowBody(Exception):
    """The request's body did not arrive within its deadline."""


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not all in
    ``header_seconds`` after it opened or after its last response, or that was answered
    before its request's body ended (after a linger)."""

    header_seconds = 20.0
    linger_seconds = 2.0  # after an answer given before the body ended, the rest is read and dropped this long
    _timer: asyncio.TimerHandle | None = None
    _lingering = False

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        unfinished = self.conn.their_state is h11.SEND_BODY  # answered before the body ended (too large, too slow)
        super().on_response_complete()
        if unfinished:
            self._linger()
            return
        self._arm()

    def _linger(self) -> None:
        """Close as a server should that answered before the body ended: the answer's end is
        sent (a half close), what the client still sends is read and dropped for a while, then the
        connection is closed. Closed at once, the unread bytes would make the system reset the
        connection, which can destroy the answer before a client or a proxy (Caddy) reads it."""
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(self.linger_seconds, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class BodyDeadline:
    """A request's body must come at ``rate`` bytes a second at least, after ``seconds`` of
    grace: past its deadline (the grace plus the time its bytes so far deserve), the app's
    ``receive`` raises ``SlowBody`` (the app answers 408 and the connection closes)."""

    def __init__(self, app, seconds: float, rate: int) -> None:
        self.app, self.seconds, self.rate = app, seconds, rate

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        start, received, complete = loop.time(), 0, False

        async def timed():
            nonlocal received, complete
            if complete:
                return await receive()
            deadline = start + self.seconds + received / self.rate
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise SlowBody from None
            received += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)


def server_config(app, settings: Settings, host: str, port: int, **options) -> uvicorn.Config:
    """uvicorn's configuration for the page, with the header deadline of the settings."""
    protocol = type("PageProtocol", (HeaderDeadline,), {"header_seconds": settings.header_seconds})
    return uvicorn.Config(app, host=host, port=port, http=protocol, **options)
