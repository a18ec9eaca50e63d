"""Verdict classes, the corpus and the minimiser of the differential test (test_differential.py).

A disagreement between the SDK and tensorleap-ls is attributed to classes by looking at each error
tensorleap-ls reports where the SDK accepts (``false_error``), or at the line where the SDK fails when
tensorleap-ls is silent there (``missed_error`` / ``wrong_line``). ``KNOWN_OPEN`` lists the classes that
are known and fixed on another branch; a disagreement outside them fails the test. Remove a class once
its branch is merged (classes 3 and 4 went when `bind` was merged; the corpus and the real-style test
then show which cases agree).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

CORPUS = Path(__file__).with_name("corpus")

# class -> why it is still open on this branch (issue 10; the branch that fixes it)
KNOWN_OPEN = {
    "empty-init-not-included": "issue 10 class 1: TL405 on an empty package __init__.py left out of `include` "
                               "(branch testbody)",
    "container-index": "issue 10 class 2: indexing a list/dict/tuple built in the test body -> TL306 (branch testbody)",
    "constant-subscript": "issue 10 class 2: predictions[OUT['x']] -> TL306 on the constant (branch testbody)",
    "missed-container-element-index": "issue 10 class 2 (data flow): an encoder result taken out of a container and "
                                      "indexed is not flagged (branch testbody)",
    "missed-factory-result": "issue 10 class 4, data-flow side: the result of an encoder made by a factory "
                             "(`get_input_encoder('x')(idx, p)`) is not known as a placeholder in the test body, so "
                             "indexing it is not flagged (checks/integration_test.py, branch testbody)",
    "missed-container-element-arith": "issue 10 class 2 (data flow): arithmetic on an encoder result taken out of a "
                                      "container is not flagged (branch testbody)",
    "missed-library-result-into-decorated": "not one of the six classes: `viz(np.squeeze(pred))` fails the mapping "
                                            "pass ('numpy.ndarray' object has no attribute 'node_mapping') but is only "
                                            "TL302 (warning); in checks/integration_test.py (branch testbody)",
    "missed-in-plain-call-arg": "not one of the six classes: `display_image(image[0])` / `display_image(image + 1)` "
                                "(a legacy-registered visualizer called in the test) fails the mapping pass; indexing "
                                "and arithmetic in the arguments of a call that is not decorated are not checked; in "
                                "checks/integration_test.py (branch testbody)",
    "missed-plain-helper": "not one of the six classes: a plain helper that computes on a placeholder "
                           "(`viz(normalise(image))`) fails the mapping pass but is only TL303 (warning); in "
                           "checks/integration_test.py (branch testbody)",
    "constant-arithmetic": "not one of the six classes: arithmetic on module constants (`IDX + 1`) -> TL301; same "
                           "data-flow mechanism, in checks/integration_test.py (owned by branch testbody)",
    "inline-model-call": "not one of the six classes: `load_model().run(None, {...})[0]` (the model loaded and run "
                         "in one expression) -> TL306; in checks/integration_test.py (branch testbody)",
    "prediction-comprehension": "not one of the six classes: `tensorleap_load_model([PredictionTypeHandler(h, ...) for h "
                                "in CONFIG['heads']])` registers no prediction statically (binding extraction, "
                                "bindings.py / evaluate.py, owned by branch bind)",
    "missed-unpack-outputs": "not one of the six classes: `pred, aux = model.run(...)` (unpacking the outputs) fails "
                             "the mapping pass ('too many values to unpack'), tensorleap-ls accepts it on purpose; in "
                             "checks/integration_test.py (branch testbody)",
    "missed-compile-time-syntax-error": "not one of the six classes: a SyntaxError that `ast.parse` accepts but the "
                                        "compiler raises (`f(a=1, a=2)`: 'keyword argument repeated') gets no TL190; "
                                        "in core/modules.py (owned by branch bind)",
    "dead-branch": "not one of the six classes: TL306/TL301 inside `if False:` that never runs; in "
                   "checks/integration_test.py (owned by branch testbody)",
}



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
