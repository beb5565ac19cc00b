#!/usr/bin/env python3
"""Helper for run.sh: selects os-ken switch test cases and scores the tool's log.

Two subcommands, both pure file work (no network, no os-ken import):

  cases.py select OF13_DIR OUT_DIR [--duration S] [--no-throughput] CASE...
      Copies the chosen JSON files (CASE is "match/00_IN_PORT.json", a family
      such as "match", or "all") into OUT_DIR, flattened, and writes
      OUT_DIR/../index.tsv mapping each file's description to its path.
      --duration rewrites the 30 s default of every throughput case (the
      "ingress": {"packets": ...} cases of the group and meter families);
      --no-throughput drops those cases instead.

  cases.py score INDEX_TSV TOOL_LOG OUT_DIR
      Parses the tool's log (one "    <case> OK|ERROR" line per case, each
      file introduced by its description line) into OUT_DIR/results.tsv
      (file, ok, error) and OUT_DIR/cases.tsv (file, case, result, detail),
      and prints the per-file table. Cases of a selected file that never
      reported (the run died or timed out) count as ERROR with detail
      "not run".
"""

import json
import os
import re
import sys


def is_throughput(test):
    return any(
        isinstance(step.get("ingress"), dict) and "packets" in step["ingress"]
        for step in test.get("tests", [])
    )


def expand(of13, case):
    case = case.strip()
    if not case or case.startswith("#"):
        return []
    if case == "all":
        case = ""
    path = os.path.join(of13, case)
    if os.path.isdir(path):
        found = []
        for root, _dirs, files in os.walk(path):
            for name in files:
                if name.endswith(".json"):
                    found.append(os.path.relpath(os.path.join(root, name), of13))
        return sorted(found)
    if os.path.isfile(path):
        return [case]
    sys.exit(f"cases.py: no such case file or family: {case!r} (under {of13})")


def select(argv):
    of13, out_dir = argv[0], argv[1]
    duration, no_throughput, cases = None, False, []
    rest = iter(argv[2:])
    for arg in rest:
        if arg == "--duration":
            duration = int(next(rest))
        elif arg == "--no-throughput":
            no_throughput = True
        else:
            cases.append(arg)
    files = []
    for case in cases or ["all"]:
        for rel in expand(of13, case):
            if rel not in files:
                files.append(rel)
    os.makedirs(out_dir, exist_ok=True)
    index = []
    for rel in files:
        with open(os.path.join(of13, rel)) as f:
            doc = json.load(f)
        kept = []
        for item in doc:
            if isinstance(item, str):
                kept.append(item)
                continue
            if is_throughput(item):
                if no_throughput:
                    continue
                if duration is not None:
                    for step in item["tests"]:
                        packets = step.get("ingress", {}).get("packets")
                        if isinstance(packets, dict):
                            packets["duration_time"] = duration
            kept.append(item)
        descs = [x for x in kept if isinstance(x, str)]
        ncases = sum(1 for x in kept if not isinstance(x, str))
        if not descs or ncases == 0:
            continue
        with open(os.path.join(out_dir, rel.replace("/", "__")), "w") as f:
            json.dump(kept, f, indent=1)
        index.append((descs[-1], rel, ncases))
    with open(os.path.join(os.path.dirname(out_dir.rstrip("/")), "index.tsv"), "w") as f:
        for desc, rel, n in index:
            f.write(f"{desc}\t{rel}\t{n}\n")
    print(f"{len(index)} files, {sum(n for _, _, n in index)} cases selected")


CASE_LINE = re.compile(r"^    (\S.*?)\s+(OK|ERROR)\s*$")


def score(argv):
    index_path, log_path, out_dir = argv
    by_desc, order, expected = {}, [], {}
    with open(index_path) as f:
        for line in f:
            desc, rel, n = line.rstrip("\n").split("\t")
            by_desc[desc] = rel
            order.append(rel)
            expected[rel] = int(n)
    results = {rel: [] for rel in order}
    current = None
    with open(log_path, errors="replace") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "--- Test report ---" in line:
            break
        stripped = line.strip()
        if stripped in by_desc and not line.startswith(" "):
            current = by_desc[stripped]
        else:
            m = CASE_LINE.match(line)
            if m and current is not None:
                detail = ""
                if m.group(2) == "ERROR" and i + 1 < len(lines) and lines[i + 1].startswith("        "):
                    detail = lines[i + 1].strip()
                    i += 1
                results[current].append((m.group(1), m.group(2), detail))
        i += 1
    os.makedirs(out_dir, exist_ok=True)
    tot_ok = tot_err = 0
    rows = []
    with open(os.path.join(out_dir, "cases.tsv"), "w") as cases_out:
        for rel in order:
            got = results[rel]
            for _ in range(expected[rel] - len(got)):
                got.append(("(unreported case)", "ERROR", "not run"))
            ok = sum(1 for _, r, _ in got if r == "OK")
            err = len(got) - ok
            tot_ok += ok
            tot_err += err
            rows.append((rel, ok, err))
            for case, res, detail in got:
                cases_out.write(f"{rel}\t{case}\t{res}\t{detail}\n")
    with open(os.path.join(out_dir, "results.tsv"), "w") as out:
        out.write("file\tok\terror\n")
        for rel, ok, err in rows:
            out.write(f"{rel}\t{ok}\t{err}\n")
        out.write(f"TOTAL\t{tot_ok}\t{tot_err}\n")
    width = max([len(r) for r, _, _ in rows] + [5])
    for rel, ok, err in rows:
        print(f"{rel:<{width}} OK {ok:4d}  ERROR {err:4d}")
    print(f"{'TOTAL':<{width}} OK {tot_ok:4d}  ERROR {tot_err:4d}")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("select", "score"):
        sys.exit(__doc__)
    if sys.argv[1] == "select":
        select(sys.argv[2:])
    else:
        score(sys.argv[2:])


if __name__ == "__main__":
    main()
