"""Safe reading of project files: a cloned project can hold FIFOs, device files and symlinks to
them (``requirements.txt -> /dev/zero``, an entry file that is a FIFO, a config linked to
``/dev/stdin``). A plain ``open().read()`` on those blocks forever or fills the memory.

``read_bytes`` / ``read_text`` open with ``O_NONBLOCK`` (so opening a FIFO never waits for a
writer), follow symlinks, check on the opened descriptor (no race with a swapped file) that the
target is a regular file, and read at most ``max_bytes``. When they refuse they raise
``Refused`` (an ``OSError``, so ``except OSError`` keeps working at every call site) whose
``reason`` says why, in words a user can act on.
"""

from __future__ import annotations

import os
import stat

DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # sources, configs, requirements: far above any real one
# Model files are read (in a limited child, runtime/model_info.py) up to ONNX's own limit: a protobuf
# holds at most 2 GB, larger models keep their weights in external data files.
MODEL_MAX_BYTES = 2 * 1024 ** 3

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class Refused(OSError):
    """The file exists but is not read: not a regular file, or too large."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_bytes(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks resolved); ``Refused`` for anything
    else or anything larger than ``max_bytes``; other ``OSError``s (missing file...) as usual."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            via = f" (through a symlink to {os.readlink(path)})" if os.path.islink(path) else ""
            raise Refused(path, f"it is {_kind(st.st_mode)}{via}, not a regular file; it was not read")
        if st.st_size > max_bytes:
            raise Refused(path, f"it is larger than {max_bytes // (1024 * 1024)} MB ({st.st_size:,} bytes); "
                                "it was not read")
        chunks = []
        left = max_bytes + 1  # one byte more tells a file that grew past the cap since fstat
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise Refused(path, f"it is larger than {max_bytes // (1024 * 1024)} MB; it was not read")
        return data
    finally:
        os.close(fd)


def read_text(path: str, max_bytes: int = DEFAULT_MAX_BYTES, encoding: str = "utf-8-sig",
              errors: str = "strict") -> str:
    """``read_bytes`` decoded (UTF-8, BOM dropped by default)."""
    return read_bytes(path, max_bytes).decode(encoding, errors)


def is_regular(path: str) -> bool:
    """True for a regular file (after symlinks), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return False


def within(path: str, folder: str) -> bool:
    """``path`` (symlinks resolved) lies inside ``folder`` (symlinks resolved): a venv's ``lib64 -> lib``
    is fine, ``site-packages/code_loader -> /usr`` is not."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def unsafe_target(folder: str, rel: str) -> str | None:
    """Why a new file ``rel`` (``model/model.onnx``) must not be written into ``folder``, or None. Only
    regular paths inside the folder are written: no folder on the way and no file that is a symlink
    (a cloned project's ``model -> ../outside`` would take the write out of the folder; a dangling
    ``requirements.txt`` link would swallow it), nothing over an existing file or a special one."""
    base = os.path.realpath(folder)
    path = base
    parts = [p for p in rel.replace("\\", "/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        return "it is not a plain relative path"
    for i, part in enumerate(parts):
        path = os.path.join(path, part)
        shown = "/".join(parts[: i + 1])
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None  # created from here on, inside the folder
        except OSError as e:
            return f"{shown} cannot be inspected ({e.strerror})"
        if stat.S_ISLNK(st.st_mode):
            return f"{shown} is a symlink (to {os.readlink(path)}): nothing is written through it"
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            return f"{shown} exists and is not a folder"
        if last:
            what = "a file" if stat.S_ISREG(st.st_mode) else _kind(st.st_mode)
            return f"{shown} exists ({what}): it was left as it is"
    return None
