package pass

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a domain error so that the edge (HTTP, CLI) can map it once.
type Kind int

// The kinds of domain errors.
const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindUnauthorized
	KindForbidden
	KindConflict
	KindUnavailable
	KindTooLarge
	KindGone // existed once and is no more (an expired link)
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	case KindTooLarge:
		return "too large"
	case KindGone:
		return "gone"
	default:
		return "internal"
	}
}

// Error is a domain error: a kind, a message safe to show to the caller and
// an optional wrapped cause that is only logged.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

// Error returns the public message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		cause := e.Err.Error()
		if e.Message == "" {
			return cause
		}
		if cause != e.Message {
			return e.Message + ": " + cause
		}
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted public message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind k whose public message is msg and whose
// cause is err.
func Wrap(k Kind, err error, msg string) error {
	return &Error{Kind: k, Message: msg, Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, KindInternal
// when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// PublicMessage returns the message of the first *Error in err's chain, or
// an empty string when there is none (internal errors are not shown).
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// ErrPastDeadline is returned, wrapped, when a wait (SecuTix's quota)
// would outlast its context's deadline, at once rather than at the
// deadline. It wraps context.DeadlineExceeded.
var ErrPastDeadline = &Error{Kind: KindUnavailable, Message: "the wait would outlast the deadline", Err: context.DeadlineExceeded}

// ErrNotFound is returned, wrapped, by stores when a record does not exist.
var ErrNotFound = &Error{Kind: KindNotFound, Message: "not found"}

// Upstream marks err as SecuTix's or Google's refusal of a call of
// walletpass's, of our credentials (KindUnauthorized) or of our request
// (KindInvalid), or as an answer of theirs that the tenant's settings
// cannot read (KindInvalid): nothing walletpass's caller did. Its kind still decides what a
// task does (it stops rather than retry); the HTTP edge answers it as a
// failure of the service behind walletpass (502 Bad Gateway), not as the
// caller's 401 or 400. nil stays nil.
func Upstream(err error) error {
	if err == nil {
		return nil
	}
	return upstreamError{err}
}

// IsUpstream reports whether err's chain holds an error marked Upstream.
func IsUpstream(err error) bool {
	var u upstreamError
	return errors.As(err, &u)
}

type upstreamError struct{ error }

func (e upstreamError) Unwrap() error { return e.error }
