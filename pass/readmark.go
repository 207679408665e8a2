package pass

import (
	"context"
	"sync"
	"time"
)

// A read mark records when a task's run read its source: for a sync, when
// its order request went out to SecuTix. The worker puts one in the run's
// context; the SecuTix client marks it; the store then knows that events
// merged into the task before that moment need no follow-up run (see
// Task.ReadAt). Under SecuTix's quota a sync may wait a minute before its
// call goes out: the webhooks of the same order that arrive meanwhile are
// seen by that call and cost no second one.

type readMarkKey struct{}

// ReadMark holds the moment of a run's first read.
type ReadMark struct {
	mu sync.Mutex
	at time.Time
}

// WithReadMark returns ctx carrying a new ReadMark, and the mark.
func WithReadMark(ctx context.Context) (context.Context, *ReadMark) {
	m := &ReadMark{}
	return context.WithValue(ctx, readMarkKey{}, m), m
}

// ReadMarkOf returns the read mark ctx carries, or nil.
func ReadMarkOf(ctx context.Context) *ReadMark {
	m, _ := ctx.Value(readMarkKey{}).(*ReadMark)
	return m
}

// MarkRead records at as the read moment of ctx's run, unless one was
// recorded already (the first read counts) or ctx carries no mark.
func MarkRead(ctx context.Context, at time.Time) {
	m, _ := ctx.Value(readMarkKey{}).(*ReadMark)
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at.IsZero() {
		m.at = at
	}
}

// At returns the recorded moment, or the zero time.
func (m *ReadMark) At() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.at
}
