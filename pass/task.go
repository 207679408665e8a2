package pass

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// TaskArgs is the arguments of one kind of task: they say their kind, the
// tenant the task works for, the key under which pending tasks coalesce,
// and whether a decoded payload makes sense. Adding a kind of task is one
// such type plus one handler (see package workers).
type TaskArgs interface {
	// Kind names the kind of task; it is stored with the task.
	Kind() string
	// TaskTenant is the tenant the task works for.
	TaskTenant() string
	// DedupKey is the key under which tasks coalesce while pending (a
	// burst of changes costs one run); it starts with a prefix of its own
	// kind's.
	DedupKey() string
	// Validate returns an error of kind KindInvalid when the arguments
	// cannot be run (a malformed or foreign payload).
	Validate() error
}

// TaskOf is the task that carries args. Tasks with the same dedup key
// coalesce, and a new one starts no sooner than SyncCoalesceWindow after
// the previous run with the key finished.
func TaskOf(args TaskArgs, correlationID string) NewTask {
	payload, err := json.Marshal(args)
	if err != nil {
		// Task arguments are structs of strings, numbers and booleans.
		panic(fmt.Sprintf("pass: task arguments of kind %s do not marshal: %v", args.Kind(), err))
	}
	return NewTask{Tenant: args.TaskTenant(), Kind: args.Kind(), DedupKey: args.DedupKey(), Payload: payload,
		CorrelationID: correlationID, MinGap: SyncCoalesceWindow}
}

// Enqueuer adds tasks to the durable queue.
type Enqueuer interface {
	// Enqueue adds a task or merges it into an active one with the same key.
	Enqueue(ctx context.Context, t NewTask, now time.Time) (Enqueued, error)
}

type attemptKey struct{}

// WithAttempt says in ctx which attempt of its task a run is (1 for the
// first).
func WithAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// AttemptOf is the attempt WithAttempt put in ctx; 1 when none.
func AttemptOf(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok && n > 0 {
		return n
	}
	return 1
}

type maxAttemptsKey struct{}

// WithMaxAttempts says in ctx after how many attempts its task is given
// up (the dispatcher's setting for its kind).
func WithMaxAttempts(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, maxAttemptsKey{}, n)
}

// RetryLeft reports whether the run in ctx is of a task that is tried
// again if this attempt fails (WithAttempt, WithMaxAttempts); false
// outside a task, as for a buyer's request, which no one retries.
func RetryLeft(ctx context.Context) bool {
	n, ok := ctx.Value(attemptKey{}).(int)
	max, hasMax := ctx.Value(maxAttemptsKey{}).(int)
	return ok && hasMax && n > 0 && n < max
}
