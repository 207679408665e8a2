package pass_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/storage"
	"walletpass/storage/blob"
)

type bundle struct {
	svc  *pass.Service
	db   *storage.DB
	blob *blob.Dir
	// files reads the stored passes whole, as phones download them.
	files *apple.Files
	wwdr  string
}

func setup(t *testing.T) bundle {
	t.Helper()
	dir := t.TempDir()
	f := appletest.Setup(t)
	reg := f.Registry
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bl, err := blob.NewDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.UnixMilli(1_800_000_000_000)
	svc := &pass.Service{Passes: db, Packager: reg, Clock: func() time.Time { return clock }} // frozen clock: tags must still grow
	return bundle{svc: svc, db: db, blob: bl, files: f.Files(t, bl, db), wwdr: f.WWDR}
}

func TestApplyLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)

	p1, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p1.Version != 1 {
		t.Fatalf("create: %+v changed=%v err=%v", p1, changed, err)
	}
	if len(p1.AuthToken) < 32 || len(p1.SerialNumber) < 16 {
		t.Errorf("serial %q / token %q too short", p1.SerialNumber, p1.AuthToken)
	}
	data, err := b.files.PassFile(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, data, b.wwdr)
	if pj["serialNumber"] != p1.SerialNumber || pj["authenticationToken"] != p1.AuthToken {
		t.Errorf("stored pass carries serial %v token %v", pj["serialNumber"], pj["authenticationToken"])
	}

	same, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || changed || same.Version != 1 {
		t.Fatalf("unchanged ticket: version %d changed=%v err=%v", same.Version, changed, err)
	}

	tk.Barcode = "111122223333" // a reprint: new barcode, same pass
	p2, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p2.Version != 2 {
		t.Fatalf("reprint: %+v changed=%v err=%v", p2, changed, err)
	}
	if p2.SerialNumber != p1.SerialNumber || p2.AuthToken != p1.AuthToken {
		t.Errorf("reprint changed the serial or token")
	}
	if p2.UpdateTag <= p1.UpdateTag {
		t.Errorf("update tag %d did not grow past %d", p2.UpdateTag, p1.UpdateTag)
	}

	tk.State = pass.TicketCancelled
	p3, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || p3.Status != pass.StatusVoided {
		t.Fatalf("cancel: %+v %v", p3, err)
	}
	data, _ = b.files.PassFile(ctx, p3)
	if pj := appletest.Verify(t, data, b.wwdr); pj["voided"] != true {
		t.Errorf("cancelled ticket's pass is not voided")
	}

	tk.HolderGeneration = 1 // transferred: a new pass, the old one untouched
	p4, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p4.SerialNumber == p1.SerialNumber || p4.AuthToken == p1.AuthToken {
		t.Fatalf("new holder: %+v %v", p4, err)
	}
	vs, err := b.db.ListVersions(ctx, "demo", p1.SerialNumber)
	if err != nil || len(vs) != 3 {
		t.Errorf("old pass versions = %d (%v), want 3", len(vs), err)
	}
}

func TestApplyUnknownTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, err := b.svc.Apply(context.Background(), apple.SampleTicket(pass.EventSports), "nope")
	if pass.KindOf(err) != pass.KindNotFound {
		t.Errorf("err = %v, want not found", err)
	}
}

// TestApplyNotices: each new version says which notice the order's app
// gets, and the store queues it with the version when the tenant has an
// app: ready for a ticket's first pass, changed for a modify or a new
// holder, cancelled for a cancellation, nothing for a scan or for the
// previous holder's pass.
func TestApplyNotices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Policies = pass.Policies{"demo": {AppNotices: true}}
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.HolderEmail = "demo", "holder@example.ch"
	notices := func() []string {
		ts, err := b.db.ListTasks(ctx, pass.TaskPending, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, task := range ts {
			if task.Kind == pass.TaskAppNotice {
				out = append(out, task.DedupKey)
			}
		}
		slices.Sort(out)
		return out
	}
	key := func(ev string) string { return "notice:" + tk.OrderSecretToken + ":" + ev }
	// prevOf is the pass a step changes (nil when it makes a new one).
	prevOf := func(tk pass.Ticket) *pass.Pass {
		p, err := b.db.GetPassByIdentity(ctx, tk.Tenant, tk.MovementID, tk.HolderGeneration)
		if err != nil {
			return nil
		}
		return p
	}
	var prev *pass.Pass
	superseded := false
	step := func(name string, apply func() (*pass.Pass, bool, error), want string, queued []string) {
		t.Helper()
		p, changed, err := apply()
		if err != nil || !changed {
			t.Fatalf("%s: changed=%v err=%v", name, changed, err)
		}
		if got := notices(); !slices.Equal(got, queued) {
			t.Errorf("%s: queued %v, want %v", name, got, queued)
		}
		if got := (pass.Change{Prev: prev, Next: p, Superseded: superseded}).Notice(); got != want {
			t.Errorf("%s: notice %q, want %q", name, got, want)
		}
	}
	prev = prevOf(tk)
	step("paid", func() (*pass.Pass, bool, error) { return b.svc.Apply(ctx, tk, "default") }, pass.NoticeReady, []string{key("ready")})
	tk.Seat.Row = "99"
	prev = prevOf(tk)
	step("modified", func() (*pass.Pass, bool, error) { return b.svc.Apply(ctx, tk, "default") }, pass.NoticeChanged,
		[]string{key("changed"), key("ready")})
	used := tk
	used.State = pass.TicketUsed
	prev = prevOf(used)
	step("scanned", func() (*pass.Pass, bool, error) { return b.svc.Apply(ctx, used, "default") }, "", []string{key("changed"), key("ready")})
	old := tk
	old.State = pass.TicketCancelled
	prev, superseded = prevOf(old), true
	step("previous holder", func() (*pass.Pass, bool, error) { return b.svc.Supersede(ctx, old, "default") }, "",
		[]string{key("changed"), key("ready")})
	next := tk
	next.HolderGeneration, next.HolderName = 1, "New Holder"
	prev, superseded = prevOf(next), false
	step("new holder", func() (*pass.Pass, bool, error) { return b.svc.Apply(ctx, next, "default") }, pass.NoticeTransferred,
		[]string{key("changed"), key("ready"), key("transferred")})
	// The new holder's ticket is theirs: the order's app (the seller's)
	// hears nothing of what happens to it.
	next.State = pass.TicketCancelled
	prev = prevOf(next)
	step("the new holder's ticket cancelled", func() (*pass.Pass, bool, error) { return b.svc.Apply(ctx, next, "default") }, "",
		[]string{key("changed"), key("ready"), key("transferred")})

	// A ticket cancelled before its pass was made (a lapsed option, an
	// exchange's old ticket) gets a voided pass, for the gates, and the
	// app hears nothing of it.
	lapsed := tk
	lapsed.MovementID, lapsed.TicketID, lapsed.Barcode, lapsed.State = tk.MovementID+1000, tk.TicketID+1000, "LAPSED-1", pass.TicketCancelled
	prev = prevOf(lapsed)
	step("cancelled before its pass", func() (*pass.Pass, bool, error) { return b.svc.Apply(ctx, lapsed, "default") }, "",
		[]string{key("changed"), key("ready"), key("transferred")})

	// An erasure by e-mail (the app's registrations stay) signs the
	// passes again without the holder, and the app hears nothing of it.
	merged := func() (n int) {
		ts, err := b.db.ListTasks(ctx, pass.TaskPending, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range ts {
			if task.Kind == pass.TaskAppNotice {
				n += 1 + task.Merged
			}
		}
		return n
	}
	before := merged()
	b.svc.Erasures = b.db
	er := &pass.Eraser{Service: b.svc, Store: b.db, Blobs: b.blob, Clock: b.svc.Clock}
	if rep, err := er.Erase(ctx, pass.ErasureRequest{Tenant: "demo", Email: tk.HolderEmail}); err != nil || rep.Passes == 0 {
		t.Fatalf("erase %+v: %v", rep, err)
	}
	if got := merged(); got != before {
		t.Errorf("the erasure queued app notices: %d before, %d after (%v)", before, got, notices())
	}
}

func TestLatestPerTicket(t *testing.T) {
	t.Parallel()
	ps := []pass.Pass{
		{MovementID: 1, HolderGeneration: 0, SerialNumber: "a0", Status: pass.StatusVoided},
		{MovementID: 1, HolderGeneration: 1, SerialNumber: "a1", Status: pass.StatusActive},
		{MovementID: 2, HolderGeneration: 0, SerialNumber: "b0", Status: pass.StatusVoided},
		{MovementID: 3, HolderGeneration: 0, SerialNumber: "c0", Status: pass.StatusUsed},
	}
	serials := func(ps []pass.Pass) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.SerialNumber)
		}
		return out
	}
	if got := serials(pass.LatestPerTicket(ps)); !slices.Equal(got, []string{"a1", "b0", "c0"}) {
		t.Errorf("latest = %v", got)
	}
	if got := serials(pass.ValidPerTicket(ps)); !slices.Equal(got, []string{"a1", "c0"}) {
		t.Errorf("valid = %v", got)
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"fr-CH": "fr", "fr_CH": "fr", "DE": "de", "": "en", " ": "en"} {
		if got := pass.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
}

// staticOrders is an OrderSource that always answers o.
type staticOrders struct{ o pass.Order }

func (s staticOrders) OrderBySecret(context.Context, string, string) (*pass.Order, error) {
	o := s.o
	return &o, nil
}
func (s staticOrders) OrderByFileID(context.Context, string, int64) (*pass.Order, error) {
	o := s.o
	return &o, nil
}
func (s staticOrders) OrderByOrderID(context.Context, string, int64) (*pass.Order, error) {
	o := s.o
	return &o, nil
}

// readAtOrders is an OrderSource whose reads of SecuTix happen at the
// times it is given, one per read in turn, each marked as the SecuTix
// client marks its order requests; a read waits for its release.
type readAtOrders struct {
	mu     sync.Mutex
	reads  []pass.Order
	at     []time.Time
	wait   []chan struct{}
	calls  int
	called chan int
}

func (r *readAtOrders) read(ctx context.Context) (*pass.Order, error) {
	r.mu.Lock()
	i := r.calls
	r.calls++
	r.mu.Unlock()
	pass.MarkRead(ctx, r.at[i])
	r.called <- i
	<-r.wait[i]
	o := r.reads[i]
	return &o, nil
}
func (r *readAtOrders) OrderBySecret(ctx context.Context, _, _ string) (*pass.Order, error) {
	return r.read(ctx)
}
func (r *readAtOrders) OrderByFileID(ctx context.Context, _ string, _ int64) (*pass.Order, error) {
	return r.read(ctx)
}
func (r *readAtOrders) OrderByOrderID(ctx context.Context, _ string, _ int64) (*pass.Order, error) {
	return r.read(ctx)
}

// TestOverlappingSyncs: two syncs of one order overlap; the one that read
// SecuTix first (the ticket still valid) finishes after the one that read
// it later (the ticket cancelled, or passed on to another holder): the
// later read stands, and the earlier one leaves the passes alone, saying
// so on the timeline.
func TestOverlappingSyncs(t *testing.T) {
	t.Parallel()
	for _, later := range []string{"cancelled", "transferred"} {
		t.Run(later, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			tk := apple.SampleTicket(pass.EventConcert)
			tk.Tenant = "demo"
			order := func(t pass.Ticket) pass.Order {
				return pass.Order{Tenant: "demo", FileID: t.FileID, OrderID: t.OrderID, SecretToken: t.OrderSecretToken, Tickets: []pass.Ticket{t}}
			}
			next := tk
			switch later {
			case "cancelled":
				next.State = pass.TicketCancelled
			case "transferred":
				next.TicketID, next.Barcode, next.HolderName = tk.TicketID+100, "REISSUED-1", "Somebody Else"
			}
			t0 := time.Now()
			src := &readAtOrders{reads: []pass.Order{order(tk), order(tk), order(next)}, at: []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)},
				wait: []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}, called: make(chan int, 3)}
			s := &pass.Syncer{Orders: src, Service: b.svc, Hints: b.db, Timeline: b.db,
				Templates: map[string]pass.TemplateChoice{"demo": {Default: "default"}}}
			ref := pass.OrderRef{Tenant: "demo", SecretToken: tk.OrderSecretToken}
			close(src.wait[0]) // the first sync makes the pass
			if _, err := s.SyncOrder(ctx, ref, "c0"); err != nil {
				t.Fatal(err)
			}
			<-src.called
			stale := make(chan error, 1)
			go func() { _, err := s.SyncOrder(ctx, ref, "stale"); stale <- err }()
			<-src.called // the stale sync has read, and waits
			close(src.wait[2])
			if _, err := s.SyncOrder(ctx, ref, "fresh"); err != nil {
				t.Fatal(err)
			}
			close(src.wait[1])
			if err := <-stale; err != nil {
				t.Fatal(err)
			}
			ps, err := b.db.PassesByOrder(ctx, "demo", tk.OrderSecretToken)
			if err != nil {
				t.Fatal(err)
			}
			var active []string
			for _, p := range ps {
				if p.Status == pass.StatusActive {
					active = append(active, fmt.Sprintf("%s generation %d ticket %d", p.SerialNumber, p.HolderGeneration, p.TicketID))
				}
			}
			want := 0
			if later == "transferred" {
				want = 1 // the new holder's
			}
			if len(active) != want || (want == 1 && !strings.Contains(active[0], fmt.Sprint(next.TicketID))) {
				t.Errorf("active passes after the stale sync: %v, want %d (the later read's)", active, want)
			}
			entries, err := b.db.Timeline(ctx, "demo", tk.OrderSecretToken, 0)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range entries {
				found = found || (e.Kind == "stale-read" && e.CorrelationID == "stale")
			}
			if !found {
				t.Errorf("the stale sync left no stale-read entry on the timeline")
			}
		})
	}
}

// TestApplyLeavesALaterReadAlone: a ticket read from SecuTix before the
// read the pass was made from (a sync that passed the syncer's check just
// before a later sync wrote) does not replace it; within the clocks' skew
// it does, and so does a ticket of unknown read.
func TestApplyLeavesALaterReadAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cancelled := tk
	cancelled.State, cancelled.ReadAt = pass.TicketCancelled, t0.Add(time.Second)
	if _, _, err := b.svc.Apply(ctx, cancelled, "default"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		readAt time.Time
		want   pass.Status
	}{
		{"read a second before", t0, pass.StatusVoided},
		{"read within the skew", t0.Add(time.Second - pass.ReadSkew/2), pass.StatusActive},
	} {
		valid := tk
		valid.ReadAt = c.readAt
		p, _, err := b.svc.Apply(ctx, valid, "default")
		if err != nil || p.Status != c.want {
			t.Errorf("%s: %v %v, want %s", c.name, p.Status, err, c.want)
		}
	}
}

// staticSyncer syncs the demo tenant's orders from o alone.
func staticSyncer(b bundle, o pass.Order) *pass.Syncer {
	return &pass.Syncer{Orders: staticOrders{o}, Service: b.svc, Hints: b.db, Timeline: b.db,
		Templates: map[string]pass.TemplateChoice{"demo": {Default: "default"}}}
}

// testGate is a gate on b's store, frozen an hour before the sample
// concert (apple.SampleTicket): its tickets are for now.
func testGate(b bundle) *pass.Gate {
	at := apple.SampleTicket(pass.EventConcert).Event.Start.Add(-time.Hour)
	clock := func() time.Time { return at }
	return &pass.Gate{Store: b.db, Inbox: &pass.Inbox{Queue: b.db, Clock: clock}, Clock: clock}
}

// TestSyncShowsWarnings: what SecuTix sent that walletpass kept without
// understanding it reaches the order's timeline, and the sync still makes
// the passes.
func TestSyncShowsWarnings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	o := pass.Order{Tenant: "demo", FileID: tk.FileID, OrderID: tk.OrderID, SecretToken: tk.OrderSecretToken,
		Tickets: []pass.Ticket{tk}, Warnings: []string{`movement 1 of order 2: unknown ticketState "LOST", taken as valid`}}
	s := staticSyncer(b, o)
	res, err := s.SyncOrder(ctx, pass.OrderRef{Tenant: "demo", SecretToken: tk.OrderSecretToken}, "corr-1")
	if err != nil || len(res.Changed) != 1 {
		t.Fatalf("sync: %d changed, %v", len(res.Changed), err)
	}
	tl, err := b.db.Timeline(ctx, "demo", tk.OrderSecretToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range tl {
		if e.Kind == "warning" && strings.Contains(e.Detail, `unknown ticketState "LOST"`) && e.CorrelationID == "corr-1" {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning on the timeline: %+v", tl)
	}
}

// TestGateTicketWithoutID: a ticket SecuTix gave no id is marked used by
// its movement, so a second scan is refused like any other.
func TestGateTicketWithoutID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.TicketID = "demo", 0
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	g := testGate(b)
	for i, want := range []string{pass.ScanValid, pass.ScanAlreadyUsed} {
		res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: tk.Barcode})
		if err != nil || res.Result != want {
			t.Errorf("scan %d: %s %v, want %s", i+1, res.Result, err, want)
		}
	}
}

// TestGateRefusesAVoidedTicket: a ticket an operator voided is refused
// at the gate at once, before the order's sync voids its pass.
func TestGateRefusesAVoidedTicket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	other := tk
	other.TicketID, other.MovementID, other.Barcode = tk.TicketID+1, tk.MovementID+1, tk.Barcode+"9"
	for _, x := range []pass.Ticket{tk, other} {
		if _, _, err := b.svc.Apply(ctx, x, "default"); err != nil {
			t.Fatal(err)
		}
	}
	g := testGate(b)
	if _, err := g.Inbox.VoidTicket(ctx, "demo", tk.OrderSecretToken, tk.TicketID, "void"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		barcode, want string
	}{{tk.Barcode, pass.ScanCancelled}, {other.Barcode, pass.ScanValid}} {
		res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: c.barcode, ScanID: "s-" + c.barcode})
		if err != nil || res.Result != c.want {
			t.Errorf("scan of %s: %s %v, want %s", c.barcode, res.Result, err, c.want)
		}
	}
}

// announcements counts the ticket.scanned announcements queued in b's
// store.
func announcements(t *testing.T, b bundle) int {
	t.Helper()
	tasks, err := b.db.ListTasks(context.Background(), pass.TaskPending, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range tasks {
		var a pass.EventArgs
		if tk.Kind == pass.TaskEventFanout && json.Unmarshal(tk.Payload, &a) == nil && a.Type == pass.EventTicketScanned {
			n++
		}
	}
	return n
}

// TestGateOneEntryPerTicket: eight gates scan one ticket (a screenshot
// shared) at the same moment, each with its own scan id: one lets the
// holder in, the seven others answer already_used, and one scan is
// announced.
func TestGateOneEntryPerTicket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	g := testGate(b)
	g.Events = true
	const gates = 8
	results := make(chan string, gates)
	var start sync.WaitGroup
	start.Add(1)
	for i := range gates {
		go func() {
			start.Wait()
			res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: tk.Barcode, ScanID: fmt.Sprintf("gate-%d", i)})
			if err != nil {
				results <- err.Error()
				return
			}
			results <- res.Result
		}()
	}
	start.Done()
	count := map[string]int{}
	for range gates {
		count[<-results]++
	}
	if count[pass.ScanValid] != 1 || count[pass.ScanAlreadyUsed] != gates-1 || announcements(t, b) != 1 {
		t.Errorf("answers %v, %d announcements; want one valid, %d already_used, one announcement", count, announcements(t, b), gates-1)
	}

	// At a tenant that admits a ticket again, every gate lets the holder
	// in: one first entry, the others re-entries.
	other := tk
	other.MovementID, other.TicketID, other.Barcode = tk.MovementID+1, tk.TicketID+1, "OTHER-1"
	if _, _, err := b.svc.Apply(ctx, other, "default"); err != nil {
		t.Fatal(err)
	}
	g.ReEntry = map[string]bool{"demo": true}
	var again sync.WaitGroup
	again.Add(1)
	for i := range gates {
		go func() {
			again.Wait()
			res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: other.Barcode, ScanID: fmt.Sprintf("re-%d", i)})
			switch {
			case err != nil:
				results <- err.Error()
			case res.Result == pass.ScanValid && res.ReEntry:
				results <- "re-entry"
			default:
				results <- res.Result
			}
		}()
	}
	again.Done()
	count = map[string]int{}
	for range gates {
		count[<-results]++
	}
	if count[pass.ScanValid] != 1 || count["re-entry"] != gates-1 {
		t.Errorf("re-entry tenant: answers %v, want one first entry and %d re-entries", count, gates-1)
	}
}

// TestGateReEntry: at a tenant whose tickets admit again (apple.reEntry),
// a ticket scanned before is let in again, said so (ReEntry) and each
// entry announced; a scan sent again repeats its answer, re-entry
// included, and is not announced twice; a cancelled ticket is still
// refused, and at another tenant the second scan is already_used.
func TestGateReEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	cancelled := tk
	cancelled.MovementID, cancelled.TicketID, cancelled.Barcode, cancelled.State = tk.MovementID+1, tk.TicketID+1, "CANCELLED-1", pass.TicketCancelled
	for _, x := range []pass.Ticket{tk, cancelled} {
		if _, _, err := b.svc.Apply(ctx, x, "default"); err != nil {
			t.Fatal(err)
		}
	}
	g := testGate(b)
	g.Events = true
	g.ReEntry = map[string]bool{"demo": true}
	for i, c := range []struct {
		id      string
		reEntry bool
		events  int
	}{
		{"e1", false, 1},
		{"e2", true, 2},
		{"e2", true, 2}, // sent again: the first answer, no second announcement
		{"e3", true, 3},
	} {
		res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: tk.Barcode, ScanID: c.id})
		if n := announcements(t, b); err != nil || res.Result != pass.ScanValid || res.ReEntry != c.reEntry || n != c.events {
			t.Errorf("scan %d (%s): %s re-entry %v, %d announcements, %v; want valid, re-entry %v, %d", i+1, c.id,
				res.Result, res.ReEntry, n, err, c.reEntry, c.events)
		}
	}
	if res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: cancelled.Barcode}); err != nil || res.Result != pass.ScanCancelled {
		t.Errorf("the cancelled ticket: %s %v", res.Result, err)
	}
	g.ReEntry = nil
	if res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: tk.Barcode}); err != nil || res.Result != pass.ScanAlreadyUsed || res.ReEntry {
		t.Errorf("without re-entry: %s re-entry %v %v, want already_used", res.Result, res.ReEntry, err)
	}
}

// TestSyncReadsEveryOrdersHints: a ticket of a second order of the file
// (its own order secret) scanned at the gate is used after the file's
// sync, which reads the hints of every order's secret.
func TestSyncReadsEveryOrdersHints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	first := apple.SampleTicket(pass.EventConcert)
	first.Tenant = "demo"
	second := first
	second.MovementID, second.TicketID, second.Barcode, second.OrderSecretToken = first.MovementID+1, first.TicketID+1, "SECOND-ORDER-1", "second-order-secret"
	o := pass.Order{Tenant: "demo", FileID: first.FileID, OrderID: first.OrderID, SecretToken: first.OrderSecretToken,
		Tickets: []pass.Ticket{first, second}}
	s := staticSyncer(b, o)
	if _, err := s.SyncOrder(ctx, pass.OrderRef{Tenant: "demo", FileID: first.FileID}, "c1"); err != nil {
		t.Fatal(err)
	}
	g := testGate(b)
	res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: second.Barcode})
	if err != nil || res.Result != pass.ScanValid {
		t.Fatalf("scan: %s %v", res.Result, err)
	}
	if _, err := s.SyncOrder(ctx, pass.OrderRef{Tenant: "demo", FileID: first.FileID}, "c2"); err != nil {
		t.Fatal(err)
	}
	p, err := b.db.GetPassByIdentity(ctx, "demo", second.MovementID, 0)
	if err != nil || p.Status != pass.StatusUsed || !p.Ticket.UsedAt.Equal(res.At) {
		t.Errorf("the second order's scanned ticket: %+v %v, want used at the scan's %s", p, err, res.At)
	}
}

// TestSameSecondVersionsFollowAtOnce: a version made in the second of the
// one before is modified a second later (its Last-Modified), but what
// follows it (the push, the announcement) is due at once.
func TestSameSecondVersionsFollowAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Policies = pass.Policies{"demo": {Events: true}}
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	first, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	tk.Seat.Row = "42"
	next, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed {
		t.Fatalf("apply: %v %v", changed, err)
	}
	if !next.UpdatedAt.Truncate(time.Second).After(first.UpdatedAt.Truncate(time.Second)) {
		t.Errorf("the second version's Last-Modified %v is not a second after the first's %v", next.UpdatedAt, first.UpdatedAt)
	}
	made := b.svc.Clock.Now()
	tasks, err := b.db.ListTasks(ctx, pass.TaskPending, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) == 0 {
		t.Fatal("no task pending after two versions, want what follows them")
	}
	for _, task := range tasks {
		if task.NextAttemptAt.After(made.Add(time.Millisecond)) {
			t.Errorf("%s task due %v, a version made at %v", task.Kind, task.NextAttemptAt, made)
		}
	}
}

// issuerRegistry is the fixture's registry with the issuer of tenant
// "demo" loaded from the pass certificate of dev, as a start of the
// service loads it.
func issuerRegistry(t *testing.T, f appletest.Fixture, dev certs.DevPaths) *apple.Registry {
	t.Helper()
	id, err := certs.Load(certs.Source{CertFile: dev.Cert, KeyFile: dev.Key, WWDRFile: dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
		OrganizationName: "Demo Concerts", WebServiceURL: "https://passes.example.com/api/demo/apple",
		Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR})
	if err != nil {
		t.Fatal(err)
	}
	reg := apple.NewRegistry()
	reg.AddIssuer("demo", is)
	reg.AddTemplate(f.Template)
	return reg
}

// renewedCertificate makes a new pass certificate for the fixture's pass
// type, issued by the same WWDR: the yearly renewal.
func renewedCertificate(t *testing.T, f appletest.Fixture) certs.DevPaths {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{f.Dev.WWDRCert, f.Dev.WWDRKey} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dev, err := certs.EnsureDev(dir, appletest.PassTypeID, appletest.TeamID, "Walletpass Test")
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// signedBy returns the stored pass p as a phone downloads it (checked as
// Wallet checks it) and the certificate its signature names as signer.
func signedBy(t *testing.T, b bundle, p *pass.Pass) (map[string][]byte, *x509.Certificate) {
	t.Helper()
	data, err := b.files.PassFile(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	appletest.Verify(t, data, b.wwdr)
	files := appletest.Unzip(t, data)
	p7, err := pkcs7.Parse(files["signature"])
	if err != nil {
		t.Fatal(err)
	}
	return files, p7.GetOnlySigner()
}

// TestRenewedCertificateSignsAgain: once the pass type certificate is
// renewed, the next sync of an unchanged ticket stores a new version of
// its pass, signed by the new certificate, with the same pass.json, and
// pushes it to the pass's devices; the holder's app and Google Wallet hear
// of nothing (nothing they show changed). Loading the same certificate
// again (a restart) signs nothing again.
func TestRenewedCertificateSignsAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Policies = pass.Policies{"demo": {AppNotices: true, Google: true, GoogleOnPayment: true}}
	f := appletest.Setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	p1, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	files1, signer1 := signedBy(t, b, p1)
	old := taskIDs(t, b)

	b.svc.Packager = issuerRegistry(t, f, f.Dev) // a restart
	if p, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || changed || p.Version != 1 {
		t.Fatalf("after a restart with the same certificate: version %d, changed %v, %v", p.Version, changed, err)
	}

	renewed := renewedCertificate(t, f)
	b.svc.Packager = issuerRegistry(t, f, renewed)
	p2, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !changed || p2.Version != 2 {
		t.Fatalf("after the renewal: version %d, changed %v; want a version 2", p2.Version, changed)
	}
	files2, signer2 := signedBy(t, b, p2)
	leaf, err := certs.LoadCertificate(renewed.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if !signer2.Equal(leaf) || signer2.Equal(signer1) {
		t.Errorf("version 2 is signed by %v (serial %v), want the renewed certificate (serial %v)",
			signer2.Subject, signer2.SerialNumber, leaf.SerialNumber)
	}
	if !bytes.Equal(files1["pass.json"], files2["pass.json"]) {
		t.Errorf("the pass.json changed:\n%s\n%s", files1["pass.json"], files2["pass.json"])
	}
	if kinds := newTasks(t, b, old); kinds[pass.TaskPushPass] != 1 || len(kinds) != 1 {
		t.Errorf("tasks after the renewal: %v, want one push-pass", kinds)
	}
	if p, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || changed || p.Version != 2 {
		t.Errorf("the next sync: version %d, changed %v, %v", p.Version, changed, err)
	}
}

// datedSigner is a Packager whose certificate became valid at since (and
// its intermediate at caSince, and named signer, when set).
type datedSigner struct {
	pass.Packager
	since, caSince time.Time
	signer         string
}

func (d datedSigner) Render(ctx context.Context, tenant, template string, in pass.PassInput) (pass.Rendered, error) {
	r, err := d.Packager.Render(ctx, tenant, template, in)
	r.SignerSince = d.since
	if !d.caSince.IsZero() {
		r.SignerCASince, r.Signer = d.caSince, d.signer
	}
	return r, err
}

// TestRollingRenewalSignsForward: during a rolling upgrade to a renewed
// certificate, an instance still on the certificate before leaves a
// version the renewed one signed as it is (it does not sign it back, for
// the next instance to sign forth again); a changed ticket it still signs,
// and the renewed certificate signs that version again at its next sync.
func TestRollingRenewalSignsForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	f := appletest.Setup(t)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	before := datedSigner{Packager: issuerRegistry(t, f, f.Dev), since: day}
	renewed := datedSigner{Packager: issuerRegistry(t, f, renewedCertificate(t, f)), since: day.Add(24 * time.Hour)}
	tk := apple.SampleTicket(pass.EventConcert)
	b.svc.Packager = before
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	b.svc.Packager = renewed
	p2, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p2.Version != 2 {
		t.Fatalf("the renewed certificate's sync: version %d, changed %v, %v; want a version 2", p2.Version, changed, err)
	}
	b.svc.Packager = before // an instance not upgraded yet
	if p, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || changed || p.Version != 2 {
		t.Fatalf("the certificate before, on the renewed version: version %d, changed %v, %v; want version 2 left as it is", p.Version, changed, err)
	}
	tk.Seat.Number = "99"
	p3, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p3.Version != 3 {
		t.Fatalf("a changed ticket on the certificate before: version %d, changed %v, %v; want a version 3", p3.Version, changed, err)
	}
	b.svc.Packager = renewed
	if p, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || !changed || p.Version != 4 {
		t.Errorf("the renewed certificate on the certificate before's version: version %d, changed %v, %v; want a version 4", p.Version, changed, err)
	}
}

// TestRollingWWDRSignsForward: the WWDR replaced alone (the same pass
// certificate, a new intermediate): an instance still on the WWDR before
// leaves a version the new one signed as it is, as for a renewal.
func TestRollingWWDRSignsForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	reg := b.svc.Packager
	leaf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	before := datedSigner{Packager: reg, since: leaf, caSince: time.Date(2020, 2, 19, 0, 0, 0, 0, time.UTC), signer: "leaf-g4"}
	replaced := datedSigner{Packager: reg, since: leaf, caSince: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), signer: "leaf-g5"}
	tk := apple.SampleTicket(pass.EventConcert)
	b.svc.Packager = before
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	b.svc.Packager = replaced
	if p, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || !changed || p.Version != 2 {
		t.Fatalf("the new WWDR's sync: version %d, changed %v, %v; want a version 2", p.Version, changed, err)
	}
	b.svc.Packager = before
	if p, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || changed || p.Version != 2 {
		t.Errorf("the WWDR before, on the new one's version: version %d, changed %v, %v; want version 2 left as it is", p.Version, changed, err)
	}
}

// restyled is a Packager whose template renders every ticket otherwise
// than before (an organiser's edit, a release's new field).
type restyled struct{ pass.Packager }

func (r restyled) Render(ctx context.Context, tenant, template string, in pass.PassInput) (pass.Rendered, error) {
	out, err := r.Packager.Render(ctx, tenant, template, in)
	out.ContentHash += "-restyled"
	return out, err
}

// TestRestyledTicketIsNoNews: the same ticket rendered otherwise (its
// template changed) is a new version, pushed to the pass's phones,
// announced to webhooks and synced to Google Wallet (whose class shows
// the template), but the holder's app hears no "your ticket changed"; a
// changed ticket is news as before.
func TestRestyledTicketIsNoNews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Policies = pass.Policies{"demo": {AppNotices: true, Google: true, Events: true}} // Google syncs a pass once it changed
	tk := apple.SampleTicket(pass.EventConcert)
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	old := taskIDs(t, b)
	b.svc.Packager = restyled{b.svc.Packager}
	p, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p.Version != 2 {
		t.Fatalf("restyled: version %d, changed %v, %v; want a version 2", p.Version, changed, err)
	}
	if kinds := newTasks(t, b, old); kinds[pass.TaskPushPass] != 1 || kinds[pass.TaskEventFanout] != 1 || kinds[pass.TaskGoogleSync] != 1 || len(kinds) != 3 {
		t.Errorf("tasks after a restyle: %v, want a push-pass, an event-fanout and a google-sync", kinds)
	}
	old = taskIDs(t, b)
	tk.Seat.Number = "99"
	if _, changed, err := b.svc.Apply(ctx, tk, "default"); err != nil || !changed {
		t.Fatalf("a changed seat: changed %v, %v", changed, err)
	}
	if kinds := newTasks(t, b, old); kinds[pass.TaskAppNotice] != 1 {
		t.Errorf("tasks after a changed seat: %v, want an app notice", kinds)
	}
}

// unnamedSigner is the Packager of a release whose versions did not name
// their signer: their hash is the content's alone.
type unnamedSigner struct{ pass.Packager }

func (u unnamedSigner) Render(ctx context.Context, tenant, template string, in pass.PassInput) (pass.Rendered, error) {
	r, err := u.Packager.Render(ctx, tenant, template, in)
	r.Signer, r.SignerSince = "", time.Time{}
	return r, err
}

// TestUpgradeKeepsSignedPasses: after an upgrade, a version stored by a
// release whose versions did not name their signer is current if it was
// made once the certificate in use was valid (that certificate signed it:
// the upgrade signs nothing again), and is signed again if it was made
// before (an earlier certificate signed it); the new version names its
// signer.
func TestUpgradeKeepsSignedPasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := appletest.Setup(t)
	leaf, err := certs.LoadCertificate(f.Dev.Cert)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		made     time.Time
		resigned bool
	}{
		{"made with the certificate in use", leaf.NotBefore.Add(time.Minute), false},
		{"made before the certificate in use", leaf.NotBefore.Add(-time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			reg := b.svc.Packager
			tk := apple.SampleTicket(pass.EventConcert)
			b.svc.Packager, b.svc.Clock = unnamedSigner{reg}, func() time.Time { return tc.made }
			p1, _, err := b.svc.Apply(ctx, tk, "default")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(p1.ContentHash, "/") {
				t.Fatalf("stored hash %q names a signer", p1.ContentHash)
			}
			b.svc.Packager, b.svc.Clock = reg, func() time.Time { return tc.made.Add(24 * time.Hour) } // the upgrade
			p, changed, err := b.svc.Apply(ctx, tk, "default")
			if err != nil || changed != tc.resigned {
				t.Fatalf("version %d, changed %v, %v; want changed %v", p.Version, changed, err, tc.resigned)
			}
			if tc.resigned && !strings.HasPrefix(p.ContentHash, p1.ContentHash+"/") {
				t.Errorf("new version's hash %q, want the content's (%q) and its signer", p.ContentHash, p1.ContentHash)
			}
		})
	}
}

// saveLinkInFlight is a pass store on which a Google save link finishes
// while a change is being stored: before the change's write lands, the
// link records the object it inserted and reads the pass, which is still
// the version before.
type saveLinkInFlight struct {
	*storage.DB
	seen int // the version the save link read
}

func (s *saveLinkInFlight) UpdatePass(ctx context.Context, next *pass.Pass, follow []pass.NewTask) error {
	cur, err := s.GetPass(ctx, next.Tenant, next.SerialNumber)
	if err != nil {
		return err
	}
	rec := &pass.GoogleObject{Tenant: cur.Tenant, Serial: cur.SerialNumber, ObjectID: "1.demo-" + cur.SerialNumber,
		ClassID: "1.demo-c", Version: cur.Version, State: "ACTIVE", UpdatedAt: time.UnixMilli(1_800_000_000_000)}
	if err := s.PutGoogleObject(ctx, rec); err != nil {
		return err
	}
	s.seen = cur.Version
	return s.DB.UpdatePass(ctx, next, follow)
}

// TestCancellationMeetsASaveLink: a ticket cancelled while its holder's
// Google save link inserts the object still gets the object's sync, so
// that Google shows the pass voided. The save link read the pass before
// the cancellation was stored, and the cancellation was decided before
// the object's record existed: only the sync queued with the
// cancellation, which reads the record when it runs, brings them together.
func TestCancellationMeetsASaveLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Policies = pass.Policies{"demo": {Google: true}}
	tk := apple.SampleTicket(pass.EventConcert)
	p1, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	old := taskIDs(t, b)
	racing := &saveLinkInFlight{DB: b.db}
	b.svc.Passes = racing
	tk.State = pass.TicketCancelled
	p2, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed || p2.Status != pass.StatusVoided {
		t.Fatalf("cancel: %+v changed=%v %v", p2, changed, err)
	}
	if racing.seen != p1.Version {
		t.Fatalf("the save link read version %d, want %d (the race was not staged)", racing.seen, p1.Version)
	}
	if kinds := newTasks(t, b, old); kinds[pass.TaskGoogleSync] != 1 {
		t.Errorf("tasks of the cancellation: %v, want a google-sync", kinds)
	}
}

// meanwhile is a pass store on which something happens just before a new
// pass is stored: an erasure or a notice whose rewrite of the passes ran
// while the pass was being made, and so did not list it.
type meanwhile struct {
	*storage.DB
	before func(ctx context.Context, p *pass.Pass) error
}

func (m *meanwhile) CreatePass(ctx context.Context, p *pass.Pass, follow []pass.NewTask) error {
	if m.before != nil {
		if err := m.before(ctx, p); err != nil {
			return err
		}
		m.before = nil
	}
	return m.DB.CreatePass(ctx, p, follow)
}

// TestCreationMeetsAnErasure: the holder's data is erased while the
// ticket's first pass is being made; the pass stored is signed again at
// once without it, and its first version's stored form (which names the
// holder) is gone.
func TestCreationMeetsAnErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	if tk.HolderName == "" {
		t.Fatal("the sample ticket names no holder")
	}
	b.svc.Passes = &meanwhile{DB: b.db, before: func(ctx context.Context, _ *pass.Pass) error {
		return b.db.AddErasure(ctx, "demo", pass.ErasureSubject(tk.FileID, ""), time.UnixMilli(1_800_000_000_000))
	}}
	p, changed, err := b.svc.Apply(ctx, tk, "default")
	if err != nil || !changed {
		t.Fatalf("apply: changed %v, %v", changed, err)
	}
	got, err := b.db.GetPass(ctx, "demo", p.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Ticket.HolderName != "" || got.Ticket.HolderEmail != "" {
		t.Errorf("the pass: v%d holder %q %q; want v2 without the holder", got.Version, got.Ticket.HolderName, got.Ticket.HolderEmail)
	}
	if data, err := b.db.VersionContent(ctx, "demo", p.SerialNumber, 1); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("version 1 keeps its stored form (%d bytes, %v)", len(data), err)
	}
}

// rewrittenMeanwhile is a pass store on which another writer (an
// erasure's rewrite that listed the new pass) stores a version of a pass
// just before the first update of it: that update is then a conflict.
type rewrittenMeanwhile struct {
	*meanwhile
	rewrite func(ctx context.Context, next *pass.Pass) error
}

func (r *rewrittenMeanwhile) UpdatePass(ctx context.Context, next *pass.Pass, follow []pass.NewTask) error {
	if r.rewrite != nil {
		rw := r.rewrite
		r.rewrite = nil
		if err := rw(ctx, next); err != nil {
			return err
		}
	}
	return r.DB.UpdatePass(ctx, next, follow)
}

// TestCreationMeetsAnErasureTwice: the erasure's own rewrite reaches the
// new pass before the creation brings it up to date; the creation reads
// it again, finds it erased, and does not fail the sync.
func TestCreationMeetsAnErasureTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Erasures = b.db
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant = "demo"
	store := &rewrittenMeanwhile{meanwhile: &meanwhile{DB: b.db, before: func(ctx context.Context, _ *pass.Pass) error {
		return b.db.AddErasure(ctx, "demo", pass.ErasureSubject(tk.FileID, ""), time.UnixMilli(1_800_000_000_000))
	}}}
	eraser := &pass.Eraser{Service: &pass.Service{Passes: b.db, Packager: b.svc.Packager, Erasures: b.db, Clock: b.svc.Clock},
		Store: b.db, Blobs: b.blob, Clock: b.svc.Clock}
	store.rewrite = func(ctx context.Context, _ *pass.Pass) error {
		_, err := eraser.Erase(ctx, pass.ErasureRequest{Tenant: "demo", FileID: tk.FileID, Why: "request"})
		return err
	}
	b.svc.Passes = store
	p, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	got, err := b.db.GetPass(ctx, "demo", p.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ticket.HolderName != "" || got.Ticket.HolderEmail != "" {
		t.Errorf("the pass: v%d holder %q %q; want it without the holder", got.Version, got.Ticket.HolderName, got.Ticket.HolderEmail)
	}
}

// TestCreationMeetsANotice: an organiser's notice arrives while a ticket's
// first pass is being made (its performance's rewrite did not list it);
// the pass stored shows the notice at once.
func TestCreationMeetsANotice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Notices = b.db
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.Event.PerformanceID = "demo", 77
	b.svc.Passes = &meanwhile{DB: b.db, before: func(ctx context.Context, _ *pass.Pass) error {
		n := pass.Notice{Tenant: "demo", PerformanceID: tk.Event.PerformanceID, ID: "doors",
			Body: pass.LocalText{"en": "Doors open at 19:30"}, CreatedAt: time.UnixMilli(1_800_000_000_000)}
		_, _, err := b.db.AddNotice(ctx, n, pass.TaskOf(pass.PerformanceArgs{Tenant: "demo", PerformanceID: tk.Event.PerformanceID, Why: "notice"}, ""))
		return err
	}}
	p, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.db.GetPass(ctx, "demo", p.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ticket.Notice != "Doors open at 19:30" {
		t.Errorf("the pass shows the notice %q (v%d), want the one sent while it was made", got.Ticket.Notice, got.Version)
	}
}

// TestGateWrongTime: a ticket scanned more than six hours before its
// event or after it (another day's ticket) is answered wrong_time and
// not used up: its holder is let in on the day. A long event (a
// festival pass) admits any time within it; a season ticket at any time
// until its last match is over (its matches may have moved since its
// order's last sync).
func TestGateWrongTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	friday := apple.SampleTicket(pass.EventConcert)
	friday.Tenant = "demo"
	festival := friday
	festival.MovementID, festival.TicketID, festival.Barcode = friday.MovementID+1, friday.TicketID+1, "FESTIVAL-1"
	festival.Event.Start, festival.Event.End = friday.Event.Start.AddDate(0, 0, -2), friday.Event.End.AddDate(0, 0, 1)
	season := friday
	season.MovementID, season.TicketID, season.Barcode = friday.MovementID+2, friday.TicketID+2, "SEASON-1"
	season.Upcoming = []pass.UpcomingEvent{{ID: "1", Name: "Match", Start: friday.Event.Start.AddDate(0, 0, 7)}}
	for _, tk := range []pass.Ticket{friday, festival, season} {
		if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
			t.Fatal(err)
		}
	}
	g := testGate(b)
	for _, c := range []struct {
		name    string
		at      time.Time
		barcode string
		want    string
	}{
		{"the day before", friday.Event.Start.AddDate(0, 0, -1), friday.Barcode, pass.ScanWrongTime},
		{"seven hours early", friday.Event.Start.Add(-7 * time.Hour), friday.Barcode, pass.ScanWrongTime},
		{"the festival's first day", friday.Event.Start.AddDate(0, 0, -1), festival.Barcode, pass.ScanValid},
		{"a season ticket, a match moved to this day", friday.Event.Start.AddDate(0, 0, 3), season.Barcode, pass.ScanValid},
		{"a season ticket, the season over", friday.Event.Start.AddDate(0, 0, 8), season.Barcode, pass.ScanWrongTime},
		{"five hours early", friday.Event.Start.Add(-5 * time.Hour), friday.Barcode, pass.ScanValid},
		{"again, at the doors", friday.Event.Start, friday.Barcode, pass.ScanAlreadyUsed},
		{"used, the next week", friday.Event.Start.AddDate(0, 0, 7), friday.Barcode, pass.ScanAlreadyUsed},
	} {
		g.Clock = func() time.Time { return c.at }
		if res, err := g.Scan(ctx, pass.ScanRequest{Tenant: "demo", Data: c.barcode, ScanID: "s-" + strings.ReplaceAll(c.name, " ", "-")}); err != nil || res.Result != c.want {
			t.Errorf("%s: %s %v, want %s", c.name, res.Result, err, c.want)
		}
	}
}
