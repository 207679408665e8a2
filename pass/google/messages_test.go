package google_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/walletobjects/v1"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
)

// noticeBoard is a pass.NoticeStore holding one notice per performance,
// the newest.
type noticeBoard struct {
	mu     sync.Mutex
	latest map[int64]pass.Notice
}

func (nb *noticeBoard) AddNotice(_ context.Context, n pass.Notice, _ pass.NewTask) (pass.Notice, bool, error) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	if nb.latest == nil {
		nb.latest = map[int64]pass.Notice{}
	}
	nb.latest[n.PerformanceID] = n
	return n, true, nil
}

func (nb *noticeBoard) LatestNotice(_ context.Context, _ string, performanceID int64) (*pass.Notice, error) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	n, ok := nb.latest[performanceID]
	if !ok {
		return nil, fmt.Errorf("no notice: %w", pass.ErrNotFound)
	}
	return &n, nil
}

// TestClassMessagesBeyondGoogleCap: a performance gets more notices and
// changes than Google keeps messages on its class (MaxMessages). Each
// still reaches the class, the oldest making room, so the syncs of the
// performance's objects go on: a ticket cancelled afterwards turns
// INACTIVE.
func TestClassMessagesBeyondGoogleCap(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	board := &noticeBoard{}
	b.syncer.Notices = board
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	classID := google.ClassID(issuerID, "demo", p1.Ticket)
	perf := pass.GooglePerformanceArgs{Tenant: "demo", PerformanceID: p1.Ticket.Event.PerformanceID}

	const notices = google.MaxMessages + 3
	for i := range notices {
		n := pass.Notice{Tenant: "demo", PerformanceID: perf.PerformanceID, ID: fmt.Sprintf("n%02d", i),
			Body: pass.LocalText{"en": fmt.Sprintf("Notice %d", i)}, CreatedAt: b.clock.now()}
		if _, _, err := board.AddNotice(ctx, n, pass.NewTask{}); err != nil {
			t.Fatal(err)
		}
		if err := b.syncer.SyncPerformance(ctx, perf, ""); err != nil {
			t.Errorf("notice %d: %v", i, err)
		}
		b.clock.add(time.Hour)
	}
	// A new time for the performance: one more class message, with the
	// class patch.
	p1 = b.update(t, p1, func(tk *pass.Ticket) { tk.Event.Start = tk.Event.Start.Add(30 * time.Minute) })
	p2 = b.update(t, p2, func(tk *pass.Ticket) { tk.Event.Start = tk.Event.Start.Add(30 * time.Minute) })
	if err := b.syncer.SyncPerformance(ctx, perf, ""); err != nil {
		t.Errorf("new time: %v", err)
	}

	// The cancellation of one ticket reaches its object.
	p2 = b.update(t, p2, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p2.SerialNumber}, ""); err != nil {
		t.Errorf("cancellation: %v", err)
	}
	if o := b.object(t, p2); o.State != google.StateInactive {
		t.Errorf("cancelled ticket: state %s, want %s", o.State, google.StateInactive)
	}

	cl, ok := b.fake.EventTicketClass(classID)
	if !ok {
		t.Fatal("no class")
	}
	var ids []string
	for _, m := range cl.Messages {
		ids = append(ids, m.Id)
	}
	if len(ids) > google.MaxMessages {
		t.Errorf("the class holds %d messages, more than %d: %v", len(ids), google.MaxMessages, ids)
	}
	last := fmt.Sprintf("notice-n%02d", notices-1)
	if len(ids) < 2 || ids[len(ids)-2] != last || !strings.HasPrefix(ids[len(ids)-1], "time-") {
		t.Errorf("class messages %v, want the newest notice %s then the new time last", ids, last)
	}
	for _, id := range ids {
		if id == "notice-n00" {
			t.Errorf("class messages %v keep the oldest notice", ids)
		}
	}
	// Google's daily limit of notifications per pass holds throughout.
	for _, p := range []*pass.Pass{p1, p2} {
		oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
		if n := len(b.fake.ClassNotifications(classID)) + len(b.fake.ObjectNotifications(oid)); n > google.NotifyLimit {
			t.Errorf("%s: %d notifications, more than %d", oid, n, google.NotifyLimit)
		}
	}
}

// TestObjectMessagesBeyondGoogleCap: a ticket changes seat more often than
// Google keeps messages on its object. Every change is told, the oldest
// message making room, and the cancellation that follows turns the
// object INACTIVE with its message last.
func TestObjectMessagesBeyondGoogleCap(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.saved(t, ticket(1))
	const changes = google.MaxMessages + 2
	for i := range changes {
		p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = fmt.Sprint(20 + i) })
		if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, ""); err != nil {
			t.Errorf("seat change %d: %v", i, err)
		}
		b.clock.add(time.Hour)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	if err := b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, ""); err != nil {
		t.Errorf("cancellation: %v", err)
	}
	o := b.object(t, p)
	if o.State != google.StateInactive {
		t.Errorf("state %s, want %s", o.State, google.StateInactive)
	}
	var ids []string
	for _, m := range o.Messages {
		ids = append(ids, m.Id)
	}
	if len(ids) > google.MaxMessages {
		t.Errorf("the object holds %d messages, more than %d: %v", len(ids), google.MaxMessages, ids)
	}
	want := fmt.Sprintf("v%d-cancelled", p.Version)
	if len(ids) == 0 || ids[len(ids)-1] != want {
		t.Errorf("messages %v, want %s last", ids, want)
	}
	if len(ids) > 0 && ids[0] == "v2-seat" {
		t.Errorf("messages %v keep the oldest", ids)
	}
	if n := len(b.fake.ObjectNotifications(o.Id)); n > google.NotifyLimit {
		t.Errorf("%d notifications, more than %d", n, google.NotifyLimit)
	}
}

// TestAddMessageWhenFull: the client's AddMessage and AddClassMessage on
// a full list drop the oldest message and add the new one last; a
// message refused while the list has room is not retried and drops
// nothing.
func TestAddMessageWhenFull(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	api := b.syncer.Tenants["demo"].API
	p := b.saved(t, ticket(1))
	oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
	cid := google.ClassID(issuerID, "demo", p.Ticket)
	if err := api.AddMessage(ctx, oid, google.Message{ID: "m00", Body: "text"}, false); err != nil {
		t.Fatal(err)
	}

	// A 400 while the list has room is the answer: no second try.
	b.fake.ClearRequests()
	b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/walletobjects/v1/eventTicketObject/" + oid + "/addMessage", Status: 400})
	if err := api.AddMessage(ctx, oid, google.Message{ID: "bad", Body: "text"}, false); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("a refused message: %v, want kind invalid", err)
	}
	var writes int
	for _, r := range b.fake.Requests() {
		if r.Method != http.MethodGet {
			writes++
		}
	}
	if o := b.object(t, p); writes != 1 || len(o.Messages) != 1 || o.Messages[0].Id != "m00" {
		t.Errorf("after a refused message: %d writes, messages %+v; want 1 and m00 alone", writes, o.Messages)
	}

	b.fake.ClearRequests()
	for i := 1; i <= google.MaxMessages; i++ {
		if err := api.AddMessage(ctx, oid, google.Message{ID: fmt.Sprintf("m%02d", i), Body: "text"}, false); err != nil {
			t.Fatalf("object message %d: %v", i, err)
		}
	}
	for i := range google.MaxMessages + 1 {
		cm := google.NoticeMessage("en", pass.Notice{ID: fmt.Sprintf("c%02d", i), Body: pass.LocalText{"en": "text"}})
		if err := api.AddClassMessage(ctx, cid, cm, false); err != nil {
			t.Fatalf("class message %d: %v", i, err)
		}
	}
	idsOf := func(ms []*walletobjects.Message) []string {
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.Id)
		}
		return ids
	}
	var want []string
	for i := 1; i <= google.MaxMessages; i++ {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	if diff := cmp.Diff(want, idsOf(b.object(t, p).Messages)); diff != "" {
		t.Errorf("object messages (-want +got):\n%s", diff)
	}
	cl, _ := b.fake.EventTicketClass(cid)
	want = want[:0]
	for i := 1; i <= google.MaxMessages; i++ {
		want = append(want, fmt.Sprintf("notice-c%02d", i))
	}
	if diff := cmp.Diff(want, idsOf(cl.Messages)); diff != "" {
		t.Errorf("class messages (-want +got):\n%s", diff)
	}
	if r := refused(b); len(r) != 2 {
		t.Errorf("the fake refused %v, want the two adds to full lists", r)
	}
	// The class patch that made room kept asking for review, as Google
	// wants of every update of a class.
	var patches int
	for _, r := range b.fake.Requests() {
		if r.Method != http.MethodPatch || !strings.Contains(r.Path, "/eventTicketClass/") {
			continue
		}
		patches++
		var body struct {
			ReviewStatus string `json:"reviewStatus"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || body.ReviewStatus != "UNDER_REVIEW" {
			t.Errorf("class patch: reviewStatus %q (%v), want UNDER_REVIEW", body.ReviewStatus, err)
		}
	}
	if patches != 1 {
		t.Errorf("%d class patches, want the one that made room", patches)
	}
}

// TestMovedPerformanceBesideACancelledPass: a performance with a cancelled
// pass (which the performance's changes do not rewrite) moves: its class
// gets the new time and the "time changed" message, whichever pass sorts
// first; a later sync of the cancelled pass does not put the old time back.
func TestMovedPerformanceBesideACancelledPass(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	cancelled, moved := p1, p2
	if p2.SerialNumber < p1.SerialNumber {
		cancelled, moved = p2, p1
	}
	cancelled = b.update(t, cancelled, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	b.sync(t, cancelled)
	start := moved.Ticket.Event.Start.Add(time.Hour)
	moved = b.update(t, moved, func(tk *pass.Ticket) { tk.Event.Start, tk.Event.End = start, tk.Event.End.Add(time.Hour) })
	perf := pass.GooglePerformanceArgs{Tenant: "demo", PerformanceID: moved.Ticket.Event.PerformanceID}
	if err := b.syncer.SyncPerformance(ctx, perf, ""); err != nil {
		t.Fatal(err)
	}
	classID := google.ClassID(issuerID, "demo", moved.Ticket)
	check := func(when string) {
		t.Helper()
		cl, ok := b.fake.EventTicketClass(classID)
		if !ok || cl.DateTime == nil {
			t.Fatalf("%s: no class", when)
		}
		got, err := time.Parse(time.RFC3339, cl.DateTime.Start)
		if err != nil || !got.Equal(start) {
			t.Errorf("%s: the class starts at %s, want %s", when, cl.DateTime.Start, start.Format(time.RFC3339))
		}
		timeMsg := false
		for _, m := range cl.Messages {
			timeMsg = timeMsg || strings.HasPrefix(m.Id, "time-")
		}
		if !timeMsg {
			t.Errorf("%s: no time-changed message on the class", when)
		}
	}
	check("after the move")
	// A later version of the cancelled pass (an erasure signs it again).
	cancelled = b.update(t, cancelled, func(tk *pass.Ticket) { tk.HolderName = "" })
	b.sync(t, cancelled)
	check("after the cancelled pass's next sync")
}

// TestSeasonTicketNotExpiredAfterItsFirstEvent: with expireAfterEvent, a
// season ticket's object stays ACTIVE after its own (first) event while
// matches are to come, and expires after the last.
func TestSeasonTicketNotExpiredAfterItsFirstEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(is *google.Issuer) { is.ExpireAfterEvent = true })
	ctx := context.Background()
	tk := ticket(1)
	last := tk.Event.Start.AddDate(0, 1, 0)
	tk.Upcoming = []pass.UpcomingEvent{{ID: "m1", Name: "Match 1", Start: tk.Event.Start}, {ID: "m2", Name: "Match 2", Start: last}}
	p := b.saved(t, tk)
	// A record written under the earlier rule (the first event's expiry).
	rec, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	rec.ExpiresAt = tk.Event.End.Add(6 * time.Hour)
	if err := b.db.PutGoogleObject(ctx, rec); err != nil {
		t.Fatal(err)
	}
	b.clock.add(tk.Event.End.Add(7 * time.Hour).Sub(b.clock.now())) // the first event is over
	queue := &recordingQueue{}
	b.syncer.Queue = queue
	if n, err := b.syncer.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("the record of the earlier rule: %d to expire (%v), want it once", n, err)
	}
	b.sync(t, p) // its sync finds nothing to change at Google, and brings the record's expiry up to date
	if o := b.object(t, p); o.State != "ACTIVE" {
		t.Errorf("after the first event: %s, want ACTIVE", o.State)
	}
	if n, err := b.syncer.Expire(ctx); err != nil || n != 0 {
		t.Errorf("after the first event, the record brought up to date: %d to expire (%v), want none", n, err)
	}
	if got := google.StateFor(b.issuer, p, b.clock.now()); got != "ACTIVE" {
		t.Errorf("after the first event: %s, want ACTIVE", got)
	}
	if got := google.StateFor(b.issuer, p, last.Add(13*time.Hour)); got != "EXPIRED" {
		t.Errorf("after the last match: %s, want EXPIRED", got)
	}
}

// messageIDs are the ids of msgs, in order.
func messageIDs(msgs []*walletobjects.Message) []string {
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Id)
	}
	return ids
}

// TestRetriedSyncTellsOnce: a sync that fails between two messages (Google
// unavailable after the first) is retried; the holder gets each message
// once, and the retry counts the first one's notification. So for an
// object (a new seat and a new gate) and for a class (a new time and a
// new venue).
func TestRetriedSyncTellsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("object", func(t *testing.T) {
		b := setup(t, nil)
		p := b.saved(t, ticket(1))
		p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "15"; tk.Venue.Entrance = "Porte C" })
		oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
		b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/walletobjects/v1/eventTicketObject/" + oid + "/addMessage",
			Status: http.StatusServiceUnavailable, After: 1})
		ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
		if err := b.syncer.Sync(ctx, ref, ""); pass.KindOf(err) != pass.KindUnavailable {
			t.Fatalf("first attempt: %v, want Google unavailable", err)
		}
		if err := b.syncer.Sync(ctx, ref, ""); err != nil {
			t.Fatalf("retry: %v", err)
		}
		want := []string{fmt.Sprintf("v%d-seat", p.Version), fmt.Sprintf("v%d-gate", p.Version)}
		if got := messageIDs(b.object(t, p).Messages); !cmp.Equal(got, want) {
			t.Errorf("messages %v, want %v", got, want)
		}
		rec, err := b.db.GoogleObject(ctx, "demo", p.SerialNumber)
		if err != nil {
			t.Fatal(err)
		}
		if got, sent := len(rec.Notified), len(b.fake.ObjectNotifications(oid)); got != 2 || sent != 2 {
			t.Errorf("notifications recorded %d, at Google %d; want 2 and 2", got, sent)
		}
	})
	t.Run("class", func(t *testing.T) {
		b := setup(t, nil)
		p := b.saved(t, ticket(1))
		p = b.update(t, p, func(tk *pass.Ticket) {
			tk.Event.Start = tk.Event.Start.Add(time.Hour)
			tk.Venue.Name = "Bâtiment des Forces Motrices"
		})
		classID := google.ClassID(issuerID, "demo", p.Ticket)
		b.fake.Fail(fakegoogle.Failure{Method: http.MethodPost, PathPrefix: "/walletobjects/v1/eventTicketClass/" + classID + "/addMessage",
			Status: http.StatusServiceUnavailable, After: 1})
		perf := pass.GooglePerformanceArgs{Tenant: "demo", PerformanceID: p.Ticket.Event.PerformanceID}
		if err := b.syncer.SyncPerformance(ctx, perf, ""); pass.KindOf(err) != pass.KindUnavailable {
			t.Fatalf("first attempt: %v, want Google unavailable", err)
		}
		if err := b.syncer.SyncPerformance(ctx, perf, ""); err != nil {
			t.Fatalf("retry: %v", err)
		}
		cl, ok := b.fake.EventTicketClass(classID)
		if !ok {
			t.Fatal("no class")
		}
		ids := messageIDs(cl.Messages)
		if len(ids) != 2 || !strings.HasPrefix(ids[0], "time-") || !strings.HasPrefix(ids[1], "venue-") {
			t.Errorf("class messages %v, want one new time and one new venue", ids)
		}
		if n := len(b.fake.ClassNotifications(classID)); n != 2 {
			t.Errorf("%d class notifications, want 2", n)
		}
		if o := b.object(t, p); o.ClassId != classID {
			t.Errorf("object's class %s, want %s", o.ClassId, classID)
		}
	})
}

// classReadsMeet is a Google store on which the readers of a class record
// wait for each other (up to a moment): syncs that can overlap there do.
type classReadsMeet struct {
	pass.GoogleStore
	arrived chan struct{}
}

func (s *classReadsMeet) GoogleClass(ctx context.Context, tenant, classID string) (*pass.GoogleClass, error) {
	c, err := s.GoogleStore.GoogleClass(ctx, tenant, classID)
	select {
	case s.arrived <- struct{}{}: // the other reader is waiting: go on together
	case <-s.arrived:
	case <-time.After(300 * time.Millisecond): // the other is held elsewhere
	}
	return c, err
}

// TestOverlappingSyncsTellTheClassOnce: two passes of a performance whose
// time moved are synced at the same moment (their own tasks, or one
// beside the performance's); every holder hears of the new time once.
func TestOverlappingSyncsTellTheClassOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	later := func(tk *pass.Ticket) { tk.Event.Start = tk.Event.Start.Add(time.Hour) }
	p1, p2 = b.update(t, p1, later), b.update(t, p2, later)
	b.syncer.Store = &classReadsMeet{GoogleStore: b.db, arrived: make(chan struct{})}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []*pass.Pass{p1, p2} {
		wg.Go(func() { errs[i] = b.syncer.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, "") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	classID := google.ClassID(issuerID, "demo", p1.Ticket)
	cl, ok := b.fake.EventTicketClass(classID)
	if !ok {
		t.Fatal("no class")
	}
	if ids := messageIDs(cl.Messages); len(ids) != 1 || !strings.HasPrefix(ids[0], "time-") {
		t.Errorf("class messages %v, want the new time once", ids)
	}
}

// TestInstancesTellTheClassOnce: as TestOverlappingSyncsTellTheClassOnce,
// with the two syncs on two instances that share the store (each with
// its own locks): the class's lease keeps them apart.
func TestInstancesTellTheClassOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p1, p2 := b.create(t, ticket(1)), b.create(t, ticket(2))
	if _, err := b.syncer.SaveURL(ctx, "demo", "secret-order-token", nil, ""); err != nil {
		t.Fatal(err)
	}
	later := func(tk *pass.Ticket) { tk.Event.Start = tk.Event.Start.Add(time.Hour) }
	p1, p2 = b.update(t, p1, later), b.update(t, p2, later)
	meet := &classReadsMeet{GoogleStore: b.db, arrived: make(chan struct{})}
	b.syncer.Store, b.syncer.Leases = meet, b.db
	other := b.another()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*google.Syncer{b.syncer, other} {
		p := []*pass.Pass{p1, p2}[i]
		wg.Go(func() { errs[i] = s.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}, "") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cl := b.class(t, p1)
	if ids := messageIDs(cl.Messages); len(ids) != 1 || !strings.HasPrefix(ids[0], "time-") {
		t.Errorf("class messages %v, want the new time once", ids)
	}
}

// TestCancellationUndoneBeforeItsPatch: the cancellation's message went
// out but its INACTIVE patch failed, and the ticket is valid again before
// the retry: the message goes all the same.
func TestCancellationUndoneBeforeItsPatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := b.saved(t, ticket(1))
	ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
	b.fake.Fail(fakegoogle.Failure{Method: http.MethodPatch, PathPrefix: "/walletobjects/v1/eventTicketObject/" + oid, Status: http.StatusServiceUnavailable})
	if err := b.syncer.Sync(ctx, ref, ""); pass.KindOf(err) != pass.KindUnavailable {
		t.Fatalf("the cancellation's sync: %v, want Google unavailable", err)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketValid; tk.Barcode = "BC1-REPRINT" })
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	o := b.object(t, p)
	for _, id := range messageIDs(o.Messages) {
		if strings.HasSuffix(id, "-cancelled") {
			t.Errorf("messages %v keep the cancellation's", messageIDs(o.Messages))
		}
	}
	if o.State != google.StateActive {
		t.Errorf("state %s, want %s", o.State, google.StateActive)
	}
}

// TestCancellationUndone: a ticket cancelled and then valid again (a
// reprint brought it back) turns ACTIVE at Google, its holder is told it
// is valid again (once), and the message that said it was cancelled is
// gone, also when the sync that does it is retried.
func TestCancellationUndone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := b.saved(t, ticket(1))
	ref := pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.Seat.Number = "15" })
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketCancelled })
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	cancelled := fmt.Sprintf("v%d-cancelled", p.Version)
	if ids := messageIDs(b.object(t, p).Messages); !slices.Contains(ids, cancelled) {
		t.Fatalf("messages after the cancellation %v, want %s", ids, cancelled)
	}
	p = b.update(t, p, func(tk *pass.Ticket) { tk.State = pass.TicketValid; tk.Barcode = "BC1-REPRINT" })
	// The first attempt's patch fails (Google unavailable): its retry
	// still takes the message off.
	oid := google.ObjectID(issuerID, "demo", p.SerialNumber)
	b.fake.Fail(fakegoogle.Failure{Method: http.MethodPatch, PathPrefix: "/walletobjects/v1/eventTicketObject/" + oid, Status: http.StatusServiceUnavailable})
	if err := b.syncer.Sync(ctx, ref, ""); pass.KindOf(err) != pass.KindUnavailable {
		t.Fatalf("the first attempt: %v, want Google unavailable", err)
	}
	if err := b.syncer.Sync(ctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	o := b.object(t, p)
	if o.State != google.StateActive {
		t.Errorf("state %s, want %s", o.State, google.StateActive)
	}
	want := []string{"v2-seat", fmt.Sprintf("v%d-valid", p.Version)}
	if ids := messageIDs(o.Messages); !cmp.Equal(ids, want) {
		t.Errorf("messages %v, want %v", ids, want)
	}
	for _, m := range o.Messages {
		if m.Id == "v2-seat" && m.MessageType != "TEXT" {
			t.Errorf("the kept message went back as %s, want TEXT (no new notification)", m.MessageType)
		}
	}
	if n := len(b.fake.ObjectNotifications(o.Id)); n != 3 {
		t.Errorf("%d notifications, want 3 (seat, cancelled, valid again)", n)
	}
}
