"""tensorleap-ls: static and dynamic analysis of Tensorleap integration scripts.

Package map (see README "Architecture"):
  core/     pure analysis: project model, bindings, checks, stubs. No pygls/lsprotocol.
  lsp/      thin protocol layer: converts core findings to LSP types, schedules work.
  runtime/  runs user code in a separate, limited child process of the project's interpreter.
  cli.py    `tensorleap-ls check | preview | serve`.
"""

__version__ = "0.1.0"
