"""A small static HTTP server on 127.0.0.1, for the demo, tests and benchmarks.

It answers conditional GETs (ETag and Last-Modified, 304) like a real web
server, so that repeated runs exercise newsmirror's conditional fetching.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from newsmirror.errors import ServeError

# Text files are sent with their charset (every file newsmirror writes is UTF-8): a
# feed or page sent without one shows as mojibake in a browser.
TEXT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/plain",
}


def content_type(path: str) -> str | None:
    """The Content-Type (with charset) of a text file by its name; None for others."""
    suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    kind = TEXT_TYPES.get(suffix)
    return f"{kind}; charset=utf-8" if kind else None


class _Handler(SimpleHTTPRequestHandler):
    # Seconds a connection may send nothing before it is closed: a client that connects
    # and stays silent holds a thread no longer than this (noted by review H9).
    timeout = 30.0

    def guess_type(self, path: Any) -> str:
        return content_type(str(path)) or str(super().guess_type(path))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A missing page gets the site's own 404.html (styled, with its links), as
        static hosts serve it; other errors the plain answer."""
        self._etag = None  # an error says nothing about the file asked for
        page = Path(str(self.directory)) / "404.html"
        if code != 404 or not self._regular_inside(str(page)):
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    _etag: str | None = None  # set by send_head for the file it answers with

    def end_headers(self) -> None:
        if self._etag is not None:
            self.send_header("ETag", self._etag)
        super().end_headers()

    def _regular_inside(self, path: str) -> bool:
        """Whether ``path`` is a regular file within the served folder (no NUL, no
        symlink leading out of it; not a pipe or device, whose open would hang)."""
        return self._inside(path) and os.path.isfile(path)

    def _inside(self, path: str) -> bool:
        """Whether ``path`` is a real name within the served folder (no NUL, no symlink
        leading out of it). A name no file can have (an encoded lone surrogate, longer
        than the file system allows) is not."""
        if "\x00" in path:
            return False
        root = os.path.realpath(str(self.directory))
        try:
            os.fsencode(path)
            return os.path.commonpath([root, os.path.realpath(path)]) == root
        except (UnicodeError, OSError, ValueError):
            return False

    def send_head(self) -> Any:
        """As the standard handler, but a folder without index.html is missing (no
        listing, as on a static host), and so is anything outside the folder or not a
        regular file."""
        self._etag = None
        path = self.translate_path(self.path)
        index = os.path.join(path, "index.html")
        try:
            folder = self._inside(path) and os.path.isdir(path)
            found = self._regular_inside(index) if folder else self._regular_inside(path)
        except OSError:  # e.g. a name longer than the file system allows
            found = False
        if not found:
            self.send_error(404)
            return None
        if folder and not self.path.partition("?")[0].endswith("/"):
            return super().send_head()  # the redirect to "folder/"
        stat = os.stat(index if folder else path)
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            super(SimpleHTTPRequestHandler, self).end_headers()
            return None
        self._etag = etag
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connections (1 s SYN retry)


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free port of 127.0.0.1; yield its base URL."""
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve_forever(folder: Path, port: int, ready: Callable[[], None] | None = None) -> None:
    """Serve ``folder`` on 127.0.0.1:``port`` until interrupted; OutputError when the
    port cannot be used (taken by another program, or not allowed). ``ready`` is called
    once the port is held, before the first request is served."""
    try:
        server = _Server(("127.0.0.1", port), partial(_Handler, directory=str(folder)))
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        raise ServeError(
            f"cannot serve on 127.0.0.1:{port}: "
            + ("the port is taken by another program" if taken else (exc.strerror or str(exc))),
            hint=f"Choose another port, e.g. newsmirror serve -p {port % 65535 + 1}.",
        ) from exc
    try:
        if ready is not None:
            ready()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
