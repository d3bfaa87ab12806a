"""Mutation score per module from a finished `mutmut run` (reads mutants/**/*.meta).

    python scripts/mutation_score.py [--survivors]

A mutant counts as caught when a test failed on it (killed), it hung (timeout) or the
type checker refused it; "no tests" and "survived" count as missed. One kind of survivor is
set apart as equivalent, by rule and never by hand: a mutant whose only change is the letter
case of SQL (a string with an SQL keyword in capitals) outside its quoted literals (SQLite
reads keywords, table and column names without regard to case, so `SELECT` and `select` run
the same query). The score is
caught / (caught + missed); the column "sql case" shows how many were set apart.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

CAUGHT = {
    1: "killed",
    3: "killed",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "type check",
    -11: "crash",
    -9: "crash",
}
MISSED = {0: "survived", 5: "no tests", 33: "no tests"}
_MODULE = re.compile(r"^(.*?)\.x(?:ǁ|_)")
# SQL as this project writes it: keywords in capitals (a message to the user never has them).
_SQL = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|BEGIN|COMMIT|ROLLBACK|WITH|"
    r"JOIN|WHERE|AND|OR|ORDER|GROUP|LIMIT|FROM|SET|VALUES|ON|IN|IS|NULL|NOT|AS|BY|MATCH|LIKE|"
    r"ESCAPE|CASE|WHEN|THEN|ELSE|END|EXISTS|BETWEEN|DESC|ASC|INTO|TABLE|INDEX|CONFLICT|DO)\b"
)
_QUOTED = re.compile(r"'[^']*'")


@cache
def _functions(path: Path) -> dict[str, ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _sql_case_only(original: str, mutant: str) -> bool:
    return (
        original != mutant
        and original.lower() == mutant.lower()
        and bool(_SQL.search(original))
        and _QUOTED.findall(original) == _QUOTED.findall(mutant)
    )


def module_of(mutant: str) -> str:
    match = _MODULE.match(mutant)
    return match.group(1) if match else mutant.rsplit(".", 1)[0]


def _shape(function: ast.AST) -> str:
    """The function with its name and its strings blanked out."""
    copy = ast.parse(ast.unparse(function)).body[0]
    assert isinstance(copy, ast.FunctionDef | ast.AsyncFunctionDef)
    copy.name = ""
    for node in ast.walk(copy):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(copy)


def sql_case_equivalent(meta: Path, mutant: str) -> bool:
    """Whether the mutant only changes the case of SQL outside its quoted literals."""
    functions = _functions(meta.with_suffix(""))
    name = mutant[len(module_of(mutant)) + 1 :]
    mutated = functions.get(name)
    original = functions.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    if mutated is None or original is None:
        return False
    before = [n.value for n in ast.walk(original) if isinstance(n, ast.Constant)]
    after = [n.value for n in ast.walk(mutated) if isinstance(n, ast.Constant)]
    if len(before) != len(after):
        return False
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    return (
        bool(changed)
        and all(
            isinstance(a, str) and isinstance(b, str) and _sql_case_only(a, b) for a, b in changed
        )
        and _shape(original) == _shape(mutated)
    )


def main() -> int:
    results: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for meta in sorted(Path("mutants").rglob("*.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for mutant, code in codes.items():
            module = module_of(mutant)
            if code in CAUGHT:
                results[module]["caught"] += 1
            elif code in MISSED and sql_case_equivalent(meta, mutant):
                results[module]["sql case"] += 1
            elif code in MISSED:
                results[module]["missed"] += 1
                survivors.append(mutant)
            elif code is None:
                results[module]["not run"] += 1
            else:
                results[module]["other"] += 1
    total = Counter[str]()
    print(f"{'module':42} {'caught':>7} {'missed':>7} {'sql case':>8} {'not run':>7} {'score':>6}")
    for module in sorted(results):
        row = results[module]
        total.update(row)
        done = row["caught"] + row["missed"]
        score = f"{row['caught'] / done:6.1%}" if done else "     -"
        print(
            f"{module:42} {row['caught']:7} {row['missed']:7} {row['sql case']:8} "
            f"{row['not run']:7} {score}"
        )
    done = total["caught"] + total["missed"]
    if done:
        print(
            f"{'all':42} {total['caught']:7} {total['missed']:7} {total['not run']:7} "
            f"{total['caught'] / done:6.1%}"
        )
    if "--survivors" in sys.argv:
        print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
