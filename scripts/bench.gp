# SPDX-License-Identifier: GPL-2.0
# Draw dir/bench.png from the files scripts/bench-report.py leaves in dir:
#   gnuplot -e "dir='build/bench'" scripts/bench.gp
# Left: median throughput of each strategy over the system heap's.
# Right: conversion calls per GiB allocated, as counted in emu_log.
if (!exists("dir")) dir = "build/bench"
load dir."/plot-settings.gp"

set terminal pngcairo noenhanced size 1400,600 font "DejaVu Sans,10"
set output dir."/bench.png"
set datafile missing "NaN"
strategies = "system naive cold warm fill"
file(i) = dir."/".word(strategies, i).".dat"

set multiplot layout 1,2 title title_text
set logscale x 2
set grid
set key below horizontal samplen 2
unset xlabel		# the tics say it: buffer size

set title "throughput relative to the system heap, by buffer size (median latency)"
set ylabel "throughput / system heap"
set yrange [0:*]
plot for [i=1:5] file(i) using 1:2 with linespoints linetype i \
	linewidth 2 pointsize 1.2 title word(strategies, i), \
	0.8 with lines dashtype 2 linecolor "gray40" title "target for warm: 0.8"

set title "conversion calls per GiB allocated, by buffer size (emu_log)"
set ylabel "calls per GiB (log; 0 drawn at 0.1)"
set logscale y 10
set yrange [0.05:*]
set ytics add ("0" 0.1)
set format y "%.0f"
plot for [i=1:5] file(i) using 1:($3 > 0 ? $3 : 0.1) with linespoints \
	linetype i linewidth 2 pointsize 1.2 title word(strategies, i), \
	512 with lines dashtype 2 linecolor "gray40" \
	title "one call per 2 MiB allocated (512)"
unset multiplot
