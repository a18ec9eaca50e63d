"""Line handling that follows the LSP specification.

pygls's TextDocument splits lines with ``str.splitlines``, which also breaks on \\x0b, \\x0c,
\\x1c-\\x1e, \\x85, \\u2028 and \\u2029. LSP clients only break on \\n, \\r\\n and \\r, so with any of
those characters in a file an incremental edit would land on the wrong line and corrupt the
server's copy of the text. ``install()`` makes pygls split the way clients do, once per text
(``lines`` is asked for once per range converted: re-splitting each time made publishing 4,000
findings quadratic).
"""

from __future__ import annotations

import re

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def lsp_lines(text: str) -> tuple[str, ...]:
    """Lines with their endings, split only on \\n, \\r\\n and \\r."""
    return tuple(_LINE.findall(text))


def install() -> None:
    from pygls.workspace.text_document import TextDocument

    if getattr(TextDocument, "_tensorleap_lines", False):
        return
    def lines(self) -> tuple[str, ...]:
        source = self.source
        cached = getattr(self, "_tensorleap_split", None)
        if cached is None or cached[0] is not source:
            cached = (source, lsp_lines(source))
            self._tensorleap_split = cached
        return cached[1]

    TextDocument.lines = property(lines)  # type: ignore[method-assign,assignment]
    TextDocument._tensorleap_lines = True  # type: ignore[attr-defined]
