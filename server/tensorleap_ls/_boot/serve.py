"""Launcher of the language server: ``python <dir>/tensorleap_ls/_boot/serve.py [serve args]``.

Why a launcher: an editor starts the server with the workspace folder as its working directory,
and ``python -m tensorleap_ls serve`` puts the working directory first on ``sys.path``. A cloned
project holding ``json.py``, ``yaml.py``, ``attr.py`` (any module the server imports) would then
run inside the server, untrusted, before ``initialize``. This file removes the working
directory, ``''`` and every relative entry from ``sys.path`` before importing anything else,
puts the folder holding this copy of ``tensorleap_ls`` first, then runs ``tensorleap-ls serve``.

Contract for clients (the VS Code extension, the tests, other editors):
- run ``<python> <libs>/tensorleap_ls/_boot/serve.py [--trusted] [--tcp HOST:PORT]`` where
  ``<libs>`` holds ``tensorleap_ls`` (the bundled libraries of the .vsix, or site-packages);
  the arguments are those of ``tensorleap-ls serve``;
- prefer a working directory outside the workspace (the launcher makes the workspace
  unimportable either way);
- this folder holds only this file (it is ``sys.path[0]`` while the script starts), and the
  launcher imports nothing but ``sys`` before cleaning ``sys.path``.

``python -m tensorleap_ls serve`` keeps working for a human in a folder they trust.
"""

import sys


def _clean_path() -> None:
    import os  # already loaded by the interpreter's start-up (site), never looked up on sys.path

    cwd = os.path.realpath(os.getcwd())
    here = os.path.dirname(os.path.abspath(__file__))
    libs = os.path.dirname(os.path.dirname(here))  # the folder holding tensorleap_ls
    keep = []
    for entry in sys.path:
        if not entry or not os.path.isabs(entry):
            continue  # '' and relative entries resolve against the working directory
        if os.path.realpath(entry) in (cwd, os.path.realpath(here)):
            continue
        keep.append(entry)
    sys.path[:] = [libs] + [e for e in keep if os.path.normpath(e) != libs]


_clean_path()

from tensorleap_ls.cli import main  # noqa: E402 - only after sys.path is clean

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))
