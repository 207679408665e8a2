#!/usr/bin/env bash
# Measures pass build+sign throughput against a bare RSA-2048 PKCS#1 v1.5
# SHA-256 signature with the same key, in the same run, on 1 and 2 cores,
# and prints the ratios recorded in docs/benchmarks.md.
# Usage: scripts/bench-pass.sh [count] [benchtime]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
benchtime=${2:-2s}
out=$(go test ./pass/apple -run '^$' -bench '^Benchmark(BuildSign|BuildSignBytes|RSASign|Render)$' -benchmem \
	-benchtime "$benchtime" -count "$count" -cpu 1,2)
echo "$out" | grep -E '^(Benchmark|cpu:|goos)'
echo
echo "$out" | awk '
/^Benchmark/ {
	name=$1; sub(/^Benchmark/, "", name)
	cpu=1; if (match(name, /-[0-9]+$/)) { cpu=substr(name, RSTART+1); name=substr(name, 1, RSTART-1) }
	key=name "/" cpu; n[key]++; ns[key]+=$3
	for (i=4; i<=NF; i++) { if ($(i+1)=="B/op") b[key]=$i; if ($(i+1)=="allocs/op") a[key]=$i }
}
END {
	printf "| cores | build+sign ns/pass | bare RSA sign ns/op | ratio (sign rate / pass rate) | passes per CPU-second | allocs/pass | B/pass |\n"
	printf "|---|---|---|---|---|---|---|\n"
	for (c=1; c<=2; c++) {
		k="BuildSign/" c; r="RSASign/" c
		if (!(k in n)) continue
		p=ns[k]/n[k]; s=ns[r]/n[r]
		printf "| %d | %.0f | %.0f | %.1f%% | %.0f | %s | %s |\n", c, p, s, 100*s/p, 1e9/p/c, a[k], b[k]
	}
}'
