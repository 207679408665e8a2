package storage_test

import (
	"context"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestPassActivity: what the console shows of a pass's life and the usage
// counts, on each backend: pushes and their answers, wallet additions and
// removals (Apple registrations, Google callbacks), a performance's usage
// by day, webhook delivery health, and the quota's use on PostgreSQL.
func TestPassActivity(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		p.Ticket = pass.Ticket{MovementID: 100, Event: pass.Event{Name: "Gala", PerformanceID: 42, Start: p.CreatedAt.Add(48 * time.Hour)}}
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		used := *p
		used.Version, used.UpdateTag, used.ContentHash, used.Status = 2, p.UpdateTag+1, "h2", pass.StatusUsed
		used.UpdatedAt = p.CreatedAt.Add(25 * time.Hour) // the next day
		if err := db.UpdatePass(ctx, &used, nil); err != nil {
			t.Fatal(err)
		}
		now := p.CreatedAt.Add(time.Hour)
		d := pass.Device{LibraryID: "dev1", PushToken: "aa"}
		if _, err := db.Register(ctx, "demo", d, "pass.x.y", "s1", now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Register(ctx, "demo", d, "pass.x.y", "s1", now); err != nil { // again: not a new addition
			t.Fatal(err)
		}
		if removed, err := db.Unregister(ctx, "demo", "dev1", "pass.x.y", "s1"); err != nil || !removed {
			t.Fatal(err)
		}
		if removed, err := db.Unregister(ctx, "demo", "dev1", "pass.x.y", "s1"); err != nil || removed { // gone already
			t.Fatal(err)
		}
		if _, err := db.Register(ctx, "demo", pass.Device{LibraryID: "dev2", PushToken: "bb"}, "pass.x.y", "s1", now); err != nil {
			t.Fatal(err)
		}
		if n, err := db.ForgetPushToken(ctx, "demo", "bb", time.Time{}); err != nil || n != 1 {
			t.Fatalf("forget: %d, %v", n, err)
		}
		if err := db.PutGoogleObject(ctx, &pass.GoogleObject{Tenant: "demo", Serial: "s1", ObjectID: "1.demo-s1", ClassID: "1.demo-p42",
			Version: 1, State: "ACTIVE", UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RecordGoogleCallback(ctx, pass.GoogleCallback{Tenant: "demo", Nonce: "n1", ObjectID: "1.demo-s1",
			ClassID: "1.demo-p42", EventType: pass.GoogleSaved, ReceivedAt: now}); err != nil {
			t.Fatal(err)
		}

		hist, err := db.WalletHistory(ctx, "demo", "s1", 50)
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, e := range hist {
			seen = append(seen, e.Wallet+" "+e.Event)
		}
		if len(seen) != 5 || count(seen, "apple added") != 2 || count(seen, "apple removed") != 2 || count(seen, "google added") != 1 {
			t.Errorf("wallet history: %v", seen)
		}

		recs := []pass.PushRecord{
			{Tenant: "demo", Serial: "s1", Device: "dev1", At: now, Outcome: pass.PushDelivered},
			{Tenant: "demo", Serial: "s1", Device: "dev2", At: now.Add(time.Second), Outcome: pass.PushUnregistered, Reason: "Unregistered"},
			{Tenant: "other", Serial: "s1", Device: "dev9", At: now, Outcome: pass.PushDelivered},
		}
		if err := db.LogPushes(ctx, recs); err != nil {
			t.Fatal(err)
		}
		log, err := db.PushLog(ctx, "demo", "s1", 10)
		if err != nil || len(log) != 2 || log[0].Device != "dev2" || log[0].Outcome != pass.PushUnregistered || log[0].Reason != "Unregistered" ||
			log[1].Outcome != pass.PushDelivered {
			t.Errorf("push log: %+v, %v", log, err)
		}

		u, err := db.PerformanceUsage(ctx, "demo", 42)
		if err != nil {
			t.Fatal(err)
		}
		want := pass.UsagePoint{Issued: 1, AppleAdded: 2, AppleRemoved: 2, GoogleAdded: 1, Scanned: 1}
		// The removals are counted on the day they happen (today; the
		// rest on the pass's fixed days).
		byDay := map[string]pass.UsagePoint{}
		for _, d := range u.Days {
			byDay[d.Day.Format(time.DateOnly)] = d
		}
		if u.Total != want || byDay[p.CreatedAt.Format(time.DateOnly)].Issued != 1 || byDay[used.UpdatedAt.Format(time.DateOnly)].Scanned != 1 {
			t.Errorf("usage: %+v, want totals %+v, issued and scanned on their days", u, want)
		}
		if _, err := db.PerformanceUsage(ctx, "demo", 43); pass.KindOf(err) != pass.KindNotFound {
			t.Errorf("usage of a performance without passes: %v", err)
		}
		if u.Event != "Gala" || !u.Start.Equal(p.Ticket.Event.Start) {
			t.Errorf("usage names %q at %v", u.Event, u.Start)
		}
		ps, err := db.UsagePerformances(ctx, "demo", 10)
		if err != nil || len(ps) != 1 || ps[0].PerformanceID != 42 || ps[0].Total.Issued != 1 {
			t.Errorf("performances: %+v, %v", ps, err)
		}

		sub := pass.Subscription{Tenant: "demo", ID: "sub1", Endpoint: "https://hooks.example/x", Events: []string{"*"}, Enabled: true,
			Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		msg := pass.OutboundMessage{Tenant: "demo", SubscriptionID: "sub1", ID: "msg_1", Stream: "s1", Type: pass.EventPassCreated,
			Payload: []byte(`{}`), State: "pending", CreatedAt: now}
		if err := db.AddMessages(ctx, []pass.OutboundMessage{msg, {Tenant: "demo", SubscriptionID: "sub1", ID: "msg_2", Stream: "s2",
			Type: pass.EventPassCreated, Payload: []byte(`{}`), State: "pending", CreatedAt: now}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.MessageFailed(ctx, msg, pass.MessageFailure{Status: 503, Cause: "unavailable", RetryAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		hs, err := db.SubscriptionHealth(ctx, "demo")
		if err != nil || len(hs) != 1 || hs[0].Pending != 2 || hs[0].Failing != 1 || hs[0].LastStatus != 503 ||
			hs[0].LastError != "unavailable" || !hs[0].OldestPending.Equal(now) {
			t.Errorf("subscription health: %+v, %v", hs, err)
		}
		if ms, err := db.StreamMessages(ctx, "demo", "s1", 10); err != nil || len(ms) != 1 || ms[0].Attempts != 1 {
			t.Errorf("the pass's messages: %+v, %v", ms, err)
		}

		// Purged with the timeline: the push log and delivered messages,
		// not those still owed.
		if err := db.MessagesDelivered(ctx, []pass.DeliveredMessage{{Message: pass.OutboundMessage{Tenant: "demo", SubscriptionID: "sub1", ID: "msg_2"}, Status: 200}}, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PurgeBefore(ctx, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if log, _ := db.PushLog(ctx, "demo", "s1", 10); len(log) != 0 {
			t.Errorf("push log after the purge: %+v", log)
		}
		if ms, err := db.Messages(ctx, "demo", "sub1", 10); err != nil || len(ms) != 1 || ms[0].ID != "msg_1" {
			t.Errorf("messages after the purge: %+v, %v (want the undelivered msg_1 only)", ms, err)
		}

		q, err := db.SecuTixQuota(10, time.Minute, nil)
		if err != nil { // SQLite: the quota is the process's
			return
		}
		for range 3 {
			if err := q.Take(ctx, "INST/externalOrderService", pass.PriorityBackground); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Take(ctx, "INST/catalogService", pass.PriorityBackground); err != nil {
			t.Fatal(err)
		}
		if err := q.Take(ctx, "OTHER/externalOrderService", pass.PriorityBackground); err != nil {
			t.Fatal(err)
		}
		calls, paused, err := q.Usage(ctx, "INST/")
		if err != nil || calls != 3 || !paused.IsZero() {
			t.Errorf("quota usage: %d, %v, %v", calls, paused, err)
		}
	})
}

func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}

// TestConsoleRevocations: a signed-out session is revoked, and an
// operator's sessions issued before their revocation, not those after.
func TestConsoleRevocations(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		revoked := func(id, subject string, issued time.Time) bool {
			t.Helper()
			r, err := db.ConsoleSessionRevoked(ctx, id, subject, issued)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if revoked("s1", "alice", t0) {
			t.Error("a session revoked before anything was")
		}
		if err := db.RevokeConsoleSession(ctx, "s1", t0.Add(time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeConsoleSession(ctx, "s1", t0.Add(time.Hour), t0); err != nil {
			t.Errorf("signing out twice: %v", err)
		}
		if !revoked("s1", "alice", t0) || revoked("s2", "alice", t0) {
			t.Error("the signed-out session, or only it")
		}
		if err := db.RevokeConsoleSubject(ctx, "bob", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if !revoked("s3", "bob", t0) || revoked("s4", "bob", t0.Add(2*time.Minute)) || revoked("s5", "carol", t0) {
			t.Error("bob's older session, and only it")
		}
		// A revocation outlives its session no longer than that.
		if err := db.RevokeConsoleSession(ctx, "s9", t0.Add(3*time.Hour), t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if revoked("s1", "alice", t0) {
			t.Error("s1's revocation outlived its session")
		}
	})
}
