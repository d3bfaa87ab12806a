"""Mutation score per module from a finished `mutmut run` (reads mutants/**/*.meta).

    python scripts/mutation_score.py [--survivors]

A mutant counts as caught when a test failed on it (killed), it hung (timeout) or the
type checker refused it; "no tests" and "survived" count as missed.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
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


def module_of(mutant: str) -> str:
    match = _MODULE.match(mutant)
    return match.group(1) if match else mutant.rsplit(".", 1)[0]


def main() -> int:
    results: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for meta in sorted(Path("mutants").rglob("*.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for mutant, code in codes.items():
            module = module_of(mutant)
            if code in CAUGHT:
                results[module]["caught"] += 1
            elif code in MISSED:
                results[module]["missed"] += 1
                survivors.append(mutant)
            elif code is None:
                results[module]["not run"] += 1
            else:
                results[module]["other"] += 1
    total = Counter[str]()
    print(f"{'module':42} {'caught':>7} {'missed':>7} {'not run':>7} {'score':>6}")
    for module in sorted(results):
        row = results[module]
        total.update(row)
        done = row["caught"] + row["missed"]
        score = f"{row['caught'] / done:6.1%}" if done else "     -"
        print(f"{module:42} {row['caught']:7} {row['missed']:7} {row['not run']:7} {score}")
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
