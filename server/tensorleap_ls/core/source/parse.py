"""``ast.parse`` that never holds the GIL long: large texts are parsed a group of statements at a time.

One ``ast.parse`` holds the GIL, and so the server's event loop, for as long as its text is long (~1 ms
per KB on a busy 2-core machine, more for texts dense in nodes: a call with 60,000 keyword arguments,
576 KB, is 0.7-1.3 s). A text larger than ``PIECE_BYTES`` is cut at its top-level statements (found by
``tokenize``, pure Python, which yields the GIL between tokens) into groups of at most that size, each
parsed alone; a class or function larger than that is parsed as its header and its body in pieces; any
other statement larger than that has the contents of its large brackets elided (``W = [1.0, ...]`` is
read as ``W = [...]``), or, still too large, is read as what it binds (``x = 1 + 1 + ...`` as ``x = ...``):
its bindings stay, the values and the names used inside are not read. A large ``if``/``try``/``with``/loop block
is code, not data: it is parsed whole after the elision. The tree has the file's line numbers.

A text whose pieces do not parse (a syntax error, or a shape the cut does not handle) is parsed whole:
the error is the one ``ast.parse`` gives, never one the cut made.

Given the file's previous text and tree (``previous``), the top-level statements whose text and first line
did not change are taken from that tree: typing in one function of a 3,000-line file parses that function.
"""

from __future__ import annotations

import ast
import bisect
import io
import tokenize

PIECE_BYTES = 48_000
REUSE_BYTES = 4_000  # below this a whole parse is as cheap as the cut
_ELIDE_BYTES = 2_000  # the contents of a bracket pair longer than this are elided in a too-large statement
_NOT_A_START = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
_CONTINUES = {"else", "elif", "except", "finally"}  # at column 0 they continue the statement above
_SPLIT = {"class", "def", "async"}  # statements parsed as a header and a body in pieces


def parse(text: str, filename: str = "<unknown>", previous: "tuple[str, ast.Module] | None" = None) -> ast.Module:
    """``ast.parse(text, filename)``, in pieces when ``text`` is large (see the module docstring).

    ``previous``: an earlier text of the same file and its tree. Each top-level statement whose text and
    first line did not change is taken from that tree instead of being parsed again (its nodes are shared:
    trees are read, never changed), so a keystroke in one function of a 3,000-line file parses that
    function. The result is the tree ``ast.parse`` gives."""
    if previous is not None and len(text) > REUSE_BYTES and "barry_as_FLUFL" not in text:
        try:
            body = _reusing(_lines(text), filename, previous)
        except (ValueError, RecursionError):
            body = None
        if body is not None:
            return ast.Module(body=body, type_ignores=[])
    if len(text) <= PIECE_BYTES:
        return ast.parse(text, filename=filename)
    try:
        lines = _lines(text)
        fast = _column_zero_pieces(lines, filename)
        if fast is not None:
            return ast.Module(body=fast, type_ignores=[])
        body = _pieces(lines, 0, len(lines), "", filename, 0)
    except (SyntaxError, ValueError, tokenize.TokenError, IndentationError, RecursionError):
        return ast.parse(text, filename=filename)
    return ast.Module(body=body, type_ignores=[])


def _column_zero_pieces(lines: list[str], filename: str) -> list[ast.stmt] | None:
    """The common case without ``tokenize`` (about 10x faster): the text cut at lines that start at column 0
    with a name or a decorator, in groups of at most PIECE_BYTES, each parsed with the file's line numbers
    (blank lines before it). A cut inside a string, a bracket or a decorated def leaves a group that does not
    parse: then None, and the tokenizer finds the statements (``_pieces``). None also when one statement is
    larger than PIECE_BYTES."""
    starts = _column_zero_starts(lines)
    bounds = starts + [len(lines)]
    out: list[ast.stmt] = []
    group, size = 0, 0
    for k in range(len(starts)):
        n = sum(len(ln) for ln in lines[bounds[k]:bounds[k + 1]])
        if n > PIECE_BYTES:
            return None
        if size + n > PIECE_BYTES:
            try:
                out += ast.parse("\n" * bounds[group] + "".join(lines[bounds[group]:bounds[k]]), filename=filename).body
            except SyntaxError:
                return None
            group, size = k, 0
        size += n
    try:
        out += ast.parse("\n" * bounds[group] + "".join(lines[bounds[group]:]), filename=filename).body
    except SyntaxError:
        return None
    return out


def _column_zero_starts(lines: list[str]) -> list[int]:
    """The first lines of the top-level statements, as far as column 0 tells: a line that starts with a name
    or a decorator (not ``else``/``except``..., and not a def below its decorators). A start inside a string
    or brackets is possible: the text before it then does not parse, and the caller falls back."""
    starts = [0]
    decorated = False
    for i, ln in enumerate(lines):
        c = ln[:1]
        if not (c.isalpha() or c == "_" or c == "@") or not i:
            continue
        word = ln.split(None, 1)[0].split(":", 1)[0]
        if word in _CONTINUES:
            continue
        if not decorated:  # a def below its decorators is the same statement
            starts.append(i)
        decorated = c == "@"
    return starts


def _chunks(lines: list[str]) -> list[tuple[int, str]]:
    """(first line, text) of each top-level statement (``_column_zero_starts``)."""
    bounds = _column_zero_starts(lines) + [len(lines)]
    return [(bounds[k], "".join(lines[bounds[k]:bounds[k + 1]])) for k in range(len(bounds) - 1)]


def _reusing(lines: list[str], filename: str, previous: "tuple[str, ast.Module]") -> list[ast.stmt] | None:
    """The statements of ``lines``: those of ``previous`` where a chunk (``_chunks``) kept its text and first
    line, the others parsed, consecutive ones together (in groups of at most PIECE_BYTES: the file's line
    numbers come from a prefix of blank lines, paid once per group). None when a chunk is larger than
    PIECE_BYTES or a group does not parse (the caller parses the usual way: a syntax error is the one
    ``ast.parse`` gives, never one the cut made)."""
    old_text, old_tree = previous
    old_chunks = _chunks(_lines(old_text))
    firsts = [first for first, _ in old_chunks]
    by_chunk: dict[tuple[int, str], list[ast.stmt]] = {c: [] for c in old_chunks}
    ends = firsts[1:] + [len(old_text)]
    for st in old_tree.body:  # each statement goes to the chunk its first line falls in
        k = bisect.bisect_right(firsts, getattr(st, "lineno", 1) - 1) - 1
        # ... and ends in it: else the cut was not between statements (`x = 2 \` above `@dec`: one statement)
        if k < 0 or (getattr(st, "end_lineno", None) or ends[k] + 1) > ends[k]:
            return None
        by_chunk[old_chunks[k]].append(st)
    out: list[ast.stmt] = []
    todo: list[tuple[int, str]] = []
    size = 0

    def flush() -> None:
        out.extend(ast.parse("\n" * todo[0][0] + "".join(t for _, t in todo), filename=filename).body)
        todo.clear()

    try:
        for chunk in _chunks(lines):
            if len(chunk[1]) > PIECE_BYTES:
                return None
            if chunk in by_chunk:  # (a chunk of comments alone holds no statement)
                if todo:
                    flush()
                out.extend(by_chunk[chunk])
                continue
            if todo and size + len(chunk[1]) > PIECE_BYTES:
                flush()
            size = (size if todo else 0) + len(chunk[1])
            todo.append(chunk)
        if todo:
            flush()
    except SyntaxError:
        return None
    return out


def _pieces(lines: list[str], lo: int, hi: int, indent: str, filename: str, depth: int) -> list[ast.stmt]:
    """The statements of ``lines[lo:hi]``, a block at ``indent``, parsed in groups of at most PIECE_BYTES. The
    statements are found by their column first (``_scan_columns``, no tokenizer); a cut the columns cannot see
    (a string or brackets over a line at the block's indentation) makes a group that does not parse, or a header
    that is not one, and the tokenizer finds them instead (``_scan_tokens``)."""
    text = "".join(lines[lo:hi])
    if len(text) <= PIECE_BYTES:
        return _parse_lines(lines, lo, hi, indent, filename)
    scan = _scan_columns(lines, lo, hi, indent)
    if scan is not None:
        try:
            return _assemble(lines, lo, hi, indent, filename, depth, *scan)
        except (SyntaxError, ValueError):
            pass
    return _assemble(lines, lo, hi, indent, filename, depth, *_scan_tokens(text, lo, indent))


def _scan_columns(lines: list[str], lo: int, hi: int, indent: str) -> "tuple[list, list, list] | None":
    """(starts, heads, kinds) as ``_scan_tokens`` gives them, read from the columns: a statement starts at a line
    that starts at the block's indentation (not with a closing bracket); a class or def header ends at the first
    line from its keyword on that ends with ``:`` (``_split`` checks it is the whole header)."""
    n = len(indent)
    starts: list[int] = []
    heads: list[int] = []
    kinds: list[str] = []
    decorated = False
    for i in range(lo, hi):
        ln = lines[i]
        c = ln[n:n + 1]
        # any line at the indentation may start one (`1 + 1` too: merged with the statement above, a large one
        # would be elided with it); a closing bracket never does
        if not c or c in " \t\r\n\f#)]}" or (n and not ln.startswith(indent)):
            continue
        word = ln[n:].split(None, 1)[0].split(":", 1)[0].split("(", 1)[0]
        if word in _CONTINUES:
            continue
        if not decorated:
            starts.append(i)
            heads.append(i)
            kinds.append("")
        decorated = c == "@"
        if not decorated:
            kinds[-1] = word
            head = i
            if word in _SPLIT:
                while head + 1 < hi and not lines[head].split("#", 1)[0].rstrip().endswith(":"):
                    head += 1
            heads[-1] = head
    return (starts, heads, kinds) if starts else None


def _scan_tokens(text: str, lo: int, indent: str) -> "tuple[list, list, list]":
    """(starts, heads, kinds) of the statements of ``text`` (the file's lines from ``lo``) at ``indent``."""
    starts: list[int] = []  # first lines of the block's statements (a decorator starts its def)
    heads: list[int] = []  # last line of each one's header (``class A(\n  B):``)
    kinds: list[str] = []  # each one's first word after its decorators
    first, decorated, pending = True, False, False
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NEWLINE:
            if pending:
                heads[-1], pending = lo + tok.start[0] - 1, False
            first = True
        elif first and tok.type not in _NOT_A_START:
            first = False
            if tok.start[1] == len(indent) and tok.string not in _CONTINUES:
                if not decorated:
                    starts.append(lo + tok.start[0] - 1)
                    heads.append(lo + tok.start[0] - 1)
                    kinds.append("")
                decorated = tok.string == "@"
                if not decorated:
                    kinds[-1], pending = tok.string, True
    return starts, heads, kinds


def _assemble(lines: list[str], lo: int, hi: int, indent: str, filename: str, depth: int,
              starts: list, heads: list, kinds: list) -> list[ast.stmt]:
    """The block's statements (``_pieces``) in groups, a class or def too large for one cut into its header and
    body (``_split``), any other statement too large elided."""
    if not starts or starts[0] != next((i for i in range(lo, hi) if _code(lines[i])), starts[0]):
        raise ValueError("the block does not start with a statement at its indentation")
    out: list[ast.stmt] = []
    bounds = starts + [hi]
    sizes = [sum(len(ln) for ln in lines[bounds[k]:bounds[k + 1]]) for k in range(len(starts))]
    group, size = 0, 0
    for k in range(len(starts)):
        if sizes[k] > PIECE_BYTES:  # alone too large: what came before, then this one cut or elided
            out += _parse_lines(lines, bounds[group], bounds[k], indent, filename)
            if kinds[k] in _SPLIT and depth < 4 and heads[k] + 1 < bounds[k + 1]:
                out.append(_split(lines, bounds[k], heads[k], bounds[k + 1], indent, filename, depth))
            else:
                out += _parse_lines(lines, bounds[k], bounds[k + 1], indent, filename, elide=True)
            group, size = k + 1, 0
        elif size + sizes[k] > PIECE_BYTES:
            out += _parse_lines(lines, bounds[group], bounds[k], indent, filename)
            group, size = k, sizes[k]
        else:
            size += sizes[k]
    if group < len(starts):
        out += _parse_lines(lines, bounds[group], hi, indent, filename)
    return out


def _lines(text: str) -> list[str]:
    """The lines as the tokenizer counts them (``splitlines`` also breaks at form feeds and others)."""
    if "\r" in text.replace("\r\n", ""):
        raise ValueError("a lone carriage return")  # the parser counts it as a line break, StringIO does not
    parts = text.split("\n")
    out = [ln + "\n" for ln in parts[:-1]]
    return out + [parts[-1]] if parts[-1] else out


def _code(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _split(lines: list[str], start: int, head: int, end: int, indent: str, filename: str, depth: int) -> ast.stmt:
    """A class or function (``lines[start:end]``, header up to ``head``) parsed as its header with a
    ``pass`` body, then its body in pieces."""
    code = next((ln for ln in lines[head + 1:end] if _code(ln)), None)
    if code is None:
        raise ValueError("no body below the header")
    inner = code[:len(code) - len(code.lstrip())]
    if len(inner) <= len(indent):
        raise ValueError("not an indented body")
    (node,) = _parse_text("".join(lines[start:head + 1]) + inner + "pass\n", start, indent, filename)
    if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) or len(node.body) != 1 \
            or not isinstance(node.body[0], ast.Pass) or node.body[0].lineno != head + 2:
        raise ValueError("not a class or function header")  # (or lines of the body taken for the header's)
    node.body = _pieces(lines, head + 1, end, inner, filename, depth + 1)
    last = node.body[-1]
    node.end_lineno, node.end_col_offset = last.end_lineno, last.end_col_offset
    return node


def _parse_lines(lines: list[str], start: int, end: int, indent: str, filename: str,
                 elide: bool = False) -> list[ast.stmt]:
    if start >= end:
        return []
    text = "".join(lines[start:end])
    if elide:
        text = _elided(text)
        if len(text) > PIECE_BYTES and not _compound(text):  # still large without its brackets' contents
            text = _placeholder(text, indent)  # (``x = 1 + 1 + ...``); a large if/try/with block is code: parsed
    return _parse_text(text, start, indent, filename)


_COMPOUND = {"if", "for", "while", "try", "with", "async", "def", "class"}


def _compound(text: str) -> bool:
    """A compound statement (its body binds names the analysis needs), not an expression or assignment."""
    first = text.lstrip().split(None, 1)[0] if text.strip() else ""
    word = first.split("(", 1)[0].rstrip(":")
    return word in _COMPOUND or (word == "match" and text.split("\n", 1)[0].rstrip().endswith(":"))


_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", ">>=", "<<=", "&=", "^=", "|=", "@="}


def _placeholder(text: str, indent: str) -> str:
    """A statement too large to parse at once, as what it binds: ``targets = ...`` (its targets and
    assignment operator kept), else ``...``."""
    cut, depth = None, 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NEWLINE:
            break
        if tok.type == tokenize.OP:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif depth == 0 and tok.string in _ASSIGN_OPS:
                cut = tok.end
                if tok.string != "=":
                    break
    lines = _lines(text)
    head = "".join(lines[:cut[0] - 1]) + lines[cut[0] - 1][:cut[1]] if cut else ""
    return (head + " ..." if head and len(head) <= PIECE_BYTES else indent + "...") + "\n"


def _parse_text(text: str, start: int, indent: str, filename: str) -> list[ast.stmt]:
    """The statements of ``text`` (the file's lines from ``start``, a block at ``indent``) with the file's
    line and column numbers: an indented block is parsed under ``if 1:`` (its text is not changed). The line
    numbers come from blank lines before it (the C tokenizer skips them): ``ast.increment_lineno`` walked every
    node in Python, a twentieth of a cold parse of a project with large classes."""
    if not indent:
        return ast.parse("\n" * start + text, filename=filename).body
    if start < 1:  # (an indented block is below its header: not reached)
        tree = ast.parse("if 1:\n" + text, filename=filename)
        ast.increment_lineno(tree, start - 1)
        return tree.body[0].body  # type: ignore[attr-defined]
    return ast.parse("\n" * (start - 1) + "if 1:\n" + text, filename=filename).body[0].body  # type: ignore[attr-defined]


def _elided(text: str) -> str:
    """``text`` with the contents of each outermost bracket pair longer than ``_ELIDE_BYTES`` replaced by
    ``...`` and the line breaks they held (the lines after keep their numbers)."""
    offsets = [0]
    for ln in _lines(text):
        offsets.append(offsets[-1] + len(ln))

    def at(pos: tuple[int, int]) -> int:
        return offsets[pos[0] - 1] + pos[1]

    cuts: list[tuple[int, int]] = []
    depth, opened = 0, 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            if depth == 0:
                opened = at(tok.end)
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
            if depth == 0 and at(tok.start) - opened > _ELIDE_BYTES:
                cuts.append((opened, at(tok.start)))
    out, last = [], 0
    for a, b in cuts:
        out += [text[last:a], "...", "\n" * text.count("\n", a, b)]
        last = b
    out.append(text[last:])
    return "".join(out)
