#!/usr/bin/env bash
# Measures pass build+sign throughput against a bare RSA-2048 PKCS#1 v1.5
# SHA-256 signature with the same key, on 1 and 2 cores, and prints the
# ratios recorded in docs/benchmarks.md. The benchmarks are interleaved in
# rounds (one test binary, built once) so that drift on a shared machine
# hits the pass and its baseline alike; medians are reported.
# Usage: scripts/bench-pass.sh [rounds] [benchtime]
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"   # go.mod asks for it
cd "$(dirname "$0")/.."
rounds=${1:-5}
benchtime=${2:-2s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/apple.test" ./pass/apple
for i in $(seq "$rounds"); do
	(cd pass/apple && "$tmp/apple.test" -test.run '^$' -test.bench '^Benchmark(BuildSign|BuildSignBytes|RSASign|Render|PassVsSign)$' \
		-test.benchmem -test.benchtime "$benchtime" -test.cpu 1,2) | grep '^Benchmark'
done | tee "$tmp/raw.txt"
echo
awk '
{
	name=$1; sub(/^Benchmark/, "", name)
	cpu=1; if (match(name, /-[0-9]+$/)) { cpu=substr(name, RSTART+1); name=substr(name, 1, RSTART-1) }
	key=name "/" cpu; n[key]++; v[key, n[key]]=$3
	for (i=4; i<=NF; i++) if ($(i+1)=="pass/sign-rate") { rk=key "rate"; n[rk]++; v[rk, n[rk]]=$i }
	for (i=4; i<=NF; i++) { if ($(i+1)=="B/op") b[key]=$i; if ($(i+1)=="allocs/op") a[key]=$i }
}
function median(key,    i, j, t, m, arr) {
	m=n[key]; for (i=1; i<=m; i++) arr[i]=v[key, i]
	for (i=1; i<=m; i++) for (j=i+1; j<=m; j++) if (arr[j]<arr[i]) { t=arr[i]; arr[i]=arr[j]; arr[j]=t }
	return (m%2) ? arr[(m+1)/2] : (arr[m/2]+arr[m/2+1])/2
}
END {
	printf "| cores | variant | ns/pass (median) | bare RSA sign ns/op (median) | pass rate / sign rate | passes per CPU-second | allocs/pass | B/pass |\n"
	printf "|---|---|---|---|---|---|---|---|\n"
	for (c=1; c<=2; c++) {
		s=median("RSASign/" c)
		split("BuildSign BuildSignBytes", vs, " ")
		for (x=1; x<=2; x++) {
			k=vs[x] "/" c; if (!(k in n)) continue
			p=median(k)
			printf "| %d | %s | %.0f | %.0f | %.1f%% | %.0f | %s | %s |\n", c, vs[x], p, s, 100*s/p, 1e9/p/c, a[k], b[k]
		}
	}
	printf "\nRender alone (pass.json, no signature): %.0f ns on 1 core, %s allocs\n", median("Render/1"), a["Render/1"]
	printf "Interleaved (one pass, one bare signature per iteration, 1 core): pass/sign-rate median %.3f over %d rounds\n", median("PassVsSign/1rate"), n["PassVsSign/1rate"]
}' "$tmp/raw.txt"
