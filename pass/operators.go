package pass

import "time"

// QueueCount is how many tasks of a tenant and kind are in a state, and
// when the oldest of them is due (the operator console's queue view).
type QueueCount struct {
	Tenant, Kind string
	State        TaskState
	Count        int
	OldestDue    time.Time
}

// AuditEntry is one thing an operator did in the console: who (the
// identity provider's subject and name), when, to which tenant, what
// action, on what (an order's file id, a task id), and the outcome.
type AuditEntry struct {
	At     time.Time
	Actor  string
	Tenant string // "" for an action on no single tenant
	Action string // login, logout, resync, repush, retry-task, discard-task, …
	Target string
	Detail string
}
