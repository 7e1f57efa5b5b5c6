"""Write the blank exercise templates from the solutions in ``solutions/``.

Everything between ``# ---- TODO`` and ``# ---- end TODO ----`` is replaced by a
``raise NotImplementedError``; the rest of each file is kept as it is, so a template and
its solution never drift apart (tests/test_exercises.py checks they are in sync).

    python lessons/exercises/make_templates.py
"""
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
FENCE = re.compile(r"(?P<indent>[ \t]*)(?P<open># ---- TODO[^\n]*\n)(?P<body>.*?)(?P=indent)# ---- end TODO ----\n",
                   re.DOTALL)


def blank(source: str) -> str:
    def replace(match):
        indent = match["indent"]
        return (f"{indent}{match['open']}{indent}# write your code here, then delete the next line\n"
                f"{indent}raise NotImplementedError(\"fill in the TODO\")\n{indent}# ---- end TODO ----\n")
    return FENCE.sub(replace, source)


def templates():
    """{template path: text} for every solution."""
    return {HERE / s.name: blank(s.read_text()) for s in sorted((HERE / "solutions").glob("ex*.py"))}


if __name__ == "__main__":
    for path, text in templates().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
