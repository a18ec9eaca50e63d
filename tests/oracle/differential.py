"""Verdict classes, the corpus and the minimiser of the differential test (test_differential.py).

A disagreement between the SDK and tensorleap-ls is attributed to classes by looking at each error
tensorleap-ls reports where the SDK accepts (``false_error``), or at the line where the SDK fails when
tensorleap-ls is silent there (``missed_error`` / ``wrong_line``). ``KNOWN_OPEN`` lists the classes that
are known and still open; a disagreement outside them fails the test. It is empty: the classes the oracle
found (issue 10's six and the ones beyond them) are fixed, and their corpus cases agree.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

CORPUS = Path(__file__).with_name("corpus")

# class -> why it is still open (issue 10; where it would be fixed). Empty since the branch `closure`: every
# class the oracle found is fixed, and a disagreement of any class fails the test.
KNOWN_OPEN: dict[str, str] = {}



# The classes that are issue 10's six (the rest were found by the oracle beyond them).
SIX = {"empty-init-not-included", "container-index", "constant-subscript", "missed-container-element-index",
       "missed-container-element-arith", "globals-lookup", "lazy-factory", "missed-factory-result"}


def _line(files: dict[str, str], file: str, line: int) -> str:
    lines = files.get(file, "").split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _in_dead_branch(source: str, line: int) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Constant) and not node.test.value:
            if any(s.lineno <= line <= (s.end_lineno or s.lineno) for s in node.body):
                return True
    return False


def _is_container(source: str, name: str) -> bool:
    """``name`` is a list / dict / tuple built in the code (a literal, a comprehension, or appended to)."""
    return bool(re.search(rf"^\s*{name}\s*=\s*[\[{{(]", source, re.M) or re.search(rf"\b{name}\.append\(", source))


def false_error_class(files: dict[str, str], f: dict) -> str:
    text = _line(files, f["file"], f["line"])
    code = f["code"]
    if code in ("TL101", "TL102", "TL103") and any("lru_cache" in t for t in files.values()):
        return "lazy-factory"
    if code in ("TL110", "TL111", "TL112") and ("globals()" in text or any(
            re.search(rf"^\s*{n}\s*=\s*(globals\(\)|\w+)\[", files.get(f["file"], ""), re.M)
            for n in set(re.findall(r"\w+", text)))):
        return "globals-lookup"  # a function looked up by name in globals() or a dict of functions
    if code in ("TL301", "TL306", "TL307") and _in_dead_branch(files.get(f["file"], ""), f["line"]):
        return "dead-branch"
    inline = r"\b\w+\(\)\.(run|predict)\(|\b\w+\(\)\("
    if code == "TL306" and (re.search(inline, text) or any(
            re.search(rf"^\s*{n}\s*=\s*\w+\(\)(\.(run|predict))?\(", files.get(f["file"], ""), re.M)
            for n in re.findall(r"\b(\w+)\[", text))):
        return "inline-model-call"
    if code in ("TL306", "TL307"):
        source = files.get(f["file"], "")
        if any(_is_container(source, n) for n in re.findall(r"\b(\w+)\[", text)):
            return "container-index"
        if re.search(r"\[\s*[A-Z_][A-Z0-9_]*\[", text):  # predictions[OUT['x']]: a module constant's subscript
            return "constant-subscript"
    if code == "TL301" and re.search(r"\b(IDX\s*[-+*/]|\d+\s*[-+*/]\s*\d+)", text):
        return "constant-arithmetic"
    return f"other-false-error:{code}"


def _missed_class(files: dict[str, str], out: dict) -> str:
    where = out["sdk_where"]
    entry = files.get("leap_integration.py", "")
    test_frames = [w for w in where if w["file"] == "leap_integration.py"]
    text = _line(files, "leap_integration.py", test_frames[0]["line"]) if test_frames else ""
    err = out["sdk_error"] or ""
    from_container = re.search(r"\b(inputs|pair|outs)\[", text) or (
        re.search(r"^\s+image = inputs\[", entry, re.M) and re.search(r"\bimage\b", text))
    from_factory = re.search(r"^\s+image = (get_input_encoder\(|ENCODERS\[)", entry, re.M) and re.search(
        r"\bimage\b", text)
    if ("not subscriptable" in err or "unsupported operand" in err) and from_factory:
        return "missed-factory-result"
    if ("not subscriptable" in err or "unsupported operand" in err) and from_container:
        return "missed-container-element-index" if "not subscriptable" in err else "missed-container-element-arith"
    if "SyntaxError" in err:
        return "missed-compile-time-syntax-error"
    if re.search(r"(too many|not enough) values to unpack", err):
        return "missed-unpack-outputs"
    if len(where) > len(test_frames) or len(test_frames) > 1:  # it failed inside a plain helper the test calls
        return "missed-plain-helper"
    if ("not subscriptable" in err or "unsupported operand" in err) and re.search(r"\bdisplay_\w+\(", text):
        return "missed-in-plain-call-arg"
    if "node_mapping" in err and re.search(r"\bnp\.", text):
        return "missed-library-result-into-decorated"
    kind = "index" if "not subscriptable" in err else "arith" if "unsupported operand" in err else "other"
    return f"{out['verdict']}:{kind}"


def classify(files: dict[str, str], out: dict) -> set[str]:
    if out["verdict"] == "agree":
        return set()
    if out["verdict"] == "false_error":
        return {false_error_class(files, f) for f in out["findings"]}
    return {_missed_class(files, out)}


def signature(files: dict[str, str], out: dict) -> tuple:
    """What a minimised case must keep: the verdict, the classes and the SDK's error (without line numbers)."""
    err = re.sub(r"line \d+|\(raised at [^)]*\)", "", out["sdk_error"] or "")
    return out["verdict"], frozenset(classify(files, out)), err


def unexplained(classes: set[str]) -> set[str]:
    return {c for c in classes if c not in KNOWN_OPEN}


# ---- corpus: one JSON file per disagreement ever found (its files, its verdict and classes when found)

def corpus_cases() -> list[tuple[str, dict]]:
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(CORPUS.glob("*.json"))]


def save_case(files: dict[str, str], out: dict, classes: set[str], note: str = "") -> Path:
    CORPUS.mkdir(exist_ok=True)
    digest = hashlib.sha1(json.dumps(files, sort_keys=True).encode()).hexdigest()[:10]
    name = re.sub(r"[^\w.-]", "_", f"{sorted(classes)[0] if classes else 'agree'}-{digest}")
    path = CORPUS / f"{name}.json"
    path.write_text(json.dumps({"note": note, "found": {"verdict": out["verdict"], "classes": sorted(classes),
                                                       "sdk_error": out["sdk_error"], "errors": out["errors"]},
                                "files": files}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ---- minimiser: drop integration-test body lines while the disagreement stays the same

def minimise(files: dict[str, str], signature, run) -> dict[str, str]:
    """``run(files) -> (verdict, classes)``; returns smaller files with the same signature."""
    entry = "leap_integration.py"
    lines = files[entry].split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("def integration_test"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
    changed = True
    while changed:
        changed = False
        for i in range(end - 1, start, -1):
            if i >= end or not lines[i].strip():
                continue
            indent = len(lines[i]) - len(lines[i].lstrip())
            j = i + 1  # the line and the block it opens
            while j < end and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                j += 1
            trial = lines[:i] + lines[j:]
            candidate = dict(files, **{entry: "\n".join(trial)})
            if run(candidate) == signature:
                lines, files, end, changed = trial, candidate, end - (j - i), True
    return files
