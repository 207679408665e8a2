// Package workers runs walletpass's background work: a dispatcher that
// claims due tasks from the durable queue and runs them on a bounded pool
// (woken at once after an enqueue, and every second by a gocron job), a
// reconciliation job that re-syncs recently changed orders, and a retention
// job that purges old finished tasks and events.
package workers
