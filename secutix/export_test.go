package secutix

import (
	"context"
	"time"

	"walletpass/pass"
)

// TakeAt is q.Take, returning the time of the grant as q recorded it.
func TakeAt(ctx context.Context, q *LocalQuota, key string, prio pass.Priority) (time.Time, error) {
	return q.take(ctx, key, prio)
}

// Waiting returns how many calls wait on key.
func Waiting(q *LocalQuota, key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.key(key).waiters)
}

// ExpireGrants forgets the calls counted on key, as if its window had
// passed, and lets its waiters go.
func ExpireGrants(q *LocalQuota, key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.key(key)
	k.grants, k.oldest = k.grants[:0], 0
	q.grant(k, time.Now())
}

// ComfortVariables is comfortVariables, for the mapping tests.
var ComfortVariables = comfortVariables

// IsPersonal is isPersonal, for the masking's fuzz target.
func IsPersonal(key string) bool { return isPersonal(key) }
