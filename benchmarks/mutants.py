"""Mutation check: which small changes to the code the unit tests fail to notice.

mutmut 3 mutates every function of the modules `[tool.mutmut] only_mutate` in pyproject.toml names (the
schedule, the trial rules, the probe judge, the saving, the intervals, the planner), one change at a time
(`<` → `<=`, `+ 1` → `+ 2`, a constant, a dropped argument …), and runs the unit tests that call the
mutated function (`pytest_add_cli_args_test_selection`; never the integration tests). A mutant the tests
pass on *survived*: either the change means nothing (an equivalent mutant) or no test pins what it
changed. This script starts from a clean `mutants/` (mutmut keeps old verdicts otherwise), runs it, and
prints per module: mutants, killed, survived and not covered by any selected test, then each survivor
as file:line and the change. docs/mutants.md records runs and the triage of their survivors.

    make mutants                       (installs mutmut into .venv on first use)
    .venv/bin/python benchmarks/mutants.py [--max-children 2] [--report-only]

Timeouts count CPU seconds (`timeout_multiplier` × a mutant's tests' own time), but mutmut also stops a
mutant at half that limit in wall time: on a loaded host a slow mutant can time out without looping, so
`--again --timeouts` tests those again (on a quieter host) with the survivors.
"""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILLED = {"killed", "timeout", "caught by type check"}


def run_mutmut(max_children: int, names: list[str] | None = None) -> float:
    """A fresh mutmut run (of every mutant, or only of `names`); its minutes. Its progress output goes to
    mutants/mutmut-run.log."""
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    log = ROOT / "mutmut-run.log"
    start = time.monotonic()
    mutmut = str(Path(sys.executable).parent / "mutmut")
    with log.open("w") as out:
        code = subprocess.call(
            [mutmut, "run", "--max-children", str(max_children), *(names or [])],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    minutes = (time.monotonic() - start) / 60
    (ROOT / "mutants").mkdir(exist_ok=True)
    shutil.move(log, ROOT / "mutants" / log.name)
    if code != 0:
        tail = (ROOT / "mutants" / log.name).read_text(errors="replace")[-3000:]
        sys.exit(f"mutmut run failed ({code}):\n{tail}")
    return minutes


def verdicts() -> dict[str, dict[str, str]]:
    """Each mutated file's mutants and their status, as the last run left them in mutants/."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        path = meta.relative_to(ROOT / "mutants").with_suffix("")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            found[str(path)] = {name: status_by_exit_code[code] for name, code in codes.items()}
    return found


def _function_span(source: str, function: str, class_name: str | None) -> tuple[int, int]:
    """First and last line of a function (with its decorators), or of a class's method."""
    tree = ast.parse(source)
    scope: list[ast.stmt] = tree.body
    if class_name is not None:
        scope = next(n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    node = next(
        n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function
    )
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return first, node.end_lineno or node.lineno


def _where_and_what(name: str, path: Path) -> tuple[int, str]:
    """The file line a mutant changes and the change, `old → new` (from mutmut's diff of the function)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    diff = get_diff_for_mutant(name, path=path).splitlines()
    old = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    new = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    what = " / ".join(s.strip() for s in old) + " → " + " / ".join(s.strip() for s in new)
    # The hunk counts lines from the function's first; find the changed line near there in the file.
    hunk = next((line for line in diff if line.startswith("@@")), "@@ -1 @@")
    start = re.match(r"@@ -(\d+)", hunk)
    offset = int(start.group(1)) if start else 1
    body = diff[diff.index(hunk) + 1 :] if hunk in diff else []
    for line in body:
        if line.startswith("-"):
            break
        offset += 1
    source = path.read_text()
    lines = source.splitlines()
    function, class_name = orig_function_and_class_names_from_key(name)
    first, last = _function_span(source, function, class_name)
    guess = first + offset - 1
    if old:
        matches = [n for n in range(first, last + 1) if lines[n - 1] == old[0]]
        if matches:
            guess = min(matches, key=lambda n: abs(n - guess))
    return guess, what


def report(by_path: dict[str, dict[str, str]], minutes: float | None) -> None:
    rows = []
    survivors: list[tuple[str, int, str, str, str]] = []
    for name_of_path, statuses in by_path.items():
        path = Path(name_of_path)
        count = Counter("killed" if s in KILLED else s for s in statuses.values())
        rows.append((path, len(statuses), count))
        for name, status in sorted(statuses.items()):
            if status not in KILLED:
                line, what = _where_and_what(name, path)
                survivors.append((str(path.relative_to("src/perseus")), line, status, name, what))
    total: Counter[str] = Counter()
    print("| module | mutants | killed | survived | no tests | other |")
    print("|---|---:|---:|---:|---:|---:|")
    for path, n, count in rows:
        total.update(count)
        other = n - count["killed"] - count["survived"] - count["no tests"]
        short = path.relative_to("src/perseus")
        print(f"| {short} | {n} | {count['killed']} | {count['survived']} | {count['no tests']} | {other} |")
    n = sum(r[1] for r in rows)
    other = n - total["killed"] - total["survived"] - total["no tests"]
    print(f"| **all** | {n} | {total['killed']} | {total['survived']} | {total['no tests']} | {other} |")
    if minutes is not None:
        print(f"\n{minutes:.1f} minutes")
    print(f"\n{len(survivors)} not killed (file:line, status, mutant, change):\n")
    for file, line, status, name, what in sorted(survivors, key=lambda s: (s[0], s[1], s[3])):
        print(f"- `{file}:{line}` {status} `{name.rpartition('.')[2]}`: `{what}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report-only", action="store_true", help="report the last run; run nothing")
    parser.add_argument(
        "--again",
        action="store_true",
        help="test again only the mutants the last run did not kill (tests added since cannot revive a\n"
        "killed mutant of unchanged code); report them merged with its kills",
    )
    parser.add_argument(
        "--timeouts",
        action="store_true",
        help="with --again, also test again the mutants the last run killed by a timeout: mutmut also\n"
        "stops a mutant at half its CPU limit in wall time, so on a loaded host a slow mutant can\n"
        "time out without looping",
    )
    args = parser.parse_args()
    os.chdir(ROOT)  # mutmut's helpers read pyproject.toml and mutants/ relative to the working directory
    saved = ROOT / "mutants" / "verdicts.json"
    if args.report_only:
        if not saved.exists():  # a run this script did not start (e.g. interrupted): as mutmut left it
            saved.write_text(json.dumps(verdicts(), indent=1, ensure_ascii=False))
        report(json.loads(saved.read_text()), None)
        return
    before = json.loads(saved.read_text()) if args.again else {}
    # Mutants the last run left unchecked (an interrupted run) stay so: --again retests its verdicts only.
    again = {"timeout"} if args.timeouts else set()
    retest = [
        n
        for statuses in before.values()
        for n, s in statuses.items()
        if s not in (KILLED - again) | {"not checked"}
    ]
    if args.again and not retest:
        sys.exit("nothing to test again: the last run killed every mutant")
    minutes = run_mutmut(args.max_children, retest or None)
    found = verdicts()
    if args.again:
        found = {
            path: {n: found[path][n] if n in retest else s for n, s in statuses.items()}
            for path, statuses in before.items()
        }
    saved.write_text(json.dumps(found, indent=1, ensure_ascii=False))
    report(found, minutes)


if __name__ == "__main__":
    main()
