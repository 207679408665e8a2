package pass_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
)

func TestLocalTextPick(t *testing.T) {
	t.Parallel()
	lt := pass.LocalText{"en": "Hello", "fr": "Bonjour", "de-CH": "Grüezi", "it": "Ciao"}
	for _, c := range []struct{ locale, fallback, want string }{
		{"fr", "en", "Bonjour"},
		{"fr-CH", "en", "Bonjour"}, // the tag's language
		{"de_CH", "en", "Grüezi"},  // either separator, any case
		{"DE-ch", "en", "Grüezi"},
		{"de", "fr", "Grüezi"},       // a language matches its regional tag
		{"de-AT", "it-IT", "Grüezi"}, // the same language in another region
		{"pt", "it-IT", "Ciao"},      // the tenant's tag's language
		{"es", "de-CH", "Grüezi"},    // the tenant's exact tag
		{"ja", "es", "Hello"},        // neither: English
		{"", "", "Hello"},            // none at all
		{"fr-Latn-CH", "", "Bonjour"},
	} {
		if got := lt.Pick(c.locale, c.fallback); got != c.want {
			t.Errorf("Pick(%q, %q) = %q, want %q", c.locale, c.fallback, got, c.want)
		}
	}
	if got := (pass.LocalText{"fr": "Bonjour", "de": "Hallo"}).Pick("ja", "es"); got != "Hallo" {
		t.Errorf("without English: %q, want the first tag's text", got)
	}
	if got := (pass.LocalText{}).Pick("fr", "en"); got != "" {
		t.Errorf("empty: %q", got)
	}
}

func TestNoticeValidate(t *testing.T) {
	t.Parallel()
	ok := pass.Notice{Tenant: "demo", PerformanceID: 7, ID: "n1", Body: pass.LocalText{"en": "Doors at 19:00", "fr-CH": "Portes à 19 h"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*pass.Notice)
		want string
	}{
		{"no performance", func(n *pass.Notice) { n.PerformanceID = 0 }, "performance id"},
		{"no message", func(n *pass.Notice) { n.Body = nil }, "message is required"},
		{"blank", func(n *pass.Notice) { n.Body = pass.LocalText{"en": "  "} }, "message (en) is empty"},
		{"not a tag", func(n *pass.Notice) { n.Body = pass.LocalText{"english": "x"} }, `"english" is not a language tag`},
		{"a digit in the language", func(n *pass.Notice) { n.Body = pass.LocalText{"e1": "x"} }, "not a language tag"},
		{"too long", func(n *pass.Notice) { n.Body = pass.LocalText{"en": strings.Repeat("é", pass.MaxNoticeBody+1)} }, "501 characters"},
		{"title too long", func(n *pass.Notice) { n.Header = pass.LocalText{"en": strings.Repeat("x", pass.MaxNoticeHeader+1)} }, "title (en) has 101"},
		{"too many languages", func(n *pass.Notice) {
			n.Body = pass.LocalText{}
			for i := range pass.MaxNoticeLanguages + 1 {
				n.Body[fmt.Sprintf("en-x%d", i)] = "x"
			}
		}, "more than 30 languages"},
	} {
		n := ok
		n.Body = pass.LocalText{"en": "x"}
		c.edit(&n)
		err := n.Validate()
		if pass.KindOf(err) != pass.KindInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// catalogue is a PerformanceSource with one performance.
type catalogue struct{ d pass.PerformanceDetails }

func (c *catalogue) Performance(_ context.Context, _ string, id int64) (pass.PerformanceDetails, error) {
	if id != 77 {
		return pass.PerformanceDetails{}, pass.Errorf(pass.KindNotFound, "no performance %d", id)
	}
	return c.d, nil
}

// TestPerformanceSync rewrites a performance of 230 passes a page of 100
// at a time: the notice and the catalogue's new time on every pass that
// is not voided, one push and one Google task for the performance instead
// of one per pass, the announcements in one event-batch task per page,
// nothing the second time; the catalogue watch queues a
// rewrite only when the catalogue changed.
func TestPerformanceSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Notices, b.svc.Locales = b.db, map[string]string{"demo": "fr"}
	b.svc.Policies = pass.Policies{"demo": {Google: true, Events: true}}
	const n = 230
	base := apple.SampleTicket(pass.EventConcert)
	base.Tenant, base.Event.PerformanceID = "demo", 77
	for i := range n + 1 {
		tk := base
		tk.MovementID, tk.TicketID, tk.Barcode = int64(1000+i), int64(5000+i), fmt.Sprintf("B%06d", i)
		tk.Locale = []string{"en", "de-CH", "it"}[i%3]
		if i == n {
			tk.State = pass.TicketCancelled
		}
		if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
			t.Fatal(err)
		}
	}
	old := taskIDs(t, b)
	moved := base.Event.Start.Add(2 * time.Hour)
	cat := &catalogue{d: pass.PerformanceDetails{Start: moved, End: moved.Add(3 * time.Hour), TimeZone: base.Event.TimeZone}}
	ann := &pass.Announcer{Notices: b.db, Locales: b.svc.Locales, Clock: b.svc.Clock}
	nt, created, err := ann.Announce(ctx, pass.Notice{Tenant: "demo", PerformanceID: 77, Body: pass.LocalText{"": "Portes à 19 h"}}, "")
	if err != nil || !created || nt.Body["fr"] != "Portes à 19 h" || !strings.HasPrefix(nt.ID, "ntc_") {
		t.Fatalf("announce: %+v %v %v", nt, created, err)
	}
	if kinds := newTasks(t, b, old); kinds[pass.TaskPerformanceSync] != 1 || len(kinds) != 1 {
		t.Fatalf("the notice's tasks: %v", kinds)
	}
	// A language written the POSIX way is taken as BCP 47 writes it.
	posix, _, err := ann.Announce(ctx, pass.Notice{Tenant: "demo", PerformanceID: 78, Body: pass.LocalText{"fr_CH": "Portes à 19 h"}}, "")
	if err != nil || posix.Body["fr-CH"] != "Portes à 19 h" || len(posix.Body) != 1 {
		t.Errorf("a notice in fr_CH: %+v %v, want it in fr-CH", posix.Body, err)
	}
	old = taskIDs(t, b)
	ps := &pass.PerformanceSyncer{Service: b.svc, Passes: b.db, Notices: b.db, Catalogue: cat, Queue: b.db, Page: 100, Clock: b.svc.Clock}
	rep, err := ps.Sync(ctx, pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77}, "")
	if err != nil || rep.Passes != n || rep.Changed != n {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	kinds := newTasks(t, b, old)
	// One push task per batch (of its passes), in the batch's transaction.
	if kinds[pass.TaskPushPass] != 0 || kinds[pass.TaskGoogleSync] != 0 || kinds[pass.TaskPushPerformance] != 3 ||
		kinds[pass.TaskGooglePerformance] != 1 || kinds[pass.TaskEventFanout] != 0 || kinds[pass.TaskEventBatch] != 3 {
		t.Errorf("follow-ups: %v", kinds)
	}
	after := ""
	seen := 0
	for {
		page, err := b.db.PerformancePasses(ctx, "demo", 77, after, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			after = p.SerialNumber
			seen++
			if p.Status == pass.StatusVoided {
				if p.Version != 1 {
					t.Errorf("the voided pass was rewritten: v%d", p.Version)
				}
				continue
			}
			if p.Version != 2 || !p.Ticket.Event.Start.Equal(moved) || p.Ticket.Notice != "Portes à 19 h" {
				t.Errorf("pass %s: v%d start %s notice %q", p.SerialNumber, p.Version, p.Ticket.Event.Start, p.Ticket.Notice)
			}
		}
		if len(page) < 64 {
			break
		}
	}
	if seen != n+1 {
		t.Errorf("paged through %d passes, want %d", seen, n+1)
	}
	googleAsked := func() int { // the Google task for the performance, and what merged into it
		tasks, err := b.db.ListTasks(ctx, pass.TaskPending, 100000)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if tk.Kind == pass.TaskGooglePerformance {
				return 1 + tk.Merged
			}
		}
		return 0
	}
	asked := googleAsked()
	if rep, err := ps.Sync(ctx, pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77}, ""); err != nil || rep.Changed != 0 || googleAsked() != asked {
		t.Errorf("second sync: %+v, %v; Google asked %d times, want %d", rep, err, googleAsked(), asked)
	}
	// A notice that changes no pass (a template without {{.Notice}})
	// still asks Google for the class message.
	if rep, err := ps.Sync(ctx, pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77, Why: "notice"}, ""); err != nil || rep.Changed != 0 ||
		googleAsked() != asked+1 {
		t.Errorf("a notice's sync that changes no pass: %+v, %v; Google asked %d times, want %d", rep, err, googleAsked(), asked+1)
	}
	// A pass synced from SecuTix later keeps the notice.
	tk := base
	tk.MovementID, tk.TicketID, tk.Barcode, tk.Locale = 1000, 5000, "B000000", "en"
	tk.Event.Start, tk.Event.End = moved, moved.Add(3*time.Hour)
	if p, _, err := b.svc.Apply(ctx, tk, "default"); err != nil || p.Ticket.Notice != "Portes à 19 h" {
		t.Errorf("an order sync: notice %q, %v", p.Ticket.Notice, err)
	}
	// The catalogue watch (its task merges into the notice's, still
	// pending: no worker runs here).
	if q, err := ps.CatalogueWatch(ctx, "demo", []int64{77, 78}); err != nil || q != 0 {
		t.Errorf("watch, nothing changed: %d %v", q, err)
	}
	cat.d.Start = cat.d.Start.Add(time.Hour)
	if q, err := ps.CatalogueWatch(ctx, "demo", []int64{77}); err != nil || q != 1 {
		t.Errorf("watch after a move: %d %v", q, err)
	}
}

// scanDuringWrite is the service's pass store that, before the first
// batch of an event-wide change is written, makes a new version of that
// batch's first pass (a scan at the gate, with the time the pass showed
// before the change), as a concurrent writer would.
type scanDuringWrite struct {
	pass.PassStore
	svc  *pass.Service
	once sync.Once
	err  error
}

func (s *scanDuringWrite) UpdatePasses(ctx context.Context, ws []pass.PassWrite, more []pass.NewTask) error {
	s.once.Do(func() {
		cur, err := s.PassStore.GetPass(ctx, ws[0].Pass.Tenant, ws[0].Pass.SerialNumber)
		if err != nil {
			s.err = err
			return
		}
		tk := cur.Ticket
		tk.State = pass.TicketUsed
		_, _, s.err = s.svc.Apply(ctx, tk, cur.Template)
	})
	if s.err != nil {
		return s.err
	}
	return s.PassStore.UpdatePasses(ctx, ws, more)
}

// TestEventWideChangeBesideAScan: a pass scanned at the gate while an
// event-wide change (a new time) is written does not fail the change: the
// rest of its batch is stored, and the scanned pass is rewritten from its
// new version, used and at the new time.
func TestEventWideChangeBesideAScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	base := apple.SampleTicket(pass.EventConcert)
	base.Tenant, base.Event.PerformanceID = "demo", 77
	const n = 30
	for i := range n {
		tk := base
		tk.MovementID, tk.TicketID, tk.Barcode = int64(1000+i), int64(5000+i), fmt.Sprintf("B%06d", i)
		if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
			t.Fatal(err)
		}
	}
	store := &scanDuringWrite{PassStore: b.db, svc: b.svc}
	b.svc.Passes = store
	moved := base.Event.Start.Add(90 * time.Minute)
	cat := &catalogue{d: pass.PerformanceDetails{Start: moved, End: moved.Add(3 * time.Hour), TimeZone: base.Event.TimeZone}}
	ps := &pass.PerformanceSyncer{Service: b.svc, Passes: b.db, Notices: b.db, Catalogue: cat, Queue: b.db, Page: 100, Clock: b.svc.Clock}
	rep, err := ps.Sync(ctx, pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77}, "")
	if err != nil || rep.Changed != n {
		t.Fatalf("sync: %+v, %v; want %d changed", rep, err, n)
	}
	page, err := b.db.PerformancePasses(ctx, "demo", 77, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, p := range page {
		if !p.Ticket.Event.Start.Equal(moved) {
			t.Errorf("pass %s (v%d, %s) starts at %s, want %s", p.SerialNumber, p.Version, p.Status, p.Ticket.Event.Start, moved)
		}
		if p.Status == pass.StatusUsed {
			used++
			if p.Version != 3 {
				t.Errorf("the scanned pass is at v%d, want 3 (the scan, then the change)", p.Version)
			}
		}
	}
	if used != 1 || len(page) != n {
		t.Errorf("%d passes, %d used; want %d and 1", len(page), used, n)
	}
}

// taskIDs are the ids of every task in the queue.
func taskIDs(t *testing.T, b bundle) map[string]bool {
	t.Helper()
	tasks, err := b.db.ListTasks(context.Background(), "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, tk := range tasks {
		ids[tk.ID] = true
	}
	return ids
}

// newTasks counts the tasks not in old, by kind.
func newTasks(t *testing.T, b bundle, old map[string]bool) map[string]int {
	t.Helper()
	tasks, err := b.db.ListTasks(context.Background(), "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tk := range tasks {
		if !old[tk.ID] {
			out[tk.Kind]++
		}
	}
	return out
}

// TestRefreshUpcoming: a season ticket's pass gets a new version when one
// of its events becomes the one under way (and only then), so that the
// phone shows it active.
func TestRefreshUpcoming(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Clock = nil // the real clock: the refresh follows time
	tk := apple.SampleSeason()
	tk.Tenant = "demo"
	soon := time.Now().Add(3*time.Hour + time.Second) // active from one second on
	tk.Upcoming[0].Start, tk.Upcoming[0].End = soon, soon.Add(2*time.Hour)
	p, _, err := b.svc.Apply(ctx, tk, "default")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.svc.RefreshUpcoming(ctx, b.db, "demo"); err != nil || n != 0 {
		t.Fatalf("before the event: %d changed, %v", n, err)
	}
	time.Sleep(time.Until(soon.Add(-3*time.Hour)) + 50*time.Millisecond)
	if n, err := b.svc.RefreshUpcoming(ctx, b.db, "demo"); err != nil || n != 1 {
		t.Fatalf("once under way: %d changed, %v", n, err)
	}
	got, err := b.db.GetPass(ctx, "demo", p.SerialNumber)
	if err != nil || got.Version != 2 {
		t.Fatalf("the pass: %+v %v", got, err)
	}
	data, err := b.files.PassFile(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, data, b.wwdr)
	first := pj["upcomingPassInformation"].([]any)[0].(map[string]any)
	if first["isActive"] != true {
		t.Errorf("the first event is not active: %v", first)
	}
	if n, _ := b.svc.RefreshUpcoming(ctx, b.db, "demo"); n != 0 {
		t.Errorf("a second refresh changed %d passes", n)
	}
}

// TestSameOccasion: an entry with a season ticket counts for the event
// under way (from 6 h before its start to 6 h after its end), so the
// next event admits the holder again; with no event under way, an entry
// less than 12 hours old counts.
func TestSameOccasion(t *testing.T) {
	t.Parallel()
	zurich, _ := time.LoadLocation("Europe/Zurich")
	match := func(day int) time.Time { return time.Date(2027, 3, day, 19, 45, 0, 0, zurich) }
	tk := pass.Ticket{Event: pass.Event{Start: match(7), End: match(7).Add(2 * time.Hour)},
		Upcoming: []pass.UpcomingEvent{{ID: "2", Start: match(14)}, {ID: "3", Start: match(21), End: match(21).Add(150 * time.Minute)}}}
	if !tk.MultiEvent() || (pass.Ticket{}).MultiEvent() {
		t.Fatal("MultiEvent")
	}
	for _, c := range []struct {
		name      string
		used, now time.Time
		same      bool
	}{
		{"the same match, an hour later", match(7), match(7).Add(time.Hour), true},
		{"the same match, entered before the doors", match(7).Add(-2 * time.Hour), match(7).Add(30 * time.Minute), true},
		{"the next match", match(7), match(14), false},
		{"an upcoming match without an end, late in the evening", match(14), match(14).Add(5 * time.Hour), true},
		{"the last match", match(14), match(21).Add(time.Hour), false},
		{"no match under way, an hour later", match(10), match(10).Add(time.Hour), true},
		{"no match under way, a day later", match(10), match(11), false},
	} {
		if got := pass.SameOccasion(tk, c.used, c.now); got != c.same {
			t.Errorf("%s: %v, want %v", c.name, got, c.same)
		}
	}
	// A season ticket dated by its validity: the season is no occasion.
	season := tk
	season.Event = pass.Event{Start: match(1), End: match(28)}
	if pass.SameOccasion(season, match(7), match(14)) || !pass.SameOccasion(season, match(14), match(14).Add(time.Hour)) {
		t.Error("a season-long ticket: the matches are not told apart")
	}
}

// TestRestyledPerformanceIsNoNews: an event-wide rewrite of a performance
// whose tickets did not change but whose template did (an operator's
// `performances sync` after an edit) signs every pass again, but tells no
// holder's app that the ticket changed.
func TestRestyledPerformanceIsNoNews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.Policies = pass.Policies{"demo": {AppNotices: true, Events: true}}
	base := apple.SampleTicket(pass.EventConcert)
	base.Tenant, base.Event.PerformanceID = "demo", 77
	const n = 5
	for i := range n {
		tk := base
		tk.MovementID, tk.TicketID, tk.Barcode = int64(1000+i), int64(5000+i), fmt.Sprintf("B%06d", i)
		if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
			t.Fatal(err)
		}
	}
	old := taskIDs(t, b)
	b.svc.Packager = restyled{b.svc.Packager}
	cat := &catalogue{d: pass.PerformanceDetails{Start: base.Event.Start, End: base.Event.End, TimeZone: base.Event.TimeZone}}
	ps := &pass.PerformanceSyncer{Service: b.svc, Passes: b.db, Notices: b.db, Catalogue: cat, Queue: b.db, Page: 100, Clock: b.svc.Clock}
	rep, err := ps.Sync(ctx, pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77, Why: "operator"}, "")
	if err != nil || rep.Changed != n {
		t.Fatalf("the operator's sync: %+v, %v; want %d passes signed again", rep, err, n)
	}
	if kinds := newTasks(t, b, old); kinds[pass.TaskAppNotice] != 0 || kinds[pass.TaskPushPerformance] != 1 {
		t.Errorf("follow-ups: %v, want the phones pushed and no app notice", kinds)
	}
}

// TestPushBatchKey: a batch's push task merges into another only when
// both name the same passes; two changes' batches that share their first
// pass and their length keep their own tasks (a merge keeps the pending
// task's serials, and the other batch's passes would not be pushed).
func TestPushBatchKey(t *testing.T) {
	t.Parallel()
	key := func(serials ...string) string {
		return pass.PushPerformanceArgs{Tenant: "demo", PerformanceID: 7, Serials: serials}.DedupKey()
	}
	if key("a", "b") == key("a", "c") {
		t.Error("batches [a b] and [a c] share their push task's key")
	}
	if key("a", "b") != key("b", "a") {
		t.Error("one batch's passes in another order make another key")
	}
	if key("ab", "c") == key("a", "bc") {
		t.Error("[ab c] and [a bc] share a key")
	}
	whole := pass.PushPerformanceArgs{Tenant: "demo", PerformanceID: 7}.DedupKey()
	if whole == key("a") || whole == (pass.PushPerformanceArgs{Tenant: "demo", PerformanceID: 8}).DedupKey() {
		t.Error("the whole performance's key is a batch's or another performance's")
	}
}

// TestCatalogueWatchOutlastsReconciliation: a performance moved days
// after its date (a show rained out, its new date set later: no order
// webhook) is still compared with the catalogue, for
// DefaultCatalogueWindow after its end, while its tickets' states are
// compared only for the reconciliation's window.
func TestCatalogueWatchOutlastsReconciliation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Tenant, tk.Event.PerformanceID = "demo", 77
	if _, _, err := b.svc.Apply(ctx, tk, "default"); err != nil {
		t.Fatal(err)
	}
	cat := &catalogue{d: pass.PerformanceDetails{Start: tk.Event.Start, End: tk.Event.End, TimeZone: tk.Event.TimeZone}}
	ps := &pass.PerformanceSyncer{Service: b.svc, Passes: b.db, Notices: b.db, Catalogue: cat, Queue: b.db, Page: 100, Clock: b.svc.Clock}
	if _, err := ps.Sync(ctx, pass.PerformanceArgs{Tenant: "demo", PerformanceID: 77}, ""); err != nil {
		t.Fatal(err)
	}
	cat.d.Start, cat.d.End = tk.Event.Start.Add(14*24*time.Hour), tk.Event.End.Add(14*24*time.Hour)
	lister := &countingLister{}
	end := pass.EventEnd(tk.Event.Start, tk.Event.End)
	for _, c := range []struct {
		after    time.Duration
		rewrites int
	}{{3 * 24 * time.Hour, 1}, {pass.DefaultCatalogueWindow + time.Hour, 0}} {
		r := &pass.Reconciler{Tickets: lister, Passes: b.db, Queue: b.db, Tenants: []string{"demo"}, Performances: ps,
			Clock: func() time.Time { return end.Add(c.after) }}
		rep, err := r.RunReport(ctx)
		if err != nil || rep.Rewrites != c.rewrites || rep.Performances != 0 || lister.calls != 0 {
			t.Errorf("%s after the end: %+v, %v, ticket lists asked %d times; want %d rewrites and no ticket list",
				c.after, rep, err, lister.calls, c.rewrites)
		}
	}
}

// countingLister is a TicketLister that counts its calls.
type countingLister struct{ calls int }

func (l *countingLister) TicketStates(context.Context, string, int64) ([]pass.TicketStatus, error) {
	l.calls++
	return nil, nil
}
