package pass_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
)

// TestErasure: erasing a holder by e-mail signs their passes again
// without name and address, deletes the older files and scrubs the
// timeline; a later sync from SecuTix (which still has the data) keeps
// it out, while a new holder on the ticket is still told apart (a
// transfer); erasing an order does the same for every holder of it; the
// retention erases the orders of events over for the given days.
func TestErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	er := &pass.Eraser{Service: b.svc, Store: b.db, Blobs: b.blob, Clock: b.svc.Clock}
	mk := func(movement int64, file int64, name, email string) pass.Ticket {
		tk := apple.SampleTicket(pass.EventConcert)
		tk.Tenant, tk.MovementID, tk.TicketID, tk.FileID = "demo", movement, movement+100, file
		tk.OrderSecretToken = "secret-" + strings.Repeat("x", int(file%7)+1)
		tk.HolderName, tk.HolderEmail = name, email
		return tk
	}
	lea := mk(1, 10, "Léa Favre", "lea@example.ch")
	p1, _, err := b.svc.Apply(ctx, lea, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p1.HolderKey, "h:") || strings.Contains(p1.HolderKey, "lea") {
		t.Errorf("holder key %q: want a hash", p1.HolderKey)
	}
	other := mk(2, 10, "Marc Rochat", "marc@example.ch")
	if _, _, err := b.svc.Apply(ctx, other, "default"); err != nil {
		t.Fatal(err)
	}
	if err := b.db.AddTimeline(ctx, pass.TimelineEntry{Tenant: "demo", SecretToken: lea.OrderSecretToken, FileID: 10, At: time.Now(),
		Kind: "note", Detail: "called LÉA FAVRE about lea@example.ch"}); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []pass.ErasureRequest{{Tenant: "demo"}, {Tenant: "demo", FileID: 10, Email: "lea@example.ch"},
		{Tenant: "demo", Email: "not an address"}, {Tenant: "demo", Email: "Léa <lea@example.ch>"}, {Tenant: "demo", FileID: -1}} {
		_, err := er.Erase(ctx, bad)
		if pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("%+v: %v, want invalid", bad, err)
		} else if bad.Email != "" && bad.FileID == 0 && strings.Contains(err.Error(), "lea@") {
			t.Errorf("the error repeats the address it was given: %v", err) // personal data stays out of errors
		}
	}
	// Her order as a V2 webhook carried it, waiting in a sync task.
	v2 := pass.OrderRef{Tenant: "demo", FileID: 10, Details: json.RawMessage(`{"orderDetailsData":{"contact":{"email":"lea@example.ch"}}}`)}
	if _, err := b.db.Enqueue(ctx, pass.TaskOf(v2, ""), time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", Email: "Lea@Example.ch"})
	if err != nil || rep.Passes != 1 || rep.Files != 1 || rep.Timeline != 1 {
		t.Fatalf("erase: %+v %v", rep, err)
	}
	// An order with no pass yet: its V2 body waits in a sync task.
	v2none := pass.OrderRef{Tenant: "demo", SecretToken: "secretOfFile99", OrderID: 990,
		Details: json.RawMessage(`{"orderDetailsData":{"fileId":99,"orderId":990,"contact":{"email":"nobody@example.ch"}}}`)}
	if _, err := b.db.Enqueue(ctx, pass.TaskOf(v2none, ""), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 99}); err != nil {
		t.Fatal(err)
	}
	if tasks, _ := b.db.ListTasks(ctx, pass.TaskPending, 100); slices.ContainsFunc(tasks, func(tk pass.Task) bool {
		return strings.Contains(string(tk.Payload), "nobody@")
	}) {
		t.Error("the erasure of an order without passes left its V2 body in its task")
	}
	if tasks, _ := b.db.ListTasks(ctx, pass.TaskPending, 100); len(tasks) == 0 || slices.ContainsFunc(tasks, func(tk pass.Task) bool {
		return strings.Contains(string(tk.Payload), "lea@")
	}) {
		t.Errorf("%d tasks, one keeping the order SecuTix sent (or none)", len(tasks))
	}
	p, err := b.db.GetPass(ctx, "demo", p1.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || p.Ticket.HolderName != "" || p.Ticket.HolderEmail != "" || p.HolderKey != p1.HolderKey {
		t.Errorf("after the erasure: v%d holder %q %q key %q", p.Version, p.Ticket.HolderName, p.Ticket.HolderEmail, p.HolderKey)
	}
	data, err := b.files.PassFile(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if pj := appletest.Verify(t, data, b.wwdr); strings.Contains(string(mustJSON(t, pj)), "Favre") {
		t.Error("the new pass still names the holder")
	}
	if _, err := b.files.PassFile(ctx, p1); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("the first version's file: %v, want it deleted", err)
	}
	tl, err := b.db.Timeline(ctx, "demo", lea.OrderSecretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) == 0 {
		t.Fatal("the order's timeline is empty, want its entries kept without her")
	}
	for _, e := range tl {
		if strings.Contains(strings.ToLower(e.Detail), "favre") || strings.Contains(e.Detail, "lea@") {
			t.Errorf("the timeline keeps %q", e.Detail)
		}
	}
	if m, _ := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, 2)); m.Ticket.HolderName != "Marc Rochat" {
		t.Errorf("the other holder lost their name: %q", m.Ticket.HolderName)
	}

	// SecuTix still has her: a sync keeps her out of the pass.
	lea.Seat.Row = "9"
	p2, changed, err := b.svc.Apply(ctx, lea, "default")
	if err != nil || !changed || p2.Ticket.HolderName != "" || p2.Ticket.Seat.Row != "9" {
		t.Errorf("a later sync: %+v changed=%v %v", p2.Ticket, changed, err)
	}
	// The ticket goes to someone else: still a transfer.
	if !pass.SameHolder(p2.HolderKey, lea) || pass.SameHolder(p2.HolderKey, mk(1, 10, "Paul", "paul@example.ch")) {
		t.Error("the erased pass's holder key no longer tells holders apart")
	}

	// Erasing the order: the other holder too, and it stays erased.
	rep, err = er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 10})
	if err != nil || rep.Passes != 1 {
		t.Errorf("erase the order: %+v %v (the first pass holds nothing any more)", rep, err)
	}
	other.Seat.Row = "3"
	if p, _, err := b.svc.Apply(ctx, other, "default"); err != nil || p.Ticket.HolderName != "" {
		t.Errorf("a sync of the erased order: %q %v", p.Ticket.HolderName, err)
	}

	// Retention: an order whose event ended 40 days ago.
	old := mk(3, 20, "Anna Keller", "")
	old.Event.Start = time.Now().Add(-41 * 24 * time.Hour)
	old.Event.End = old.Event.Start.Add(3 * time.Hour)
	if _, _, err := b.svc.Apply(ctx, old, "default"); err != nil {
		t.Fatal(err)
	}
	recent := mk(4, 30, "Tom Meier", "")
	if _, _, err := b.svc.Apply(ctx, recent, "default"); err != nil {
		t.Fatal(err)
	}
	if n, err := er.Retain(ctx, "demo", 30); err != nil || n != 1 {
		t.Fatalf("retention: %d %v", n, err)
	}
	if p, _ := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, 3)); p.Ticket.HolderName != "" {
		t.Errorf("retention kept %q", p.Ticket.HolderName)
	}
	if p, _ := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, 4)); p.Ticket.HolderName != "Tom Meier" {
		t.Errorf("retention erased a coming event's holder")
	}
	if n, err := er.Retain(ctx, "demo", 30); err != nil || n != 0 {
		t.Errorf("retention again: %d %v", n, err)
	}
}

func byMovementSerial(t *testing.T, b bundle, movement int64) string {
	t.Helper()
	p, err := b.db.GetPassByIdentity(context.Background(), "demo", movement, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.SerialNumber
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errFlaky is the failure the tests' flaky doubles return.
var errFlaky = errors.New("flaky: unavailable")

// flakyErasures is an ErasureStore whose DropVersionFiles or ScrubTimeline
// fails when fails says so (given the method and the pass or order).
type flakyErasures struct {
	pass.ErasureStore
	fails func(method, key string) bool
}

func (f flakyErasures) DropVersionFiles(ctx context.Context, tenant, serial string, before int) ([]string, int, error) {
	if f.fails("DropVersionFiles", serial) {
		return nil, 0, errFlaky
	}
	return f.ErasureStore.DropVersionFiles(ctx, tenant, serial, before)
}

func (f flakyErasures) ScrubTimeline(ctx context.Context, tenant, secretToken string, words []string) (int, error) {
	if f.fails("ScrubTimeline", secretToken) {
		return 0, errFlaky
	}
	return f.ErasureStore.ScrubTimeline(ctx, tenant, secretToken, words)
}

// flakyBlobs is a BlobDeleter whose Delete fails when fails says so.
type flakyBlobs struct {
	pass.BlobDeleter
	fails func(method, key string) bool
}

func (f flakyBlobs) Delete(ctx context.Context, key string) error {
	if f.fails("Delete", key) {
		return errFlaky
	}
	return f.BlobDeleter.Delete(ctx, key)
}

// failOnce fails the first call of method.
func failOnce(method string) func(string, string) bool {
	failed := false
	return func(m, _ string) bool {
		if m != method || failed {
			return false
		}
		failed = true
		return true
	}
}

// erasureOrder makes the pass of a holder on order file, whose event ended
// 41 days before the test's clock, in two versions: the first stored in
// the database, the second a file in the blob store (as earlier releases
// stored versions); its order's timeline names the holder. It returns the
// pass and the blob's key.
func erasureOrder(t *testing.T, b bundle, movement, file int64) (*pass.Pass, string) {
	t.Helper()
	ctx := context.Background()
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.MovementID, tk.TicketID, tk.FileID = "demo", movement, movement+100, file
	tk.OrderSecretToken = fmt.Sprintf("secret-%d", file)
	tk.HolderName, tk.HolderEmail = "Léa Favre", "lea@example.ch"
	tk.Event.Start = b.svc.Clock.Now().Add(-41 * 24 * time.Hour)
	tk.Event.End = tk.Event.Start.Add(3 * time.Hour)
	p1, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	p2 := *p1
	p2.Version, p2.UpdateTag, p2.UpdatedAt, p2.ContentHash = 2, p1.UpdateTag+1, p1.UpdatedAt.Add(time.Second), "legacy"
	p2.BlobKey, p2.Content = fmt.Sprintf("demo/passes/%s/v2.pkpass", p1.SerialNumber), nil
	if err := b.blob.Put(ctx, p2.BlobKey, []byte("PK pass of Léa Favre"), "application/vnd.apple.pkpass"); err != nil {
		t.Fatal(err)
	}
	if err := b.db.UpdatePass(ctx, &p2, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.db.AddTimeline(ctx, pass.TimelineEntry{Tenant: "demo", SecretToken: tk.OrderSecretToken, FileID: file,
		At: b.svc.Clock.Now(), Kind: "note", Detail: "called Léa Favre"}); err != nil {
		t.Fatal(err)
	}
	return &p2, p2.BlobKey
}

// TestErasureResumes: an erasure that fails half-way (a blob delete, the
// drop of the older versions after the pass is signed again, the
// timeline) is recorded but not complete, so the retention lists its
// order; running it again (asked again, or by the retention) finishes
// it: the pass without the holder, no older version's stored form or
// file, the timeline scrubbed. Erasing it once more then changes nothing
// and succeeds.
func TestErasureResumes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		fail  string // the method that fails once
		again string // "request" or "retention"
	}{
		{name: "a blob delete fails, asked again", fail: "Delete", again: "request"},
		{name: "a blob delete fails, retention", fail: "Delete", again: "retention"},
		{name: "the drop fails after the pass is signed again", fail: "DropVersionFiles", again: "request"},
		{name: "the timeline fails", fail: "ScrubTimeline", again: "retention"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			b.svc.Erasures = b.db
			fails := failOnce(c.fail)
			er := &pass.Eraser{Service: b.svc, Store: flakyErasures{ErasureStore: b.db, fails: fails},
				Blobs: flakyBlobs{BlobDeleter: b.blob, fails: fails}, Clock: b.svc.Clock}
			p, key := erasureOrder(t, b, 1, 10)
			retained := func() bool {
				t.Helper()
				files, err := b.db.HolderDataAfter(ctx, "demo", b.svc.Clock.Now(), 10)
				if err != nil {
					t.Fatal(err)
				}
				return slices.Contains(files, int64(10))
			}

			if _, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 10}); !errors.Is(err, errFlaky) {
				t.Fatalf("the erasure that fails: %v, want %v", err, errFlaky)
			}
			if !retained() {
				t.Error("the order of the incomplete erasure is not listed for the retention")
			}
			switch c.again {
			case "request":
				if _, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 10}); err != nil {
					t.Fatalf("the erasure again: %v", err)
				}
			case "retention":
				if n, err := er.Retain(ctx, "demo", 30); err != nil || n != 1 {
					t.Fatalf("the retention: %d orders, %v; want 1", n, err)
				}
			}

			got, err := b.db.GetPass(ctx, "demo", p.SerialNumber)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != 3 || got.Ticket.HolderName != "" || got.Ticket.HolderEmail != "" {
				t.Errorf("the pass: v%d holder %q %q; want v3 without the holder", got.Version, got.Ticket.HolderName, got.Ticket.HolderEmail)
			}
			for v := 1; v < got.Version; v++ {
				if data, err := b.db.VersionContent(ctx, "demo", p.SerialNumber, v); !errors.Is(err, pass.ErrNotFound) {
					t.Errorf("version %d keeps its stored form (%d bytes, %v)", v, len(data), err)
				}
			}
			if _, err := b.blob.Get(ctx, key); !errors.Is(err, pass.ErrNotFound) {
				t.Errorf("the second version's file in the blob store: %v, want it deleted", err)
			}
			tl, err := b.db.Timeline(ctx, "demo", p.SecretToken, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tl {
				if strings.Contains(e.Detail, "Favre") {
					t.Errorf("the timeline keeps %q", e.Detail)
				}
			}
			if retained() {
				t.Error("the order of the complete erasure is still listed for the retention")
			}

			rep, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 10})
			if err != nil || rep != (pass.ErasureReport{}) {
				t.Errorf("erasing the erased order again: %+v, %v; want nothing done", rep, err)
			}
			if again, err := b.db.GetPass(ctx, "demo", p.SerialNumber); err != nil || again.Version != got.Version {
				t.Errorf("erasing the erased order again made v%d (%v), want it left at v%d", again.Version, err, got.Version)
			}
			if retained() {
				t.Error("the order erased again is listed for the retention")
			}
		})
	}
}

// TestRetentionGoesOn: an order whose erasure keeps failing does not hold
// up the retention of the orders after it; it stays listed and the
// retention says it failed.
func TestRetentionGoesOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	er := &pass.Eraser{Service: b.svc, Store: flakyErasures{ErasureStore: b.db, fails: func(m, key string) bool {
		return m == "ScrubTimeline" && key == "secret-10"
	}}, Blobs: b.blob, Clock: b.svc.Clock}
	erasureOrder(t, b, 1, 10)
	p20, _ := erasureOrder(t, b, 2, 20)

	n, err := er.Retain(ctx, "demo", 30)
	if n != 1 || !errors.Is(err, errFlaky) || !strings.Contains(fmt.Sprint(err), "order 10") {
		t.Errorf("the retention: %d orders, %v; want 1 and order 10's failure", n, err)
	}
	if got, err := b.db.GetPass(ctx, "demo", p20.SerialNumber); err != nil || got.Ticket.HolderName != "" {
		t.Errorf("the order after the failing one keeps %q (%v)", got.Ticket.HolderName, err)
	}
	if files, err := b.db.HolderDataAfter(ctx, "demo", b.svc.Clock.Now(), 10); err != nil || !slices.Equal(files, []int64{10}) {
		t.Errorf("listed for the retention: %v, %v; want the failing order", files, err)
	}
}

// TestRetentionWaitsForTheLastEvent: the retention erases an order only
// once every event of it is over for the given days: not an order with a
// ticket for a later event, nor a season ticket with a match to come,
// even when the store lists it by an end an earlier release kept (the
// season's first match only).
func TestRetentionWaitsForTheLastEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	now := b.svc.Clock.Now()
	apply := func(movement, file int64, start time.Time, upcoming ...time.Time) {
		t.Helper()
		tk := apple.SampleTicket(pass.EventConcert)
		tk.Tenant, tk.MovementID, tk.TicketID, tk.FileID = "demo", movement, movement+100, file
		tk.OrderSecretToken = fmt.Sprintf("secret-%d", file)
		tk.HolderName = "Léa Favre"
		tk.Event.Start, tk.Event.End = start, time.Time{} // an end taken as six hours later
		for i, at := range upcoming {
			tk.Upcoming = append(tk.Upcoming, pass.UpcomingEvent{ID: fmt.Sprint(i + 1), Name: "Match", Start: at})
		}
		if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
			t.Fatal(err)
		}
	}
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }
	apply(1, 40, ago(41))                    // March's ticket of an order…
	apply(2, 40, ago(-10))                   // …with one for June
	apply(3, 50, ago(41), ago(35), ago(-10)) // a season ticket, one match to come
	apply(4, 60, ago(41), ago(35))           // a season over
	apply(5, 70, ago(41))
	apply(6, 70, ago(31))

	// The store lists every order at first, as it would by the ends an
	// earlier release wrote.
	er := &pass.Eraser{Service: b.svc, Store: &listsAll{ErasureStore: b.db, files: []int64{40, 50, 60, 70}}, Blobs: b.blob, Clock: b.svc.Clock}
	if n, err := er.Retain(ctx, "demo", 30); err != nil || n != 2 {
		t.Errorf("the retention: %d orders, %v; want 2 (60 and 70)", n, err)
	}
	for movement, want := range map[int64]string{1: "Léa Favre", 2: "Léa Favre", 3: "Léa Favre", 4: "", 5: "", 6: ""} {
		if p, err := b.db.GetPass(ctx, "demo", byMovementSerial(t, b, movement)); err != nil || p.Ticket.HolderName != want {
			t.Errorf("ticket %d after the retention: holder %q (%v), want %q", movement, p.Ticket.HolderName, err, want)
		}
	}
	// The store itself lists only the orders that are over.
	if files, err := b.db.HolderDataAfter(ctx, "demo", ago(30), 10); err != nil || len(files) != 0 {
		t.Errorf("listed for the retention after it ran: %v, %v; want none", files, err)
	}
	if files, err := b.db.HolderDataAfter(ctx, "demo", ago(-11), 10); err != nil || !slices.Equal(files, []int64{40, 50}) {
		t.Errorf("listed once every event is over: %v, %v; want 40 and 50", files, err)
	}
}

// listsAll is an ErasureStore that first lists files for the retention
// whatever their passes' ends, then as the store does.
type listsAll struct {
	pass.ErasureStore
	files  []int64
	listed bool
}

func (l *listsAll) HolderDataAfter(ctx context.Context, tenant string, endedBefore time.Time, limit int) ([]int64, error) {
	if !l.listed {
		l.listed = true
		return l.files, nil
	}
	return l.ErasureStore.HolderDataAfter(ctx, tenant, endedBefore, limit)
}

// TestBodyAfterErasureLeavesItsTask: an order webhook that carries the
// whole order (names, contact) after the order's erasure, a refund's say,
// has its body removed from the task once the sync has read it, as the
// erasure removed the bodies waiting then; the pass stays without the
// holder.
func TestBodyAfterErasureLeavesItsTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.FileID, tk.HolderName = "demo", 40, "Léa Favre"
	o := pass.Order{Tenant: "demo", FileID: 40, OrderID: tk.OrderID, SecretToken: tk.OrderSecretToken, Tickets: []pass.Ticket{tk}}
	s := staticSyncer(b, o)
	s.Orders = bodyOrders{staticOrders{o}}
	if _, err := s.SyncOrder(ctx, pass.OrderRef{Tenant: "demo", SecretToken: o.SecretToken}, "c1"); err != nil {
		t.Fatal(err)
	}
	er := &pass.Eraser{Service: b.svc, Store: b.db, Blobs: b.blob, Clock: b.svc.Clock}
	if _, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 40}); err != nil {
		t.Fatal(err)
	}
	ref := pass.OrderRef{Tenant: "demo", SecretToken: o.SecretToken,
		Details: json.RawMessage(`{"orderDetailsData":{"fileId":40,"beneficiaryLastname":"Favre"}}`)}
	if _, err := b.db.Enqueue(ctx, pass.TaskOf(ref, "refund"), time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := s.SyncOrder(ctx, ref, "refund")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.db.GetPassByIdentity(ctx, "demo", tk.MovementID, 0); err != nil || p.Ticket.HolderName != "" || len(res.Changed) != 0 {
		t.Errorf("after the body: %d changed, holder %q, %v", len(res.Changed), p.Ticket.HolderName, err)
	}
	tasks, err := b.db.ListTasks(ctx, pass.TaskPending, 100)
	if err != nil || len(tasks) == 0 || slices.ContainsFunc(tasks, func(tk pass.Task) bool { return strings.Contains(string(tk.Payload), "Favre") }) {
		t.Errorf("%d pending tasks (%v), one keeping the body sent after the erasure (or none)", len(tasks), err)
	}
	// Also when the sync fails after reading the body (a ticket that
	// cannot be written): a retry reads the order from SecuTix.
	broken := o
	broken.Tickets = []pass.Ticket{tk}
	broken.Tickets[0].Barcode = ""
	s.Orders = bodyOrders{staticOrders{broken}}
	ref.Details = json.RawMessage(`{"orderDetailsData":{"fileId":40,"beneficiaryLastname":"Favre","again":true}}`)
	if _, err := b.db.Enqueue(ctx, pass.TaskOf(ref, "refund"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncOrder(ctx, ref, "refund"); err == nil {
		t.Fatal("a sync of a ticket without a barcode succeeded")
	}
	if tasks, err := b.db.ListTasks(ctx, pass.TaskPending, 100); err != nil || slices.ContainsFunc(tasks, func(tk pass.Task) bool {
		return strings.Contains(string(tk.Payload), "Favre")
	}) {
		t.Errorf("a failed sync left the body in its task (%v)", err)
	}
}

// bodyOrders maps any order body as its order.
type bodyOrders struct{ staticOrders }

func (b bodyOrders) OrderFromDetails(context.Context, string, []byte) (*pass.Order, error) {
	o := b.o
	return &o, nil
}

// TestErasureRetriesAConflict: a pass a sync wrote while the erasure was
// signing it again (a conflict) is read again and erased, rather than
// the erasure failing for a client to ask again.
func TestErasureRetriesAConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.FileID, tk.HolderName = "demo", 50, "Léa Favre"
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	conflicts := &conflictOnce{PassStore: b.db}
	b.svc.Passes = conflicts
	er := &pass.Eraser{Service: b.svc, Store: b.db, Blobs: b.blob, Clock: b.svc.Clock}
	rep, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: 50})
	if err != nil || rep.Passes != 1 || conflicts.refused != 1 {
		t.Fatalf("erase: %+v, %v, %d conflicts; want the pass erased after one", rep, err, conflicts.refused)
	}
	if p, err := b.db.GetPassByIdentity(ctx, "demo", tk.MovementID, 0); err != nil || p.Ticket.HolderName != "" {
		t.Errorf("after the erasure: holder %q, %v", p.Ticket.HolderName, err)
	}
}

// conflictOnce is a PassStore whose first UpdatePass finds the pass
// written meanwhile.
type conflictOnce struct {
	pass.PassStore
	refused int
}

func (c *conflictOnce) UpdatePass(ctx context.Context, p *pass.Pass, follow []pass.NewTask) error {
	if c.refused == 0 {
		c.refused++
		return pass.Errorf(pass.KindConflict, "pass %s is not at version %d any more", p.SerialNumber, p.Version-1)
	}
	return c.PassStore.UpdatePass(ctx, p, follow)
}
