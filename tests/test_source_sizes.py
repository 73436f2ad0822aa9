"""Source files stay small enough to hold in one's head: none over 500 lines without a reason at its top."""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "deepimagine"
LIMIT = 500


def test_no_source_file_over_the_limit_without_a_reason():
    unexplained = []
    for f in sorted(SRC.rglob("*.py")):
        text = f.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > LIMIT and "Over 500 lines:" not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{f.relative_to(SRC.parent)} ({n} lines)")
    assert not unexplained, ("over 500 lines with no 'Over 500 lines: <reason>' in the module docstring: "
                             + ", ".join(unexplained))
