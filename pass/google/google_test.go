package google_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/walletobjects/v1"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
	"walletpass/storage"
)

const issuerID = "3388000000022222222"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type bundle struct {
	fake   *fakegoogle.Server
	db     *storage.DB
	syncer *google.Syncer
	issuer *google.Issuer
	sa     *google.ServiceAccount
	clock  *clock
	tag    int64
}

var (
	saOnce sync.Once
	saJSON []byte
	saErr  error
)

func setup(t *testing.T, tweak func(*google.Issuer)) *bundle {
	t.Helper()
	saOnce.Do(func() { saJSON, saErr = google.NewServiceAccountJSON("wallet@test.iam.gserviceaccount.com", "") })
	if saErr != nil {
		t.Fatal(saErr)
	}
	sa, err := google.ParseServiceAccount(saJSON)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	fake := fakegoogle.NewServer(fakegoogle.Options{IssuerID: issuerID, RequireAuth: true,
		ServiceAccountEmail: sa.Email, ServiceAccountPublicKey: &sa.Key.PublicKey})
	t.Cleanup(fake.Close)
	sa.TokenURI = fake.TokenURL()
	api, err := google.NewClient(google.ClientConfig{Endpoint: fake.URL + "/", Account: sa})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	is := &google.Issuer{Tenant: "demo", IssuerID: issuerID, IssuerName: "Demo Concerts", ImageBaseURL: "https://passes.example.com/api/demo/google/images"}
	if tweak != nil {
		tweak(is)
	}
	syncer := &google.Syncer{Passes: db, Store: db, Clock: clk.now, Queue: db, Tenants: map[string]*google.Tenant{"demo": {
		Issuer: is, Account: sa, API: api,
		Design: func(name string) google.Design {
			return google.Design{Template: name, Background: "#1b2a4a", Logo: "icon@3x.png", Hero: "strip@3x.png"}
		},
	}}}
	return &bundle{fake: fake, db: db, syncer: syncer, issuer: is, sa: sa, clock: clk, tag: clk.t.UnixMilli()}
}

// another returns a syncer as b's, with locks of its own (another
// instance's, or a copy made to change a field).
func (b *bundle) another() *google.Syncer {
	s := b.syncer
	return &google.Syncer{Passes: s.Passes, Store: s.Store, Tenants: s.Tenants, Timeline: s.Timeline, Queue: s.Queue,
		Notices: s.Notices, Leases: s.Leases, Page: s.Page, Log: s.Log, Clock: s.Clock}
}

func ticket(movement int64) pass.Ticket {
	zone, _ := time.LoadLocation("Europe/Zurich")
	return pass.Ticket{
		Tenant: "demo", FileID: 4711, OrderID: 815, OrderSecretToken: "secret-order-token", MovementID: movement,
		TicketID: movement + 1000, Barcode: fmt.Sprintf("BC%d", movement), Symbology: pass.SymbologyQR,
		Event: pass.Event{PerformanceID: 99, Name: "Symphonic Night", Kind: pass.EventConcert, TimeZone: "Europe/Zurich",
			Start: time.Date(2026, 6, 1, 20, 0, 0, 0, zone), End: time.Date(2026, 6, 1, 22, 30, 0, 0, zone)},
		Venue:      pass.Venue{Name: "Victoria Hall", Address: "Rue du Général-Dufour 14", City: "Genève", PostalCode: "1204", Country: "CH", Entrance: "Porte A"},
		Seat:       pass.Seat{Area: "Parterre", Block: "B", Row: "12", Number: "14"},
		Tariff:     "Adulte",
		Price:      pass.Money{Thousandths: 85000, Currency: "CHF"},
		HolderName: "Léa Favre", Locale: "en", State: pass.TicketValid,
	}
}

// create stores version 1 of a pass for t.
func (b *bundle) create(t *testing.T, tk pass.Ticket) *pass.Pass {
	t.Helper()
	b.tag++
	now := b.clock.now()
	p := &pass.Pass{Tenant: "demo", SerialNumber: pass.NewSerialNumber(), AuthToken: pass.NewAuthToken(), PassTypeID: "pass.x.y",
		Template: "default", MovementID: tk.MovementID, FileID: tk.FileID, OrderID: tk.OrderID, TicketID: tk.TicketID,
		Version: 1, UpdateTag: b.tag, ContentHash: "h1", Status: pass.StatusFor(tk.State), SecretToken: tk.OrderSecretToken,
		Ticket: tk, CreatedAt: now, UpdatedAt: now}
	if err := b.db.CreatePass(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// saved is create, then the order's save link opened (its objects
// inserted in Google Wallet).
func (b *bundle) saved(t *testing.T, tk pass.Ticket) *pass.Pass {
	t.Helper()
	p := b.create(t, tk)
	if _, err := b.syncer.SaveURL(context.Background(), "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	return p
}

// update stores the next version of p with the ticket changed by change.
func (b *bundle) update(t *testing.T, p *pass.Pass, change func(*pass.Ticket)) *pass.Pass {
	t.Helper()
	next := *p
	change(&next.Ticket)
	b.tag++
	next.Version++
	next.UpdateTag = b.tag
	next.Status = pass.StatusFor(next.Ticket.State)
	next.ContentHash = fmt.Sprintf("h%d", next.Version)
	next.UpdatedAt = b.clock.now()
	if err := b.db.UpdatePass(context.Background(), &next, nil); err != nil {
		t.Fatal(err)
	}
	return &next
}

func (b *bundle) sync(t *testing.T, p *pass.Pass) {
	t.Helper()
	if err := b.syncer.Sync(context.Background(), pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, "corr"); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) object(t *testing.T, p *pass.Pass) *walletobjects.EventTicketObject {
	t.Helper()
	o, ok := b.fake.EventTicketObject(google.ObjectID(issuerID, "demo", p.SerialNumber))
	if !ok {
		t.Fatalf("the fake has no object for %s", p.SerialNumber)
	}
	return o
}

// class returns the class Google holds for p's event.
func (b *bundle) class(t *testing.T, p *pass.Pass) *walletobjects.EventTicketClass {
	t.Helper()
	cl, ok := b.fake.EventTicketClass(google.ClassID(issuerID, "demo", p.Ticket))
	if !ok {
		t.Fatalf("the fake has no class for %s", p.SerialNumber)
	}
	return cl
}

func ls(o *walletobjects.LocalizedString) string {
	if o == nil || o.DefaultValue == nil {
		return ""
	}
	return o.DefaultValue.Value
}

// failures returns the requests the fake refused (other than programmed
// failures), to prove it accepted everything we sent.
func refused(b *bundle) []string {
	var out []string
	for _, r := range b.fake.Requests() {
		if r.Status >= 400 && r.Status != http.StatusConflict {
			out = append(out, fmt.Sprintf("%s %s -> %d", r.Method, r.Path, r.Status))
		}
	}
	return out
}

func decodeJWT(t *testing.T, tok string, key *rsa.PublicKey) (map[string]any, google.SaveClaims) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var header map[string]any
	if err := json.Unmarshal(hb, &header); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature does not verify with the service account's public key: %v", err)
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var raw map[string]any
	if err := json.Unmarshal(cb, &raw); err != nil {
		t.Fatal(err)
	}
	var c google.SaveClaims
	if err := json.Unmarshal(cb, &c); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["origins"]; !ok {
		t.Error("origins is not a top-level claim")
	}
	if pl, _ := raw["payload"].(map[string]any); pl != nil {
		if _, bad := pl["origins"]; bad {
			t.Error("origins inside payload")
		}
	}
	return header, c
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))

	// Nothing goes to Google before the buyer opens the save link.
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p1.SerialNumber}, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(b.fake.Requests()); n != 0 {
		t.Fatalf("%d requests before the save link was opened", n)
	}

	// Paid, the buyer clicks: class and objects ACTIVE.
	u, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, "corr")
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(u, google.DefaultSaveURL)
	if !ok {
		t.Fatalf("save URL %q", u)
	}
	header, claims := decodeJWT(t, tok, &b.sa.Key.PublicKey)
	if header["alg"] != "RS256" {
		t.Errorf("alg = %v", header["alg"])
	}
	wantIDs := []google.ObjectRef{{ID: google.ObjectID(issuerID, "demo", p1.SerialNumber)}, {ID: google.ObjectID(issuerID, "demo", p2.SerialNumber)}}
	if claims.Iss != b.sa.Email || claims.Aud != "google" || claims.Typ != "savetowallet" || claims.Iat != b.clock.now().Unix() {
		t.Errorf("claims = %+v", claims)
	}
	if diff := cmp.Diff(wantIDs, claims.Payload.EventTicketObjects); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	cl := b.class(t, p1)
	if ls(cl.EventName) != "Symphonic Night" || cl.DateTime.Start != "2026-06-01T20:00:00+02:00" || ls(cl.Venue.Name) != "Victoria Hall" ||
		cl.HexBackgroundColor != "#1b2a4a" || cl.Logo.SourceUri.Uri != "https://passes.example.com/api/demo/google/images/default/icon@3x.png" {
		t.Errorf("class = %+v", cl)
	}
	o := b.object(t, p1)
	if o.State != "ACTIVE" || o.Barcode.Value != "BC1" || o.Barcode.Type != "QR_CODE" || ls(o.SeatInfo.Row) != "12" ||
		o.TicketHolderName != "Léa Favre" || o.GroupingInfo.GroupingId != "demo-4711" || o.FaceValue.Micros != 85_000_000 {
		t.Errorf("object = %+v", o)
	}

	// Seat change: patched, a notifying message, other fields kept.
	p1 = b.update(t, p1, func(tk *pass.Ticket) { tk.Seat.Row, tk.Seat.Number = "3", "7" })
	b.sync(t, p1)
	o = b.object(t, p1)
	if ls(o.SeatInfo.Row) != "3" || ls(o.SeatInfo.Seat) != "7" || o.TicketHolderName != "Léa Favre" || o.Barcode.Value != "BC1" || o.State != "ACTIVE" {
		t.Errorf("after the seat change: %+v", o)
	}
	if len(o.Messages) != 1 || o.Messages[0].MessageType != "TEXT_AND_NOTIFY" || !strings.Contains(o.Messages[0].Body, "Row 3, Seat 7") {
		t.Errorf("messages = %+v", o.Messages)
	}

	// Validated at the gate: COMPLETED, with a silent message.
	p1 = b.update(t, p1, func(tk *pass.Ticket) { tk.State = pass.TicketUsed })
	b.sync(t, p1)
	o = b.object(t, p1)
	if o.State != "COMPLETED" || len(o.Messages) != 2 || o.Messages[1].MessageType != "TEXT" {
		t.Errorf("after the scan: state %s, messages %+v", o.State, o.Messages)
	}

	// Cancelled: the message first, then INACTIVE without a barcode.
	b.fake.ClearRequests()
	p2 = b.update(t, p2, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	b.sync(t, p2)
	o = b.object(t, p2)
	if o.State != "INACTIVE" || o.Barcode != nil || len(o.Messages) != 1 || o.Messages[0].MessageType != "TEXT_AND_NOTIFY" {
		t.Errorf("after the cancellation: %+v", o)
	}
	var calls []string
	for _, r := range b.fake.Requests() {
		if strings.HasPrefix(r.Path, "/walletobjects/") {
			calls = append(calls, r.Method+" "+r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if want := []string{"POST addMessage", "PATCH " + wantIDs[1].ID}; !cmp.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}

	// A sync with nothing new calls nothing.
	b.fake.ClearRequests()
	b.sync(t, p2)
	if n := len(b.fake.Requests()); n != 0 {
		t.Errorf("%d requests for an unchanged pass", n)
	}
	// The link leaves the cancelled ticket out.
	u, err = b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_, claims = decodeJWT(t, strings.TrimPrefix(u, google.DefaultSaveURL), &b.sa.Key.PublicKey)
	if diff := cmp.Diff(wantIDs[:1], claims.Payload.EventTicketObjects); diff != "" {
		t.Errorf("objects after the cancellation (-want +got):\n%s", diff)
	}
	if r := refused(b); len(r) > 0 {
		t.Errorf("the fake refused: %v", r)
	}
}

func TestReEntryStaysActive(t *testing.T) {
	t.Parallel()
	b := setup(t, func(is *google.Issuer) { is.ReEntry = true })
	p := b.create(t, ticket(1))
	if _, err := b.syncer.SaveURL(context.Background(), "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketUsed })
	b.sync(t, p)
	o := b.object(t, p)
	if o.State != "ACTIVE" || len(o.Messages) != 1 || o.Messages[0].Header != "Checked in" || o.Messages[0].MessageType != "TEXT" {
		t.Errorf("re-entry scan: state %s, messages %+v", o.State, o.Messages)
	}
}

func TestNotifyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := b.create(t, ticket(1))
	if _, err := b.syncer.SaveURL(context.Background(), "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = fmt.Sprint(20 + i) })
		b.sync(t, p)
		b.clock.add(time.Hour)
	}
	o := b.object(t, p)
	var kinds []string
	for _, m := range o.Messages {
		kinds = append(kinds, m.MessageType)
	}
	if want := []string{"TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT"}; !cmp.Equal(kinds, want) {
		t.Errorf("message types = %v, want %v", kinds, want)
	}
	// A day later our record allows notifying again. The fake keeps real
	// time, so it still counts the three and refuses with its quota
	// error: the message then goes out silently instead of being lost.
	b.clock.add(22 * time.Hour)
	b.fake.ClearRequests()
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "99" })
	b.sync(t, p)
	tries := addMessageTries(b)
	if want := []string{"TEXT_AND_NOTIFY 429", "TEXT 200"}; !cmp.Equal(tries, want) {
		t.Errorf("addMessage calls = %v, want %v", tries, want)
	}
	o = b.object(t, p)
	if n := len(o.Messages); n != 5 || o.Messages[4].MessageType != "TEXT" {
		t.Errorf("%d messages, last %+v", n, o.Messages[n-1])
	}
	rec, err := b.db.GoogleObject(context.Background(), "demo", p.SerialNumber)
	if err != nil || len(rec.Notified) != 0 {
		t.Errorf("record keeps %d notifications in the window (%v), want none (the refused one does not count)", len(rec.Notified), err)
	}
}

// TestThrottledNotifyRetried: a notifying message that Google's rate limit
// refuses (a 429 naming it) fails its task's run, to be retried, and goes
// out notifying when the retry is let through; at the task's
// ThrottledNotifyAttempts-th or last attempt it goes out silently, as it
// does at once outside a task (a buyer's save link), or for a 429 that
// asks for a long wait, or one that names QuotaExceededException (the
// pass's limit).
func TestThrottledNotifyRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := b.saved(t, ticket(1))
	ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
	throttle := func(reason, msg string, after time.Duration) {
		b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/walletobjects/v1/eventTicketObject/", Status: 429,
			Reason: reason, Message: msg, RetryAfter: after})
	}
	rateLimit := "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user'."
	for _, tc := range []struct {
		name     string
		change   bool // a new seat first
		throttle func()
		attempt  int
		want     []string // the addMessage tries
		retried  bool
	}{
		{"rate limited", true, func() { throttle("rateLimitExceeded", rateLimit, 0) }, 1, []string{"TEXT_AND_NOTIFY 429"}, true},
		{"its retry", false, func() {}, 2, []string{"TEXT_AND_NOTIFY 200"}, false},
		{"rate limited at the last attempt to wait", true, func() { throttle("rateLimitExceeded", rateLimit, 0) }, google.ThrottledNotifyAttempts,
			[]string{"TEXT_AND_NOTIFY 429", "TEXT 200"}, false},
		{"rate limited at the task's last attempt", true, func() { throttle("rateLimitExceeded", rateLimit, 0) }, -2,
			[]string{"TEXT_AND_NOTIFY 429", "TEXT 200"}, false},
		{"rate limited outside a task", true, func() { throttle("rateLimitExceeded", rateLimit, 0) }, 0,
			[]string{"TEXT_AND_NOTIFY 429", "TEXT 200"}, false},
		{"a long Retry-After", true, func() { throttle("rateLimitExceeded", rateLimit, 2*google.MaxThrottleWait) }, 1,
			[]string{"TEXT_AND_NOTIFY 429", "TEXT 200"}, false},
		{"the pass's limit, with a Retry-After", true, func() {
			throttle("quotaExceeded", "QuotaExceededException: too many notifications", 2*time.Second)
		}, 1, []string{"TEXT_AND_NOTIFY 429", "TEXT 200"}, false},
	} {
		if tc.change {
			p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = tc.name })
		}
		b.fake.ClearRequests()
		tc.throttle()
		// A task's run (attempt n of 8), or, at -2, the second of a kind
		// given up after 2; 0: a buyer's request.
		ctx := context.Background()
		switch {
		case tc.attempt > 0:
			ctx = pass.WithMaxAttempts(pass.WithAttempt(ctx, tc.attempt), 8)
		case tc.attempt < 0:
			ctx = pass.WithMaxAttempts(pass.WithAttempt(ctx, -tc.attempt), -tc.attempt)
		}
		err := b.syncer.Sync(ctx, ref, "")
		if got := addMessageTries(b); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: addMessage calls %v, want %v", tc.name, got, tc.want)
		}
		if tc.retried != (err != nil) || err != nil && (pass.KindOf(err) != pass.KindUnavailable || !errors.Is(err, google.ErrNotifyThrottled)) {
			t.Errorf("%s: %v (kind %v), want it retried: %v", tc.name, err, pass.KindOf(err), tc.retried)
		}
	}
	var kinds []string
	for _, m := range b.object(t, p).Messages {
		kinds = append(kinds, m.MessageType)
	}
	if want := []string{"TEXT_AND_NOTIFY", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT"}; !cmp.Equal(kinds, want) {
		t.Errorf("message types %v, want %v: the first notifying (retried), then the others silent", kinds, want)
	}
}

// addMessageTries are the addMessage calls the fake answered, as
// "<messageType> <status>".
func addMessageTries(b *bundle) []string {
	var tries []string
	for _, r := range b.fake.Requests() {
		if strings.HasSuffix(r.Path, "/addMessage") {
			var body struct {
				Message struct{ MessageType string } `json:"message"`
			}
			_ = json.Unmarshal(r.Body, &body)
			tries = append(tries, fmt.Sprintf("%s %d", body.Message.MessageType, r.Status))
		}
	}
	return tries
}

// TestRefusedMessageLeavesTheStateAlone: a cancellation whose message
// Google refuses, notifying (a refusal worded in any way: the limit's
// wire shape is not documented) and then silently, still makes the
// object INACTIVE without its barcode; the message is left out, once.
func TestRefusedMessageLeavesTheStateAlone(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
	b.fake.ClearRequests()
	b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/walletobjects/v1/eventTicketObject/" + oid + "/addMessage",
		Status: 400, Reason: "invalid", Message: "Notification limit reached for this pass", Count: 2})
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, ""); err != nil {
		t.Fatalf("the cancellation's sync: %v", err)
	}
	o := b.object(t, p)
	if o.State != "INACTIVE" || o.Barcode != nil || len(o.Messages) != 0 {
		t.Errorf("after the refused message: state %s, barcode %v, %d messages", o.State, o.Barcode, len(o.Messages))
	}
	tries := addMessageTries(b)
	if want := []string{"TEXT_AND_NOTIFY 400", "TEXT 400"}; !cmp.Equal(tries, want) {
		t.Errorf("addMessage calls = %v, want %v", tries, want)
	}
	// Synced again: nothing more to send.
	b.fake.ClearRequests()
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, ""); err != nil || len(b.fake.Requests()) != 0 {
		t.Errorf("a second sync: %v, %d requests", err, len(b.fake.Requests()))
	}
}

// staleFirst is a pass store whose first GetPass answers an older
// version of the pass: a sync that read the pass before its newest
// version was made.
type staleFirst struct {
	pass.PassStore
	once  sync.Once
	stale *pass.Pass
}

func (s *staleFirst) GetPass(ctx context.Context, tenant, serial string) (*pass.Pass, error) {
	var p *pass.Pass
	s.once.Do(func() { p = s.stale })
	if p != nil {
		return p, nil
	}
	return s.PassStore.GetPass(ctx, tenant, serial)
}

// TestOverlappingSyncsEndAtTheNewest: a sync that read the pass before it
// was voided (a buyer's save link) runs after the void's own sync made
// the object INACTIVE: the record holds a later version than the pass it
// read, so it writes nothing, and Google keeps the voided pass, told of
// the cancellation once.
func TestOverlappingSyncsEndAtTheNewest(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	valid := *p
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
	if err := b.syncer.Sync(ctx, ref, "void"); err != nil {
		t.Fatal(err)
	}
	late := b.another()
	late.Passes = &staleFirst{PassStore: b.db, stale: &valid}
	b.fake.ClearRequests()
	if err := late.Sync(ctx, ref, "late"); err != nil {
		t.Fatal(err)
	}
	if o := b.object(t, p); o.State != "INACTIVE" || o.Barcode != nil || len(o.Messages) != 1 {
		t.Errorf("after the late sync: state %s, barcode %v, %d messages; want INACTIVE without a barcode, the cancellation told once",
			o.State, o.Barcode, len(o.Messages))
	}
	if n := len(b.fake.Requests()); n != 0 {
		t.Errorf("the late sync sent %d requests; the record already holds a later version", n)
	}

	if rec, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber); err != nil || rec.Version != p.Version {
		t.Errorf("the record: %+v %v, want version %d", rec, err, p.Version)
	}
}

// staleRecord is a Google store whose first GoogleObject answers an
// older record: a sync that read it before another sync recorded its own.
type staleRecord struct {
	pass.GoogleStore
	once  sync.Once
	stale *pass.GoogleObject
}

func (s *staleRecord) GoogleObject(ctx context.Context, tenant, serial string) (*pass.GoogleObject, error) {
	var r *pass.GoogleObject
	s.once.Do(func() { c := *s.stale; r = &c })
	if r != nil {
		return r, nil
	}
	return s.GoogleStore.GoogleObject(ctx, tenant, serial)
}

// TestOverlappingSyncsResync: a sync that read the pass and its record
// before another sync wrote a later version (here, the cancellation after
// a new seat) patches its older version last; it then syncs the pass
// again at its newest, and the record keeps the newest.
func TestOverlappingSyncsResync(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	old, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "15" })
	reseated := *p
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
	if err := b.syncer.Sync(ctx, ref, "void"); err != nil {
		t.Fatal(err)
	}
	late := b.another()
	late.Passes = &staleFirst{PassStore: b.db, stale: &reseated}
	late.Store = &staleRecord{GoogleStore: b.db, stale: old}
	if err := late.Sync(ctx, ref, "late"); err != nil {
		t.Fatal(err)
	}
	if o := b.object(t, p); o.State != "INACTIVE" || o.Barcode != nil {
		t.Errorf("after the late sync: state %s, barcode %v; want INACTIVE without a barcode", o.State, o.Barcode)
	}
	if rec, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber); err != nil || rec.Version != p.Version || rec.State != "INACTIVE" {
		t.Errorf("the record: %+v %v, want version %d INACTIVE", rec, err, p.Version)
	}
}

// meetingRecords is a Google store whose first two GoogleObject calls
// answer only once both have read: two syncs that read the record at the
// same moment.
type meetingRecords struct {
	pass.GoogleStore
	mu    sync.Mutex
	reads int
	met   chan struct{}
}

func (s *meetingRecords) GoogleObject(ctx context.Context, tenant, serial string) (*pass.GoogleObject, error) {
	rec, err := s.GoogleStore.GoogleObject(ctx, tenant, serial)
	s.mu.Lock()
	s.reads++
	n := s.reads
	s.mu.Unlock()
	if n == 2 {
		close(s.met)
	}
	if n <= 2 {
		select {
		case <-s.met:
		case <-time.After(10 * time.Second): // the fix serialises more than the reads: no deadlock either way
		}
	}
	return rec, err
}

// TestConcurrentSyncsTellOnce: two syncs of a reseated pass that read its
// record at the same moment (a buyer's save link beside the new version's
// task: on one instance, or on two sharing the store's leases) tell the
// holder of the new seat once, and the record counts that notification.
func TestConcurrentSyncsTellOnce(t *testing.T) {
	t.Parallel()
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprint(instances, " instances"), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			ctx := context.Background()
			p := b.saved(t, ticket(1))
			p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "15" })
			meeting := &meetingRecords{GoogleStore: b.db, met: make(chan struct{})}
			b.syncer.Store = meeting
			syncers := []*google.Syncer{b.syncer, b.syncer}
			if instances == 2 {
				b.syncer.Leases = b.db
				syncers[1] = b.another()
			}
			errs := make(chan error, 2)
			for _, s := range syncers {
				go func() { errs <- s.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, "overlap") }()
			}
			for range syncers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			o := b.object(t, p)
			if len(o.Messages) != 1 || ls(o.SeatInfo.Seat) != "15" {
				t.Errorf("the object: seat %s, %d messages %+v; want seat 15, the new seat told once", ls(o.SeatInfo.Seat), len(o.Messages), o.Messages)
			}
			rec, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber)
			if err != nil || rec.Version != p.Version || len(rec.Notified) != len(o.Messages) {
				t.Errorf("the record: %+v %v; want version %d, as many notifications as messages", rec, err, p.Version)
			}
		})
	}
}

func TestRetriesAndConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.create(t, ticket(1))
	ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber, Insert: true}

	// 429: a retryable error, nothing recorded; the retry succeeds.
	b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/walletobjects/v1/eventTicketObject", Status: 429, RetryAfter: 2 * time.Second})
	err := b.syncer.Sync(ctx, ref, "")
	var ra *pass.RetryAfterError
	if pass.KindOf(err) != pass.KindUnavailable || !errors.As(err, &ra) || ra.After != 2*time.Second {
		t.Fatalf("after a 429: %v (kind %v)", err, pass.KindOf(err))
	}
	if _, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("a record after a failed insert: %v", err)
	}
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if o := b.object(t, p); o.State != "ACTIVE" {
		t.Errorf("state %s", o.State)
	}

	// 5xx on a patch is retryable too.
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Row = "1" })
	b.fake.FailNext(http.MethodPatch, "", 503, 1)
	if err := b.syncer.Sync(ctx, ref, ""); pass.KindOf(err) != pass.KindUnavailable {
		t.Fatalf("after a 503: %v", err)
	}
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	o := b.object(t, p)
	if ls(o.SeatInfo.Row) != "1" || len(o.Messages) != 1 {
		t.Errorf("after the retried patch: row %s, %d messages (the retry must not repeat them)", ls(o.SeatInfo.Row), len(o.Messages))
	}

	// 409 on insert (Google has the object, we lost our record): patched.
	q := b.create(t, ticket(2))
	stale := google.BuildObject(b.issuer, q, "ACTIVE")
	stale.TicketHolderName = "Somebody Else"
	if err := b.syncer.Tenants["demo"].API.InsertObject(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: q.SerialNumber, Insert: true}, ""); err != nil {
		t.Fatal(err)
	}
	if o := b.object(t, q); o.TicketHolderName != "Léa Favre" {
		t.Errorf("after 409 + patch: holder %q", o.TicketHolderName)
	}
	var saw409, sawPatch bool
	for _, r := range b.fake.Requests() {
		saw409 = saw409 || r.Status == http.StatusConflict
		sawPatch = sawPatch || (saw409 && r.Method == http.MethodPatch)
	}
	if !saw409 || !sawPatch {
		t.Errorf("want a 409 then a PATCH: 409 %v, patch %v", saw409, sawPatch)
	}

	// A refused request (the issuer's permission) is not retried.
	b.fake.FailNext(http.MethodPatch, "", 403, 1)
	b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Row = "2" })
	if err := b.syncer.Sync(ctx, ref, ""); pass.KindOf(err) != pass.KindUnauthorized {
		t.Errorf("after a 403: kind %v", pass.KindOf(err))
	}

	// A 404 on the patch of an object Google has (a read finds it): the
	// error stands, and nothing is inserted in its place.
	b.fake.ClearRequests()
	b.fake.FailNext(http.MethodPatch, "", 404, 1)
	if err := b.syncer.Sync(ctx, ref, ""); pass.KindOf(err) != pass.KindNotFound {
		t.Errorf("after a 404 of a patch: kind %v", pass.KindOf(err))
	}
	for _, r := range b.fake.Requests() {
		if r.Method == http.MethodPost && r.Path == "/walletobjects/v1/eventTicketObject" {
			t.Errorf("an insert after the patch's 404, though Google has the object: %s %s", r.Method, r.Path)
		}
	}
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Errorf("the retry: %v", err)
	}
}

func TestExpireAfterEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(is *google.Issuer) { is.ExpireAfterEvent = true })
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	o := b.object(t, p)
	// The time is the class's: an object carries no validTimeInterval
	// (a moved performance must not need a patch per object); our own
	// Expire turns it EXPIRED.
	if o.ValidTimeInterval != nil {
		t.Errorf("validTimeInterval = %+v", o.ValidTimeInterval)
	}
	queue := &recordingQueue{}
	b.syncer.Queue = queue
	if n, err := b.syncer.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("before the event: %d, %v", n, err)
	}
	b.clock.add(32 * 24 * time.Hour)
	if n, err := b.syncer.Expire(ctx); err != nil || n != 1 || queue.tasks[0].Kind != pass.TaskGoogleSync {
		t.Fatalf("after the event: %d, %v, %+v", n, err, queue.tasks)
	}
	b.sync(t, p)
	if o := b.object(t, p); o.State != "EXPIRED" {
		t.Errorf("state = %s", o.State)
	}
	if n, _ := b.syncer.Expire(ctx); n != 0 {
		t.Errorf("expired again: %d", n)
	}
}

func TestSaveJWTForTenTickets(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var ids []string
	for range 10 {
		ids = append(ids, google.ObjectID(issuerID, "grand-theatre-geneve", pass.NewSerialNumber()))
	}
	tok, err := google.SaveJWT(b.sa, ids, []string{"https://shop.example.com"}, b.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > google.MaxSaveJWT {
		t.Errorf("%d characters", len(tok))
	}
	t.Logf("a save link for 10 tickets: %d characters", len(tok))
	_, c := decodeJWT(t, tok, &b.sa.Key.PublicKey)
	if len(c.Payload.EventTicketObjects) != 10 || c.Payload.EventTicketObjects[9].ID != ids[9] || c.Origins[0] != "https://shop.example.com" {
		t.Errorf("claims = %+v", c)
	}
	// Too many objects for one link: refused, not truncated.
	for range 30 {
		ids = append(ids, google.ObjectID(issuerID, "grand-theatre-geneve", pass.NewSerialNumber()))
	}
	if _, err := google.SaveJWT(b.sa, ids, nil, b.clock.now()); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("40 objects: %v", err)
	}
}

// TestSaveJWTFits: SaveJWTFits says, without signing, exactly whether
// SaveJWT's token for the same objects fits, for every count around the
// limit; the syncer's SaveLinkFits asks it with the tenant's object ids.
func TestSaveJWTFits(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var ids []string
	fitted, refused := 0, 0
	for range 25 {
		ids = append(ids, google.ObjectID(issuerID, "grand-theatre-geneve", pass.NewSerialNumber()))
		tok, err := google.SaveJWT(b.sa, ids, []string{"https://shop.example.com"}, b.clock.now())
		fits := google.SaveJWTFits(b.sa, ids, []string{"https://shop.example.com"}, b.clock.now())
		if fits != (err == nil) || (err == nil && len(tok) > google.MaxSaveJWT) {
			t.Fatalf("%d objects: fits %v, SaveJWT %d characters, %v", len(ids), fits, len(tok), err)
		}
		if fits {
			fitted++
		} else {
			refused++
		}
	}
	if fitted < 10 || refused == 0 {
		t.Errorf("%d counts fitted, %d did not: want both", fitted, refused)
	}
	if !b.syncer.SaveLinkFits("demo", []string{pass.NewSerialNumber()}) || b.syncer.SaveLinkFits("demo", ids) || b.syncer.SaveLinkFits("nobody", nil) {
		t.Error("SaveLinkFits: want one pass to fit, 25 not, and an unknown tenant never")
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	tk := ticket(1)
	for _, id := range []string{google.ClassID(issuerID, "demo", tk), google.ObjectID(issuerID, "demo", pass.NewSerialNumber())} {
		if !google.ValidID(issuerID, id) {
			t.Errorf("%q is not a valid id", id)
		}
	}
	tk.Event.PerformanceID = 0
	a := google.ClassID(issuerID, "demo", tk)
	tk.Seat.Row = "1"
	if b := google.ClassID(issuerID, "demo", tk); a != b || !google.ValidID(issuerID, a) {
		t.Errorf("class id depends on the seat: %s %s", a, b)
	}
	tk.Event.Start = tk.Event.Start.Add(time.Hour)
	if c := google.ClassID(issuerID, "demo", tk); c == a {
		t.Error("two performances share a class id")
	}
	if google.ValidID(issuerID, issuerID+".bad id") || google.ValidID(issuerID, "1234.x") {
		t.Error("bad ids accepted")
	}
}

func TestParseServiceAccount(t *testing.T) {
	t.Parallel()
	good, err := google.NewServiceAccountJSON("a@b.iam.gserviceaccount.com", "")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := google.ParseServiceAccount(good)
	if err != nil || sa.TokenURI != google.DefaultTokenURI || sa.Email != "a@b.iam.gserviceaccount.com" {
		t.Fatalf("%+v %v", sa, err)
	}
	var m map[string]string
	_ = json.Unmarshal(good, &m)
	tests := []struct {
		name, field, value, want string
	}{
		{"wrong type", "type", "authorized_user", "type is"},
		{"no email", "client_email", "", "client_email"},
		{"no key", "private_key", "", "not PEM"},
		{"garbage key", "private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PKCS#8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := map[string]string{}
			for k, v := range m {
				bad[k] = v
			}
			bad[tc.field] = tc.value
			data, _ := json.Marshal(bad)
			_, err := google.ParseServiceAccount(data)
			if pass.KindOf(err) != pass.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Error("the error shows the key")
			}
		})
	}
	if _, err := google.ParseServiceAccount([]byte("not json")); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("not json: %v", err)
	}
}

// TestClientRateLimit: calls beyond the tenant's rate wait; a call whose
// wait would outlast its context fails at once, without reaching Google.
func TestClientRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	api, err := google.NewClient(google.ClientConfig{Endpoint: b.fake.URL + "/", Account: b.sa, RequestsPerSecond: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := api.GetObject(ctx, issuerID+".demo-none"); pass.KindOf(err) != pass.KindNotFound {
		t.Fatalf("first call: %v", err)
	}
	before := len(b.fake.Requests())
	_, err = api.GetObject(ctx, issuerID+".demo-none")
	if err == nil || pass.KindOf(err) == pass.KindNotFound {
		t.Fatalf("second call within the same second: %v, want it held back", err)
	}
	if after := len(b.fake.Requests()); after != before {
		t.Errorf("the held-back call reached Google (%d requests, was %d)", after, before)
	}
}

// recordingQueue is a pass.Enqueuer that keeps what it is given.
type recordingQueue struct{ tasks []pass.NewTask }

func (q *recordingQueue) Enqueue(_ context.Context, t pass.NewTask, _ time.Time) (pass.Enqueued, error) {
	q.tasks = append(q.tasks, t)
	return pass.Enqueued{How: "created"}, nil
}

// TestTextLanguageTags: SecuTix's texts (event, venue, tariff) are read in
// the tenant's language and tagged with it, not with the holder's; the
// messages walletpass writes are in the holder's language.
func TestTextLanguageTags(t *testing.T) {
	t.Parallel()
	is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo", Locale: "fr-CH"}
	tk := ticket(1)
	tk.Locale = "de"
	tk.Tariff = "Plein tarif"
	p := &pass.Pass{Tenant: "demo", SerialNumber: "s1", Version: 2, Status: pass.StatusVoided, Ticket: tk}
	cl := google.BuildClass(is, google.Design{Template: "default"}, tk)
	obj := google.BuildObject(is, p, google.StateInactive)
	for what, ls := range map[string]*walletobjects.LocalizedString{"eventName": cl.EventName, "venue": cl.Venue.Name,
		"ticketType": obj.TicketType} {
		if ls == nil || ls.DefaultValue.Language != "fr" {
			t.Errorf("%s: %+v, want the tenant's language fr", what, ls)
		}
	}
	msgs := google.Messages(is, google.Seen{Status: string(pass.StatusActive)}, p, time.Now())
	if len(msgs) != 1 || msgs[0].Header != pass.WordsFor("de").Google.CancelledHead {
		t.Errorf("messages %+v, want the holder's language", msgs)
	}
}

// TestOneConfirmationNumber: Google shows the order's SecuTix file id as
// its order number, as the Apple pass does.
func TestOneConfirmationNumber(t *testing.T) {
	t.Parallel()
	is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo"}
	tk := ticket(1)
	cl := google.BuildClass(is, google.Design{Template: "default"}, tk)
	obj := google.BuildObject(is, &pass.Pass{Tenant: "demo", SerialNumber: "s1", Ticket: tk}, google.StateActive)
	if cl.ConfirmationCodeLabel != "ORDER_NUMBER" || obj.ReservationInfo == nil ||
		obj.ReservationInfo.ConfirmationCode != strconv.FormatInt(tk.FileID, 10) {
		t.Errorf("label %q, code %+v, want ORDER_NUMBER and the file id %d", cl.ConfirmationCodeLabel, obj.ReservationInfo, tk.FileID)
	}
}

// TestClassNamesInEveryLanguage: an event SecuTix names in several
// languages gets a class with the tenant's as the default and the others
// as translations, the same class whatever the language of the holder
// whose ticket made it.
func TestClassNamesInEveryLanguage(t *testing.T) {
	t.Parallel()
	is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo", Locale: "fr",
		ImageBaseURL: "https://passes.example.com/api/demo/google/images"}
	names := pass.LocalText{"fr": "Nuit symphonique", "de": "Sinfonische Nacht", "en": "Symphonic Night"}
	venues := pass.LocalText{"fr": "Genève, Victoria Hall", "de": "Genf, Victoria Hall"}
	var classes []string
	for _, holder := range []string{"de", "en", "fr"} {
		tk := ticket(1)
		tk.Locale = holder
		tk.Event.Names = names
		tk.Event.Name = names.Pick(holder, "fr")
		tk.Venue.Names = venues
		tk.Venue.Name = venues.Pick(holder, "fr")
		// What the class showed after a French holder's sync: nothing
		// to tell anyone when another holder's sync comes.
		seen := google.ClassSeen{Start: tk.Event.Start.Format(time.RFC3339), Venue: "Genève, Victoria Hall"}
		if msgs := google.ClassMessages("fr", seen, tk); len(msgs) != 0 {
			t.Errorf("holder %s: class messages %+v, want none", holder, msgs)
		}
		// Nor when it showed the venue in another language (a class
		// written before it kept to the tenant's): the same venue.
		seen.Venue = "Genf, Victoria Hall"
		if msgs := google.ClassMessages("fr", seen, tk); len(msgs) != 0 {
			t.Errorf("holder %s, the venue shown in German: class messages %+v, want none", holder, msgs)
		}
		// Nor when it showed the same moment at another offset (the venue's
		// zone learnt later).
		seen.Start = tk.Event.Start.UTC().Format(time.RFC3339)
		if msgs := google.ClassMessages("fr", seen, tk); len(msgs) != 0 {
			t.Errorf("holder %s, the same start in UTC: class messages %+v, want none", holder, msgs)
		}
		seen.Venue = "Lausanne, Salle Métropole"
		if msgs := google.ClassMessages("fr", seen, tk); len(msgs) != 1 {
			t.Errorf("holder %s, another venue shown: %d class messages, want one", holder, len(msgs))
		}
		cl := google.BuildClass(is, google.Design{Template: "default", Logo: "icon.png", Hero: "strip.png"}, tk)
		b, _ := cl.MarshalJSON()
		classes = append(classes, string(b))
		if cl.EventName.DefaultValue.Language != "fr" || cl.EventName.DefaultValue.Value != "Nuit symphonique" ||
			len(cl.EventName.TranslatedValues) != 2 || cl.EventName.TranslatedValues[0].Language != "de" {
			t.Errorf("holder %s: eventName %+v", holder, cl.EventName)
		}
	}
	if classes[0] != classes[1] || classes[1] != classes[2] {
		t.Error("the class depends on the holder's language")
	}
}

// TestRotatingBarcodes: with the tenant's key an object carries a rotating
// barcode (TOTP, the pass's own secret) and no static one; the codes are
// RFC 6238's; a gate reading one gets the ticket's barcode back within a
// step of the time, and nothing for a wrong code, another pass or an old
// step.
func TestRotatingBarcodes(t *testing.T) {
	t.Parallel()
	// RFC 6238, appendix B: SHA-1, T = 59 s, 30 s steps.
	if got := google.Code([]byte("12345678901234567890"), time.Unix(59, 0), 30*time.Second); got != "94287082" {
		t.Fatalf("RFC 6238 vector: %s, want 94287082", got)
	}
	rot := &google.Rotation{Key: bytes.Repeat([]byte{7}, 32)}
	is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo", Rotation: rot}
	tk := ticket(1)
	p := &pass.Pass{Tenant: "demo", SerialNumber: "serial-1", Ticket: tk, Status: pass.StatusActive}
	o := google.BuildObject(is, p, google.StateActive)
	rb := o.RotatingBarcode
	if o.Barcode != nil || !slices.Contains(o.NullFields, "Barcode") || rb == nil || rb.Type != "QR_CODE" ||
		rb.ValuePattern != tk.Barcode+"-{totp_timestamp_seconds}-{totp_value_0}" || rb.TotpDetails.PeriodMillis != 30000 ||
		rb.TotpDetails.Parameters[0].Key != hex.EncodeToString(rot.Secret("serial-1")) || rb.TotpDetails.Parameters[0].ValueLength != 8 {
		b, _ := o.MarshalJSON()
		t.Fatalf("object: %s", b)
	}
	now := time.Unix(1_800_000_015, 0)
	scan := func(serial string, at time.Time) string {
		return fmt.Sprintf("%s-%d-%s", tk.Barcode, at.Unix(), google.Code(rot.Secret(serial), at, 30*time.Second))
	}
	if bc, ok := rot.Check("serial-1", scan("serial-1", now), now); !ok || bc != tk.Barcode {
		t.Errorf("the current code: %q %v", bc, ok)
	}
	if _, ok := rot.Check("serial-1", scan("serial-1", now.Add(-30*time.Second)), now); !ok {
		t.Error("the previous step (clock skew) was refused")
	}
	for name, s := range map[string]string{
		"another pass's code": scan("serial-2", now),
		"two steps old":       scan("serial-1", now.Add(-61*time.Second)),
		"a wrong code":        fmt.Sprintf("%s-%d-12345678", tk.Barcode, now.Unix()),
		"the static barcode":  tk.Barcode,
	} {
		if _, ok := rot.Check("serial-1", s, now); ok {
			t.Errorf("%s was accepted", name)
		}
	}
	// A cancelled ticket shows no barcode at all.
	p.Status = pass.StatusVoided
	if o := google.BuildObject(is, p, google.StateInactive); o.RotatingBarcode != nil || o.Barcode != nil {
		t.Error("a cancelled ticket keeps a barcode")
	}
}

// TestRotatingBarcodeKeepsTheBarcodeHidden: the text under a rotating
// barcode does not show the ticket's static barcode, which a gate would
// take without a code (it is what the rotation protects), neither in the
// object built nor in what Google holds after an insert and a patch.
func TestRotatingBarcodeKeepsTheBarcodeHidden(t *testing.T) {
	t.Parallel()
	rot := &google.Rotation{Key: bytes.Repeat([]byte{7}, 32)}
	b := setup(t, func(is *google.Issuer) { is.Rotation = rot })
	p := b.create(t, ticket(1))
	if _, err := b.syncer.SaveURL(context.Background(), "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Row = "3" })
	b.sync(t, p)
	built := google.BuildObject(b.issuer, p, google.StateActive).RotatingBarcode
	held := b.object(t, p).RotatingBarcode
	for what, rb := range map[string]*walletobjects.RotatingBarcode{"built": built, "at Google": held} {
		if rb == nil {
			t.Errorf("%s: no rotating barcode", what)
			continue
		}
		if strings.Contains(rb.AlternateText, p.Ticket.Barcode) {
			t.Errorf("%s: alternate text %q shows the barcode %q", what, rb.AlternateText, p.Ticket.Barcode)
		}
	}
}

// FuzzRotatingBarcode reads arbitrary scans as rotating barcodes: never a
// panic; a prefix is always the start of the scan; a scan is accepted only
// when it ends with the pass's code of the step it names.
func FuzzRotatingBarcode(f *testing.F) {
	rot := &google.Rotation{Key: bytes.Repeat([]byte{9}, 32)}
	now := time.Unix(1_800_000_015, 0)
	good := "BC1-1800000010-" + google.Code(rot.Secret("s1"), time.Unix(1_800_000_010, 0), 30*time.Second)
	for _, s := range []string{good, "BC1", "a-b-c", "--", "-1-", "x-1800000010-1234567", "ü-1800000010-00000000"} {
		f.Add(s)
	}
	// The current code is accepted, so the check below is not vacuous.
	if bc, ok := rot.Check("s1", good, now); !ok || bc != "BC1" {
		f.Fatalf("Check(%q) = %q, %v; want BC1, true", good, bc, ok)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if p := pass.RotatingBarcodePrefix(data); p != "" && !strings.HasPrefix(data, p+"-") {
			t.Fatalf("prefix %q of %q", p, data)
		}
		bc, ok := rot.Check("s1", data, now)
		if !ok {
			return
		}
		i := strings.LastIndexByte(data, '-')
		j := strings.LastIndexByte(data[:i], '-')
		sec, err := strconv.ParseInt(data[j+1:i], 10, 64)
		if err != nil || bc != data[:j] || data[i+1:] != google.Code(rot.Secret("s1"), time.Unix(sec, 0), 30*time.Second) {
			t.Fatalf("accepted %q (barcode %q)", data, bc)
		}
	})
}

// TestBarcodeTypes: a ticket's symbology is Google's barcode type of the
// same name; an interleaved 2 of 5 value of 14 digits is ITF-14 (Google's
// only one), another a Code 128 of the same value (linear, as the gates'
// scanners read), never a QR code.
func TestBarcodeTypes(t *testing.T) {
	t.Parallel()
	is := &google.Issuer{Tenant: "demo", IssuerID: issuerID, IssuerName: "Demo"}
	for _, tc := range []struct {
		sym   pass.Symbology
		value string
		want  string
	}{
		{pass.SymbologyQR, "BC1", "QR_CODE"},
		{pass.SymbologyEAN13, "7612345678900", "EAN_13"},
		{pass.SymbologyCode39, "FILM-0042", "CODE_39"},
		{pass.SymbologyI2of5, "10012345678902", "ITF_14"},
		{pass.SymbologyI2of5, "123456", "CODE_128"},
	} {
		tk := ticket(1)
		tk.Symbology, tk.Barcode = tc.sym, tc.value
		p := &pass.Pass{Tenant: "demo", SerialNumber: "0af3c2d1e4b5a6978877665544332211", Version: 1, Ticket: tk}
		o := google.BuildObject(is, p, google.StateActive)
		if o.Barcode == nil || o.Barcode.Type != tc.want || o.Barcode.Value != tc.value {
			t.Errorf("%s %q: barcode %+v, want %s", tc.sym, tc.value, o.Barcode, tc.want)
		}
	}
}

// TestClassShowsOneTemplate: a performance's passes in two templates (a
// VIP product's own): the class shows the tenant's default template,
// whichever pass is synced, and is not patched back and forth; the VIP
// pass's object shows its template's hero image and background.
func TestClassShowsOneTemplate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	tn := b.syncer.Tenants["demo"]
	tn.ClassTemplate = "default"
	tn.Design = func(name string) google.Design {
		if name == "vip" {
			return google.Design{Template: name, Background: "#c9a227", Logo: "icon@3x.png", Hero: "vip-hero.png"}
		}
		return google.Design{Template: name, Background: "#1b2a4a", Logo: "icon@3x.png", Hero: "strip@3x.png"}
	}
	plain := b.create(t, ticket(1))
	vip := b.create(t, ticket(2))
	vip.Template = "vip"
	vip = b.update(t, vip, func(*pass.Ticket) {}) // its next version, in the VIP template
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	b.fake.ClearRequests()
	passes := []*pass.Pass{plain, vip}
	for i := range 4 { // each pass changes (its seat), then syncs: its class is ensured
		p := b.update(t, passes[i%2], func(tk *pass.Ticket) { tk.Seat.Number = strconv.Itoa(20 + i) })
		passes[i%2] = p
		if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, ""); err != nil {
			t.Fatal(err)
		}
	}
	plain, vip = passes[0], passes[1]
	for _, r := range b.fake.Requests() {
		if strings.Contains(r.Path, "eventTicketClass") && r.Method != http.MethodGet {
			t.Errorf("the class was sent again: %s %s", r.Method, r.Path)
		}
	}
	cl, ok := b.fake.EventTicketClass(google.ClassID(issuerID, "demo", plain.Ticket))
	if !ok || cl.HexBackgroundColor != "#1b2a4a" || cl.HeroImage == nil || !strings.HasSuffix(cl.HeroImage.SourceUri.Uri, "/default/strip@3x.png") {
		t.Errorf("the class shows %+v, want the default template's design", cl)
	}
	if o := b.object(t, vip); o.HexBackgroundColor != "#c9a227" || o.HeroImage == nil || !strings.HasSuffix(o.HeroImage.SourceUri.Uri, "/vip/vip-hero.png") {
		t.Errorf("the VIP object shows background %q, hero %+v; want its template's", o.HexBackgroundColor, o.HeroImage)
	}
	if o := b.object(t, plain); o.HexBackgroundColor != "" || o.HeroImage != nil {
		t.Errorf("the default template's object carries background %q, hero %+v; want the class's", o.HexBackgroundColor, o.HeroImage)
	}
}

// TestImageDescriptionsInTheTenantsLanguage: the images' descriptions (the
// issuer's name, the event's) are tagged with the tenant's language, the
// language they are written in, not English.
func TestImageDescriptionsInTheTenantsLanguage(t *testing.T) {
	t.Parallel()
	is := &google.Issuer{Tenant: "demo", IssuerID: issuerID, IssuerName: "Concerts de Genève", Locale: "fr",
		ImageBaseURL: "https://passes.example.com/api/demo/google/images"}
	tk := ticket(1)
	tk.Event.Names = pass.LocalText{"fr": "Nuit symphonique", "de": "Symphonische Nacht"}
	cl := google.BuildClass(is, google.Design{Template: "default", Logo: "icon@3x.png", Hero: "strip@3x.png"}, tk)
	for what, img := range map[string]*walletobjects.Image{"logo": cl.Logo, "hero": cl.HeroImage} {
		if img == nil || img.ContentDescription == nil || img.ContentDescription.DefaultValue.Language != "fr" {
			t.Errorf("the %s's description: %+v, want it in fr", what, img)
		}
	}
	if v := cl.HeroImage.ContentDescription.DefaultValue.Value; v != "Nuit symphonique" {
		t.Errorf("the hero's description %q, want the event's French name", v)
	}
	// A name only in German: tagged German, not the tenant's French.
	tk.Event.Names = pass.LocalText{"de": "Symphonische Nacht"}
	cl = google.BuildClass(is, google.Design{Template: "default", Logo: "icon@3x.png", Hero: "strip@3x.png"}, tk)
	if d := cl.HeroImage.ContentDescription.DefaultValue; d.Language != "de" || d.Value != "Symphonische Nacht" {
		t.Errorf("the hero's description %+v, want the German name tagged de", d)
	}
}

// TestScannedAtTheScansTime: the "scanned at" message gives the time the
// gate reported, in the event's zone, not the time of the sync that
// sends it (which may come half an hour later, behind SecuTix's quota).
func TestScannedAtTheScansTime(t *testing.T) {
	t.Parallel()
	is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo"}
	tk := ticket(1)
	tk.Locale, tk.Event.TimeZone, tk.State = "en", "Europe/Zurich", pass.TicketUsed
	tk.UsedAt = time.Date(2027, 3, 14, 18, 2, 0, 0, time.UTC) // 19:02 in Zurich
	p := &pass.Pass{Tenant: "demo", SerialNumber: "s1", Version: 2, Status: pass.StatusUsed, Ticket: tk}
	msgs := google.Messages(is, google.Seen{Status: string(pass.StatusActive)}, p, tk.UsedAt.Add(38*time.Minute))
	i := slices.IndexFunc(msgs, func(m google.Message) bool { return strings.HasSuffix(m.ID, "-scanned") })
	if i < 0 || !strings.Contains(msgs[i].Body, "19:02") {
		t.Errorf("messages %+v, want the scan's 19:02", msgs)
	}
}
