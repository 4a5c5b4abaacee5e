"""A TCP proxy between the server and PostgreSQL that a test can cut, to make the
database unreachable without touching the machine's PostgreSQL service.

- ``refuse()``: the database went down: open connections are reset and new ones are
  refused (the listening port is closed).
- ``blackhole()``: a network partition: nothing is refused or closed, but no byte gets
  through in either direction, so every wait is a timeout.
- ``restore()``: bytes flow again (held ones first, as TCP would retransmit them) and
  new connections are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Proxy"]


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # in a partition the handshake never gets through
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        pair = (writer, up_w)
        self._conns.add(pair)
        for src, dst in ((reader, up_w), (up_r, writer)):
            t = asyncio.create_task(self._pipe(src, dst, pair))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._close(pair)

    def _close(self, pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
        self._conns.discard(pair)
        for w in pair:
            with contextlib.suppress(Exception):
                if w.can_write_eof():
                    w.transport.abort()  # a reset, as when the server process dies
                else:
                    w.close()

    @property
    def connections(self) -> int:
        return len(self._conns)

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for pair in list(self._conns):
            self._close(pair)

    def blackhole(self) -> None:
        self._flowing.clear()

    async def restore(self) -> None:
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        self._flowing.set()
        await self.refuse()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await t
