#!/usr/bin/env python3
"""How many stored outputs change verdict between two yardstick graders: each task's outputs are
graded by `yardstick grade` of both binaries (say main's build and this branch's) and the primary
verdicts compared, per task, listing every output whose verdict turned.

    python3 scripts/grader_diff.py OLD/yardstick NEW/yardstick OUTPUTS.jsonl [--show N]

OUTPUTS.jsonl: one {"task", "doc_id", "prediction", "gold"} a line (a run's stored samples:
`sqlite3 -json runs.db "SELECT task, doc_id, output AS prediction, gold FROM samples"` turned into
lines). Grading is all this does: no model runs. Exit status 0 whatever changed.
"""
import argparse
import collections
import json
import subprocess
import sys
import tempfile


def grade(binary, task, rows):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in rows:
            f.write(json.dumps({"doc_id": r["doc_id"], "prediction": r["prediction"], "gold": r["gold"]},
                               ensure_ascii=False) + "\n")
        path = f.name
    p = subprocess.run([binary, "grade", "--task", task, "--input", path], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{binary} grade --task {task} failed ({p.returncode}): {p.stderr.strip()}")
    out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if len(out) != len(rows):
        sys.exit(f"{binary} grade --task {task}: {len(out)} lines back for {len(rows)} outputs")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("outputs")
    ap.add_argument("--show", type=int, default=3, help="changed outputs to print per task")
    a = ap.parse_args()
    by_task = collections.OrderedDict()
    with open(a.outputs) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            missing = {"task", "doc_id", "prediction", "gold"} - r.keys()
            if missing:
                sys.exit(f"{a.outputs}:{n}: missing field(s) {sorted(missing)}")
            by_task.setdefault(r["task"], []).append(r)
    print("| task | outputs | answer read differently | correct old | correct new | changed | wrong->right | right->wrong |")
    print("|---|---|---|---|---|---|---|---|")
    shown = []
    for task, rows in by_task.items():
        old, new = grade(a.old, task, rows), grade(a.new, task, rows)
        up = down = 0
        reread = sum(o["extracted"] != w["extracted"] for o, w in zip(old, new))
        for r, o, w in zip(rows, old, new):
            if o["correct"] == w["correct"]:
                continue
            up += bool(w["correct"])
            down += bool(o["correct"])
            if sum(1 for s in shown if s[0] == task) < a.show:
                shown.append((task, r, o, w))
        n_old = sum(bool(o["correct"]) for o in old)
        n_new = sum(bool(w["correct"]) for w in new)
        print(f"| {task} | {len(rows)} | {reread} | {n_old} | {n_new} | {up + down} | {up} | {down} |")
    for task, r, o, w in shown:
        raw = lambda g: g["verdicts"][0].get("detail", {}).get("raw", g["verdicts"][0].get("extracted"))
        print(f"\n{task} doc {r['doc_id']}: {bool(o['correct'])} -> {bool(w['correct'])}; "
              f"read {raw(o)!r} -> {raw(w)!r}; gold tail {r['gold'][-60:]!r}\n  output tail: {r['prediction'][-200:]!r}")


if __name__ == "__main__":
    main()
