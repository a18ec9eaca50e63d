"""Launcher of the language server: ``<python> .../tensorleap_ls/_boot/serve.py [serve options]``.

Started this way (not ``-m``), the first entry of ``sys.path`` is this folder, which holds nothing
else; the working directory (the workspace, in many editors) and ``''`` are removed before any
other import, so a ``json.py`` or ``yaml.py`` of an opened project is never imported by the server.
"""

import os
import sys

_cwd = os.path.realpath(os.getcwd())
sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != _cwd]
# the folder holding tensorleap_ls (bundled libs, site-packages or the source tree)
sys.path.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tensorleap_ls.cli import main  # noqa: E402

raise SystemExit(main(["serve", *sys.argv[1:]]))
