"""The scan's cache: one record per (function key, subset, sample id), in SQLite under the project's
``.tensorleap/`` (which holds a ``.gitignore`` of ``*``: nothing of it is ever committed).

A record is what the child sent for that function on that sample (its stat, problems and time), so a rescan
reads it instead of calling the function. Keys (keys.py) change with the code a function depends on: an
edited encoder gets a new key, its old records are no longer read and are the first evicted. The file is
bounded (``limit_mb``): after a scan, the least recently used keys are dropped until it fits.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any, Iterable, Iterator

FOLDER = ".tensorleap"
FILE = "scan-cache.sqlite"
DEFAULT_LIMIT_MB = 512


def folder(root: str) -> str:
    """The project's ``.tensorleap/`` folder, created git-ignored."""
    path = os.path.join(root, FOLDER)
    os.makedirs(path, exist_ok=True)
    ignore = os.path.join(path, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w", encoding="utf-8") as f:
            f.write("# written by tensorleap-ls: scan cache and reports, never committed\n*\n")
    return path


def sample_key(sid: Any) -> str:
    """A sample id as stored: its JSON (1 and "1" stay apart)."""
    return json.dumps(sid, separators=(",", ":"))


class Cache:
    def __init__(self, root: str, limit_mb: int = DEFAULT_LIMIT_MB):
        self.path = os.path.join(folder(root), FILE)
        self.limit = max(1, int(limit_mb)) << 20
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file: freed pages can be returned
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS records (fn TEXT, subset TEXT, sample TEXT, rec TEXT, "
                        "PRIMARY KEY (fn, subset, sample)) WITHOUT ROWID")
        self.db.execute("CREATE TABLE IF NOT EXISTS fns (fn TEXT PRIMARY KEY, used REAL)")

    def read(self, fns: Iterable[str], subset: str) -> Iterator[tuple[str, str, list]]:
        """(fn, sample key, record) of every record of ``fns`` for ``subset`` (hold no other call of this cache
        while iterating: the lock is held)."""
        fns = list(fns)
        with self._lock:
            for i in range(0, len(fns), 500):
                part = fns[i:i + 500]
                rows = self.db.execute(f"SELECT fn, sample, rec FROM records WHERE subset = ? AND fn IN "
                                       f"({','.join('?' * len(part))})", [subset, *part])
                for fn, sample, rec in rows:  # streamed: a data set's records need not fit in memory twice
                    try:
                        yield fn, sample, json.loads(rec)
                    except ValueError:
                        continue

    def write(self, rows: Iterable[tuple[str, str, str, list]]) -> None:
        """(fn, subset, sample key, record) rows, in one transaction."""
        data = [(fn, subset, sample, json.dumps(rec, separators=(",", ":"), allow_nan=False))
                for fn, subset, sample, rec in rows]
        if not data:
            return
        with self._lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", data)
            self.db.execute("COMMIT")

    def used(self, fns: Iterable[str]) -> None:
        now = time.time()
        with self._lock:
            self.db.executemany("INSERT OR REPLACE INTO fns VALUES (?, ?)", [(fn, now) for fn in fns])

    def size(self) -> int:
        with self._lock:
            pages = self.db.execute("PRAGMA page_count").fetchone()[0] - self.db.execute("PRAGMA freelist_count").fetchone()[0]
            return pages * self.db.execute("PRAGMA page_size").fetchone()[0]

    def trim(self, keep: Iterable[str] = ()) -> int:
        """Drops the least recently used keys until the file fits its limit (``keep``, this scan's keys, go
        last); returns how many keys were dropped."""
        keep = set(keep)
        with self._lock:
            order = [fn for fn, in self.db.execute("SELECT fn FROM fns ORDER BY used")]
            known = set(order)
            order = [fn for fn, in self.db.execute("SELECT DISTINCT fn FROM records") if fn not in known] + order
        order = [fn for fn in order if fn not in keep] + [fn for fn in order if fn in keep]
        dropped = 0
        for fn in order:
            if self.size() <= self.limit:
                break
            with self._lock:
                self.db.execute("DELETE FROM records WHERE fn = ?", (fn,))
                self.db.execute("DELETE FROM fns WHERE fn = ?", (fn,))
            dropped += 1
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.db.execute("PRAGMA incremental_vacuum")
        return dropped

    def clear(self) -> None:
        with self._lock:
            self.db.execute("DELETE FROM records")
            self.db.execute("DELETE FROM fns")

    def close(self) -> None:
        with self._lock:
            self.db.close()
