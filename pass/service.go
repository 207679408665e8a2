package pass

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rendered is a pass's content before signing.
type Rendered struct {
	PassJSON []byte
	// ContentHash is a hash of what the holder sees.
	ContentHash string
	PassTypeID  string
	Template    string
	// Signer names the certificate that will sign the pass ("" when the
	// Packager does not say): a version signed by another one is not
	// current, even if its content is (see versionHash).
	Signer string
	// SignerSince is when that certificate became valid (its NotBefore),
	// SignerCASince when the intermediate it is signed with did (the WWDR
	// a renewal may replace alone).
	SignerSince, SignerCASince time.Time
}

// versionHash is what a version stores as its Pass.ContentHash: r's
// ContentHash, then "/" and its Signer when it names one, and "@" and the
// Unix seconds its certificate and intermediate became valid when known
// ("@leaf.intermediate"), so that after a
// certificate's renewal the next sync of a pass signs a new version even
// when its content is unchanged, and an instance still on the certificate
// before does not sign it back (see current).
func versionHash(r Rendered) string {
	switch {
	case r.Signer == "":
		return r.ContentHash
	case r.SignerSince.IsZero():
		return r.ContentHash + "/" + r.Signer
	}
	h := r.ContentHash + "/" + r.Signer + "@" + strconv.FormatInt(r.SignerSince.Unix(), 10)
	if !r.SignerCASince.IsZero() {
		h += "." + strconv.FormatInt(r.SignerCASince.Unix(), 10)
	}
	return h
}

// laterSigner reports whether since, a version's "@" part (see
// versionHash; "leaf" alone counts as an intermediate of time zero),
// names a signer that became valid after r's: its certificate later, or
// the same day's with a later intermediate (a WWDR replaced alone).
func laterSigner(since string, r Rendered) bool {
	leafPart, caPart, _ := strings.Cut(since, ".")
	leaf, err := strconv.ParseInt(leafPart, 10, 64)
	if err != nil {
		return false
	}
	ca := int64(0)
	if caPart != "" {
		if ca, err = strconv.ParseInt(caPart, 10, 64); err != nil {
			return false
		}
	}
	mine := r.SignerSince.Unix()
	return leaf > mine || leaf == mine && !r.SignerCASince.IsZero() && ca > r.SignerCASince.Unix()
}

// current reports whether a stored version cur shows what r shows
// (content) and needs no new signature from the certificate that would
// sign r (signer): it was signed by that certificate, or by one that
// became valid after it. The latter is another instance's renewed
// certificate during a rolling upgrade: an instance still on the
// certificate before leaves the version as it is, rather than sign it back
// (and the next instance forth again, a version, a push and a webhook
// each time). A version stored before versions named their signer (its
// hash is the content's alone) counts as signed by r's certificate when it
// was made once that certificate was valid: after an upgrade, the passes
// of the certificate in use are not signed again, and those made before it
// existed are.
func current(cur *Pass, r Rendered) (content, signer bool) {
	hash, by, named := strings.Cut(cur.ContentHash, "/")
	content = hash == r.ContentHash
	switch {
	case r.Signer == "":
		signer = true
	case named:
		id, since, dated := strings.Cut(by, "@")
		signer = id == r.Signer
		if !signer && dated && !r.SignerSince.IsZero() {
			signer = laterSigner(since, r)
		}
	default:
		signer = !cur.UpdatedAt.Before(r.SignerSince)
	}
	return content, signer
}

// Packager renders and signs Apple passes for the tenants it knows.
type Packager interface {
	// Render makes the validated content of a pass. It returns an error of
	// kind KindNotFound for an unknown tenant or template and KindInvalid
	// for a pass that would not install.
	Render(ctx context.Context, tenant, template string, in PassInput) (Rendered, error)
	// Sign packages rendered content as a signed .pkpass in the form it
	// is stored in: the files that change with each version and the
	// signed manifest of all; the files every pass of the template shares
	// are stored once, apart, and added when it is downloaded.
	Sign(ctx context.Context, tenant string, r Rendered) ([]byte, error)
}

// PassInput is a ticket with the fixed identity of its pass.
type PassInput struct {
	Ticket       Ticket
	SerialNumber string
	AuthToken    string
}

// Service keeps one pass per ticket up to date. Each new version is stored
// with the tasks that follow it (FollowUps), decided here from the change
// and the tenant's policy.
type Service struct {
	Passes   PassStore
	Packager Packager
	Policies Policies
	// Notices gives each pass its performance's newest notice; nil when
	// notices are not kept.
	Notices NoticeStore
	// Locales is each tenant's default language, the fallback of a
	// notice's languages.
	Locales map[string]string
	// Erasures says whose holder data was erased: it stays out of their
	// passes (nil: none is kept).
	Erasures ErasureStore
	Clock    Clock
}

// withNotice sets t.Notice to its performance's newest notice, in the
// holder's language: a sync from SecuTix keeps what the organiser said.
func (s *Service) withNotice(ctx context.Context, t *Ticket) error {
	t.Notice = ""
	if s.Notices == nil || t.Event.PerformanceID == 0 {
		return nil
	}
	n, err := s.Notices.LatestNotice(ctx, t.Tenant, t.Event.PerformanceID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	t.Notice = n.Body.Pick(t.Locale, s.Locales[t.Tenant])
	return nil
}

// The media types of a signed Apple Wallet pass and of a bundle of them.
const (
	ContentTypePkpass   = "application/vnd.apple.pkpass"
	ContentTypePkpasses = "application/vnd.apple.pkpasses"
)

// Apply brings the pass of t (identity: tenant, movement id, holder
// generation) in line with t, using template when it creates the pass. It
// creates the pass if there is none, makes a new version only when the
// content changed, and returns the pass and whether a new version was
// stored. A conflict with a concurrent writer is returned as KindConflict.
func (s *Service) Apply(ctx context.Context, t Ticket, template string) (*Pass, bool, error) {
	return s.apply(ctx, t, template, false)
}

// Supersede is Apply for the voiding of a previous holder's pass when the
// ticket moves to a new holder: the order's app hears of the change through
// the new holder's pass, not of a cancellation.
func (s *Service) Supersede(ctx context.Context, t Ticket, template string) (*Pass, bool, error) {
	return s.apply(ctx, t, template, true)
}

func (s *Service) apply(ctx context.Context, t Ticket, template string, superseded bool) (*Pass, bool, error) {
	pol := s.Policies.For(t.Tenant)
	raw := t
	// The pass is read before the notice and the erasures: an erasure or a
	// notice's rewrite that writes the pass after this read makes the
	// write below a conflict (the version moved), and one that read the
	// pass before it is seen here.
	cur, err := s.Passes.GetPassByIdentity(ctx, t.Tenant, t.MovementID, t.HolderGeneration)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	if err := s.withNotice(ctx, &t); err != nil {
		return nil, false, err
	}
	hk := HolderKey(t) // who holds it, before an erasure hides who
	if err := s.withoutErased(ctx, &t); err != nil {
		return nil, false, err
	}
	switch {
	case errors.Is(err, ErrNotFound):
		p := &Pass{
			Tenant: t.Tenant, SerialNumber: NewSerialNumber(), AuthToken: NewAuthToken(), Template: template,
			MovementID: t.MovementID, HolderGeneration: t.HolderGeneration, FileID: t.FileID, OrderID: t.OrderID,
			TicketID: t.TicketID, Version: 1, Status: StatusFor(t.State),
			SecretToken: t.OrderSecretToken, HolderKey: hk, Ticket: t,
		}
		r, err := s.Packager.Render(ctx, t.Tenant, template, PassInput{Ticket: t, SerialNumber: p.SerialNumber, AuthToken: p.AuthToken})
		if err != nil {
			return nil, false, err
		}
		if err := s.store(ctx, p, r, s.Clock.Now()); err != nil {
			return nil, false, err
		}
		if err := s.Passes.CreatePass(ctx, p, FollowUps(Change{Next: p}, pol)); err != nil {
			return nil, false, err
		}
		return s.afterCreate(ctx, p, raw)
	}
	return s.update(ctx, cur, t, Change{Superseded: superseded})
}

// afterCreate reads again, once the new pass p of raw is stored, what it
// was made with besides its ticket: an erasure of its holder's data or a
// notice of its performance recorded meanwhile was applied by a rewrite
// that listed the passes before p existed, and missed it. It is applied
// now: a new version, and for an erasure the first version's stored form
// dropped.
//
// The rewrite may also have reached p meanwhile (it listed the passes
// just after p was stored): the update is then a conflict, and p is read
// again and brought up to date from there, if it still needs it.
func (s *Service) afterCreate(ctx context.Context, p *Pass, raw Ticket) (*Pass, bool, error) {
	cur := p
	for attempt := 1; ; attempt++ {
		t := raw
		if err := s.withNotice(ctx, &t); err != nil {
			return nil, false, err
		}
		if err := s.withoutErased(ctx, &t); err != nil {
			return nil, false, err
		}
		erased := (cur.Ticket.HolderName != "" || cur.Ticket.HolderEmail != "") && t.HolderName == "" && t.HolderEmail == ""
		if t.Notice == cur.Ticket.Notice && !erased {
			return cur, true, nil
		}
		next, _, err := s.update(ctx, cur, t, Change{Erased: erased})
		if KindOf(err) == KindConflict && attempt < 3 {
			if cur, err = s.Passes.GetPass(ctx, p.Tenant, p.SerialNumber); err != nil {
				return nil, false, err
			}
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if erased {
			if _, _, err := s.Erasures.DropVersionFiles(ctx, p.Tenant, p.SerialNumber, next.Version); err != nil {
				return nil, false, err
			}
		}
		return next, true, nil
	}
}

func (s *Service) store(ctx context.Context, p *Pass, r Rendered, now time.Time) error {
	data, err := s.Packager.Sign(ctx, p.Tenant, r)
	if err != nil {
		return err
	}
	p.PassTypeID = r.PassTypeID
	p.ContentHash = versionHash(r)
	p.Content, p.BlobKey = data, "" // written with the version's row
	p.UpdateTag = now.UnixMilli()
	p.UpdatedAt = now
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	return nil
}

// update stores a new version of cur for t when its content changed;
// change says what kind of change it is (Prev and Next are filled here).
func (s *Service) update(ctx context.Context, cur *Pass, t Ticket, change Change) (*Pass, bool, error) {
	next, follow, ev, err := s.prepare(ctx, cur, t, change)
	if err != nil || next == nil {
		return cur, false, err
	}
	if ev != nil {
		follow = append(follow, TaskOf(*ev, ""))
	}
	if err := s.Passes.UpdatePass(ctx, next, follow); err != nil {
		return nil, false, err
	}
	return next, true, nil
}

// prepare renders t on cur and, when the content changed, signs and stores
// the file of the next version: it returns that version, the tasks that
// follow it and its announcement (followUps), to be written by the caller;
// nil when nothing changed.
func (s *Service) prepare(ctx context.Context, cur *Pass, t Ticket, change Change) (*Pass, []NewTask, *EventArgs, error) {
	pol := s.Policies.For(t.Tenant)
	r, err := s.Packager.Render(ctx, t.Tenant, cur.Template, PassInput{Ticket: t, SerialNumber: cur.SerialNumber, AuthToken: cur.AuthToken})
	if err != nil {
		return nil, nil, nil, err
	}
	sameContent, sameSigner := current(cur, r)
	if sameContent && sameSigner && !change.Erased {
		return nil, nil, nil, nil
	}
	// Only the signature is new (the certificate was renewed): the
	// phones fetch the version (push-pass) and webhook subscribers hear
	// of it, but neither the holder's app nor Google Wallet has anything
	// new to show.
	resigned := sameContent && !change.Erased
	if ReadLater(cur.Ticket, t) {
		// A sync that read SecuTix later wrote the pass since this one
		// looked (Syncer.applyTicket's fence): what t shows is older.
		return nil, nil, nil, nil
	}
	next := *cur
	switch k := HolderKey(t); {
	case change.Erased && cur.HolderKey != "" && !strings.HasPrefix(cur.HolderKey, "h:"):
		next.HolderKey = HolderKey(cur.Ticket) // the hash, not the address
	case !change.Erased && k != "" && !change.Superseded:
		next.HolderKey = k // the holder's name corrected on the same ticket
	}
	if t.ReadAt.IsZero() {
		t.ReadAt = cur.Ticket.ReadAt // not a read of SecuTix: the pass's read stands
	}
	next.Version++
	next.TicketID = t.TicketID
	next.Status = StatusFor(t.State)
	next.Ticket = t
	next.SecretToken = t.OrderSecretToken
	next.FileID, next.OrderID = t.FileID, t.OrderID
	change.Prev, change.Next = cur, &next
	if err := s.store(ctx, &next, r, s.Clock.Now()); err != nil {
		return nil, nil, nil, err
	}
	if next.UpdateTag <= cur.UpdateTag {
		next.UpdateTag = cur.UpdateTag + 1
	}
	// Wallet asks for a pass with If-Modified-Since, whose HTTP date has
	// whole seconds: a version made in the second of the one before must
	// be modified in a later second, or the device is told it has it.
	if prev := cur.UpdatedAt.Truncate(time.Second); !next.UpdatedAt.Truncate(time.Second).After(prev) {
		next.UpdatedAt = prev.Add(time.Second)
	}
	follow, ev := followUps(change, pol)
	switch {
	case resigned:
		follow = slices.DeleteFunc(follow, func(t NewTask) bool { return t.Kind == TaskAppNotice || t.Kind == TaskGoogleSync })
	case !change.Erased && slices.ContainsFunc(follow, isAppNotice) && sameTicket(cur.Ticket, t):
		// The same ticket rendered otherwise (a template edited, a
		// release's rendering, a season ticket's next match): the phones
		// and Google Wallet (whose class shows the template) get the new
		// version, but the holder's app has no news to tell.
		follow = slices.DeleteFunc(follow, isAppNotice)
	}
	return &next, follow, ev, nil
}

func isAppNotice(t NewTask) bool { return t.Kind == TaskAppNotice }

// sameTicket reports whether a and b are the same ticket but for when
// SecuTix was read (their JSON, which writes each time as its instant and
// offset, whatever its location).
func sameTicket(a, b Ticket) bool {
	a.ReadAt, b.ReadAt = time.Time{}, time.Time{}
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}

// rewriteBatch is how many new versions an event-wide change writes per
// transaction.
const rewriteBatch = 100

// rewriteAll rewrites the passes of an event-wide change (Change.Bulk)
// that items gives, until it is closed: each ticket is rendered, and
// signed when its content changed, on every core with more in flight than
// cores; meanwhile the new versions are written rewriteBatch to a
// transaction, with their announcements in one event-batch task each
// (instead of a task per pass) and the tasks perBatch gives for each (the
// pushes of its passes, so that phones hear of them while the rest is
// signed). It returns how many passes changed. On error it calls
// stop (the producer of items stops and closes it), drains items and
// returns the first error. written, when set, hears of each batch once it
// is stored.
//
// A pass that another writer moved on since it was read (a scan at the
// gate, an order's sync: an event-wide change during doors meets many)
// does not fail the change: the rest of its batch is written, and the
// pass is read again and rewritten from its new version (with the
// item's fresh), up to rewriteRounds times; a pass still moving then is
// a KindConflict error, and the task's retry rewrites what is left.
func (s *Service) rewriteAll(ctx context.Context, items <-chan rewriteItem, correlationID string, stop func(),
	perBatch func([]PassWrite) []TaskArgs, written func([]PassWrite)) (int, error) {
	ctx, cancelCtx := context.WithCancelCause(ctx)
	defer cancelCtx(nil)
	cancel := func(err error) { cancelCtx(err); stop() }
	type prepared struct {
		next   *Pass
		follow []NewTask
		ev     *EventArgs
		fresh  func(*Pass) Ticket
	}
	// Few results wait for the writer (a batch): the workers are CPU-bound
	// and outnumber the cores, and if they could run far ahead of the
	// writes, the pushes and webhooks of the stored batches would wait
	// behind them for the cores until the signing is done (with 400 here
	// and batches of 400, half the phones of a 10,000-pass change heard of
	// it after 7.5 s instead of 4; docs/benchmarks.md).
	results := make(chan prepared, rewriteBatch)
	var workers sync.WaitGroup
	for range 4*runtime.GOMAXPROCS(0) + 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for it := range items {
				if ctx.Err() != nil {
					continue // drain
				}
				next, follow, ev, err := s.prepare(ctx, it.cur, it.t, Change{Bulk: true})
				if err != nil {
					cancel(fmt.Errorf("pass %s: %w", it.cur.SerialNumber, err))
					continue
				}
				if next != nil {
					results <- prepared{next, follow, ev, it.fresh}
				}
			}
		}()
	}
	go func() { workers.Wait(); close(results) }()
	changed := 0
	// write stores batch in one transaction, less the passes another
	// writer moved on meanwhile: those it returns, as they are now.
	write := func(batch []prepared) (moved []movedPass) {
		for len(batch) > 0 && ctx.Err() == nil {
			ws := make([]PassWrite, len(batch))
			var events []EventArgs
			for i, r := range batch {
				ws[i] = PassWrite{Pass: r.next, Follow: r.follow}
				if r.ev != nil {
					events = append(events, *r.ev)
				}
			}
			var more []NewTask
			if len(events) > 0 {
				more = append(more, TaskOf(EventBatchArgs{Tenant: events[0].Tenant, Events: events}, correlationID))
			}
			if perBatch != nil {
				for _, a := range perBatch(ws) {
					more = append(more, TaskOf(a, correlationID))
				}
			}
			err := s.Passes.UpdatePasses(ctx, ws, more)
			if err == nil {
				changed += len(ws)
				if written != nil {
					written(ws)
				}
				return moved
			}
			if KindOf(err) != KindConflict {
				cancel(err)
				return nil
			}
			keep := batch[:0]
			for _, r := range batch {
				cur, gerr := s.Passes.GetPass(ctx, r.next.Tenant, r.next.SerialNumber)
				if gerr != nil {
					cancel(gerr)
					return nil
				}
				if cur.Version != r.next.Version-1 {
					moved = append(moved, movedPass{cur, r.fresh})
				} else {
					keep = append(keep, r)
				}
			}
			if len(keep) == len(batch) { // a conflict none of them explains
				cancel(err)
				return nil
			}
			batch = keep
		}
		return moved
	}
	var batch []prepared
	var moved []movedPass
	for r := range results {
		batch = append(batch, r)
		if len(batch) == rewriteBatch {
			moved = append(moved, write(batch)...)
			batch = nil
		}
	}
	moved = append(moved, write(batch)...)
	for round := 0; len(moved) > 0 && ctx.Err() == nil; round++ {
		if round == rewriteRounds {
			cancel(Errorf(KindConflict, "pass %s changed again during %d rewrites of it", moved[0].cur.SerialNumber, rewriteRounds))
			break
		}
		batch = nil
		for _, m := range moved {
			if m.cur.Status == StatusVoided || m.fresh == nil {
				continue // voided meanwhile: an event-wide change leaves it alone
			}
			next, follow, ev, err := s.prepare(ctx, m.cur, m.fresh(m.cur), Change{Bulk: true})
			if err != nil {
				cancel(fmt.Errorf("pass %s: %w", m.cur.SerialNumber, err))
				break
			}
			if next != nil {
				batch = append(batch, prepared{next, follow, ev, m.fresh})
			}
		}
		moved = write(batch)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return changed, err
	}
	return changed, ctx.Err()
}

// rewriteRounds is how many times an event-wide change reads again and
// rewrites a pass another writer moved on meanwhile.
const rewriteRounds = 3

// movedPass is a pass another writer moved on during an event-wide
// change, as it is now, and how the change shows its ticket.
type movedPass struct {
	cur   *Pass
	fresh func(*Pass) Ticket
}

// rewriteItem is a pass of an event-wide change and the ticket to show;
// fresh gives that ticket for another version of the pass (the change
// applied to it), for a pass written meanwhile by another writer.
type rewriteItem struct {
	cur   *Pass
	t     Ticket
	fresh func(*Pass) Ticket
}

// HolderKey identifies who holds a ticket without saying who: a hash of
// the e-mail address when there is one, else of the name, case- and
// space-insensitive; "" when neither is known. A change of holder key is a
// transfer: the old pass is voided and the new holder gets a new pass.
func HolderKey(t Ticket) string {
	plain := plainHolderKey(t)
	if plain == "" {
		return ""
	}
	return hashHolderKey(plain)
}

// HolderKeys are the keys t's holder's passes may be stored under: the
// hashed form, and the plain form of passes stored before keys were
// hashed (nil when t names no holder).
func HolderKeys(t Ticket) []string {
	plain := plainHolderKey(t)
	if plain == "" {
		return nil
	}
	return []string{hashHolderKey(plain), plain}
}

// SameHolder reports whether a stored holder key is t's holder's. Keys
// stored before they were hashed are the plain form.
func SameHolder(stored string, t Ticket) bool {
	plain := plainHolderKey(t)
	return stored == plain || stored == hashHolderKey(plain)
}

// plainHolderKey is "email:<address>" or "name:<name>", normalised.
func plainHolderKey(t Ticket) string {
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	if e := norm(t.HolderEmail); e != "" {
		return "email:" + e
	}
	if n := norm(t.HolderName); n != "" {
		return "name:" + n
	}
	return ""
}

func hashHolderKey(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return "h:" + hex.EncodeToString(sum[:16])
}
