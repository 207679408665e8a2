package pass

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Order is a SecuTix file (what a buyer bought in one go) as the domain
// sees it: its identifiers and one Ticket per sale movement, each carrying
// its current state. It is always fetched from SecuTix, the source of
// truth; webhooks are only hints that it changed.
type Order struct {
	Tenant      string
	FileID      int64
	OrderID     int64 // the file's first sale order
	SecretToken string
	// LastModified is SecuTix's lastModDateTime of the file.
	LastModified time.Time
	Tickets      []Ticket
}

// OrderSource fetches orders from a tenant's SecuTix institution.
// Errors: KindNotFound for an unknown order, KindUnavailable when SecuTix
// is down or over quota (retry later; a *RetryAfterError may say when),
// KindUnauthorized when the credentials are refused.
type OrderSource interface {
	OrderBySecret(ctx context.Context, tenant, secretToken string) (*Order, error)
	OrderByFileID(ctx context.Context, tenant string, fileID int64) (*Order, error)
	OrderByOrderID(ctx context.Context, tenant string, orderID int64) (*Order, error)
}

// RetryAfterError is an Unavailable error that says when to try again.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the cause, which carries the kind.
func (e *RetryAfterError) Unwrap() error { return e.Err }

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
