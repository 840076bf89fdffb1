# Shared by the side-by-side benchmarks (sourced): medians, spread, JSON lines
# in bench.h's format with QEMU as the baseline. Needs $runs.
now_ns() { date +%s%N; }

# median and spread ((p90 - p10) / median) of numbers on stdin
stats() { sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; lo=v[int(NR*0.1)+1]; hi=v[int(NR*0.9+0.5)];
	if (hi == "") hi = v[NR]; printf "%s %.3f\n", m, (m > 0 ? (hi-lo)/m : 0)}'; }

report() { # bench metric unit ivy-file qemu-file
	[ -s "$4" ] && [ -s "$5" ] || {
		echo "{\"bench\":\"$1\",\"metric\":\"$2\",\"error\":\"no measurement\"}"
		return
	}
	set -- "$1" "$2" "$3" "$(stats <"$4")" "$(stats <"$5")"
	iv=${4% *} isp=${4#* } qv=${5% *}
	awk -v b="$1" -v m="$2" -v u="$3" -v v="$iv" -v q="$qv" -v r="$runs" -v s="$isp" 'BEGIN {
		printf "{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"baseline\":%s,\"ratio\":%.3f,\"runs\":%d,\"spread\":%s}\n",
			b, m, v, u, q, (q > 0 ? v / q : 0), r, s }'
}
