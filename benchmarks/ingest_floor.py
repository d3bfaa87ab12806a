"""The floor of issue 12's ingest: the least work that newsmirror's job needs, in Python.

    python benchmarks/ingest_floor.py fetch ARCHIVE URL...  # into an SQLite file
    python benchmarks/ingest_floor.py export ARCHIVE FOLDER  # a _posts/ file per item
    python benchmarks/ingest_floor.py run ARCHIVE FOLDER URL...

This is not newsmirror. It is a bound on any Python design of it, run by
``benchmarks/ingest.py --floor`` beside perform.js and newsmirror, in the same rounds:
if this floor cannot reach a target, no design in Python with these libraries can.

It does only what newsmirror may not leave out, each step with the cheapest part:

- a conditional GET of every feed (ETag), with http.client in threads (no httpx, no
  event loop);
- fastfeedparser for the items, nh3's default clean for every body (no attribute
  callback, no URL rewriting, no charset sniffing, no well-formedness check);
- one SQLite transaction for the items and the ETags (no revisions, no health, no
  history, no locks);
- one file per new item under ``_posts/``, front matter and body, written in place
  (no atomic rename, no manifest, no internal links); an idle export writes nothing.

With ``NM_FLOOR_PARSERS=2`` the feeds are parsed in two forked processes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

SCHEMA = """
create table if not exists feeds (url text primary key, etag text);
create table if not exists items (
    link text primary key, title text, published text, author text, body text,
    exported integer default 0);
"""


def get(url: str, etag: str | None) -> tuple[str, int, bytes, str | None]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=30)
    try:
        conn.request("GET", parts.path or "/", headers={"If-None-Match": etag} if etag else {})
        resp = conn.getresponse()
        return url, resp.status, resp.read(), resp.getheader("ETag")
    finally:
        conn.close()


def parse(body: bytes) -> list[tuple[str, str, str, str, str]]:
    import fastfeedparser
    import nh3

    feed = fastfeedparser.parse(body)
    rows = []
    for entry in feed.entries:
        content = entry.get("content") or []
        html = content[0].get("value", "") if content else entry.get("description", "")
        rows.append(
            (
                entry.get("link", ""),
                entry.get("title", ""),
                entry.get("published", ""),
                entry.get("author", ""),
                nh3.clean(html),
            )
        )
    return rows


def parse_all(bodies: list[bytes]) -> list[list[tuple[str, str, str, str, str]]]:
    if int(os.environ.get("NM_FLOOR_PARSERS", "1")) < 2 or len(bodies) < 2:
        return [parse(b) for b in bodies]
    import pickle

    half = bodies[1::2]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the second parser
        os.close(read)
        with os.fdopen(write, "wb") as out:
            pickle.dump([parse(b) for b in half], out)
        os._exit(0)
    os.close(write)
    mine = [parse(b) for b in bodies[0::2]]
    with os.fdopen(read, "rb") as inp:
        theirs = pickle.load(inp)
    os.waitpid(pid, 0)
    out: list[list[tuple[str, str, str, str, str]]] = []
    for i in range(len(bodies)):
        out.append(mine[i // 2] if i % 2 == 0 else theirs[i // 2])
    return out


def fetch(db: sqlite3.Connection, urls: list[str]) -> None:
    etags = dict(db.execute("select url, etag from feeds"))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda u: get(u, etags.get(u)), urls))
    fresh = [(url, body, etag) for url, status, body, etag in answers if status == 200]
    parsed = parse_all([body for _, body, _ in fresh])
    with db:
        for (url, _, etag), rows in zip(fresh, parsed, strict=True):
            db.execute("insert or replace into feeds values (?, ?)", (url, etag))
            db.executemany(
                "insert into items (link, title, published, author, body) values (?, ?, ?, ?, ?)"
                " on conflict (link) do update set title = excluded.title, body = excluded.body,"
                " exported = 0 where items.body != excluded.body or items.title != excluded.title",
                rows,
            )


def export(db: sqlite3.Connection, folder: Path) -> None:
    posts = folder / "_posts"
    posts.mkdir(parents=True, exist_ok=True)
    rows = db.execute(
        "select rowid, link, title, published, author, body from items where exported = 0"
    ).fetchall()
    for _rowid, link, title, published, author, body in rows:
        name = hashlib.sha1(link.encode()).hexdigest()[:16] + ".md"
        text = (
            f"---\nlayout: post\ntitle: {title!r}\ndate: {published}\nauthor: {author!r}\n"
            f"original: {link!r}\n---\n\n<div>{body}</div>\n"
        )
        (posts / name).write_text(text, encoding="utf-8")
    if rows:
        with db:
            db.executemany("update items set exported = 1 where rowid = ?", [(r[0],) for r in rows])


def main(argv: list[str]) -> None:
    command, archive = argv[0], argv[1]
    db = sqlite3.connect(archive)
    db.executescript(SCHEMA)
    if command == "fetch":
        fetch(db, argv[2:])
    elif command == "export":
        export(db, Path(argv[2]))
    elif command == "run":
        fetch(db, argv[3:])
        export(db, Path(argv[2]))
    else:
        raise SystemExit(__doc__)
    db.close()


if __name__ == "__main__":
    main(sys.argv[1:])
