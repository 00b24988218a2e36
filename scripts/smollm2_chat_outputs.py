#!/usr/bin/env python3
"""Real model outputs for the MATH-family graders' measurement (scripts/grader_diff.py): SmolLM2-135M-
Instruct answers yardstick's own chat prompts, greedy, through Hugging Face transformers on the CPU.

    # the prompts: a gold run in chat style stores every task's chat prompt
    yardstick run --model gold --style chat --tasks math,math500,mgsm_zh,cmath,gaokao_mathcloze,gaokao_mathqa \
        --db chat.db --run-name goldchat
    python3 scripts/smollm2_chat_outputs.py --db chat.db --gguf DIR/model.gguf --per-task 32 \
        --max-new-tokens 384 --out outputs.jsonl --tasks math,math500,mgsm_zh,cmath,gaokao_mathcloze,gaokao_mathqa

The model is the Q4_1 GGUF of scripts/fetch-test-models.sh (issue 14's branch), dequantized by
transformers (needs torch, transformers, gguf, accelerate). Each prompt's user message (between
"User: " and "\\n\\nAssistant:") is put in SmolLM2's own chat template, not yardstick's DeepSeek one.
Why not `yardstick run`: on the 2 shared cores its CPU backend made 4.6 tok/s for this model, and
its tokenizer refuses the GGUF's GPT-2 pre-tokenizer regex. Resumable: docs already in --out are
skipped. Writes {"task", "doc_id", "prediction", "gold"} lines.
"""
import argparse
import json
import os
import sqlite3
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--per-task", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=384)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d, f = os.path.dirname(os.path.abspath(a.gguf)), os.path.basename(a.gguf)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    tok.padding_side = "left"
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    done = set()
    if os.path.exists(a.out):
        with open(a.out) as fh:
            done = {(r["task"], r["doc_id"]) for r in map(json.loads, fh)}
    db = sqlite3.connect(a.db)
    with open(a.out, "a") as out:
        for task in a.tasks.split(","):
            rows = db.execute("SELECT doc_id, prompt, gold FROM samples WHERE task = ? ORDER BY id LIMIT ?",
                              (task, a.per_task)).fetchall()
            if not rows:
                raise SystemExit(f"{a.db}: no stored samples of task {task}")
            rows = [r for r in rows if (task, r[0]) not in done]
            for b in range(0, len(rows), a.batch):
                batch = rows[b:b + a.batch]
                texts = []
                for doc_id, prompt, _ in batch:
                    if not prompt.startswith("User: ") or "\n\nAssistant:" not in prompt:
                        raise SystemExit(f"{a.db}: {task} doc {doc_id}: not a chat prompt (run the gold model with --style chat)")
                    user = prompt[len("User: "):prompt.rindex("\n\nAssistant:")]
                    texts.append(tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                                         add_generation_prompt=True))
                enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
                t0 = time.time()
                with torch.no_grad():
                    ids = model.generate(**enc, max_new_tokens=a.max_new_tokens, do_sample=False,
                                         eos_token_id=im_end, pad_token_id=im_end)
                for (doc_id, _, gold), new in zip(batch, ids[:, enc["input_ids"].shape[1]:]):
                    out.write(json.dumps({"task": task, "doc_id": doc_id, "gold": gold,
                                          "prediction": tok.decode(new, skip_special_tokens=True)},
                                         ensure_ascii=False) + "\n")
                out.flush()
                print(f"{task} {b + len(batch)}/{len(rows)} {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
