package pass

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// Event-wide work: an organiser's message to every holder of a
// performance, and the re-sync of a performance whose catalogue entry
// changed (the time moved). Both rewrite every pass of the performance
// from its stored ticket, without asking SecuTix for each order; the
// Apple devices hear of it once per device, and Google Wallet through the
// performance's class (one patch, one message), not object by object.

// LocalText is a text in several languages: BCP 47 language tag → text.
type LocalText map[string]string

// Pick returns the text for locale: the exact tag, then its language,
// then fallback's, then English, then the first tag in sorted order.
func (l LocalText) Pick(locale, fallback string) string {
	_, v := l.PickTag(locale, fallback)
	return v
}

// PickTag is Pick with the tag of the text it picked ("" for none). A
// language also matches a tag of that language in a region ("fr" picks
// "fr-CH" when there is no "fr").
func (l LocalText) PickTag(locale, fallback string) (tag, text string) {
	if len(l) == 0 {
		return "", ""
	}
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-")) }
	keys := slices.Sorted(maps.Keys(l))
	find := func(want string) (string, bool) {
		if want == "" {
			return "", false
		}
		for _, k := range keys { // the exact tag
			if norm(k) == norm(want) {
				return k, true
			}
		}
		lang := Language(want)
		for _, k := range keys { // the language alone
			if norm(k) == lang {
				return k, true
			}
		}
		for _, k := range keys { // the language in a region
			if Language(k) == lang {
				return k, true
			}
		}
		return "", false
	}
	for _, want := range []string{locale, fallback, "en"} {
		if k, ok := find(want); ok {
			return k, l[k]
		}
	}
	return keys[0], l[keys[0]]
}

// Notice is an organiser's message to every holder of a performance. The
// newest notice of a performance is shown on its passes (Ticket.Notice)
// and sent once to its Google Wallet class.
type Notice struct {
	Tenant        string
	PerformanceID int64
	ID            string // the caller's id (idempotency) or a generated one
	Header        LocalText
	Body          LocalText
	CreatedAt     time.Time
}

// Limits of a notice: Google Wallet shows a message's header and body;
// long texts are cut on a phone's lock screen anyway.
const (
	MaxNoticeHeader    = 100
	MaxNoticeBody      = 500
	MaxNoticeLanguages = 30
)

// Validate returns an error of kind KindInvalid naming every problem.
func (n Notice) Validate() error {
	var probs []string
	if n.PerformanceID <= 0 {
		probs = append(probs, "the performance id must be positive")
	}
	if len(n.Body) == 0 {
		probs = append(probs, "message is required")
	}
	for what, lt := range map[string]struct {
		text LocalText
		max  int
	}{"message": {n.Body, MaxNoticeBody}, "title": {n.Header, MaxNoticeHeader}} {
		if len(lt.text) > MaxNoticeLanguages {
			probs = append(probs, fmt.Sprintf("%s has more than %d languages", what, MaxNoticeLanguages))
		}
		for _, lang := range slices.Sorted(maps.Keys(lt.text)) {
			v := lt.text[lang]
			if !validLanguageTag(lang) {
				probs = append(probs, fmt.Sprintf("%s: %q is not a language tag such as fr or fr-CH", what, lang))
			}
			if strings.TrimSpace(v) == "" {
				probs = append(probs, fmt.Sprintf("%s (%s) is empty", what, lang))
			}
			if n := len([]rune(v)); n > lt.max {
				probs = append(probs, fmt.Sprintf("%s (%s) has %d characters, the limit is %d", what, lang, n, lt.max))
			}
		}
	}
	if len(probs) > 0 {
		slices.Sort(probs)
		return Errorf(KindInvalid, "notice: %s", strings.Join(probs, "; "))
	}
	return nil
}

// validLanguageTag accepts BCP 47 tags such as "fr", "fr-CH" or "zh-Hant-TW".
func validLanguageTag(s string) bool {
	if s == "" || len(s) > 35 {
		return false
	}
	for i, part := range strings.Split(strings.ReplaceAll(s, "_", "-"), "-") {
		if part == "" || len(part) > 8 || (i == 0 && (len(part) < 2 || len(part) > 3)) {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// NoticeStore keeps the notices of performances.
type NoticeStore interface {
	// AddNotice stores n and the task that sends it, in one transaction.
	// A notice with the same (tenant, performance, id) already stored is
	// kept and returned with created false (nothing is written).
	AddNotice(ctx context.Context, n Notice, task NewTask) (stored Notice, created bool, err error)
	// LatestNotice returns the newest notice of a performance, or an error
	// wrapping ErrNotFound.
	LatestNotice(ctx context.Context, tenant string, performanceID int64) (*Notice, error)
}

// PerformanceDetails is what the catalogue says of a performance: the
// fields it determines (the others stay as each order gave them). A zero
// field is not determined by the catalogue.
type PerformanceDetails struct {
	Name string // in the tenant's language
	// Names are the event's name in every language the catalogue gives.
	Names    LocalText
	Start    time.Time
	End      time.Time
	Doors    time.Time
	TimeZone string
	Venue    Venue // Name, Room, Address, … Entrance when the catalogue gives them
}

// Fingerprint is a stable text of d, to tell whether it changed.
func (d PerformanceDetails) Fingerprint() string {
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	v := d.Venue
	return strings.Join([]string{d.Name, stamp(d.Start), stamp(d.End), stamp(d.Doors), d.TimeZone, v.Name, v.Room,
		v.Address, v.City, v.PostalCode, v.Country, v.Entrance}, "\x1f")
}

// ApplyTo sets the ticket fields d determines; the event's name in the
// holder's language when the catalogue has it (else fallback's, the
// tenant's).
func (d PerformanceDetails) ApplyTo(t *Ticket, fallback string) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&t.Event.Name, d.Name)
	if len(d.Names) > 0 {
		t.Event.Names = d.Names
		t.Event.Name = d.Names.Pick(t.Locale, fallback)
	}
	set(&t.Event.TimeZone, d.TimeZone)
	for _, f := range []struct {
		dst *time.Time
		v   time.Time
	}{{&t.Event.Start, d.Start}, {&t.Event.End, d.End}, {&t.Event.Doors, d.Doors}} {
		if !f.v.IsZero() {
			*f.dst = f.v
		}
	}
	if !d.Start.IsZero() && d.End.IsZero() && !t.Event.End.IsZero() && t.Event.End.Before(d.Start) {
		t.Event.End = time.Time{} // an end the catalogue does not give cannot precede its start
	}
	v := d.Venue
	set(&t.Venue.Name, v.Name)
	set(&t.Venue.Room, v.Room)
	set(&t.Venue.Address, v.Address)
	set(&t.Venue.City, v.City)
	set(&t.Venue.PostalCode, v.PostalCode)
	set(&t.Venue.Country, v.Country)
	set(&t.Venue.Entrance, v.Entrance)
	t.Normalize()
}

// PerformanceSource says what the catalogue says of a performance.
type PerformanceSource interface {
	// Performance returns the catalogue's details of a performance; an
	// error of kind KindNotFound when the catalogue does not have it.
	Performance(ctx context.Context, tenant string, performanceID int64) (PerformanceDetails, error)
}

// PerformancePasses reads the passes of a performance.
type PerformancePasses interface {
	// PerformancePasses returns up to limit passes of the performance
	// whose serial sorts after after, in serial order, with their tickets.
	PerformancePasses(ctx context.Context, tenant string, performanceID int64, after string, limit int) ([]Pass, error)
	// PerformanceFingerprint returns the fingerprint of the catalogue
	// details the performance's passes were last synced with, or an error
	// wrapping ErrNotFound.
	PerformanceFingerprint(ctx context.Context, tenant string, performanceID int64) (string, error)
	// SetPerformanceFingerprint records it.
	SetPerformanceFingerprint(ctx context.Context, tenant string, performanceID int64, fingerprint string, at time.Time) error
}

// TaskPerformanceSync is the kind of the task that rewrites every pass of
// a performance (a notice, or a catalogue change).
const TaskPerformanceSync = "performance-sync"

// PerformanceArgs name the performance a performance-sync task rewrites.
type PerformanceArgs struct {
	Tenant        string `json:"tenant"`
	PerformanceID int64  `json:"performanceId"`
	// Why is "notice" or "catalogue", for the logs.
	Why string `json:"why,omitempty"`
}

// Kind implements TaskArgs.
func (PerformanceArgs) Kind() string { return TaskPerformanceSync }

// TaskTenant implements TaskArgs.
func (a PerformanceArgs) TaskTenant() string { return a.Tenant }

// DedupKey implements TaskArgs: a notice and a catalogue change close
// together cost one pass over the performance.
func (a PerformanceArgs) DedupKey() string {
	return fmt.Sprintf("performance:%s:%d", a.Tenant, a.PerformanceID)
}

// Validate implements TaskArgs.
func (a PerformanceArgs) Validate() error {
	if a.Tenant == "" || a.PerformanceID <= 0 {
		return Errorf(KindInvalid, "performance-sync: tenant and a positive performance id are required")
	}
	return nil
}

// TaskPushPerformance is the kind of the task that pushes every device
// holding a pass of a performance that changed, once per device.
const TaskPushPerformance = "push-performance"

// PushPerformanceArgs name the performance whose devices to push; with
// Serials, only the devices of those of its passes (a batch of an
// event-wide change, pushed as soon as it is stored).
type PushPerformanceArgs struct {
	Tenant        string   `json:"tenant"`
	PerformanceID int64    `json:"performanceId"`
	Serials       []string `json:"serials,omitempty"`
}

// maxPushSerials bounds a batch's serial numbers.
const maxPushSerials = 1000

func (PushPerformanceArgs) Kind() string         { return TaskPushPerformance }
func (a PushPerformanceArgs) TaskTenant() string { return a.Tenant }

// DedupKey: a batch's task is keyed by its serial numbers, in any order:
// it merges only into a task of the same passes (a merge keeps the
// pending task's serials), never into another batch's that shares its
// first pass and its length (two changes' batches gather the passes as
// they are signed, in varying order).
func (a PushPerformanceArgs) DedupKey() string {
	if len(a.Serials) > 0 {
		h := sha256.New()
		for _, s := range slices.Sorted(slices.Values(a.Serials)) {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		return fmt.Sprintf("push-performance:%s:%d:%x", a.Tenant, a.PerformanceID, h.Sum(nil)[:16])
	}
	return fmt.Sprintf("push-performance:%s:%d", a.Tenant, a.PerformanceID)
}
func (a PushPerformanceArgs) Validate() error {
	if a.Tenant == "" || a.PerformanceID <= 0 {
		return Errorf(KindInvalid, "push-performance: tenant and a positive performance id are required")
	}
	if len(a.Serials) > maxPushSerials || slices.Contains(a.Serials, "") {
		return Errorf(KindInvalid, "push-performance: at most %d serial numbers, none empty", maxPushSerials)
	}
	return nil
}

// TaskGooglePerformance is the kind of the task that brings a
// performance's Google Wallet class and objects in line with its passes:
// the class once, a notice as one class message, and only the objects
// whose own content changed.
const TaskGooglePerformance = "google-performance"

// GooglePerformanceArgs name the performance.
type GooglePerformanceArgs struct {
	Tenant        string `json:"tenant"`
	PerformanceID int64  `json:"performanceId"`
}

func (GooglePerformanceArgs) Kind() string         { return TaskGooglePerformance }
func (a GooglePerformanceArgs) TaskTenant() string { return a.Tenant }
func (a GooglePerformanceArgs) DedupKey() string {
	return fmt.Sprintf("google-performance:%s:%d", a.Tenant, a.PerformanceID)
}
func (a GooglePerformanceArgs) Validate() error {
	if a.Tenant == "" || a.PerformanceID <= 0 {
		return Errorf(KindInvalid, "google-performance: tenant and a positive performance id are required")
	}
	return nil
}

// PerformanceSyncer rewrites the passes of a performance (the
// performance-sync worker).
type PerformanceSyncer struct {
	Service *Service
	Passes  PerformancePasses
	Notices NoticeStore
	// Catalogue is nil when no tenant has a catalogue (then only notices
	// change passes).
	Catalogue PerformanceSource
	Queue     Enqueuer
	// Timeline, when set, gets a pass-version entry for each pass
	// rewritten, on its order's timeline.
	Timeline Timeline
	// Page is how many passes are read at a time (default 200): memory
	// stays flat whatever the size of the performance.
	Page  int
	Log   *slog.Logger
	Clock Clock
}

// PerformanceReport says what one run did.
type PerformanceReport struct {
	Passes, Changed int
}

// Work runs a performance-sync task (see workers.Worker).
func (s *PerformanceSyncer) Work(ctx context.Context, a PerformanceArgs, correlationID string) error {
	_, err := s.Sync(ctx, a, correlationID)
	return err
}

// Sync rewrites every pass of the performance that is not voided with the
// catalogue's details and the newest notice; the passes whose content
// changed get a new version (signed, stored, announced). Then one
// push-performance and one google-performance task follow. A run that
// fails part-way is retried: the passes already rewritten are unchanged
// the second time, and the retry queues the follow-ups.
func (s *PerformanceSyncer) Sync(ctx context.Context, a PerformanceArgs, correlationID string) (PerformanceReport, error) {
	var rep PerformanceReport
	var details *PerformanceDetails
	if s.Catalogue != nil {
		d, err := s.Catalogue.Performance(ctx, a.Tenant, a.PerformanceID)
		switch {
		case err == nil:
			details = &d
		case KindOf(err) != KindNotFound:
			return rep, err
		}
	}
	notice, err := s.Notices.LatestNotice(ctx, a.Tenant, a.PerformanceID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return rep, err
	}
	page := s.Page
	if page <= 0 {
		page = 200
	}
	fallback := s.Service.Locales[a.Tenant]
	// The pages are read while the passes of the previous ones are signed
	// and written: memory holds a page and what is in flight, whatever
	// the size of the performance.
	items := make(chan rewriteItem, page)
	// show is the ticket a pass shows after the change.
	show := func(p *Pass) Ticket {
		t := p.Ticket
		if details != nil {
			details.ApplyTo(&t, fallback)
		}
		t.Notice = ""
		if notice != nil {
			t.Notice = notice.Body.Pick(t.Locale, fallback)
		}
		return t
	}
	type readResult struct {
		n   int
		err error
	}
	read := make(chan readResult, 1)
	prodCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(items)
		after, n := "", 0
		for {
			ps, err := s.Passes.PerformancePasses(prodCtx, a.Tenant, a.PerformanceID, after, page)
			if err != nil {
				read <- readResult{n, err}
				return
			}
			for i := range ps {
				p := &ps[i]
				after = p.SerialNumber
				if p.Status == StatusVoided {
					continue
				}
				select {
				case items <- rewriteItem{cur: p, t: show(p), fresh: show}:
					n++
				case <-prodCtx.Done():
					read <- readResult{n, prodCtx.Err()}
					return
				}
			}
			if len(ps) < page {
				read <- readResult{n, nil}
				return
			}
		}
	}()
	why := cmp.Or(a.Why, "performance")
	if notice != nil && a.Why == "notice" {
		why = "notice " + notice.ID
	}
	// Each batch's phones are pushed once it is stored (its own
	// push-performance task, for its passes only), while the next batches
	// are signed.
	pushes := func(ws []PassWrite) []TaskArgs {
		serials := make([]string, len(ws))
		for i, w := range ws {
			serials[i] = w.Pass.SerialNumber
		}
		return []TaskArgs{PushPerformanceArgs{Tenant: a.Tenant, PerformanceID: a.PerformanceID, Serials: serials}}
	}
	changed, err := s.Service.rewriteAll(ctx, items, correlationID, stop, pushes, func(ws []PassWrite) {
		if s.Timeline == nil {
			return
		}
		entries := make([]TimelineEntry, 0, len(ws))
		for _, w := range ws {
			p := w.Pass
			entries = append(entries, TimelineEntry{Tenant: p.Tenant, SecretToken: p.SecretToken, FileID: p.FileID, At: p.UpdatedAt,
				Kind: "pass-version", CorrelationID: correlationID, Detail: fmt.Sprintf(
					"serial=%s movement=%d generation=%d version=%d status=%s (performance %d: %s)", p.SerialNumber, p.MovementID,
					p.HolderGeneration, p.Version, p.Status, a.PerformanceID, why)})
		}
		if err := s.Timeline.AddTimeline(context.WithoutCancel(ctx), entries...); err != nil && s.Log != nil {
			s.Log.WarnContext(ctx, "timeline", slog.String("tenant", a.Tenant), slog.Any("error", err))
		}
	})
	rd := <-read
	rep.Changed, rep.Passes = changed, rd.n
	if err != nil {
		return rep, fmt.Errorf("performance %d: %w", a.PerformanceID, err)
	}
	if rd.err != nil {
		return rep, rd.err
	}
	now := s.Clock.Now()
	// Google follows once for the performance, when a pass changed, for a
	// notice (its class message, even when the tenant's template shows no
	// notice on the Apple passes), or in a retry (an earlier attempt may
	// have changed passes and stopped before this). The pushes went with
	// each batch, in its transaction.
	if (rep.Changed > 0 || a.Why == "notice" || AttemptOf(ctx) > 1) && s.Service.Policies.For(a.Tenant).Google {
		args := GooglePerformanceArgs{Tenant: a.Tenant, PerformanceID: a.PerformanceID}
		if _, err := s.Queue.Enqueue(ctx, TaskOf(args, correlationID), now); err != nil {
			return rep, err
		}
	}
	if details != nil {
		if err := s.Passes.SetPerformanceFingerprint(ctx, a.Tenant, a.PerformanceID, details.Fingerprint(), now); err != nil {
			return rep, err
		}
	}
	if s.Log != nil {
		s.Log.InfoContext(ctx, "performance synced", slog.String("tenant", a.Tenant), slog.Int64("performanceId", a.PerformanceID),
			slog.String("why", a.Why), slog.Int("passes", rep.Passes), slog.Int("changed", rep.Changed))
	}
	return rep, nil
}

// CatalogueWatch queues a performance-sync for each performance whose
// catalogue details differ from those its passes were synced with (or
// were never compared). It returns how many it queued.
func (s *PerformanceSyncer) CatalogueWatch(ctx context.Context, tenant string, performanceIDs []int64) (int, error) {
	if s.Catalogue == nil {
		return 0, nil
	}
	n := 0
	var errs []error
	for _, id := range performanceIDs {
		d, err := s.Catalogue.Performance(ctx, tenant, id)
		if err != nil {
			if KindOf(err) != KindNotFound {
				errs = append(errs, fmt.Errorf("performance %d: %w", id, err))
			}
			continue
		}
		old, err := s.Passes.PerformanceFingerprint(ctx, tenant, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if err == nil && old == d.Fingerprint() {
			continue
		}
		args := PerformanceArgs{Tenant: tenant, PerformanceID: id, Why: "catalogue"}
		if _, err := s.Queue.Enqueue(ctx, TaskOf(args, CorrelationReconcile), s.Clock.Now()); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Announcer takes organisers' notices to the holders of a performance.
type Announcer struct {
	Notices NoticeStore
	// Locales is each tenant's default language: the language of a
	// notice sent as plain text (LocalText with the one key "").
	Locales map[string]string
	Clock   Clock
}

// Announce validates and stores n with the performance-sync task that
// shows it on every pass of the performance (Apple: a changed field with
// its changeMessage; Google: one class message). A notice sent again with
// the same id is not sent twice: the stored one is returned with created
// false. Errors of kind KindInvalid name every problem.
func (a *Announcer) Announce(ctx context.Context, n Notice, correlationID string) (Notice, bool, error) {
	lang := Language(cmp.Or(a.Locales[n.Tenant], "en"))
	for _, lt := range []LocalText{n.Header, n.Body} {
		// BCP 47 writes a hyphen (fr-CH), as Google Wallet takes it; an
		// underscore (a POSIX locale, fr_CH) is read as one.
		for k, v := range lt {
			if nk := strings.ReplaceAll(k, "_", "-"); nk != k {
				delete(lt, k)
				lt[nk] = v
			}
		}
		if v, ok := lt[""]; ok && len(lt) == 1 {
			delete(lt, "")
			lt[lang] = v
		}
	}
	if n.ID == "" {
		n.ID = "ntc_" + NewSerialNumber()[:20]
	}
	if err := n.Validate(); err != nil {
		return n, false, err
	}
	n.CreatedAt = a.Clock.Now()
	task := TaskOf(PerformanceArgs{Tenant: n.Tenant, PerformanceID: n.PerformanceID, Why: "notice"}, correlationID)
	task.MinGap = 0
	return a.Notices.AddNotice(ctx, n, task)
}

// UpcomingPasses reads the passes of season and multi-event tickets.
type UpcomingPasses interface {
	// PassesWithUpcoming returns up to limit passes of tenant, not voided,
	// whose ticket lists upcoming events, in serial order after after.
	PassesWithUpcoming(ctx context.Context, tenant, after string, limit int) ([]Pass, error)
}

// RefreshUpcoming renders the passes that list upcoming events again, so
// that the event under way is the active one (iOS 26 shows it) and the
// lock-screen dates are the next events', and stores, pushes and
// announces those whose content changed (or whose certificate was
// renewed); it returns how many changed. A periodic job runs it: an event
// becomes active within one interval of three hours before its start, and
// inactive, its window gone, within one of its end.
func (s *Service) RefreshUpcoming(ctx context.Context, store UpcomingPasses, tenant string) (int, error) {
	changed := 0
	for after := ""; ; {
		ps, err := store.PassesWithUpcoming(ctx, tenant, after, 200)
		if err != nil {
			return changed, err
		}
		for i := range ps {
			p := &ps[i]
			after = p.SerialNumber
			if _, ch, err := s.update(ctx, p, p.Ticket, Change{}); err != nil {
				return changed, fmt.Errorf("pass %s: %w", p.SerialNumber, err)
			} else if ch {
				changed++
			}
		}
		if len(ps) < 200 {
			return changed, nil
		}
	}
}
