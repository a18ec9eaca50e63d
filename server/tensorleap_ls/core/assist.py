"""Completion, hover and signature help for the SDK, from the facts in ``sdk.py`` and the
project's bindings. Pure functions of (line text, cursor, bindings): no code_loader import, no
jedi on this path, so each answer takes well under a millisecond."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from string import Formatter

from tensorleap_ls.core.model import Binding, Style
from tensorleap_ls.core.sdk.bundled import (BUNDLED_VERSION, DATACLASS_FIELDS, DECORATORS, ENUMS, LEGACY, VISUALIZER_CLASSES,
                                    Registrar, contract_of, lens_rows, registrar_of, summary_of)
from tensorleap_ls.core.fixes.stubs import registration
from tensorleap_ls.core.sdk.env import Func, SdkApi, since_table

@dataclass
class Item:
    label: str
    kind: str  # "function" | "enum" | "class" | "field" | "value" | "snippet"
    detail: str = ""
    insert: str | None = None  # snippet text ($1 placeholders) or plain text
    snippet: bool = False
    documentation: str = ""
    sort: str = ""


@dataclass
class Signature:
    label: str
    params: list[str] = field(default_factory=list)
    active: int = 0
    documentation: str = ""


BUNDLED_NOTE = (f"_No code-loader is installed in the project's environment: this is the bundled code-loader "
                f"{BUNDLED_VERSION} table._")


def installed_func(name: str, sdk: SdkApi | None) -> Func | None:
    """The installed SDK's own definition of a registrar (decorator or ``leap_binder`` method)."""
    if sdk is None:
        return None
    return sdk.function(name) if name.startswith("tensorleap_") else sdk.binder_methods().get(name)


def _contract_text(r: Registrar, shown: str = "", companions: bool = True) -> str:
    """The contract line of a registrar: the common kinds' summary, else the registrar table's own text
    (the advanced registrars; left out when ``shown`` already says it), with the companions the SDK requires."""
    c = contract_of(r)
    if c.summary:
        text = f"Contract: {c.summary}"
    else:
        text = "" if c.doc and c.doc in shown else f"Contract: {c.doc or summary_of(r.kind)}"
    if c.companions and companions:
        text += ("\n\n" if text else "") + "Goes with: " + ", ".join(f"`{n}`" for n in c.companions)
    return text


def _companions_status(b: Binding, bindings: list[Binding]) -> str | None:
    reg = registrar_of(b)
    if reg is None or not contract_of(reg).companions:
        return None
    have = {contract_of(r).name for r in filter(None, (registrar_of(x) for x in bindings))}
    return "Companions: " + ", ".join(f"`{n}` {'✓' if n in have else '✗'}" for n in contract_of(reg).companions)


def checklist(bindings: list[Binding]) -> str:
    """The entry file's checklist lens, one entry per lens row of the registrar table: `✓` for a part there
    must be one of, a count, or (the advanced kinds) a count shown once used; then each companion the SDK
    requires that is missing (e.g. `false_positive_instances_encoder needs false_positive_empty_gt ✗`)."""
    rows = []
    for label, show, kinds in lens_rows():
        n = sum(1 for b in bindings if b.kind in kinds)
        if len(kinds) > 1:  # load_model or add_prediction: present or not
            n = 1 if n else 0
        if show != "used":
            rows.append(f"{label} {'✓' if n == 1 and show == 'one' else (n if n else '✗')}")
        elif n:
            rows.append(f"{label} {n}")
    used = [contract_of(r) for r in filter(None, (registrar_of(b) for b in bindings))]
    have = {c.name for c in used}
    for c in dict.fromkeys(c for c in used if c.companions):
        for n in c.companions:
            if n not in have:
                rows.append(f"{c.name.removeprefix('tensorleap_')} needs {n.removeprefix('tensorleap_')} ✗")
    return "Tensorleap: " + ", ".join(rows)


def snippet_args(name: str) -> str:
    """Completion arguments of a registrar: the table's snippet, else from its stub's decorator line."""
    reg = DECORATORS.get(name)
    if reg is None or reg.snippet or not reg.stub:
        return reg.snippet if reg is not None else ""
    # the functions the decorator names (an element-instance preprocess's encoders) become placeholders too
    fields = [f for _, f, _, _ in Formatter().parse(reg.stub.split("\n", 1)[0]) if f is not None]
    calls = [f for f in fields if f not in ("function", "name")]
    start = 2 if "name" in fields else 1
    first = registration(reg, Style.DECORATOR, "f", "NAME", **{c: f"${{{i}:{c}}}" for i, c in enumerate(calls, start)})
    return first[first.index("(") + 1:first.rindex(")")].replace("'NAME'", "'${1:name}'")


def _registrar_doc(r: Registrar, sdk: SdkApi | None = None) -> str:
    f = installed_func(r.name, sdk)
    contract = _contract_text(r, r.doc if f is None else (f.doc or r.doc))
    if sdk is None:
        return f"```python\n{r.name}({', '.join(r.params)})\n```\n{r.doc}\n\n{contract}\n\n{BUNDLED_NOTE}"
    if f is None:
        since = since_table().get(r.name if r.name.startswith("tensorleap_") else f"LeapBinder.{r.name}")
        need = f" It first appears in code-loader {since}." if since else ""
        return f"```python\n{r.name}(...)\n```\n**Not in code-loader {sdk.version}, installed for this project.**{need}"
    if sdk.version != BUNDLED_VERSION:  # the table's own contract texts describe the bundled release only
        doc = (f.doc or ("" if contract_of(r).advanced else r.doc)).strip()
        contract = f"Contract: {summary_of(r.kind)}"
    else:
        doc = (f.doc or r.doc).strip()
    return f"```python\n{f.signature()}\n```\n{doc}\n\n{contract}\n\n_code-loader {sdk.version}, installed for this project._"


def _offered(table: dict[str, Registrar], sdk: SdkApi | None) -> dict[str, Registrar]:
    """The registrars to complete: those of the installed SDK when there is one, else the bundled table."""
    return {n: r for n, r in table.items() if sdk is None or installed_func(n, sdk) is not None}


def complete(line: str, col: int, bindings: list[Binding], prev_lines: list[str] | None = None,
             sdk: SdkApi | None = None) -> list[Item]:
    before = line[:col]
    # after `leap_binder.` (or an alias ending in binder)
    m = re.search(r"(\w*binder|lb)\.(\w*)$", before)
    if m:
        return [Item(name, "function", "leap_binder registrar", f"{name}({r.snippet or '$1'})", True,
                     _registrar_doc(r, sdk), sort=("0" if r.snippet else "1") + name)
                for name, r in _offered(LEGACY, sdk).items() if name.startswith(m.group(2))]
    # enum members
    m = re.search(r"\b(" + "|".join(ENUMS) + r")\.(\w*)$", before)
    if m:
        return [Item(member, "enum", f"{m.group(1)}.{member}", sort=str(i)) for i, member in enumerate(ENUMS[m.group(1)])
                if member.startswith(m.group(2))]
    # return annotation of a visualizer: the Leap class matching its visualizer_type first
    m = re.search(r"->\s*(\w*)$", before)
    if m and before.lstrip().startswith(("def ", "async def ")):
        expected = _expected_class(prev_lines or [])
        items = [Item(cls, "class", f"LeapDataType.{member}", sort=("0" if cls == expected else "1") + cls)
                 for member, cls in VISUALIZER_CLASSES.items() if cls.startswith(m.group(1))]
        items += [Item(t, "class", sort="2" + t) for t in ("np.ndarray", "List[PreprocessResponse]", "float", "dict")
                  if t.startswith(m.group(1))]
        return items
    # decorators
    m = re.match(r"\s*@(\w*)$", before)
    if m:
        return [Item(name, "function", "Tensorleap decorator", f"{name}({snippet_args(name)})", True,
                     _registrar_doc(r, sdk), sort=("0" if r.snippet or not r.params else "1") + name)
                for name, r in _offered(DECORATORS, sdk).items() if name.startswith(m.group(1))]
    call = _open_call(before)
    if call is not None:
        fn, args_text = call
        short = fn.rsplit(".", 1)[-1]
        # keyword fields of data classes
        if short in DATACLASS_FIELDS and re.search(r"(^|[,(]\s*)(\w*)$", args_text):
            prefix = re.search(r"(\w*)$", args_text).group(1)
            return [Item(f + "=", "field", f"{short}.{f}", sort=str(i)) for i, f in enumerate(DATACLASS_FIELDS[short])
                    if f.startswith(prefix)]
        reg = DECORATORS.get(short) or LEGACY.get(short)
        if reg is not None:
            index = _arg_index(args_text)
            param = reg.params[index] if index < len(reg.params) else ""
            kw = re.search(r"(\w+)\s*=\s*(\w*)$", args_text)
            if kw:
                param = kw.group(1)
            if param == "visualizer_type":
                return [Item(f"LeapDataType.{m_}", "enum", VISUALIZER_CLASSES[m_], sort=str(i))
                        for i, m_ in enumerate(ENUMS["LeapDataType"])]
            if param == "direction":
                return [Item(f"MetricDirection.{d}", "enum", sort=str(i)) for i, d in enumerate(ENUMS["MetricDirection"])]
            if param == "metadata_type":
                return [Item(f"DatasetMetadataType.{d}", "enum") for d in ENUMS["DatasetMetadataType"]]
            if param in ("heatmap_function", "heatmap_visualizer", "function"):
                return [Item(b.function, "function", f"{b.kind.value} '{b.name}'") for b in bindings
                        if b.function and b.def_node is not None]
    # registered names inside a string (e.g. the ONNX input dict of the integration test)
    m = re.search(r"['\"](\w*)$", before)
    if m:
        seen = []
        for b in bindings:
            if b.name and b.name.startswith(m.group(1)) and b.name not in seen:
                seen.append(b.name)
        return [Item(n, "value", "registered name") for n in seen]
    return []


def _expected_class(prev_lines: list[str]) -> str | None:
    for line in reversed(prev_lines[-6:]):
        m = re.search(r"LeapDataType\.(\w+)", line)
        if m and ("visualizer" in line):
            return VISUALIZER_CLASSES.get(m.group(1))
    return None


def _open_call(before: str) -> tuple[str, str] | None:
    """The callee and the argument text of the innermost call still open at the cursor."""
    depth = 0
    for i in range(len(before) - 1, -1, -1):
        c = before[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                if c != "(":
                    return None
                m = re.search(r"([\w.]+)\s*$", before[:i])
                return (m.group(1), before[i + 1:]) if m else None
            depth -= 1
    return None


def _arg_index(args_text: str) -> int:
    depth, count = 0, 0
    quote = None
    for c in args_text:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            count += 1
    return count


def signature(line: str, col: int, sdk: SdkApi | None = None) -> Signature | None:
    call = _open_call(line[:col])
    if call is None:
        return None
    short = call[0].rsplit(".", 1)[-1]
    reg = DECORATORS.get(short) or LEGACY.get(short)
    if reg is None:
        if short in DATACLASS_FIELDS:
            return Signature(f"{short}({', '.join(DATACLASS_FIELDS[short])})", list(DATACLASS_FIELDS[short]),
                             min(_arg_index(call[1]), len(DATACLASS_FIELDS[short]) - 1))
        return None
    f = installed_func(reg.name, sdk)
    params = list(f.params if f is not None else reg.params)
    active = _arg_index(call[1])
    kw = re.search(r"(\w+)\s*=\s*[^,]*$", call[1])
    if kw and kw.group(1) in params:
        active = params.index(kw.group(1))
    return Signature(f"{reg.name}({', '.join(params)})", params, min(active, max(len(params) - 1, 0)),
                     _registrar_doc(reg, sdk))


def hover(word: str, bindings: list[Binding], observed: dict | None = None, sdk: SdkApi | None = None) -> str | None:
    reg = DECORATORS.get(word) or LEGACY.get(word)
    if reg is not None:
        return _registrar_doc(reg, sdk)
    if word in VISUALIZER_CLASSES.values():
        member = next(k for k, v in VISUALIZER_CLASSES.items() if v == word)
        return f"`{word}`: the result of a `LeapDataType.{member}` visualizer. Fields: {', '.join(DATACLASS_FIELDS.get(word, ()))}"
    parts = []
    for b in bindings:
        if b.function != word and b.name != word:
            continue
        title = f"**{b.kind.value.replace('_', ' ')}**" + (f" `{b.name}`" if b.name else "") + f" ({b.style.value} style)"
        reg = registrar_of(b)
        text = [title, "", _contract_text(reg, companions=False) if reg is not None else f"Contract: {summary_of(b.kind)}"]
        status = _companions_status(b, bindings)
        if status:
            text.append(status)
        for k in ("channel_dim", "visualizer_type", "direction", "metadata_type"):
            if k in b.args:
                text.append(f"- `{k}={b.args[k].text}`")
        seen = (observed or {}).get((b.kind.value, b.name))
        if seen:
            text.append(f"- last run: {seen}")
        parts.append("\n".join(text))
    return "\n\n---\n\n".join(parts) if parts else None
