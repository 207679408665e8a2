package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"walletpass/httpapi"
	"walletpass/internal/loopback"
	"walletpass/outbound"
	"walletpass/pass"
	"walletpass/storage"
)

// receiver is an organiser's webhook endpoint. It checks each delivery's
// Standard Webhooks signature with its own code (not walletpass's
// signer), fails the first failFirst deliveries, and keeps the accepted
// ones in the order they came.
type receiver struct {
	t         testing.TB
	srv       *loopback.Server
	mu        sync.Mutex
	secret    []byte
	failFirst int
	calls     int
	got       []delivery
	seen      map[string]bool // ids of got
	down      atomic.Bool     // answer 502 to everything
	refuse    map[string]int  // a message id or serial → the status to answer it
}

type delivery struct {
	ID     string
	Type   string
	Serial string
}

func newReceiver(t testing.TB, failFirst int) *receiver {
	r := &receiver{t: t, failFirst: failFirst}
	r.srv = loopback.Start(http.HandlerFunc(r.serve), loopback.Options{Name: "webhook-receiver"})
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecret(whsec string) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if err != nil || !strings.HasPrefix(whsec, "whsec_") {
		r.t.Errorf("the secret %q is not whsec_<base64>", whsec)
	}
	r.mu.Lock()
	r.secret = key
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.down.Load() {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, r.secret)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	signed := false
	for _, s := range strings.Fields(sigs) {
		signed = signed || hmac.Equal([]byte(s), []byte(want))
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if !signed || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute || !strings.HasPrefix(id, "msg_") {
		r.t.Errorf("a delivery that does not verify: id %q, timestamp %q, signature %q", id, ts, sigs)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.calls <= r.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var msg struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			SerialNumber string `json:"serialNumber"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type == "" || msg.Data.SerialNumber == "" {
		r.t.Errorf("a delivery's body: %s", body)
	}
	if st := max(r.refuse[id], r.refuse[msg.Data.SerialNumber]); st != 0 {
		w.WriteHeader(st)
		return
	}
	if r.seen[id] {
		w.WriteHeader(http.StatusNoContent) // at least once: a repeat is fine
		return
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[id] = true
	r.got = append(r.got, delivery{ID: id, Type: msg.Type, Serial: msg.Data.SerialNumber})
	w.WriteHeader(http.StatusNoContent)
}

// count is how many deliveries were accepted.
func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// reset forgets the deliveries accepted so far.
func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.seen = nil, nil
}

func (r *receiver) types(serial string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.got {
		if d.Serial == serial {
			out = append(out, d.Type)
		}
	}
	return out
}

// TestSecuTixScansAnnounced: a ticket scanned at SecuTix's own gates (its
// VALIDATED webhook) is announced as ticket.scanned, as a scan at
// walletpass's gate is, before its pass's new version; a later sync of
// the used ticket announces no second scan.
func TestSecuTixScansAnnounced(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	rcv := newReceiver(t, 0)
	subscribe(t, s, rcv)
	o := s.createOrder(map[string]any{"count": 2})
	ps := s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	tk, other := o.Tickets[0], o.Tickets[1]
	serial := byMovement(ps, tk.MovementID, 0).SerialNumber
	s.action(o, tk.TicketID, "validate", nil)
	s.waitPasses(o.Secret, "the used pass", func(ps []pass.Pass) bool { return byMovement(ps, tk.MovementID, 0).Status == pass.StatusUsed })
	s.action(o, other.TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "the other's version 2", func(ps []pass.Pass) bool { return byMovement(ps, other.MovementID, 0).Version == 2 })
	s.idle()
	want := []string{pass.EventPassCreated, pass.EventTicketScanned, pass.EventPassUpdated}
	deadline := time.Now().Add(30 * time.Second)
	for strings.Join(rcv.types(serial), " ") != strings.Join(want, " ") {
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint got %v for the scanned pass, want %v in this order", rcv.types(serial), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.idle()
	if got := rcv.types(serial); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("then the endpoint got %v, want %v", got, want)
	}
}

// TestOutboundWebhooks: an organiser subscribes an endpoint through the
// API (scopes webhooks:read and webhooks:write); a pass's life (created,
// added to a phone, modified, scanned at a gate, cancelled, removed from
// the phone) reaches it as Standard Webhooks,
// signed, in order, although the endpoint failed the first deliveries.
func TestOutboundWebhooks(t *testing.T) {
	t.Parallel()
	s := startSystemEnv(t, "", fastCatalogue)
	defer s.stop()
	rcv := newReceiver(t, 3)
	bearer := func(scopes ...string) map[string]string {
		return map[string]string{"Authorization": s.bearer("demo", scopes...), "Content-Type": "application/json"}
	}
	call := func(method, path string, hdr map[string]string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, s.base+path, rd)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	writer, reader := bearer("webhooks:write"), bearer("webhooks:read")
	sub := map[string]any{"endpoint": rcv.srv.URL + "/hooks", "events": []string{"*"}, "description": "CRM"}
	if st, body := call("POST", "/api/demo/webhooks", reader, sub); st != 403 {
		t.Errorf("create with webhooks:read: %d %s", st, body)
	}
	if st, body := call("POST", "/api/demo/webhooks", writer, map[string]any{"endpoint": "ftp://x", "events": []string{"*"}}); st != 400 {
		t.Errorf("an ftp endpoint: %d %s", st, body)
	}
	if st, body := call("POST", "/api/demo/webhooks", writer, map[string]any{"endpoint": rcv.srv.URL, "events": []string{"pass.eaten"}}); st != 400 {
		t.Errorf("an unknown event: %d %s", st, body)
	}
	if st, body := call("POST", "/api/demo/webhooks", writer, map[string]any{"endpoint": rcv.srv.URL, "events": []string{"Customer:*"}}); st != 400 ||
		!strings.Contains(string(body), `unknown event \"Customer:*\"`) {
		t.Errorf("an event walletpass does not make: %d %s", st, body)
	}
	// A long name is quoted cut, not whole.
	if st, body := call("POST", "/api/demo/webhooks", writer, map[string]any{"endpoint": rcv.srv.URL, "events": []string{strings.Repeat("é", 5000)}}); st != 400 ||
		len(body) > 1024 || !strings.Contains(string(body), "…") {
		t.Errorf("a 10,000-byte event name: %d, %d bytes: %.300s", st, len(body), body)
	}
	// The replaced product's event names are read, and kept as walletpass
	// writes them (a disabled subscription: it takes nothing below).
	st, body := call("POST", "/api/demo/webhooks", writer, map[string]any{"endpoint": rcv.srv.URL + "/moved", "enabled": false,
		"events": []string{"Pass:Created", "pass:UPDATED", "Pass:*", "pass.created"}})
	var moved httpapi.SubscriptionView
	if err := json.Unmarshal(body, &moved); err != nil || st != 201 || !slices.Equal(moved.Events, []string{"pass.*", "pass.created", "pass.updated"}) {
		t.Errorf("create with the replaced product's event names: %d %s", st, body)
	}
	if st, body := call("DELETE", "/api/demo/webhooks/"+moved.ID, writer, nil); st != 204 {
		t.Errorf("delete: %d %s", st, body)
	}
	st, body = call("POST", "/api/demo/webhooks", writer, sub)
	var created httpapi.SubscriptionView
	if err := json.Unmarshal(body, &created); err != nil || st != 201 || created.Secret == "" || !created.Enabled {
		t.Fatalf("create: %d %s", st, body)
	}
	rcv.setSecret(created.Secret)
	if st, body := call("GET", "/api/demo/webhooks", reader, nil); st != 200 || strings.Contains(string(body), created.Secret) ||
		!strings.Contains(string(body), created.ID) {
		t.Errorf("list: %d %s", st, body)
	}
	if st, body := call("PATCH", "/api/demo/webhooks/"+created.ID, writer, map[string]any{"description": "CRM (prod)"}); st != 200 ||
		!strings.Contains(string(body), "CRM (prod)") {
		t.Errorf("patch: %d %s", st, body)
	}
	// The secret rotated: the receiver still knows only the old one, which
	// signs beside the new one for the overlap (every delivery below).
	if st, body := call("POST", "/api/demo/webhooks/"+created.ID+"/secret", reader, nil); st != 403 {
		t.Errorf("rotate with webhooks:read: %d %s", st, body)
	}
	if st, body := call("POST", "/api/demo/webhooks/"+created.ID+"/secret", writer, map[string]any{"previousSecretValidFor": -1}); st != 400 {
		t.Errorf("rotate with a negative overlap: %d %s", st, body)
	}
	st, body = call("POST", "/api/demo/webhooks/"+created.ID+"/secret", writer, map[string]any{"previousSecretValidFor": 3600})
	var rotated httpapi.SubscriptionView
	if err := json.Unmarshal(body, &rotated); err != nil || st != 200 || rotated.Secret == "" || rotated.Secret == created.Secret ||
		rotated.PreviousSecretUntil == nil {
		t.Fatalf("rotate: %d %s", st, body)
	}
	if st, body := call("GET", "/api/demo/webhooks/"+created.ID, reader, nil); st != 200 || strings.Contains(string(body), rotated.Secret) ||
		!strings.Contains(string(body), "previousSecretUntil") {
		t.Errorf("get after the rotation: %d %s", st, body)
	}
	// Spared (as after a 429): the subscription says until when; enabled
	// again (the organiser mended the endpoint), it is not.
	asRead, err := s.db.Subscription(context.Background(), "demo", created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.PauseSubscription(context.Background(), *asRead, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, body = call("GET", "/api/demo/webhooks/"+created.ID, reader, nil)
	var spared httpapi.SubscriptionView
	if err := json.Unmarshal(body, &spared); err != nil || st != 200 || spared.PausedUntil == nil || !spared.PausedUntil.After(time.Now()) {
		t.Errorf("get while spared: %d %s", st, body)
	}
	for _, on := range []bool{false, true} {
		if st, body := call("PATCH", "/api/demo/webhooks/"+created.ID, writer, map[string]any{"enabled": on}); st != 200 ||
			(on && strings.Contains(string(body), "pausedUntil")) {
			t.Errorf("enabled %v: %d %s", on, st, body)
		}
	}
	if st, body := call("GET", "/api/demo/webhooks/"+created.ID, reader, nil); st != 200 || strings.Contains(string(body), "pausedUntil") {
		t.Errorf("get when enabled again: %d %s", st, body)
	}

	o := s.createOrder(startingSoon(1)) // scanned below
	tk := o.Tickets[0]
	ps := s.waitPasses(o.Secret, "1 pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	serial := ps[0].SerialNumber
	// A phone adds the pass (and, at the end, removes it).
	ph := s.phoneFor(t, ps[0], "f1")
	registration := ph.registration()
	ph.register()
	s.action(o, tk.TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "version 2", func(ps []pass.Pass) bool { return ps[0].Version == 2 })
	if st, body := call("POST", "/api/demo/scans", bearer("scans:write"), map[string]string{"data": tk.Barcode, "type": "qrcode"}); st != 200 {
		t.Fatalf("scan: %d %s", st, body)
	}
	s.waitPasses(o.Secret, "the used pass", func(ps []pass.Pass) bool { return ps[0].Status == pass.StatusUsed })
	s.action(o, tk.TicketID, "cancel", nil)
	s.waitPasses(o.Secret, "the voided pass", func(ps []pass.Pass) bool { return ps[0].Status == pass.StatusVoided })
	if resp, body := ph.req("DELETE", registration, "", ph.auth()); resp.StatusCode != 200 {
		t.Fatalf("unregister: %d %s", resp.StatusCode, body)
	}

	want := []string{pass.EventPassCreated, pass.EventPassInstalled, pass.EventPassUpdated, pass.EventTicketScanned,
		pass.EventPassUpdated, pass.EventPassVoided, pass.EventPassUninstalled}
	deadline := time.Now().Add(60 * time.Second)
	for strings.Join(rcv.types(serial), " ") != strings.Join(want, " ") {
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint got %v, want %v in this order", rcv.types(serial), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The delivery log: every message delivered, the first after retries
	// (the last is marked once the endpoint's answer is in).
	s.idle()
	msgs, err := s.db.Messages(context.Background(), "demo", created.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, m := range msgs {
		if m.State != "delivered" {
			t.Errorf("message %s is %s", m.ID, m.State)
		}
		if m.Attempts > 1 {
			retried++
		}
	}
	if len(msgs) != len(want) || retried == 0 {
		t.Errorf("%d messages, %d retried; want %d, some retried", len(msgs), retried, len(want))
	}
	// The delivery log and a replay, as an operator runs them.
	env := testEnv(s.dataDir, nil)
	var out syncBuffer
	if err := Run(context.Background(), []string{"webhooks", "deliveries", "-subscription", created.ID}, &out, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), " delivered "); n != len(want) || strings.Contains(out.String(), created.Secret) {
		t.Errorf("the delivery log shows %d delivered:\n%s", n, out.String())
	}
	var replay syncBuffer
	if err := Run(context.Background(), []string{"webhooks", "replay", "-subscription", created.ID, "-since", "1h"}, &replay, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(replay.String(), strconv.Itoa(len(want))+" messages queued again") {
		t.Errorf("replay: %s", replay.String())
	}
	err = Run(context.Background(), []string{"webhooks", "replay", "-subscription", created.ID, "-message", "msg_nope"}, io.Discard, io.Discard, env)
	if err == nil || !strings.Contains(err.Error(), "has no message msg_nope") {
		t.Errorf("replay of an unknown message: %v", err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		rcv.mu.Lock()
		calls := rcv.calls
		rcv.mu.Unlock()
		if calls >= 3+2*len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay reached the endpoint %d times", calls-3-len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, _ := call("DELETE", "/api/demo/webhooks/"+created.ID, writer, nil); st != 204 {
		t.Errorf("delete: %d", st)
	}
	if st, _ := call("GET", "/api/demo/webhooks/"+created.ID, reader, nil); st != 404 {
		t.Errorf("get after delete: %d", st)
	}
}

// TestReceiverDownForAnHour: the subscriber's endpoint fails for an hour
// (simulated: a minute per round) while five passes keep changing; each
// round the delivery task runs, as its retries would, and fails without
// delivering anything out of order. When the endpoint is back, one run
// delivers every event, each pass's in the order they were made, each
// signature checked by the receiver's own code.
func TestReceiverDownForAnHour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rcv := newReceiver(t, 0)
	rcv.down.Store(true)
	secret := outbound.NewSecret()
	rcv.setSecret(secret)
	sub := pass.Subscription{Tenant: "demo", ID: "wh_down", Endpoint: rcv.srv.URL + "/hook", Events: []string{"*"}, Enabled: true,
		Secret: secret, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := db.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	var clock atomic.Int64 // the deliveries' time: a minute per round
	clock.Store(start.UnixNano())
	fan := &pass.Fanout{Store: db}
	del := &pass.Deliverer{Store: db, Sender: outbound.NewSender(true), Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	made := map[string][]string{} // serial -> event ids in order
	for minute := range 60 {
		clock.Store(start.Add(time.Duration(minute) * time.Minute).UnixNano())
		for k := range 5 {
			serial := fmt.Sprintf("pass%d", k)
			p := &pass.Pass{Tenant: "demo", SerialNumber: serial, PassTypeID: "pass.x", Version: minute + 1, Status: pass.StatusActive}
			ev := pass.PassEvent(p, pass.EventPassUpdated, start.Add(time.Duration(minute)*time.Minute), "")
			if err := fan.Work(ctx, ev, ""); err != nil {
				t.Fatal(err)
			}
			made[serial] = append(made[serial], ev.ID)
		}
		err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "")
		if de, ok := errors.AsType[*pass.DeferError](err); !ok || !de.At.After(time.Unix(0, clock.Load())) {
			t.Fatalf("minute %d: the delivery run answered %v, want to be run again later", minute, err)
		}
	}
	if n := rcv.count(); n != 0 {
		t.Fatalf("%d deliveries accepted while the endpoint was down", n)
	}
	rcv.down.Store(false)
	// The waits end at most pass.MaxDeliveryBackoff after the last failure.
	clock.Store(start.Add(time.Hour + pass.MaxDeliveryBackoff).UnixNano())
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err != nil {
		t.Fatalf("after the hour: %v", err)
	}
	if n := rcv.count(); n != 300 {
		t.Errorf("%d of 300 events delivered", n)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	got := map[string][]string{}
	for _, d := range rcv.got {
		got[d.Serial] = append(got[d.Serial], d.ID)
	}
	for serial, ids := range made {
		if strings.Join(got[serial], " ") != strings.Join(ids, " ") {
			t.Errorf("%s: delivered %d events out of order or with gaps", serial, len(got[serial]))
		}
	}
	msgs, _ := db.Messages(ctx, "demo", sub.ID, 1000)
	for _, m := range msgs {
		if m.State != "delivered" {
			t.Fatalf("message %s is %s", m.ID, m.State)
		}
	}
}

// TestFailingFanoutHoldsItsPass: the fan-out of a pass's event fails
// (the store refused it) and waits for its retry; the pass's next event
// is not stored before it, so the receiver gets both in the order they
// happened, not the later one first: whether the earlier event was
// announced alone or in an event-wide change's batch of several passes.
// Through the real queue and store.
func TestFailingFanoutHoldsItsPass(t *testing.T) {
	t.Parallel()
	for _, wide := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "event-wide"}[wide], func(t *testing.T) {
			t.Parallel()
			failingFanoutHoldsItsPass(t, wide)
		})
	}
}

// fanoutSetup opens a store with a subscription (id) to every event,
// whose endpoint is a receiver that checks each signature.
func fanoutSetup(t *testing.T, id string) (*storage.DB, *receiver, pass.Subscription, time.Time) {
	t.Helper()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rcv := newReceiver(t, 0)
	secret := outbound.NewSecret()
	rcv.setSecret(secret)
	now := time.Now()
	sub := pass.Subscription{Tenant: "demo", ID: id, Endpoint: rcv.srv.URL + "/hook", Events: []string{"*"}, Enabled: true,
		Secret: secret, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	return db, rcv, sub, now
}

func failingFanoutHoldsItsPass(t *testing.T, wide bool) {
	ctx := context.Background()
	db, rcv, sub, now := fanoutSetup(t, "wh_order")
	p := &pass.Pass{Tenant: "demo", SerialNumber: "held", PassTypeID: "pass.x", Version: 2, Status: pass.StatusActive}
	first := pass.PassEvent(p, pass.EventPassUpdated, now, "")
	firstTask, firstWork := pass.TaskOf(first, ""), func() error { return (&pass.Fanout{Store: db, Clock: time.Now}).Work(ctx, first, "") }
	var evs []pass.EventArgs // the earlier fan-out's, as delivered
	if wide {
		// The change's page: another pass's event made after the held
		// pass's, and the batch's key names that latest one.
		o := &pass.Pass{Tenant: "demo", SerialNumber: "other", PassTypeID: "pass.x", Version: 2, Status: pass.StatusActive}
		other := pass.PassEvent(o, pass.EventPassUpdated, now, "")
		batch := pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{first, other}}
		firstTask = pass.TaskOf(batch, "")
		firstWork = func() error { return (&pass.Fanout{Store: db, Clock: time.Now}).WorkBatch(ctx, batch, "") }
		evs = append(evs, other)
	}
	evs = append(evs, first)
	p.Version = 3
	second := pass.PassEvent(p, pass.EventPassUpdated, now.Add(time.Millisecond), "")
	for _, nt := range []pass.NewTask{firstTask, pass.TaskOf(second, "")} {
		if _, err := db.Enqueue(ctx, nt, now); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := db.Claim(ctx, now, time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d fan-outs (%v), want 2", len(claimed), err)
	}
	fan := &pass.Fanout{Store: db, Clock: func() time.Time { return now }}
	del := &pass.Deliverer{Store: db, Sender: outbound.NewSender(true), Clock: func() time.Time { return now }}
	// The first event's fan-out fails: the store refused it; its retry is
	// a minute away.
	retry := now.Add(time.Minute)
	for _, c := range claimed {
		if c.DedupKey == firstTask.DedupKey {
			if err := db.Fail(ctx, c, "storage: database is locked", retry, false, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = fan.Work(ctx, second, "")
	if de, ok := errors.AsType[*pass.DeferError](err); !ok || !de.At.Equal(retry.Truncate(time.Millisecond)) {
		t.Fatalf("the second event's fan-out: %v, want it deferred until the first's retry at %s", err, retry)
	}
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err != nil {
		t.Fatal(err)
	}
	if n := rcv.count(); n != 0 {
		t.Fatalf("%d events delivered before the first was stored", n)
	}
	// The retry stores the first; then the second goes.
	if err := firstWork(); err != nil {
		t.Fatal(err)
	}
	again, err := db.Claim(ctx, retry, time.Minute, 10)
	if err != nil || len(again) == 0 {
		t.Fatalf("the first fan-out's retry: %d claimed, %v", len(again), err)
	}
	for _, c := range again {
		if c.DedupKey == firstTask.DedupKey {
			if err := db.Complete(ctx, c, retry, retry); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := fan.Work(ctx, second, ""); err != nil {
		t.Fatalf("the second event's fan-out once the first is stored: %v", err)
	}
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var ids []string
	for _, d := range rcv.got {
		if d.Serial == p.SerialNumber {
			ids = append(ids, d.ID)
		}
	}
	if want := []string{first.ID, second.ID}; !slices.Equal(ids, want) {
		t.Errorf("delivered %q of the held pass, want %q", ids, want)
	}
	if n := len(rcv.got); n != len(evs)+1 {
		t.Errorf("%d events delivered, want %d", n, len(evs)+1)
	}
}

// TestOneFailingPassDoesNotHoldTheRest: the endpoint refuses one pass's
// messages (a receiver's bug about that pass); the messages of 1,500
// other passes are delivered in the same run, a page after another, while
// that pass's stream waits for its retries alone; after DeliveryGiveUp its
// message is failed for good and the next one of the stream goes. An
// endpoint that answers 410 Gone disables the subscription; enabling it
// again delivers what it is owed.
func TestOneFailingPassDoesNotHoldTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rcv := newReceiver(t, 0)
	rcv.refuse = map[string]int{"bad": http.StatusUnprocessableEntity}
	secret := outbound.NewSecret()
	rcv.setSecret(secret)
	now := time.Now()
	sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: rcv.srv.URL + "/hook", Events: []string{"*"}, Enabled: true,
		Secret: secret, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	fan := &pass.Fanout{Store: db, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	del := &pass.Deliverer{Store: db, Sender: outbound.NewSender(true), Clock: func() time.Time { return time.Unix(0, clock.Load()) },
		Log: slog.New(slog.DiscardHandler)}
	announce := func(serial string, version int) string {
		t.Helper()
		p := &pass.Pass{Tenant: "demo", SerialNumber: serial, PassTypeID: "pass.x", Version: version, Status: pass.StatusActive}
		ev := pass.PassEvent(p, pass.EventPassUpdated, time.Unix(0, clock.Load()), "")
		if err := fan.Work(ctx, ev, ""); err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	first := announce("bad", 1) // "bad" sorts before the others: the first page starts with it
	second := announce("bad", 2)
	for i := range 1500 {
		announce(fmt.Sprintf("p%04d", i), 1)
	}
	rcv.mu.Lock()
	rcv.refuse = map[string]int{first: http.StatusUnprocessableEntity}
	rcv.mu.Unlock()
	run := func() error { return del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "") }
	state := func(id string) pass.OutboundMessage {
		t.Helper()
		msgs, _ := db.Messages(ctx, "demo", sub.ID, 2000)
		for _, m := range msgs {
			if m.ID == id {
				return m
			}
		}
		t.Fatalf("no message %s", id)
		return pass.OutboundMessage{}
	}
	err = run()
	if de, ok := errors.AsType[*pass.DeferError](err); !ok || !strings.Contains(de.Why, "HTTP 422") {
		t.Fatalf("the run answered %v, want a deferral for the failing stream", err)
	}
	if n := rcv.count(); n != 1500 {
		t.Errorf("%d of the 1,500 other passes' messages delivered in the first run", n)
	}
	if m := state(first); m.State != "pending" || m.Attempts != 1 || m.LastStatus != 422 {
		t.Errorf("the refused message: %+v", m)
	}
	if m := state(second); m.State != "pending" || m.Attempts != 0 {
		t.Errorf("the message behind it went out of order: %+v", m)
	}
	// Retried until DeliveryGiveUp after it was made, then failed for
	// good; the stream's next message goes at once.
	clock.Store(now.Add(pass.DeliveryGiveUp).UnixNano())
	if err := run(); err != nil {
		t.Fatalf("the run after giving up: %v", err)
	}
	if m := state(first); m.State != "failed" || m.Attempts != 2 {
		t.Errorf("the message given up: %+v", m)
	}
	if m := state(second); m.State != "delivered" {
		t.Errorf("the next message of its stream: %+v", m)
	}
	// 410 Gone: the subscription is disabled, the message stays owed, and
	// enabling the subscription again delivers it.
	gone := announce("p0000", 2)
	rcv.mu.Lock()
	rcv.refuse = map[string]int{gone: http.StatusGone}
	rcv.mu.Unlock()
	if err := run(); err != nil {
		t.Fatalf("the run that met 410: %v", err)
	}
	if got, _ := db.Subscription(ctx, "demo", sub.ID); got == nil || got.Enabled {
		t.Fatalf("after a 410 the subscription is %+v, want it disabled", got)
	}
	if m := state(gone); m.State != "pending" || m.LastStatus != 410 {
		t.Errorf("the message met with 410: %+v", m)
	}
	rcv.mu.Lock()
	rcv.refuse = nil
	rcv.mu.Unlock()
	sub.Enabled = true
	if err := db.UpdateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if m := state(gone); m.State != "delivered" {
		t.Errorf("after enabling again: %+v", m)
	}
}

// scriptedSender answers each message as answer says, counting the
// requests and the secrets they were signed with.
type scriptedSender struct {
	mu      sync.Mutex
	answer  func(m pass.OutboundMessage) (int, error)
	calls   int
	secrets []string
	after   func(n int) // called after the n-th request
}

func (s *scriptedSender) Send(_ context.Context, sub pass.Subscription, m pass.OutboundMessage) (int, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.secrets = append(s.secrets, sub.Secret)
	s.mu.Unlock()
	if s.after != nil {
		s.after(n)
	}
	return s.answer(m)
}

// deliveryFixture is a subscription in a fresh store with a clock of its
// own and n passes' events to deliver (k events each).
func deliveryFixture(t *testing.T, n, k int) (*storage.DB, pass.Subscription, *atomic.Int64, map[string][]string) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	sub := pass.Subscription{Tenant: "demo", ID: "wh_1", Endpoint: "https://crm.example.com/h", Events: []string{"*"}, Enabled: true,
		Secret: outbound.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := db.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	clock := &atomic.Int64{}
	clock.Store(now.UnixNano())
	fan := &pass.Fanout{Store: db, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	ids := map[string][]string{}
	for v := 1; v <= k; v++ {
		for i := range n {
			p := &pass.Pass{Tenant: "demo", SerialNumber: fmt.Sprintf("p%04d", i), PassTypeID: "pass.x", Version: v, Status: pass.StatusActive}
			ev := pass.PassEvent(p, pass.EventPassUpdated, now, "")
			if err := fan.Work(ctx, ev, ""); err != nil {
				t.Fatal(err)
			}
			ids[p.SerialNumber] = append(ids[p.SerialNumber], ev.ID)
		}
	}
	return db, sub, clock, ids
}

// TestFailureAfterADeliveryWaits: a pass whose first message is taken and
// whose second is refused in the same run keeps its wait: the run is
// deferred to the retry, not finished with the message owed and no task.
func TestFailureAfterADeliveryWaits(t *testing.T) {
	t.Parallel()
	db, sub, clock, ids := deliveryFixture(t, 1, 2)
	second := ids["p0000"][1]
	snd := &scriptedSender{answer: func(m pass.OutboundMessage) (int, error) {
		if m.ID == second {
			return 422, nil
		}
		return 204, nil
	}}
	del := &pass.Deliverer{Store: db, Sender: snd, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	err := del.Work(context.Background(), pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "")
	if _, ok := errors.AsType[*pass.DeferError](err); !ok {
		t.Fatalf("the run answered %v, want a deferral for the refused second message", err)
	}
	if _, waiting, err := db.NextStreamWait(context.Background(), "demo", sub.ID); !waiting || err != nil {
		t.Errorf("the refused message's stream does not wait (%v)", err)
	}
}

// TestEndpointSparedWhenDown: an endpoint that fails everything gets one
// round of requests per run, not one per pass; one that answers 429 with
// Retry-After stops the run at once and is asked again no sooner.
func TestEndpointSparedWhenDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, sub, clock, _ := deliveryFixture(t, 200, 1)
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	down := &scriptedSender{answer: func(pass.OutboundMessage) (int, error) { return 0, errors.New("connection refused") }}
	del := &pass.Deliverer{Store: db, Sender: down, Clock: now}
	err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "")
	if _, ok := errors.AsType[*pass.DeferError](err); !ok {
		t.Fatalf("the run answered %v, want a deferral", err)
	}
	if down.calls > 2*pass.DeliveryStreams {
		t.Errorf("%d requests to an endpoint that is down, for 200 passes; want about one round (%d)", down.calls, pass.DeliveryStreams)
	}
	clock.Add(int64(2 * pass.MaxDeliveryBackoff)) // every wait is over
	throttled := &scriptedSender{answer: func(pass.OutboundMessage) (int, error) {
		return 429, &pass.RetryAfterError{After: 10 * time.Minute, Err: pass.Errorf(pass.KindUnavailable, "HTTP 429")}
	}}
	del.Sender = throttled
	err = del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "")
	de, ok := errors.AsType[*pass.DeferError](err)
	if !ok || de.At.Before(now().Add(10*time.Minute)) {
		t.Fatalf("after a 429 asking for 10 minutes: %v, want a deferral that long", err)
	}
	if throttled.calls > pass.DeliveryStreams {
		t.Errorf("%d requests after the first 429, want the run stopped", throttled.calls)
	}
	// A new event of a pass that never failed starts a run before the
	// pause is over: it sends nothing, and comes back when the pause ends.
	clock.Add(int64(time.Minute))
	fan := &pass.Fanout{Store: db, Clock: now}
	p := &pass.Pass{Tenant: "demo", SerialNumber: "fresh", PassTypeID: "pass.x", Version: 1, Status: pass.StatusActive}
	if err := fan.Work(ctx, pass.PassEvent(p, pass.EventPassUpdated, now(), ""), ""); err != nil {
		t.Fatal(err)
	}
	taken := &scriptedSender{answer: func(pass.OutboundMessage) (int, error) { return 204, nil }}
	del.Sender = taken
	err = del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "")
	if de, ok := errors.AsType[*pass.DeferError](err); !ok || !de.At.Equal(paused(t, db, sub.ID)) || taken.calls != 0 {
		t.Errorf("a new event during the pause: %v and %d requests, want a deferral to the pause's end and none", err, taken.calls)
	}
	clock.Add(int64(10 * time.Minute))
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err != nil || taken.calls != 201 {
		t.Errorf("after the pause: %v, %d requests; want the 201 messages delivered", err, taken.calls)
	}
}

// paused is when a subscription's pause ends (zero for none).
func paused(t *testing.T, db *storage.DB, id string) time.Time {
	t.Helper()
	sub, err := db.Subscription(context.Background(), "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	if sub.PausedUntil.IsZero() {
		t.Errorf("subscription %s is not paused", id)
	}
	return sub.PausedUntil
}

// TestRotationBetweenPages: a secret rotated (with no overlap) while a
// long run delivers is used from the next page on.
func TestRotationBetweenPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, sub, clock, _ := deliveryFixture(t, 3, 1)
	next := outbound.NewSecret()
	snd := &scriptedSender{answer: func(pass.OutboundMessage) (int, error) { return 204, nil }}
	snd.after = func(n int) {
		if n == 1 {
			if _, err := db.RotateSecret(ctx, "demo", sub.ID, next, time.Time{}, time.Unix(0, clock.Load())); err != nil {
				t.Error(err)
			}
		}
	}
	del := &pass.Deliverer{Store: db, Sender: snd, Clock: func() time.Time { return time.Unix(0, clock.Load()) }, PageSize: 1}
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err != nil {
		t.Fatal(err)
	}
	if len(snd.secrets) != 3 || snd.secrets[0] != sub.Secret || snd.secrets[1] != next || snd.secrets[2] != next {
		t.Errorf("signed with %d secrets; want the old one once, then the new one", len(snd.secrets))
	}
}

// TestLateFanOutStillRetried: messages stored by a fan-out that ran days
// after its event (retried while the store was down) get their days of
// retries from when they were stored.
func TestLateFanOutStillRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, sub, clock, _ := deliveryFixture(t, 0, 0)
	fan := &pass.Fanout{Store: db, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	p := &pass.Pass{Tenant: "demo", SerialNumber: "late", PassTypeID: "pass.x", Version: 1, Status: pass.StatusActive}
	if err := fan.Work(ctx, pass.PassEvent(p, pass.EventPassUpdated, time.Unix(0, clock.Load()).Add(-97*time.Hour), ""), ""); err != nil {
		t.Fatal(err)
	}
	snd := &scriptedSender{answer: func(pass.OutboundMessage) (int, error) { return 503, nil }}
	del := &pass.Deliverer{Store: db, Sender: snd, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err == nil {
		t.Fatal("no deferral after a refusal")
	}
	msgs, err := db.Messages(ctx, "demo", sub.ID, 10)
	if err != nil || len(msgs) != 1 || msgs[0].State != "pending" {
		t.Errorf("the late message after one refusal: %+v (%v), want it pending", msgs, err)
	}
}

// TestSlowEndpointMakesWay: a run to an endpoint that answers slowly stops
// when its time is up and comes back at once (behind the tasks due before
// it), instead of holding a worker for the whole backlog.
func TestSlowEndpointMakesWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, sub, clock, _ := deliveryFixture(t, 40, 1)
	snd := &scriptedSender{answer: func(pass.OutboundMessage) (int, error) { return 204, nil }}
	snd.after = func(int) { clock.Add(int64(29 * time.Second)) } // each answer takes 29 s
	del := &pass.Deliverer{Store: db, Sender: snd, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}
	err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, "")
	de, ok := errors.AsType[*pass.DeferError](err)
	if !ok || de.At.After(time.Unix(0, clock.Load())) {
		t.Fatalf("a run past its time: %v, want it back at once", err)
	}
	if snd.calls >= 40 {
		t.Errorf("%d of 40 messages sent in the run, want it cut short", snd.calls)
	}
	for range 20 { // the runs that follow deliver the rest
		if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err == nil {
			break
		}
	}
	if msgs, _ := db.PendingMessages(ctx, "demo", sub.ID, "", 100, time.Unix(0, clock.Load())); len(msgs) != 0 {
		t.Errorf("%d messages left after the runs that followed", len(msgs))
	}
}

// TestHeldPassDoesNotHoldItsBatch: an event-wide change's batch whose one
// pass has an earlier event not stored yet (its fan-out failed) stores
// the events of its other passes at once and hands that pass's to a
// batch of its own, which stores them once the earlier one is; a later
// event of one of the other passes does not wait. The receiver gets each
// pass's events in order, once, and the other passes' without waiting
// for the held one; a subscription made meanwhile gets none of the
// events stored before it.
func TestHeldPassDoesNotHoldItsBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, rcv, sub, now := fanoutSetup(t, "wh_held")
	event := func(serial string, version int) pass.EventArgs {
		return pass.PassEvent(&pass.Pass{Tenant: "demo", SerialNumber: serial, PassTypeID: "pass.x", Version: version, Status: pass.StatusActive},
			pass.EventPassUpdated, now, "")
	}
	first := event("held", 2) // its fan-out fails
	batch := pass.EventBatchArgs{Tenant: "demo", Events: []pass.EventArgs{event("held", 3), event("free", 3)}}
	later := event("free", 4) // after the batch, of its other pass
	for _, nt := range []pass.NewTask{pass.TaskOf(first, ""), pass.TaskOf(batch, ""), pass.TaskOf(later, "")} {
		if _, err := db.Enqueue(ctx, nt, now); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := db.Claim(ctx, now, time.Minute, 10)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claimed %d fan-outs (%v), want 3", len(claimed), err)
	}
	retry := now.Add(time.Minute)
	for _, c := range claimed {
		if c.DedupKey == first.DedupKey() {
			if err := db.Fail(ctx, c, "storage: database is locked", retry, false, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	fan := &pass.Fanout{Store: db, Clock: func() time.Time { return now }}
	del := &pass.Deliverer{Store: db, Sender: outbound.NewSender(true), Clock: func() time.Time { return now }}
	if err := fan.WorkBatch(ctx, batch, ""); err != nil {
		t.Fatalf("the batch: %v, want its free pass's event stored, the held one's handed on", err)
	}
	var rest pass.EventBatchArgs
	var rests []pass.Task
	tasks, err := db.ListTasks(ctx, pass.TaskPending, 100)
	for _, tk := range tasks {
		if tk.Kind == pass.TaskEventBatch {
			rests = append(rests, tk)
		}
	}
	if err != nil || len(rests) != 1 || json.Unmarshal(rests[0].Payload, &rest) != nil || len(rest.Events) != 1 ||
		rest.Events[0].ID != batch.Events[0].ID {
		t.Fatalf("the rest of the batch: %+v %v; want one batch of the held pass's event", rests, err)
	}
	// A subscription made now gets none of the events stored before it.
	rcvLate := newReceiver(t, 0)
	rcvLate.setSecret(sub.Secret)
	late := pass.Subscription{Tenant: "demo", ID: "wh_late", Endpoint: rcvLate.srv.URL + "/hook", Events: []string{"*"}, Enabled: true,
		Secret: sub.Secret, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateSubscription(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := fan.Work(ctx, later, ""); err != nil {
		t.Fatalf("a later event of the batch's other pass: %v, want it stored (the batch stored that pass's)", err)
	}
	if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: sub.ID}, ""); err != nil {
		t.Fatal(err)
	}
	delivered := func(rcv *receiver) map[string][]int {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		out := map[string][]int{}
		for _, d := range rcv.got {
			for _, ev := range []pass.EventArgs{first, batch.Events[0], batch.Events[1], later} {
				if ev.ID == d.ID {
					var data struct{ Version int }
					_ = json.Unmarshal(ev.Data, &data)
					out[d.Serial] = append(out[d.Serial], data.Version)
				}
			}
		}
		return out
	}
	if got := delivered(rcv); len(got["held"]) != 0 || !slices.Equal(got["free"], []int{3, 4}) {
		t.Fatalf("before the held pass's first event is stored: %v; want the free pass's 3 and 4 only", got)
	}
	// The first event's retry stores it; then the batch's retry stores the
	// held pass's version.
	if err := fan.Work(ctx, first, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range claimed {
		if c.DedupKey == first.DedupKey() {
			again, err := db.Claim(ctx, retry, time.Minute, 10)
			if err != nil || len(again) == 0 {
				t.Fatalf("the first fan-out's retry: %d claimed, %v", len(again), err)
			}
			for _, a := range again {
				if a.DedupKey == first.DedupKey() {
					if err := db.Complete(ctx, a, retry, retry); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	// A later event of the held pass waits for the rest of the batch.
	if err := fan.Work(ctx, event("held", 4), ""); !errors.As(err, new(*pass.DeferError)) {
		t.Fatalf("a later event of the held pass while the rest of its batch is owed: %v, want it deferred", err)
	}
	if err := fan.WorkBatch(ctx, rest, ""); err != nil {
		t.Fatalf("the rest of the batch once the held pass's first event is stored: %v", err)
	}
	for _, s := range []string{sub.ID, late.ID} {
		if err := del.Work(ctx, pass.DeliveryArgs{Tenant: "demo", Subscription: s}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := delivered(rcv); !slices.Equal(got["held"], []int{2, 3}) || !slices.Equal(got["free"], []int{3, 4}) {
		t.Errorf("delivered %v; want held 2, 3 and free 3, 4, once each", got)
	}
	if got := delivered(rcvLate); !slices.Equal(got["held"], []int{2, 3}) || !slices.Equal(got["free"], []int{4}) {
		t.Errorf("delivered to the subscription made meanwhile %v; want held 2, 3 and free 4 (free 3 was stored before it)", got)
	}
}
