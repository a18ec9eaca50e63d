"""The README's diagnostic-code table is the one generated from the registry."""

from pathlib import Path

from tensorleap_ls import docs
from tensorleap_ls.core.codes import CODES

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
