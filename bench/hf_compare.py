#!/usr/bin/env python3
"""Hugging Face transformers on the same shape and workloads as `yardstick bench`, for its
--compare-hf column, and the reference log-probs for its agreement check.

Run by `yardstick bench --compare-hf` (which passes everything on the command line); prints
progress on stderr and writes one JSON file:
  {"torch": ..., "transformers": ..., "device": ...,
   "prefill_tok_s": x, "decode_tok_s": {"1": x, "8": x, ...},
   "agreement": [{"ids": [...], "logprobs": [...], "argmax": [...], "margin": [...],
                  "logprobs_fp32": [...], "argmax_fp32": [...]}, ...]}
The _fp32 fields come from the same weights upcast to fp32 (the closest to exact that fits),
so the bf16 errors of yardstick and of HF can each be measured against it.
For a synthetic shape the model is built with transformers' own initialisation in bf16 on the
GPU and saved (safetensors) to --save-model, so that yardstick can load the very same weights.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def log(msg):
    print(f"hf_compare: {msg}", file=sys.stderr, flush=True)


def timed(fn, reps, warm_up=True):
    """Median seconds of reps calls of fn (after one warm-up call unless warm_up is False)."""
    if warm_up:
        fn()
        torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_model(args):
    if args.model:
        log(f"loading {args.model}")
        return LlamaForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16).to("cuda").eval()
    cfg = LlamaConfig.from_json_file(args.config)
    log(f"building a random {cfg.num_hidden_layers}-layer model of hidden size {cfg.hidden_size}")
    torch.manual_seed(args.seed)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    return model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", help="config.json of a synthetic shape")
    ap.add_argument("--model", help="a model directory (instead of --config)")
    ap.add_argument("--save-model", help="save the synthetic model here (safetensors)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prefill-seqs", type=int, default=8)
    ap.add_argument("--prefill-len", type=int, default=512)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--batches", default="1,8,32,128,256")
    ap.add_argument("--agreement-prompts", type=int, default=4)
    ap.add_argument("--agreement-len", type=int, default=128)
    args = ap.parse_args()

    model = build_model(args)
    V = model.config.vocab_size
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    out = {"torch": torch.__version__, "transformers": transformers.__version__,
           "device": torch.cuda.get_device_name(), "decode_tok_s": {}}

    # Agreement data first: teacher-forced log-probs over random prompts.
    agreement = []
    def teacher_forced(ids):
        lp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
        return lp[:-1].gather(1, ids[0, 1:, None])[:, 0], torch.topk(lp[:-1], 2, dim=-1)

    prompts = [torch.randint(3, V, (1, args.agreement_len), device="cuda", generator=gen)
               for _ in range(args.agreement_prompts)]
    with torch.no_grad():
        for ids in prompts:
            lp, top2 = teacher_forced(ids)
            agreement.append({
                "ids": ids[0].tolist(),
                "logprobs": lp.tolist(),
                "argmax": top2.indices[:, 0].tolist(),
                "margin": (top2.values[:, 0] - top2.values[:, 1]).tolist(),
            })
    out["agreement"] = agreement

    with torch.no_grad():
        ids = torch.randint(3, V, (args.prefill_seqs, args.prefill_len), device="cuda", generator=gen)
        # Only the last position's logits, as yardstick computes for a prompt.
        t = timed(lambda: model(ids, use_cache=False, logits_to_keep=1), reps=3)
        out["prefill_tok_s"] = args.prefill_seqs * args.prefill_len / t
        log(f"prefill {out['prefill_tok_s']:.0f} tok/s")

        for b in [int(x) for x in args.batches.split(",")]:
            ids = torch.randint(3, V, (b, args.prompt_len), device="cuda", generator=gen)
            mask = torch.ones_like(ids)

            def generate(n):
                return model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                                      do_sample=False, pad_token_id=0)

            try:
                # generate() warms up on the first batch size only: each call costs seconds.
                t1 = timed(lambda: generate(2), reps=1, warm_up=not out["decode_tok_s"])
                tn = timed(lambda: generate(args.decode_steps), reps=1, warm_up=False)
            except torch.OutOfMemoryError:
                log(f"decode batch {b}: out of memory")
                continue
            out["decode_tok_s"][str(b)] = b * (args.decode_steps - 2) / (tn - t1)
            log(f"decode batch {b}: {out['decode_tok_s'][str(b)]:.1f} tok/s")

    if args.save_model:
        log(f"saving to {args.save_model}")
        model.save_pretrained(args.save_model)
    log("fp32 reference log-probs")
    model.float()
    with torch.no_grad():
        for ids, a in zip(prompts, agreement):
            lp, top2 = teacher_forced(ids)
            a["logprobs_fp32"] = lp.tolist()
            a["argmax_fp32"] = top2.indices[:, 0].tolist()
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
