#!/usr/bin/env bash
# Counts CPU instructions (valgrind callgrind: repeatable, unlike time on a
# shared machine) of one pass build+sign and of one bare RSA-2048 PKCS#1
# v1.5 SHA-256 signature, in the same process, and prints their ratio.
# Usage: scripts/bench-instructions.sh [iterations]
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"   # go.mod asks for it
cd "$(dirname "$0")/.."
n=${1:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/apple.test" ./pass/apple
count() { # function name -> instructions collected inside it over 1+n iterations
	(cd pass/apple && valgrind --tool=callgrind --callgrind-out-file=/dev/null "--toggle-collect=$1" \
		"$tmp/apple.test" -test.run '^$' -test.bench '^BenchmarkPassVsSign$' -test.benchtime "${n}x" -test.cpu 1 2>&1) |
		awk '/Collected/ {print $4}'
}
p=$(count 'walletpass/pass/apple_test.passOnce')
s=$(count 'walletpass/pass/apple_test.signOnce')
awk -v p="$p" -v s="$s" -v n="$n" 'BEGIN {
	iters = n + 1   # the benchmark runs once with b.N=1, then with b.N=n
	printf "instructions per pass build+sign: %.0f\n", p/iters
	printf "instructions per bare signature:  %.0f\n", s/iters
	printf "pass rate / sign rate (by instructions): %.1f%%\n", 100*s/p
}'
