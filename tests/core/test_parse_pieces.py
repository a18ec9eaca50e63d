"""core/source/parse.py: a large text is parsed a group of statements at a time (one ast.parse holds the
GIL, so the server's event loop, for its whole length) and gives the tree ``ast.parse`` gives."""
from __future__ import annotations

import ast
import glob
import os
import sys

import pytest

from tensorleap_ls.core.source import parse


def dump(tree: ast.AST) -> str:
    return ast.dump(tree, include_attributes=True)


@pytest.fixture()
def parsed_sizes(monkeypatch):
    """The length of every text ast.parse is given, the blank lines that put a piece at its line in the file
    aside (the tokenizer skips them at ~25 ns each: 24 ms for a million)."""
    sizes: list[int] = []
    real = ast.parse

    def spy(source, *a, **k):
        sizes.append(len(source.lstrip("\n")))
        return real(source, *a, **k)

    monkeypatch.setattr(parse.ast, "parse", spy)
    return sizes


def test_code_loader_s_large_files_give_the_same_tree() -> None:
    import site

    roots = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(os.path.join(p, "code_loader"))]
    big = [p for p in glob.glob(os.path.join(roots[0], "code_loader", "**", "*.py"), recursive=True)
           if os.path.getsize(p) > parse.PIECE_BYTES]
    assert big, "code-loader has no file over the piece size: the test shows nothing"
    for path in big:
        text = open(path, encoding="utf-8").read()
        assert dump(parse.parse(text)) == dump(ast.parse(text)), path


def _user_module(n: int) -> str:
    """A large module written the way integrations are: decorators, if/else and try/except at column 0,
    comments and form feeds between statements, a class with methods, a long function, CRLF-free."""
    out = ['"""Vendored helpers."""\nfrom __future__ import annotations\nimport os\n\n']
    for i in range(n):
        out.append(f"# --- block {i}\n\x0c\n@functools.lru_cache(maxsize=None)\n"
                   f"def helper_{i}(x, y=(1,\n    2)):\n    '''doc\nflush-left line inside a string\n    '''\n"
                   f"    if x:\n        return [x, y, {i}]\n    return None\n\n"
                   f"if os.environ.get('A{i}'):\n    V{i} = 1\nelif os.environ.get('B{i}'):\n    V{i} = 2\nelse:\n    V{i} = 3\n"
                   f"try:\n    import foo_{i}\nexcept ImportError:\n    foo_{i} = None\nfinally:\n    pass\n\n")
    out.append("class Big:\n    '''A class larger than a piece.'''\n")
    for i in range(n):
        out.append(f"    def m_{i}(self, a):\n        s = 0\n        for k in range(a):\n            s += k * {i}\n"
                   f"        return s\n\n")
    out.append("def long_function(a):\n    total = 0\n")
    for i in range(n * 4):
        out.append(f"    if a == {i}:\n        total += {i}\n    else:\n        total -= 1\n")
    out.append("    return total\n")
    return "".join(out)


def test_a_large_user_module_gives_the_same_tree_in_pieces(parsed_sizes) -> None:
    text = _user_module(700)
    assert len(text) > 4 * parse.PIECE_BYTES
    expected = dump(ast.parse(text))
    parsed_sizes.clear()
    tree = parse.parse(text)
    assert dump(tree) == expected
    assert max(parsed_sizes) <= parse.PIECE_BYTES + 200, max(parsed_sizes)  # never one long parse


def test_a_huge_statement_keeps_its_bindings_not_its_contents(parsed_sizes) -> None:
    text = ("import numpy as np\n"
            "W = [" + "1.0, " * 20_000 + "]\n"
            "f(" + ", ".join(f"k{i}=0" for i in range(10_000)) + ")\n"
            "def after():\n    return W\n")
    tree = parse.parse(text)
    assert max(parsed_sizes) <= parse.PIECE_BYTES, max(parsed_sizes)
    imp, w, call, after = tree.body
    assert isinstance(w, ast.Assign) and w.targets[0].id == "W" and w.lineno == 2
    assert isinstance(call.value, ast.Call) and call.lineno == 3
    assert isinstance(after, ast.FunctionDef) and after.lineno == 4  # line numbers are the file's


def test_a_syntax_error_is_the_one_ast_parse_gives() -> None:
    text = _user_module(300) + "def broken(:\n    pass\n"
    with pytest.raises(SyntaxError) as whole:
        ast.parse(text)
    with pytest.raises(SyntaxError) as pieces:
        parse.parse(text)
    assert (pieces.value.msg, pieces.value.lineno, pieces.value.offset) == \
        (whole.value.msg, whole.value.lineno, whole.value.offset)


@pytest.mark.parametrize("tail", ["x = 1\r", "s = '''\nflush\n'''\n", "if True:\n    pass\n  # odd comment\n"])
def test_odd_texts_still_give_the_same_tree(tail: str) -> None:
    text = _user_module(300) + tail
    try:
        expected = dump(ast.parse(text))
    except SyntaxError:
        with pytest.raises(SyntaxError):
            parse.parse(text)
        return
    assert dump(parse.parse(text)) == expected


def test_the_keyword_bomb_module_is_analysed_without_a_long_parse(tmp_path, parsed_sizes) -> None:
    from tensorleap_ls.core.engine.analysis import Analyzer

    (tmp_path / "bomb.py").write_text("f(" + ", ".join(f"k{i}=0" for i in range(12_000)) + ")\n")
    (tmp_path / "leap_integration.py").write_text("import bomb\nfrom code_loader.inner_leap_binder.leapbinder_decorators import *\n")
    Analyzer().analyze_path(str(tmp_path))
    assert parsed_sizes and max(parsed_sizes) <= parse.PIECE_BYTES, max(parsed_sizes)


@pytest.mark.parametrize("stmt, target", [("x = 1" + " + 1" * 20_000, "x"), ("a, b = c = 1" + " + 1" * 20_000, "c"),
                                          ("total += 1" + " + 1" * 20_000, "total"), ("1" + " + 1" * 20_000, None)])
def test_a_huge_flat_statement_is_read_as_what_it_binds(parsed_sizes, stmt: str, target) -> None:
    tree = parse.parse("import os\n" + stmt + "\ny = 2\n")
    assert max(parsed_sizes) <= parse.PIECE_BYTES
    _, big, after = tree.body
    assert isinstance(after, ast.Assign) and after.lineno == 3
    if target is None:
        assert isinstance(big, ast.Expr)
    else:
        names = {n.id for n in ast.walk(big) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        assert target in names and big.lineno == 2


def test_a_large_compound_block_is_parsed_not_dropped() -> None:
    """A 100 KB `if __name__ == '__main__':` block of real code keeps its statements (and the names they bind)."""
    body = "".join(f"    value_{i} = helper({i}, key='k{i}')\n" for i in range(3000))
    text = "import os\n\nif __name__ == '__main__':\n" + body + "\nx = 1\n"
    assert len(text) > 2 * parse.PIECE_BYTES
    tree = parse.parse(text)
    assert dump(tree) == dump(ast.parse(text))


def _library_module(n: int) -> str:
    """A large vendored module of ordinary statements, with a flush-left ``def`` inside a docstring."""
    out = ['"""Helpers.\n\ndef not_code():\n    the docstring says so\n"""\nimport os\n\n']
    for i in range(n):
        out.append(f"@staticmethod\n@functools.lru_cache(\n    maxsize=None)\ndef helper_{i}(x):\n    return [x, {i}]\n\n"
                   f"if os.environ.get('A{i}'):\n    V{i} = 1\nelse:\n    V{i} = 3\n\nCONST_{i} = {{'k': {i}}}\n\n")
    return "".join(out)


def test_ordinary_statements_are_cut_without_the_tokenizer(monkeypatch, parsed_sizes) -> None:
    text = _library_module(1200)
    assert len(text) > 4 * parse.PIECE_BYTES
    expected = dump(ast.parse(text))
    parsed_sizes.clear()

    def no_tokenizer(*a, **k):
        raise AssertionError("tokenize was used")

    monkeypatch.setattr(parse.tokenize, "generate_tokens", no_tokenizer)
    # the docstring's flush-left `def` is only in the first group (a cut there would not parse)
    assert dump(parse.parse(text)) == expected
    assert max(parsed_sizes) <= parse.PIECE_BYTES, max(parsed_sizes)


def test_a_cut_inside_a_string_falls_back_to_the_tokenizer(parsed_sizes) -> None:
    inner = "".join(f"def fake_{i}():\n    pass\n" for i in range(1000))  # flush-left code inside a string
    text = _library_module(150) + 'DOC = """\n' + inner + '"""\n' + _library_module(150)
    lines = parse._lines(text)
    assert parse._column_zero_pieces(lines, "<x>") is None  # a group ends inside the string: it does not parse
    assert dump(parse.parse(text)) == dump(ast.parse(text))


# --- reuse of the unchanged statements of the file's previous text ------------------------------------------
def _integration(n: int) -> str:
    """An integration as people write them: decorators, a long integration test, comments between defs."""
    parts = ["import numpy as np\nfrom code_loader.inner_leap_binder.leapbinder_decorators import *\n\n"]
    for i in range(n):
        parts.append(f"# metadata {i}\n@tensorleap_metadata('meta_{i}')\ndef meta_{i}(idx, preprocess):\n"
                     f"    value = float(idx * {i} % 7)\n    if value > 3:\n        value = value / 2.0\n"
                     f"    return {{'a': value,\n            'b': [value, \\\n                  {i}]}}\n\n\n")
    parts.append("@tensorleap_integration_test()\ndef integration_test(idx, subset):\n"
                 + "".join(f"    meta_{i}(idx, subset)\n" for i in range(n)) + "\n\nif __name__ == '__main__':\n    pass\n")
    return "".join(parts)


EDITS = [
    ("'meta_3'", "'meta_3x'"),  # one character in a decorator
    ("value / 2.0\n", "value / 2.0\n    extra = 1\n"),  # a line inserted: the statements below move
    ("    return {'a': value,\n            'b': [value, \\\n                  5]}\n", "    return 5 \\\n"),  # a cut that is not one
    ("# metadata 7\n", "x = (\n"),  # a bracket left open at column 0: the text does not parse
    ("# metadata 8\n", "s = '''\n# metadata 8\n'''\n"),  # a string across a column-0 line
    ("if __name__", "@dec\nclass C: pass\nif __name__"),
]


@pytest.mark.parametrize("old,new", EDITS)
def test_a_new_text_reusing_the_previous_tree_is_the_tree_ast_parse_gives(old, new) -> None:
    text = _integration(40)
    assert len(text) > parse.REUSE_BYTES and old in text
    previous = (text, parse.parse(text, "m.py"))
    edited = text.replace(old, new, 1)
    try:
        want = dump(ast.parse(edited, "m.py"))
    except SyntaxError as err:
        with pytest.raises(SyntaxError) as got:
            parse.parse(edited, "m.py", previous=previous)
        assert (got.value.lineno, got.value.msg) == (err.lineno, err.msg)  # the error ast.parse gives, not the cut's
        return
    assert dump(parse.parse(edited, "m.py", previous=previous)) == want


def test_a_keystroke_parses_the_statement_it_changed_and_shares_the_others(parsed_sizes) -> None:
    text = _integration(40)
    tree = parse.parse(text, "m.py")
    edited = text.replace("'meta_3'", "'meta_3x'", 1)
    parsed_sizes.clear()
    new = parse.parse(edited, "m.py", previous=(text, tree))
    assert sum(parsed_sizes) < 300, parsed_sizes  # the one decorated def, not the 14 KB file
    changed = [i for i, (a, b) in enumerate(zip(tree.body, new.body)) if a is not b]
    assert [new.body[i].name for i in changed] == ["meta_3"]


def test_a_statement_continued_across_the_cut_is_not_reused(parsed_sizes) -> None:
    """``return x * 2 \\`` above ``@dec``: one statement (``x * 2 @ dec``) over two column-0 chunks; an edit of the
    second one must not keep the first one's node (its expression reads the decorator's line)."""
    text = _integration(40).replace("    return {'a': value,\n            'b': [value, \\\n                  5]}\n\n\n",
                                    "    return value * 2 \\\n@dec\n\n\n", 1)
    tree = ast.parse(text)
    edited = text.replace("'meta_6'", "'meta_6x'", 1)
    assert dump(parse.parse(edited, "m.py", previous=(text, tree))) == dump(ast.parse(edited))


# --- a class or def larger than a piece: its statements found by their column, the tokenizer as the fallback -------
def _big_class(methods: int, extra: str = "") -> str:
    body = "".join(f"    @property\n    def value_{i}(self,\n                  scale=1):  # a header over two lines\n"
                   f"        '''Value {i}: see `value_{i + 1}`.'''\n        return self._x * {i} * scale\n\n"
                   for i in range(methods))
    return f"import os\n\n\nclass Loader(object):\n    '''A loader.'''\n{extra}{body}\n\nLOADER = Loader()\n"


def test_a_large_class_is_cut_by_columns_without_the_tokenizer(monkeypatch) -> None:
    text = _big_class(900)
    assert len(text) > 2 * parse.PIECE_BYTES

    def no_tokenizer(*a, **k):
        raise AssertionError("tokenize was used")

    monkeypatch.setattr(parse.tokenize, "generate_tokens", no_tokenizer)
    assert dump(parse.parse(text)) == dump(ast.parse(text))


@pytest.mark.parametrize("extra", [
    "    DOC = '''\n    def not_a_method(self):\n        pass\n    '''\n",  # code at the body's column inside a string
    "    def tricky(self, sep='#:'):  # a '#' in the header\n        return sep\n",
    "    def dedented_string(self):\n        return '''\nx = 1\n'''\n",
    "    SIZES = [\n    1,\n    2,\n    ]\n",  # brackets closed at the body's column
    "    total = 1 + \\\n    2\n",  # a backslash continuation at the body's column
])
def test_a_large_class_with_lines_the_columns_misread_gives_the_same_tree(extra: str) -> None:
    text = _big_class(900, extra)
    assert dump(parse.parse(text)) == dump(ast.parse(text))


@pytest.mark.parametrize("header", [
    "def big(s='#'):\n",  # the header's end hidden by a '#' in a string: the first `if s:` looks like it
    "def big(a={1:\n        2}):\n",  # a line of the header ending with ':'
    "async def big(\n        a,\n        b):  # comment\n",
])
def test_a_large_def_whose_header_the_columns_misread_gives_the_same_tree(header: str) -> None:
    body = "    if s:\n        pass\n" + "".join(f"    value_{i} = compute({i}, 'x' * {i})\n" for i in range(2500))
    text = "import os\n\n" + header + body + "\n\nAFTER = 1\n"
    assert len(header + body) > parse.PIECE_BYTES
    assert dump(parse.parse(text)) == dump(ast.parse(text))
