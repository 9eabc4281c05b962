#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Cut ccsh-bench's output out of a VM serial log and prepare the plot.

    bench-report.py LOG OUTDIR

Writes OUTDIR/bench.txt (the human table and targets), OUTDIR/bench.json
(the JSON document), one gnuplot data file per strategy
(OUTDIR/<strategy>.dat: size, throughput ratio vs system, conversion calls
per GiB) and OUTDIR/plot-settings.gp (x tics and title for scripts/bench.gp).
Kernel log lines ("[ 12.345678] ...") that land between the markers are
dropped. Exits 1, saying why, when the log holds no complete result; exits
3 after writing everything when the kernel log shows a warning, oops or OOM
(the same patterns as tests/summarize.py), printing those lines.
"""
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from summarize import KERNEL_TROUBLE  # noqa: E402  (one list of patterns)

KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\]")
STRATEGIES = ("system", "naive", "cold", "warm", "fill")


def section(lines, name):
    """The lines between CCSH-BENCH-<name>-BEGIN and -END, or None."""
    begin, end = f"CCSH-BENCH-{name}-BEGIN", f"CCSH-BENCH-{name}-END"
    out, inside = [], False
    for line in lines:
        if line == begin:
            out, inside = [], True
        elif line == end and inside:
            return out
        elif inside and not KERNEL_LINE.match(line):
            out.append(line)
    return None


def size_label(size):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return str(size)


def number(value):
    """A gnuplot data field: NaN (skipped by gnuplot) when there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "NaN"
    return repr(value)


def write_data(doc, outdir):
    for strategy in STRATEGIES:
        rows = sorted((r for r in doc["records"] if r["strategy"] == strategy),
                      key=lambda r: r["size_bytes"])
        with open(f"{outdir}/{strategy}.dat", "w") as f:
            f.write("# size_bytes ratio_vs_system calls_per_gib\n")
            for r in rows:
                f.write(f"{r['size_bytes']} {number(r['ratio_vs_system'])} "
                        f"{number(r['calls_per_gib'])}\n")


def write_settings(doc, outdir):
    sizes = sorted({r["size_bytes"] for r in doc["records"]})
    tics = ", ".join(f'"{size_label(s)}" {s}' for s in sizes)
    title = (f"ccsh-bench, Linux {doc['kernel']}, emulated conversions, "
             f"pool limit {size_label(doc['pool_limit_bytes'])}")
    with open(f"{outdir}/plot-settings.gp", "w") as f:
        f.write(f"set xtics ({tics})\n")
        f.write(f"set xrange [{sizes[0] / 2}:{sizes[-1] * 2}]\n")
        f.write(f"title_text = {json.dumps(title)}\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench-report.py LOG OUTDIR")
    log, outdir = sys.argv[1:]
    with open(log, errors="replace") as f:
        lines = [line.rstrip("\r\n") for line in f]
    text = section(lines, "TEXT")
    blob = section(lines, "JSON")
    if text is None or blob is None:
        sys.exit(f"{log}: no complete ccsh-bench output "
                 "(CCSH-BENCH-TEXT/JSON markers missing)")
    try:
        doc = json.loads("\n".join(blob))
    except ValueError as e:
        sys.exit(f"{log}: the ccsh-bench JSON does not parse ({e}); "
                 "a console message may have split a line")
    if not doc.get("records"):
        sys.exit(f"{log}: the ccsh-bench JSON has no records")
    with open(f"{outdir}/bench.txt", "w") as f:
        f.write("\n".join(text) + "\n")
    with open(f"{outdir}/bench.json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    write_data(doc, outdir)
    write_settings(doc, outdir)
    trouble = [line for line in lines if KERNEL_TROUBLE.search(line)]
    for line in trouble[:10]:
        print(f"kernel: {line}", file=sys.stderr)
    if trouble:
        sys.exit(3)


if __name__ == "__main__":
    main()
