#!/usr/bin/env python3
"""The gold self-check without a marker: every reference answer of a gold run, given back as a
prediction with no \\boxed{} and no "answer is" (bare, "\\frac{1}{2}", and in a math segment,
"$\\frac{1}{2}$"), graded against its gold by `yardstick grade`. A chat model answering 0-shot
writes exactly this; an answer the grader can't read back bare is one it grades wrong.

    yardstick run --model gold --tasks math,math500,gaokao_mathcloze,gaokao_mathqa,mgsm_zh --db gold.db --run-name gold
    python3 scripts/math_bare_gold.py PATH/TO/yardstick gold.db [--show N]

The reference answer is the one the equivalence verdict read from the gold (detail "gold").
Exit status 0 whatever the counts.
"""
import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile

TASKS = ["math", "math500", "gaokao_mathcloze", "gaokao_mathqa", "mgsm_zh"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("yardstick")
    ap.add_argument("db")
    ap.add_argument("--show", type=int, default=0, help="answers not read back to print per task and form")
    a = ap.parse_args()
    db = sqlite3.connect(a.db)
    for task in TASKS:
        rows = db.execute("SELECT s.doc_id, s.gold, v.detail_json FROM samples s JOIN verdicts v ON v.sample_id = s.id "
                          "WHERE s.task = ? AND v.scorer = 'equivalence'", (task,)).fetchall()
        if not rows:
            print(f"{task}: no equivalence verdicts in {a.db}")
            continue
        counts = []
        for form in ["{}", "${}$"]:
            preds = [form.format(json.loads(detail)["gold"]) for _, _, detail in rows]
            with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
                for (doc_id, gold, _), pred in zip(rows, preds):
                    f.write(json.dumps({"doc_id": doc_id, "prediction": pred, "gold": gold}, ensure_ascii=False) + "\n")
            p = subprocess.run([a.yardstick, "grade", "--task", task, "--input", f.name], capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"{a.yardstick} grade --task {task} failed ({p.returncode}): {p.stderr.strip()}")
            out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
            counts.append(sum(bool(o["correct"]) for o in out))
            misses = [(pred, o["verdicts"][0]["detail"].get("raw")) for pred, o in zip(preds, out) if not o["correct"]]
            for pred, raw in misses[:a.show]:
                print(f"  {task} {form}: {pred!r} read as {raw!r}")
        print(f"{task}: bare {counts[0]}/{len(rows)}, in $..$ {counts[1]}/{len(rows)}")


if __name__ == "__main__":
    main()
