"""What is derived from the registry (the README's code table, the child's constants) agrees with it, and
no module of the server spells a code outside the registry."""

import ast
import re
from pathlib import Path

from tensorleap_ls import docs
from tensorleap_ls.core import codes
from tensorleap_ls.core.codes import CODES, constant_name

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_matches_registry():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(docs.BEGIN) + len(docs.BEGIN), text.index(docs.END)
    assert text[start:end].strip() == docs.table().strip(), "run `python -m tensorleap_ls.docs --write README.md`"


def test_every_code_is_documented_once():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- codes:begin"):text.index("<!-- codes:end")]
    for code in CODES:
        assert table.count(f"| `{code}` ") == 1, code


def test_codes_are_grouped_and_unique():
    for code, c in CODES.items():
        assert code.startswith("TL") and len(code) == 5 and code[2] in "123456"
        assert c.summary.endswith((".", ")")) and c.example


def test_each_row_is_assigned_to_the_constant_named_after_its_slug():
    for c in CODES.values():
        assert getattr(codes, constant_name(c), None) == c.code, f"{c.code}: expected `{constant_name(c)} = _code(...)`"


def test_the_child_constants_are_generated_from_the_registry():
    assert docs.CHILD_CODES.read_text(encoding="utf-8") == docs.child_codes(), \
        "run `python -m tensorleap_ls.docs --write README.md`"


def test_no_code_string_outside_the_registry():
    """Checks emit named constants (``MISSING_PREPROCESS``), never ``"TL101"``: one place per code."""
    pkg = Path(docs.__file__).resolve().parent
    allowed = {pkg / "core" / "codes.py", docs.CHILD_CODES}
    spelled = []
    for path in sorted(pkg.rglob("*.py")):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"TL\d{3}", node.value):
                spelled.append(f"{path.relative_to(pkg)}:{node.lineno} {node.value}")
    assert spelled == [], spelled
