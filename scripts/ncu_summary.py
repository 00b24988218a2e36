#!/usr/bin/env python3
"""Sums Nsight Compute's per-launch gpu__time_duration (ncu --csv) by kernel and grid size, so
the launches of one decode step stand apart from prefill's. Usage: ncu_summary.py ncu.csv"""
import collections
import csv
import sys


def main():
    rows = [r for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"'))
            if r.get("Metric Name") == "gpu__time_duration.sum"]
    groups = collections.defaultdict(list)
    for r in rows:
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}[r["Metric Unit"]]
        name = r["Kernel Name"].split("(")[0][:70]
        groups[(name, r["Grid Size"], r["Block Size"])].append(float(r["Metric Value"].replace(",", "")) * scale)
    print(f"{len(rows)} launches")
    print(f"{'kernel':70} {'grid':>16} {'block':>12} {'n':>6} {'mean us':>9} {'total us':>10}")
    for (name, grid, block), t in sorted(groups.items(), key=lambda kv: -sum(kv[1]))[:45]:
        print(f"{name:70} {grid:>16} {block:>12} {len(t):6d} {sum(t) / len(t):9.2f} {sum(t):10.1f}")


if __name__ == "__main__":
    main()
