"""The persistent cache (issue 20, item 3): what one module text says by itself, kept on disk for the next
``check`` and the next server start.

Where: the user's cache directory, not the project (nothing is written into a workspace): ``$TL_CACHE_DIR``,
else ``$XDG_CACHE_HOME/tensorleap-ls/engine``, ``~/.cache/tensorleap-ls/engine`` (``%LOCALAPPDATA%`` on
Windows, ``~/Library/Caches`` on macOS). ``TL_CACHE_DIR=off`` turns it off.

What: per module text, by the digest of its content, the facts that need no tree (its imports with their
spans, whether it uses code_loader or ``from __future__ import annotations``, its top-level names, and the
per-text facts the checks declare ``stored``: facts/modules.STORED) and the verdict of ``compile()`` (TL190,
facts/compiled.py). An entry is written once its analysis has run the checks, and again when a later
analysis learns a stored fact it lacks. A module read from the store has no tree: it is parsed only if a
check asks for one (facts/modules.Module.tree), and it is never compiled again. Nothing stored depends on
the installed SDK release (the SDK-dependent findings are computed per analysis), so the key is the text's
digest, the product version, the Python version that compiled it, a digest of the analysis code
(``core/``: a development checkout that changes it does not read stale entries) and pyflakes' version (it
decides the stored "no unbound name" facts).

When: an entry is kept in memory when put and written by ``flush()``, which the server calls once it has
published the analysis' diagnostics and the CLI on close: the first open of a project answers before it writes.

Safe: one JSON file per entry (no pickle: reading the cache executes nothing), written to a temporary
file and renamed into place (concurrent runs see a whole entry or none; the last writer wins, with the
same content); an entry that does not read or does not have the expected shape is ignored and removed.
Bounded: past ``LIMIT`` bytes the oldest entries go (checked every ``_TRIM_EVERY`` writes and on close).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import threading

from tensorleap_ls import __version__
from tensorleap_ls.core import lazy

tempfile = lazy.Module("tempfile")  # when an entry is written: a second `check` writes none

log = logging.getLogger(__name__)

FORMAT = 1
LIMIT = int(float(os.environ.get("TL_CACHE_LIMIT_MB") or 64) * (1 << 20))
_TRIM_EVERY = 512


def _code_digest(folder: str | None = None) -> str:
    """The code whose output is stored: an edit of it (a development checkout) changes the keys. Its digest is
    kept in ``folder`` by the sources' modification times and sizes (as mypy's cache checks its inputs): a run
    reads one small file instead of every source of ``core/``."""
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    # the stored per-text facts are computed across core/ (facts/modules.STORED): all of it
    sources: list[tuple[str, int, int]] = []
    _sources(here, sources)
    sources.sort()
    memo = None
    if folder is not None:
        stamp = hashlib.blake2b(repr(sources).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        memo = os.path.join(folder, "code", stamp)
        try:
            with open(memo, encoding="ascii") as f:
                known = f.read()
            if len(known) == 16 and all(c in "0123456789abcdef" for c in known):
                return known
        except (OSError, ValueError):
            pass
    h = hashlib.blake2b(digest_size=8)
    for path, _, _ in sources:
        try:
            with open(path, "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(path.encode("utf-8", "surrogatepass"))
    digest = h.hexdigest()
    if memo is not None:
        try:
            os.makedirs(os.path.dirname(memo), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(memo), prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(digest)
            os.replace(tmp, memo)
        except OSError:
            pass
    return digest


def _sources(folder: str, out: list) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    _sources(e.path, out)
            elif e.name.endswith(".py"):
                st = e.stat()
                out.append((e.path, st.st_mtime_ns, st.st_size))
        except OSError:
            continue


def _pyflakes_version() -> str:
    """pyflakes decides the stored "no unbound name" facts (facts/scopes.unbound): another release, other keys."""
    try:
        import pyflakes  # its __init__ holds only the version
    except ImportError:
        return "-"
    return str(getattr(pyflakes, "__version__", "?"))


MISSING = object()  # Store.fact: nothing stored


@functools.lru_cache(maxsize=None)
def library_stamp(name: str) -> str:
    """Which release of a library a stored fact was computed with, without importing it: where its package is and
    the modification time and size of its ``__init__`` (an upgrade or a reinstall changes them)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        st = os.stat(origin) if origin else None
    except (ImportError, ValueError, OSError):
        return f"{name}:-"
    return f"{name}:{origin}:{st.st_mtime_ns}:{st.st_size}" if st is not None else f"{name}:-"


def json_exact(value) -> bool:
    """Does ``value`` come back from JSON as it is (dicts with string keys, lists, strings, finite numbers,
    booleans, None)? A YAML date, set or integer key does not: such a value is not stored."""
    kind = value.__class__
    if value is None or kind is str or kind is bool or kind is int:
        return True
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if kind is list:
        return all(json_exact(v) for v in value)
    if kind is dict:
        return all(k.__class__ is str and json_exact(v) for k, v in value.items())
    return False


def default_folder() -> str | None:
    """(Paths as strings: pathlib, with urllib and ipaddress under it, was ~5 ms of a check's start.)"""
    env = os.environ.get("TL_CACHE_DIR")
    if env:
        return None if env.lower() in ("off", "0", "none") else env
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = os.environ["LOCALAPPDATA"]
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tensorleap-ls", "engine")


class Store:
    """Per-text facts on disk (see the module docstring)."""

    def __init__(self, folder: "str | os.PathLike", limit: int = LIMIT):
        self.folder = os.fspath(folder)
        self._root = self.folder
        self.limit = limit
        self._salt = (f"{FORMAT}|{__version__}|{sys.version_info[0]}.{sys.version_info[1]}|{_code_digest(self._root)}"
                      f"|{_pyflakes_version()}")
        self._writes = 0
        self.hits = self.misses = 0
        # Write-behind: put() keeps the entry here and flush() writes it, so the server answers first and writes
        # after (encoding and writing a cold project's 100+ entries was a tenth of its first open).
        self._pending: dict[str, dict] = {}
        self._pending_lock = threading.Lock()

    @classmethod
    def default(cls) -> "Store | None":
        folder = default_folder()
        return cls(folder) if folder is not None else None

    def _path(self, digest: str) -> str:
        key = hashlib.blake2b(f"{self._salt}|{digest}".encode(), digest_size=16).hexdigest()
        return os.path.join(self._root, key[:2], f"{key}.json")  # (strings: pathlib was a tenth of a warm load)

    def get(self, digest: str) -> dict | None:
        pending = self._pending.get(digest)
        if pending is not None:
            self.hits += 1
            return {**pending, "digest": digest}
        path = self._path(digest)
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or data.get("digest") != digest:
            log.info("persistent cache: %s does not read, removed", path)
            _remove(path)
            self.misses += 1
            return None
        self.hits += 1
        return data

    # --- small facts by content ------------------------------------------------------------------
    def fact(self, kind: str, key: str):
        """A value stored by ``put_fact`` under the same kind and key text, else ``MISSING``. What a warm run
        would ask PyYAML, wcmatch or packaging (leap.yaml, the YAML configs, the bundle's globs, the SDK pin) is
        kept by the texts it comes from, so an unchanged project does not import those libraries."""
        data = self.get(self._fact_digest(kind, key))
        if data is None or "value" not in data:
            return MISSING
        return data["value"]

    def put_fact(self, kind: str, key: str, value) -> None:
        self.put(self._fact_digest(kind, key), {"value": value})

    @staticmethod
    def _fact_digest(kind: str, key: str) -> str:
        return f"{kind}|" + hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def put(self, digest: str, data: dict) -> None:
        """Keeps ``data`` as the entry of ``digest``: read back at once by get(), written to disk by flush()."""
        with self._pending_lock:
            self._pending[digest] = data

    def flush(self) -> int:
        """Writes the entries put() kept (the server: once its diagnostics are published; the CLI: on close)."""
        with self._pending_lock:
            pending = list(self._pending.items())
        for digest, data in pending:
            self._write(digest, data)
        with self._pending_lock:  # (kept until written: a get() meanwhile finds them)
            for digest, data in pending:
                if self._pending.get(digest) is data:
                    del self._pending[digest]
        return len(pending)

    def _write(self, digest: str, data: dict) -> None:
        path = self._path(digest)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump({**data, "digest": digest}, f, separators=(",", ":"))
                os.replace(tmp, path)
            except BaseException:
                _remove(tmp)
                raise
        except OSError as e:  # a read-only or full disk: the analysis goes on without the cache
            log.info("persistent cache: %s not written (%s)", path, e)
            return
        self._writes += 1
        if self._writes % _TRIM_EVERY == 0:
            self.trim()

    def close(self) -> None:
        """The end of a run: bounded again if it wrote (a warm run that wrote nothing does not list the folder)."""
        if self._writes:
            self.trim()

    def trim(self) -> int:
        """Removes the oldest entries past the limit (down to three quarters of it); returns how many."""
        entries = []
        try:
            for sub in os.scandir(self.folder):
                if sub.is_dir():
                    for e in os.scandir(sub.path):
                        try:
                            st = e.stat()
                        except OSError:
                            continue
                        entries.append((st.st_mtime, st.st_size, e.path))
        except OSError:
            return 0
        total = sum(size for _, size, _ in entries)
        if total <= self.limit:
            return 0
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.limit * 3 // 4:
                break
            _remove(path)
            total -= size
            removed += 1
        return removed


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
