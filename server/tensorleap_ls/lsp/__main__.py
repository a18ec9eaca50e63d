"""`python -m tensorleap_ls.lsp [--tcp HOST:PORT] [--trusted]`: the language server alone."""

import argparse

from tensorleap_ls.lsp.server import start

ap = argparse.ArgumentParser(prog="python -m tensorleap_ls.lsp")
ap.add_argument("--tcp", metavar="HOST:PORT")
ap.add_argument("--trusted", action="store_true")
args = ap.parse_args()
raise SystemExit(start(tcp=args.tcp, trusted=args.trusted))
