#!/usr/bin/env python3
"""A small held-out check of the MATH grader: (prediction, gold, expected verdict) cases written
for this project (none copied from a public grader's test suite), graded by
`yardstick grade --task math`; prints the agreement and every case where the grader disagrees.

    python3 scripts/math_heldout.py build/yardstick

The cases are not unit tests (tests/math_*_test.cpp are): they measure, before and after a change,
how often the grader's verdict matches a careful human's. Exit status 0 whatever the agreement.
"""
import json
import subprocess
import sys
import tempfile

# (prediction, gold, expected correct). Grouped by the form the prediction takes.
CASES = [
    # A bare answer: no \boxed{}, no "answer is".
    (r"\frac{7}{3}", r"\frac{7}{3}", True),
    (r"\frac{11}{6}", r"\frac{11}{5}", False),
    (r"$\frac25$", r"\frac{2}{5}", True),
    (r"\dfrac56", r"\frac{5}{6}", True),
    (r"$\tfrac{9}{4}$", r"2.25", True),
    (r"$m = \frac{2}{7}$", r"\frac27", True),
    (r"$t=-3$", r"-3", True),
    (r"$(2,5]$", r"(2,5]", True),
    (r"$(2,5]$", r"[2,5]", False),
    (r".75", r"\frac34", True),
    (r".75", r"0.7", False),
    (r"2 500", r"2500", True),
    (r"12 345 678", r"12345678", True),
    (r"-4", r"-4", True),
    (r"\sqrt{5}", r"\sqrt5", True),
    (r"$x^2 + 2x + 1$", r"(x+1)^2", True),
    (r"$x^2 + 2x - 1$", r"(x+1)^2", False),
    (r"Monday", r"\text{Monday}", True),
    # Math segments in a sentence.
    (r"Therefore the value is $\frac{3}{8}$.", r"\frac38", True),
    (r"We compute $2+3=5$ and so the sum is \(12\).", r"12", True),
    (r"So we have \[\left(1, -\frac{1}{2}\right)\]", r"\left(1,-\frac12\right)", True),
    (r"Adding gives $4$ and then the total is $9$.", r"4", False),
    (r"It is $6\sqrt{2}$ units long.", r"6\sqrt2", True),
    # Marked answers.
    (r"Final Answer: The final answer is $\frac{1}{4}$. I hope it is correct.", r"0.25", True),
    (r"The answer is $\boxed{\dfrac{5}{8}}$.", r"\frac{5}{8}", True),
    (r"so \boxed{x\in[3,\infty)}", r"[3,\infty)", True),
    (r"\boxed{k = 4}", r"4", True),
    (r"The answer is: $y = 3x - 2$", r"y=3x-2", True),
    (r"所以答案是 $\frac{1}{3}$。", r"\frac{1}{3}", True),
    (r"答案为：12", r"12", True),
    # Shorthand and decoration.
    (r"\boxed{\frac57i}", r"\frac{5}{7}i", True),
    (r"\boxed{\cfrac{2}{9}}", r"\frac{2}{9}", True),
    (r"\boxed{\left[ -1, 4 \right)}", r"[-1,4)", True),
    (r"\boxed{3\!\cdot\!10^{4}}", r"30000", True),
    (r"\boxed{12\,\text{cm}}", r"12", True),
    (r"\boxed{45\textbf{ degrees}}", r"45", True),
    (r"\boxed{7\mbox{ inches}}", r"7", True),
    (r"\boxed{8\quad\text{units}}", r"8", True),
    (r"\boxed{3/7}", r"\frac{3}{7}", True),
    (r"\boxed{(x+3)(x-3)}", r"x^2-9", True),
    (r"\boxed{\left(x+3\right)\left(x-3\right)}", r"(x+3)(x-3)", True),
    (r"\boxed{(x+3)(x-2)}", r"x^2-9", False),
    (r"\boxed{2\sqrt5 + \sqrt9}", r"2\sqrt{5}+\sqrt{9}", True),
    (r"\boxed{2\sqrt5 + 3}", r"2\sqrt{5}+\sqrt{9}", True),
    (r"\boxed{10{,}000}", r"10000", True),
    # Garbage and signs must not be accepted.
    (r"QWERT7Y", r"7", False),
    (r"XK9", r"9", False),
    (r"$-(2,5]$", r"5", False),
    (r"$-(2,5]$", r"(2,5]", False),
    (r"$-\{1,2\}$", r"\{1,2\}", False),
    (r"\boxed{-[0,1)}", r"[0,1)", False),
    (r"$\frac13$ is wrong, really it is $\frac12$", r"\frac13", False),
    (r"the label is A3", r"3", False),
    (r"see equation (\ref{eq4})", r"4", False),
    (r"\frac{1}{8}", r"8", False),
    (r"$x_2$", r"2", False),
    # Last number standing on its own.
    (r"I think it's 42", r"42", True),
    (r"There are 17 apples left over.", r"17", True),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: math_heldout.py PATH/TO/yardstick")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for i, (pred, gold, _) in enumerate(CASES):
            f.write(json.dumps({"doc_id": str(i), "prediction": pred, "gold": gold}) + "\n")
        path = f.name
    r = subprocess.run([sys.argv[1], "grade", "--task", "math", "--input", path], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"yardstick grade failed ({r.returncode}): {r.stderr}")
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    if len(lines) != len(CASES):
        sys.exit(f"yardstick grade returned {len(lines)} lines for {len(CASES)} cases")
    agree = 0
    for (pred, gold, expect), out in zip(CASES, lines):
        got = bool(out["correct"])
        if got == expect:
            agree += 1
        else:
            v = out["verdicts"][0]
            print(f"disagree: prediction {pred!r} gold {gold!r}: expected {expect}, got {got} "
                  f"(extracted {v.get('detail', {}).get('raw')!r}, status {v['status']})")
    print(f"agreement: {agree}/{len(CASES)} ({100.0 * agree / len(CASES):.1f}%)")


if __name__ == "__main__":
    main()
