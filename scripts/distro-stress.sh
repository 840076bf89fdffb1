#!/bin/sh
# Runs the distribution cycle of tests/distro/cycle.sh N times on GICv2 (the root
# disk in a device process) and N times on GICv3 + ITS, and P times on GICv3 + ITS
# with the root disk in a device process, two cycles at a time; prints one line per
# cycle and a tally. Each failed cycle's output and console log stay in
# build/distro-stress/.
#   scripts/distro-stress.sh [N [P [IVY]]]
n=${1:-10} p=${2:-4} ivy=${3:-build/release/ivy}
out=build/distro-stress
rm -rf "$out" && mkdir -p "$out"
scripts/fetch-distro.sh || exit 1
run() { # configuration first last
	for i in $(seq "$2" "$3"); do
		r=$(mktemp)
		if DISTRO_KEEP="$out/$1-$i" tests/distro/cycle.sh "$r" "$ivy" "$1" >"$out/$1-$i.out" 2>&1; then
			rm -rf "$out/$1-$i"
			line="ok: $(grep -m1 '^\[distro\] ' "$out/$1-$i.out" | sed 's/^\[distro\] [^:]*: //')"
		else
			line="FAILED (see $out/$1-$i.out)"
		fi
		echo "[stress] $1 cycle $i: $line" | tee -a "$out/tally"
		rm -f "$r"
	done
}
(run v2 1 "$n"; run v3-process 1 $((p / 2))) &
run v3 1 "$n"
run v3-process $((p / 2 + 1)) "$p"
wait
echo "[stress] $(grep -c ': ok: ' "$out/tally") cycles ok, $(grep -c ': FAILED' "$out/tally") failed"
! grep -q ': FAILED' "$out/tally"
