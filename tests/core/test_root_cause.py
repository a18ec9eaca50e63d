"""checks/root_cause.py: a run-time finding follows its function while the function's text is unchanged,
and is withdrawn as soon as it changes (the run said something about the old text only)."""
from __future__ import annotations

from tensorleap_ls.core.checks.root_cause import anchor, still_true
from tensorleap_ls.core.model import Finding, Span

TEXT = "import numpy as np\n\n\ndef enc(idx, pre):\n    return 1\n\n\ndef other():\n    pass\n"


def finding() -> tuple[Finding, tuple[int, str]]:
    f = Finding("TL504", "input 'enc' returned float64", Span("/p/enc.py", 4, 4, 4, 12))
    where = anchor(f, lambda path: TEXT)
    assert where == (3, "def enc(idx, pre):\n    return 1")
    return f, where


def test_unchanged_function_moves_with_the_lines_above() -> None:
    f, where = finding()
    moved = still_true(f, where, "# a comment\n" + TEXT)
    assert moved is not None and moved.span.line == 5


def test_an_edit_that_keeps_the_old_text_as_a_prefix_withdraws_it() -> None:
    f, where = finding()
    assert still_true(f, where, TEXT.replace("return 1\n", "return 10\n")) is None  # substring, not the function
    assert still_true(f, where, TEXT.replace("    return 1\n", "    return 1\n    x = 2\n")) is None  # a line added


def test_a_copy_elsewhere_is_not_the_function() -> None:
    f, where = finding()
    text = TEXT.replace("def enc(idx, pre):\n    return 1\n", "def enc(idx, pre):\n    return 2\n") + \
        "\n\nclass K:\n    def enc(idx, pre):\n        return 1\n"
    assert still_true(f, where, text) is None  # indented differently: not the same text at a line start
    twice = TEXT + "\n\ndef enc(idx, pre):\n    return 1\n"
    kept = still_true(f, where, twice)
    assert kept is not None and kept.span.line == 4  # the nearest of two identical copies
