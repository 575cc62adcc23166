"""Serve a channel directory over HTTP on 127.0.0.1, optionally slow or faulty."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

_PACKAGE_SUFFIXES = (".conda", ".tar.bz2")


class _ChannelHandler(SimpleHTTPRequestHandler):
    # Set per server by serve_channel through a subclass.
    chunk_delay: float = 0.0
    chunk_size: int = 65536
    drop_after: int | None = None
    stopping: threading.Event
    requests: list[str] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # tests stay quiet

    def send_head(self) -> Any:
        if self.requests is not None:  # tests assert what was (not) fetched
            self.requests.append(self.path)
        return super().send_head()

    def _is_package(self) -> bool:
        return self.path.split("?", 1)[0].endswith(_PACKAGE_SUFFIXES)

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        # Headers (with the full Content-Length) are already sent: a short body is a truncation.
        if not self._is_package() or (self.chunk_delay <= 0 and self.drop_after is None):
            shutil.copyfileobj(source, outputfile)
            return
        sent = 0
        while not self.stopping.is_set():
            size = self.chunk_size
            if self.drop_after is not None:
                size = min(size, self.drop_after - sent)
                if size <= 0:
                    break
            chunk = source.read(size)
            if not chunk:
                return
            outputfile.write(chunk)
            outputfile.flush()
            sent += len(chunk)
            # Waiting on the event (not time.sleep) lets shutdown interrupt a slow transfer.
            if self.chunk_delay > 0 and self.stopping.wait(self.chunk_delay):
                break
        # Dropped on purpose (or shutting down): close instead of finishing the body.
        self.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-download are expected here


@contextmanager
def serve_channel(
    channel_dir: Path,
    chunk_delay: float = 0.0,
    chunk_size: int = 65536,
    drop_after: int | None = None,
    requests: list[str] | None = None,
) -> Iterator[str]:
    """Serve ``channel_dir`` on ``http://127.0.0.1:<random port>``; yield that base URL.

    ``chunk_delay`` seconds pass between ``chunk_size`` chunks of package files (repodata is
    served at full speed).  ``drop_after`` closes the connection after that many bytes of a
    package file, once the correct Content-Length was sent. Every requested path is appended
    to ``requests`` when a list is given.
    """
    stopping = threading.Event()
    handler = type(
        "ChannelHandler",
        (_ChannelHandler,),
        {
            "chunk_delay": float(chunk_delay),
            "chunk_size": max(1, int(chunk_size)),
            "drop_after": drop_after,
            "stopping": stopping,
            "requests": requests,
        },
    )
    server = _QuietServer(("127.0.0.1", 0), partial(handler, directory=str(channel_dir)))
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="envmgr-channel-server",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
