package pass

import (
	"context"
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
	// Warnings say what SecuTix sent that walletpass kept without
	// understanding it (an unknown ticket state, say): never fatal, shown
	// on the order's timeline.
	Warnings []string
	// Source says where the order was read: "SecuTix" (a call) or "the
	// order webhook" (its body, no call); "" means SecuTix.
	Source string
	// Answer is what SecuTix sent that the order was mapped from, with
	// secrets and personal data masked (at most 16 KiB), for the
	// operator: the order's timeline keeps it.
	Answer string
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

// DetailsSource maps an order SecuTix sent whole (OrderRef.Details),
// fetching only what the details lack. Details that are not an order
// (they never will be) give an error wrapping ErrDetailsUnreadable.
type DetailsSource interface {
	OrderFromDetails(ctx context.Context, tenant string, details []byte) (*Order, error)
}

// ErrDetailsUnreadable is returned, wrapped, by DetailsSource for details
// that cannot be read as an order: the order is then read from SecuTix.
var ErrDetailsUnreadable = &Error{Kind: KindInvalid, Message: "the order webhook's body is not an order"}

// RetryAfterError is an Unavailable error that says when to try again.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the cause, which carries the kind.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// DeferError is what a task answers that did not fail but has more to do
// at At (a webhook delivery whose failing streams wait): the dispatcher
// makes it pending again, due then, without counting an attempt.
type DeferError struct {
	At  time.Time
	Why string
}

func (e *DeferError) Error() string {
	return "deferred until " + e.At.UTC().Format(time.RFC3339) + ": " + e.Why
}
