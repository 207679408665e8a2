// Package httpx holds the small HTTP helpers that several adapters share
// (the SecuTix, Google Wallet and FCM clients; the pages' language
// choice; a URL shown without its path). It is a toolbox, not part of the
// domain.
package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads an HTTP Retry-After value: delay-seconds or an
// HTTP-date, taken relative to now (a date in the past is 0). ok is false
// for an empty or malformed value.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs >= 1<<31 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
