#!/bin/sh
# Sums the per-run tallies into the closing line; fails if anything failed.
awk '{p += $2; f += $3} END {printf "%d passed, %d failed\n", p, f; exit (f > 0 || NR == 0)}' "$1"
