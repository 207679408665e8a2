#!/usr/bin/env bash
# Makes sure a local S3 server answers on 127.0.0.1:PORT, then prints the
# WALLETPASS_TEST_S3 URL the S3 tests read (run) or exports it (sourced).
# Idempotent: run it as often as you like; it never starts a second server.
#
#   export WALLETPASS_TEST_S3="$(scripts/ci-s3.sh)"        # port 7070
#   export WALLETPASS_TEST_S3="$(scripts/ci-s3.sh 7171)"   # another port
#   . scripts/ci-s3.sh                                      # same, from a bash shell
#   scripts/ci-s3.sh stop [PORT]                            # stop the server it started
#
# The server is versitygw v1.8.0 with its posix backend (installed with
# `go install` into $(go env GOPATH)/bin when missing or another version;
# the first build takes about two minutes). It keeps running after the
# script exits, detached (setsid), logging to /tmp/walletpass-s3-PORT/log,
# with a throwaway data directory that every start empties. Object
# metadata (content types) lives in user xattrs, or in a sidecar directory
# on file systems without them.
#
# When something already answers on the port, the script checks with a
# signed request (curl --aws-sigv4) that it takes the test credentials, and
# otherwise fails rather than start a second server.
#
# It creates no bucket: the tests create walletpass-test themselves
# (Store.EnsureBucket). Messages go to stderr; stdout has only the URL.
# Settings (environment):
#   WALLETPASS_S3_DIR   the server's directory (/tmp/walletpass-s3-PORT)

_walletpass_s3() (
	set -euo pipefail
	log() { echo "ci-s3: $*" >&2; }
	version=v1.8.0
	module=github.com/versity/versitygw
	host=127.0.0.1
	access=testkey
	secret=testsecret123
	region=us-east-1
	bucket=walletpass-test

	cmd=start
	if [ "${1:-}" = stop ]; then
		cmd=stop
		shift
	fi
	port=${1:-7070}
	case "$port" in
	'' | *[!0-9]*)
		log "usage: ci-s3.sh [stop] [PORT]; got port '$port'"
		return 2
		;;
	esac
	base=${WALLETPASS_S3_DIR:-/tmp/walletpass-s3-$port}
	mkdir -p "$base"

	# One run at a time per directory; the lock's descriptor is not passed
	# to the server (9>&- below), so it is released when the script ends.
	exec 9>"$base/lock"
	flock 9

	# ours: the pid in $base/pid is a running versitygw.
	ours() {
		local pid
		pid=$(cat "$base/pid" 2>/dev/null) || return 1
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q versitygw
	}

	if [ "$cmd" = stop ]; then
		if ours; then
			pid=$(cat "$base/pid")
			kill "$pid"
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			rm -rf "$base/data" "$base/meta" "$base/pid"
			log "stopped versitygw (pid $pid) on $host:$port"
		else
			log "no versitygw started by this script runs on port $port"
		fi
		return 0
	fi

	# answers: something speaks HTTP on the port (versitygw gives 403 to an
	# anonymous GET /).
	answers() {
		[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$host:$port/" || true)" != 000 ]
	}
	# accepts: a signed ListBuckets with the test credentials succeeds
	# (versitygw wants x-amz-content-sha256, here the hash of no body).
	accepts() {
		local out
		out=$(curl -sf -m 5 --aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
			-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
			"http://$host:$port/" 2>/dev/null) && [[ $out == *ListAllMyBucketsResult* ]]
	}

	if answers; then
		if ! accepts; then
			log "something answers on $host:$port but is no S3 server taking the test credentials: stop it, or pass another port"
			return 1
		fi
		if ours; then
			log "using versitygw (pid $(cat "$base/pid")) on $host:$port"
		else
			log "using the S3 server already on $host:$port"
		fi
	else
		gobin="$(go env GOPATH)/bin"
		bin="$gobin/versitygw"
		if [ ! -x "$bin" ] || ! go version -m "$bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
			log "installing versitygw $version into $gobin (about two minutes the first time)"
			GOFLAGS= CGO_ENABLED=0 go install "$module/cmd/versitygw@$version" >&2
		fi

		# start [--sidecar DIR]: a fresh data directory, the server detached
		# from this shell and its output (so $(…) returns).
		start() {
			rm -rf "$base/data" "$base/meta"
			mkdir -p "$base/data"
			local extra=()
			if [ "${1:-}" = --sidecar ]; then
				mkdir -p "$base/meta"
				extra=(--sidecar "$base/meta")
			fi
			ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
				setsid nohup "$bin" --port "$host:$port" --region "$region" --quiet \
				posix "${extra[@]}" "$base/data" </dev/null >>"$base/log" 2>&1 9>&- &
			echo $! >"$base/pid"
		}
		# wait_up: until it answers (true), or it exits or 30 s pass (false).
		wait_up() {
			local pid
			pid=$(cat "$base/pid")
			for _ in $(seq 300); do
				answers && return 0
				kill -0 "$pid" 2>/dev/null || return 1
				sleep 0.1
			done
			return 1
		}

		log "starting versitygw on $host:$port (data in $base/data, log in $base/log)"
		: >"$base/log"
		start
		if ! wait_up; then
			if grep -q 'xattr check failed' "$base/log"; then
				log "no user xattrs on $base: restarting with --sidecar $base/meta"
				start --sidecar
				wait_up || true
			fi
		fi
		if ! answers || ! accepts; then
			log "versitygw did not come up; its log:"
			tail -n 20 "$base/log" >&2 || true
			if ours; then kill "$(cat "$base/pid")" || true; fi
			return 1
		fi
		log "versitygw (pid $(cat "$base/pid")) answers on $host:$port"
	fi
	echo "s3://$access:$secret@$host:$port/$bucket?region=$region&secure=false&style=path"
)

if (return 0 2>/dev/null); then
	# Sourced: export the URL into the caller's shell.
	if WALLETPASS_TEST_S3=$(_walletpass_s3 "$@"); then
		export WALLETPASS_TEST_S3
		unset -f _walletpass_s3
	else
		unset -f _walletpass_s3
		return 1
	fi
else
	_walletpass_s3 "$@"
fi
