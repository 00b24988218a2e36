#!/usr/bin/env python3
"""Transcribes the DeepSeek LLM paper's published numbers into configs/published/deepseek_llm.json.

    python3 scripts/import_published.py [--src ../shared/reference/published/deepseek_llm.json]
                                        [--out configs/published/deepseek_llm.json]

Every record is kept as published (model, benchmark, value, metric, shots, source, note and the
rest), with one field added: `unit`, read from the metric, so a report knows which numbers are
percentages it can put beside an accuracy and which it can't compare at all. A metric this script
has not seen before stops it: decide its unit here rather than guess.
Re-run after the source file changes and review the diff.
"""
import argparse
import hashlib
import json
import os
import sys

FIELDS = ["model", "benchmark", "value", "metric", "unit", "shots", "source", "source_detail",
          "confirmed_primary", "eval_method", "split", "note"]


def unit_of(metric):
    m = metric.lower()
    if "unit not stated" in m:
        return "unknown"   # such a number can't be put beside anything we measure
    if m.startswith(("acc", "pass@", "em", "f1", "prompt-level")):
        return "percent"
    if "bpb" in m:
        return "bits per byte"
    if m.startswith("fraction"):
        return "fraction"
    if "score" in m:
        return "score"
    sys.exit(f"metric {metric!r}: unknown unit; add a rule to unit_of()")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(here, "..", "..", "shared", "reference", "published", "deepseek_llm.json"))
    ap.add_argument("--out", default=os.path.join(here, "..", "configs", "published", "deepseek_llm.json"))
    args = ap.parse_args()

    raw = open(args.src, "rb").read()
    src = json.loads(raw)
    records = []
    for r in src["records"]:
        out = {k: r.get(k) for k in FIELDS if k != "unit"}
        out["unit"] = unit_of(r["metric"])
        if out["note"] is None:
            del out["note"]
        records.append({k: out[k] for k in FIELDS if k in out})
    doc = {
        "_about": "Published numbers of the DeepSeek LLM paper (arXiv:2401.02954) and its official repo, "
                  "transcribed by scripts/import_published.py; regenerate, don't edit. Values are as "
                  "published: accuracies in percent. 'unit' is derived from 'metric'.",
        "transcribed_from": {
            "file": "../shared/reference/published/deepseek_llm.json",
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "publication_notes": {k: src[k] for k in ("_about", "harness_note", "model_aliases") if k in src},
        "sources": src["sources"],
        "records": records,
        "breakdowns": {k: src[k] for k in ("mt_bench_breakdown", "alignbench_breakdown") if k in src},
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{args.out}: {len(records)} records", file=sys.stderr)


if __name__ == "__main__":
    main()
