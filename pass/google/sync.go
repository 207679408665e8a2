package google

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/walletobjects/v1"

	"walletpass/pass"
)

// NotifyLimit is how many notifying messages Google lets a pass receive
// in NotifyWindow; later messages are sent silently.
const (
	NotifyLimit  = 3
	NotifyWindow = 24 * time.Hour
)

// Tenant is everything the syncer needs of one tenant.
type Tenant struct {
	Issuer  *Issuer
	Account *ServiceAccount
	API     *Client
	// Design returns the design of a pass template.
	Design func(template string) Design
	// ClassTemplate is the template whose design every class shows (the
	// tenant's default): the passes of one performance share its class,
	// and with their own templates' designs they would patch it back and
	// forth, the look of every holder's pass with it. A pass of another
	// template shows that template's hero image and background on its
	// object. Empty: each class shows the template of the pass synced last.
	ClassTemplate string
	// Origins are the web origins of the save links (may be empty).
	Origins []string
	// SaveURL is where save JWTs are opened (default DefaultSaveURL).
	SaveURL string
	// Locale is the tenant's default language: the default value of
	// localised class messages.
	Locale string
}

// Syncer keeps Google Wallet objects in line with passes.
type Syncer struct {
	Passes   pass.PassStore
	Store    pass.GoogleStore
	Tenants  pass.PerTenant[*Tenant]
	Timeline pass.Timeline // optional
	// Queue takes the syncs Expire queues.
	Queue pass.Enqueuer
	// Notices gives a performance's newest notice, sent once as a message
	// of its class; nil when notices are not kept.
	Notices pass.NoticeStore
	// Leases, when set, keep the syncs of the instances that share the
	// store, and of this one, from changing one class's record at once
	// (see holdClass).
	Leases pass.Leases
	// Page is how many objects SyncPerformance reads at a time (default 200).
	Page  int
	Log   *slog.Logger
	Clock pass.Clock

	// classLocks are this syncer's locks of classes without Leases
	// (holdClass), objectLocks of objects (holdObject).
	classLocks, objectLocks [64]sync.Mutex
}

// ClassLeaseTerm is the term of the lease a sync holds, renewed, while it
// changes a class's record (Syncer.Leases).
const ClassLeaseTerm = 30 * time.Second

// ObjectLeaseTerm is the term of the lease a sync holds, renewed, while it
// writes a pass's object and its record.
const ObjectLeaseTerm = 30 * time.Second

func (s *Syncer) now() time.Time { return s.Clock.Now() }

// Work runs a google-sync task (see workers.Worker).
func (s *Syncer) Work(ctx context.Context, a pass.GoogleArgs, correlationID string) error {
	return s.Sync(ctx, a, correlationID)
}

func (s *Syncer) tenant(id string) (*Tenant, error) { return s.Tenants.Get(id, "Google Wallet issuer") }

// Sync brings the object of the pass ref names in line with the pass:
// the class first (inserted or patched when it changed), then the object
// (inserted, or messages appended and fields patched). A pass whose
// object was never inserted is left alone unless ref.Insert. An object
// Google no longer has (it answers 404), or one the record names under
// another issuer id, is inserted again as a first insert would, without
// messages; a class it no longer has is sent again first. Errors keep
// their kind (KindUnavailable: retry later).
//
// Syncs of one pass may overlap (a buyer's save link beside the task of a
// new version, on two instances): when the pass has a newer version once
// this sync has written to Google, its own sync may have written first,
// and this one's older object last; the pass is then synced again, at
// its newest version, whatever the record says.
func (s *Syncer) Sync(ctx context.Context, ref pass.GoogleArgs, correlationID string) error {
	force := false
	for range maxResyncs {
		sent, err := s.syncOnce(ctx, ref, correlationID, force, false)
		if err != nil || sent == 0 {
			return err
		}
		p, err := s.Passes.GetPass(ctx, ref.Tenant, ref.Serial)
		if err != nil || p.Version == sent {
			return err
		}
		force = true
	}
	return nil
}

// maxResyncs bounds how often Sync writes one pass to Google in a row
// while new versions keep coming (each has its own task besides).
const maxResyncs = 3

// syncOnce is one sync of the pass ref names; force writes the object even
// when the record says Google has the pass's version. It returns the
// version of the pass it wrote to Google, 0 when it wrote nothing.
//
// Once it finds something to write, it takes the object's turn
// (holdObject) and starts again, held: two syncs of one pass would
// otherwise both tell the holder what changed since the record they
// read, twice, and each keep its own count of the notifications, the
// later write losing the earlier one's. The one that waited reads the
// record as the other left it.
func (s *Syncer) syncOnce(ctx context.Context, ref pass.GoogleArgs, correlationID string, force, held bool) (int, error) {
	tn, err := s.tenant(ref.Tenant)
	if err != nil {
		return 0, err
	}
	p, err := s.Passes.GetPass(ctx, ref.Tenant, ref.Serial)
	if err != nil {
		return 0, err
	}
	rec, err := s.Store.GoogleObject(ctx, ref.Tenant, ref.Serial)
	switch {
	case errors.Is(err, pass.ErrNotFound):
		if !ref.Insert {
			return 0, nil
		}
		rec = &pass.GoogleObject{Tenant: ref.Tenant, Serial: ref.Serial}
	case err != nil:
		return 0, err
	}
	if rec.Version > p.Version {
		return 0, nil // another sync wrote a later version: this read of the pass is older
	}
	is := tn.Issuer
	now := s.now()
	state := StateFor(is, p, now)
	// A record of another object id (the tenant's issuerId changed, a test
	// issuer's for the production one, and every id with it) says nothing
	// of the object this issuer has: that one is inserted, as a first
	// insert would, without messages. The holder's phone keeps the other
	// issuer's object, which this issuer cannot reach; the new one reaches
	// a phone only through a save link.
	onGoogle := rec.Version > 0 && rec.ObjectID == ObjectID(is.IssuerID, is.Tenant, p.SerialNumber)
	upToDate := onGoogle && rec.Version == p.Version && rec.State == state && !force
	if upToDate && (!is.ExpireAfterEvent || rec.ExpiresAt.Equal(p.Ticket.Expiry())) {
		return 0, nil
	}
	if !held {
		release, err := s.holdObject(ctx, ref.Tenant, ref.Serial)
		if err != nil {
			return 0, err
		}
		defer release()
		return s.syncOnce(ctx, ref, correlationID, force, true)
	}
	if upToDate {
		// Its expiry was written under an earlier rule (a season ticket's
		// first event): it is brought up to date, or the expiry job would
		// queue it again and again.
		rec.ExpiresAt = p.Ticket.Expiry()
		return 0, s.Store.PutGoogleObject(ctx, rec)
	}
	cl, err := s.ensureClass(ctx, tn, p, correlationID)
	if err != nil {
		return 0, err
	}
	obj := objectOf(tn, p, state)
	hash, err := objectHash(obj)
	if err != nil {
		return 0, err
	}
	recorded := rec.ObjectID
	rec.ObjectID, rec.ClassID = obj.Id, obj.ClassId
	if is.ExpireAfterEvent {
		rec.ExpiresAt = p.Ticket.Expiry()
	} else {
		rec.ExpiresAt = time.Time{}
	}
	shown := SeenOf(p)
	if !onGoogle {
		if err := s.insertObject(ctx, tn, p, obj, correlationID); err != nil {
			return 0, err
		}
		detail := fmt.Sprintf("object %s inserted, %s", obj.Id, state)
		if rec.Version > 0 {
			detail += fmt.Sprintf(" in place of %s (another issuer's id)", recorded)
		}
		s.note(ctx, p, correlationID, detail)
	} else if err := s.updateObject(ctx, tn, p, rec, cl, obj, now, correlationID); err != nil {
		gone, err := s.objectGone(ctx, tn, obj.Id, err)
		if !gone {
			return 0, err
		}
		// Google has no object of this id although it had one (deleted;
		// the data of a development fake reset): it is inserted afresh,
		// as a first insert would, from the pass as it is now (its state,
		// its barcode), and like a first insert it carries no message.
		// No phone holds an object Google does not have, so a message
		// about what changed since the holder's last look ("new seat",
		// "ticket cancelled", "valid again") would tell nobody and could
		// only notify, out of the blue, a holder who saves the new object
		// later; what the record says was shown becomes the pass as it is
		// now, as after a first insert. The notifications of the last day
		// stay in the record: they reached this pass's holder, and
		// keeping them can only make a later message silent, never let
		// more than NotifyLimit a day through. The object is built again:
		// the failed update may have given obj a message list.
		if err := s.insertObject(ctx, tn, p, objectOf(tn, p, state), correlationID); err != nil {
			return 0, err
		}
		s.note(ctx, p, correlationID, fmt.Sprintf("object %s missing at Google, inserted again, %s", obj.Id, state))
	}
	rec.Version, rec.State, rec.Shown, rec.UpdatedAt, rec.ObjectHash = p.Version, state, mustJSON(shown), now, hash
	if err := s.Store.PutGoogleObject(ctx, rec); err != nil {
		return 0, err
	}
	return p.Version, nil
}

// updateObject brings the object Google has (rec says so) in line with
// p: the messages for what changed since the holder last looked (each
// recorded once sent, and what the holder was told before the patch, so
// that a retried task does not repeat them), then the patch. rec keeps
// what was told and notified; the caller records the rest. An error of
// a Google call keeps its kind: a 404 may say the object is gone
// (objectGone).
func (s *Syncer) updateObject(ctx context.Context, tn *Tenant, p *pass.Pass, rec *pass.GoogleObject, cl *pass.GoogleClass,
	obj *walletobjects.EventTicketObject, now time.Time, correlationID string) error {
	state := obj.State
	var before Seen
	_ = json.Unmarshal([]byte(rec.Shown), &before) // an empty record shows nothing
	refused := func(id string, err error) {
		s.note(ctx, p, correlationID, fmt.Sprintf("message %s left out: %v", id, err))
	}
	if err := s.tell(ctx, tn, rec, before, recentCount(cl.Notified, now), Messages(tn.Issuer, before, p, now), now, refused); err != nil {
		return err
	}
	// What the holder was told is recorded before the patch, so a
	// retried task does not repeat the messages (tell records each
	// but the last as it goes).
	rec.Shown = mustJSON(SeenOf(p))
	rec.UpdatedAt = now
	if err := s.Store.PutGoogleObject(ctx, rec); err != nil {
		return err
	}
	if (rec.State == StateInactive || before.Status == string(pass.StatusVoided)) && state != StateInactive {
		// Valid again: the message that said it was cancelled goes
		// (the patch writes the list without it; Google has no call
		// that removes one message). Either record may say so: the
		// state Google shows moves only once a patch is through (a
		// retry after a failed valid-again patch), and what the
		// holder was told moves before it (a cancellation whose
		// INACTIVE patch failed before the ticket came back).
		if err := s.withoutCancellation(ctx, tn, obj); err != nil {
			return err
		}
	}
	if err := tn.API.PatchObject(ctx, obj); err != nil {
		return err
	}
	s.note(ctx, p, correlationID, fmt.Sprintf("object %s patched to version %d, %s", obj.Id, p.Version, state))
	return nil
}

// objectGone reports whether err, from a call on the object id that our
// record says Google has, means that Google has no such object: a 404
// from Google that a read of the object confirms (a patch answers 404
// for a missing class too, and then the object is there). Otherwise it
// returns err, or the read's own error (Google unavailable: the sync is
// retried and asks again).
func (s *Syncer) objectGone(ctx context.Context, tn *Tenant, id string, err error) (bool, error) {
	if pass.KindOf(err) != pass.KindNotFound || !isCode(err, http.StatusNotFound) {
		return false, err
	}
	_, gerr := tn.API.GetObject(ctx, id)
	switch {
	case gerr == nil:
		return false, err
	case pass.KindOf(gerr) == pass.KindNotFound && isCode(gerr, http.StatusNotFound):
		return true, nil
	}
	return false, gerr
}

// insertObject inserts obj, p's object (a patch when Google has it
// already). An insert that Google answers 404 names a class it does not
// have, although the class's record says it was sent (a development fake
// that forgot everything it held, classes too): the class is sent again
// (restoreClass) and the object inserted after it.
func (s *Syncer) insertObject(ctx context.Context, tn *Tenant, p *pass.Pass, obj *walletobjects.EventTicketObject, correlationID string) error {
	err := tn.API.InsertObject(ctx, obj)
	if pass.KindOf(err) != pass.KindNotFound || !isCode(err, http.StatusNotFound) {
		return err
	}
	if err := s.restoreClass(ctx, tn, p, correlationID); err != nil {
		return err
	}
	return tn.API.InsertObject(ctx, obj)
}

// restoreClass sends p's class again, to a Google that has lost it, under
// the class's lock and lease. The class of a pass that is not cancelled is
// what the class's record says Google has (ensureClass has just made sure
// of that); when another sync changed the record since, this pass's class
// is older, and the sync is retried rather than send it. A cancelled pass's
// event is as it was when it was cancelled: its record then takes the
// hash of what was sent, so that the next sync of a valid pass of the
// class sends the class as it should be. Nothing is told: no phone holds
// an object of a class Google does not have.
func (s *Syncer) restoreClass(ctx context.Context, tn *Tenant, p *pass.Pass, correlationID string) error {
	cl, hash, err := classOf(tn, p)
	if err != nil {
		return err
	}
	release, err := s.holdClass(ctx, p.Tenant, cl.Id)
	if err != nil {
		return err
	}
	defer release()
	rec, err := s.Store.GoogleClass(ctx, p.Tenant, cl.Id)
	switch {
	case errors.Is(err, pass.ErrNotFound):
		rec = &pass.GoogleClass{Tenant: p.Tenant, ClassID: cl.Id}
	case err != nil:
		return err
	}
	if p.Status != pass.StatusVoided && rec.Hash != hash {
		// Another sync changed the class since this one read the pass (a
		// moved performance): this pass's class is older. The sync is
		// retried, from the pass as it is then.
		return pass.Errorf(pass.KindUnavailable, "google: class %s changed while it was sent again; retried", cl.Id)
	}
	if err := tn.API.UpsertClass(ctx, cl); err != nil {
		return err
	}
	s.note(ctx, p, correlationID, "class "+cl.Id+" missing at Google, sent again")
	if rec.Hash == hash {
		return nil
	}
	rec.Hash, rec.UpdatedAt = hash, s.now()
	return s.Store.PutGoogleClass(ctx, rec)
}

// withoutCancellation gives obj (a patch) the messages Google holds on
// the object, less those that told its holder the ticket was cancelled,
// as TEXT (writing the list back must not notify again); when there is
// none to leave out, obj carries no list (a patch without one leaves it
// as it is).
func (s *Syncer) withoutCancellation(ctx context.Context, tn *Tenant, obj *walletobjects.EventTicketObject) error {
	o, err := tn.API.GetObject(ctx, obj.Id)
	if err != nil {
		return err
	}
	keep := slices.DeleteFunc(slices.Clone(o.Messages), func(m *walletobjects.Message) bool {
		return m == nil || strings.HasSuffix(m.Id, "-cancelled")
	})
	if len(keep) == len(o.Messages) {
		return nil
	}
	for _, m := range keep {
		if m.MessageType == "TEXT_AND_NOTIFY" {
			m.MessageType = "TEXT"
		}
	}
	obj.Messages = keep
	if len(keep) == 0 {
		obj.ForceSendFields = append(obj.ForceSendFields, "Messages") // an empty list, sent as []
	}
	return nil
}

func objectHash(o *walletobjects.EventTicketObject) (string, error) {
	b, err := o.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("google: object %s: %w", o.Id, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// recentCount is how many of ts fall in the NotifyWindow before now.
func recentCount(ts []time.Time, now time.Time) int {
	n := 0
	for _, t := range ts {
		if now.Sub(t) < NotifyWindow {
			n++
		}
	}
	return n
}

// SyncPerformance brings a performance's Google Wallet side in line with
// its passes after an event-wide change (the google-performance worker):
// each class once (a patch, and one message for a new time, venue or
// notice), then the objects. An object whose own content did not change
// (the time is the class's) is not sent again: only its record moves to
// the pass's version. The others are synced one by one.
func (s *Syncer) SyncPerformance(ctx context.Context, a pass.GooglePerformanceArgs, correlationID string) error {
	tn, err := s.tenant(a.Tenant)
	if err != nil {
		return err
	}
	is := tn.Issuer
	page := s.Page
	if page <= 0 {
		page = 200
	}
	done := map[string]bool{}
	after := ""
	for {
		rows, err := s.Store.GoogleRowsOfPerformance(ctx, a.Tenant, a.PerformanceID, after, page)
		if err != nil {
			return err
		}
		now := s.now()
		var quiet []*pass.GoogleObject
		for i := range rows {
			p, rec := &rows[i].Pass, &rows[i].Object
			after = p.SerialNumber
			if rec.Version == 0 {
				continue // asked for, never inserted: the save link inserts it
			}
			// The class is the performance's: a cancelled pass, which the
			// performance's changes do not rewrite, never stands for it.
			if cid := ClassID(is.IssuerID, is.Tenant, p.Ticket); !done[cid] && p.Status != pass.StatusVoided {
				if _, err := s.ensureClass(ctx, tn, p, correlationID); err != nil {
					return err
				}
				done[cid] = true
			}
			state := StateFor(is, p, now)
			if rec.Version == p.Version && rec.State == state {
				continue
			}
			obj := objectOf(tn, p, state)
			hash, err := objectHash(obj)
			if err != nil {
				return err
			}
			if hash == rec.ObjectHash && rec.State == state {
				rec.Version, rec.Shown, rec.UpdatedAt = p.Version, mustJSON(SeenOf(p)), now
				rec.ExpiresAt = time.Time{}
				if is.ExpireAfterEvent {
					rec.ExpiresAt = p.Ticket.Expiry()
				}
				quiet = append(quiet, rec)
				continue
			}
			if err := s.Sync(ctx, pass.GoogleArgs{Tenant: a.Tenant, Serial: p.SerialNumber}, correlationID); err != nil {
				return err
			}
		}
		if err := s.Store.AdvanceGoogleObjects(ctx, quiet); err != nil {
			return err
		}
		if len(rows) < page {
			return nil
		}
	}
}

// tell appends the messages, notifying while the pass's daily quota lasts
// (its own notifications and classwide, those of its class) and silently
// after it. A full list loses its oldest messages (Client.AddMessage).
// Each message but the last is recorded once sent (what the holder has
// seen since before, and the notification), so that a sync that fails
// part-way sends only the rest when it is retried; the caller records the
// last.
func (s *Syncer) tell(ctx context.Context, tn *Tenant, rec *pass.GoogleObject, before Seen, classwide int, msgs []Message, now time.Time,
	refused func(id string, err error)) error {
	return sendWithin(&rec.Notified, classwide, now, retryThrottled(ctx), len(msgs), func(i int) bool { return msgs[i].Notify },
		func(i int, notify bool) error { return tn.API.AddMessage(ctx, rec.ObjectID, msgs[i], notify) },
		func(i int, err error) { refused(msgs[i].ID, err) },
		func(i int) error {
			if msgs[i].tells == nil || i == len(msgs)-1 {
				return nil
			}
			msgs[i].tells(&before)
			rec.Shown = mustJSON(before)
			return s.Store.PutGoogleObject(ctx, rec)
		})
}

// ThrottledNotifyAttempts is how many attempts of its task a notifying
// message that Google's rate limit refused (ErrNotifyThrottled) waits
// for, the task retried with backoff, before it is sent silently.
const ThrottledNotifyAttempts = 3

// retryThrottled says whether a notifying message Google throttled is to
// be retried (a task's run before its ThrottledNotifyAttempts-th attempt
// and its last) rather than sent silently now: a buyer's save link, which
// no one retries, sends it silently at once, as a sync whose task would
// be given up must, so that its state still reaches Google.
func retryThrottled(ctx context.Context) bool {
	return pass.RetryLeft(ctx) && pass.AttemptOf(ctx) < ThrottledNotifyAttempts
}

// sendWithin sends n messages with send, notifying those that want it
// while the notifications of the last NotifyWindow (*notified, which keeps
// only those, plus others counted elsewhere) stay under NotifyLimit, and
// silently after it or when Google refuses the notifying one (its quota
// error, however it is worded, or any refusal of the request as invalid).
// A notifying message Google throttled (ErrNotifyThrottled) returns its
// error, to be retried, while retry says so; then it is sent silently.
// A message Google refuses even silently is left out and handed to
// refused: a message must never hold back the state it goes with (a
// cancellation's INACTIVE), nor every later sync of the pass, longer than
// the throttled one's retries. An error
// worth retrying (Google unavailable) is returned. done hears of each
// message once it is sent or left out (and *notified counts it), to
// record that it need not be sent again; its error is returned.
func sendWithin(notified *[]time.Time, others int, now time.Time, retry bool, n int, want func(int) bool,
	send func(i int, notify bool) error, refused func(i int, err error), done func(i int) error) error {
	for i := range n {
		kept := (*notified)[:0]
		for _, at := range *notified {
			if now.Sub(at) < NotifyWindow {
				kept = append(kept, at)
			}
		}
		*notified = kept
		notify := want(i) && len(kept)+others < NotifyLimit
		err := send(i, notify)
		if notify && retry && errors.Is(err, ErrNotifyThrottled) {
			return err
		}
		if notify && (errors.Is(err, ErrNotifyQuota) || errors.Is(err, ErrNotifyThrottled) || pass.KindOf(err) == pass.KindInvalid) {
			notify = false
			err = send(i, false)
		}
		if pass.KindOf(err) == pass.KindInvalid {
			refused(i, err)
			notify = false
		} else if err != nil {
			return err
		}
		if notify {
			*notified = append(*notified, now)
		}
		if err := done(i); err != nil {
			return err
		}
	}
	return nil
}

// ensureClass makes sure Google has the class of p's performance as it
// should be: inserted or patched when it changed, with one class message
// (reaching every holder) when its time or venue changed, and one for a
// performance notice it has not carried yet. It returns the class record.
func (s *Syncer) ensureClass(ctx context.Context, tn *Tenant, p *pass.Pass, correlationID string) (*pass.GoogleClass, error) {
	cl, hash, err := classOf(tn, p)
	if err != nil {
		return nil, err
	}
	// Syncs of a class's passes run side by side (a performance's, a
	// scan's, a save link's, on several instances): one at a time changes
	// its record, or two would both send the class's new time to every
	// holder. A sync that finds the record to change holds the class
	// (holdClass) and reads it again; one that finds nothing to change
	// changes nothing, and holds nothing.
	shown := mustJSON(classSeenOf(tn.Locale, p.Ticket))
	rec, notice, err := s.classState(ctx, p, cl.Id)
	if err != nil {
		return nil, err
	}
	if classChanges(p, rec, notice, hash, shown) {
		release, err := s.holdClass(ctx, p.Tenant, cl.Id)
		if err != nil {
			return nil, err
		}
		defer release()
		if rec, notice, err = s.classState(ctx, p, cl.Id); err != nil {
			return nil, err
		}
	}
	if p.Status == pass.StatusVoided && rec.Hash != "" {
		// A cancelled pass's event is as it was when it was cancelled (the
		// performance's changes do not rewrite it): it never patches the
		// class every holder sees, once the class exists.
		return rec, nil
	}
	now := s.now()
	dirty := rec.Shown != shown
	// sent is the record as it is once the messages sent so far are: the
	// class's hash before, what they told every holder, their notice, so
	// that a sync that fails part-way sends only the rest when retried.
	sent := *rec
	var before ClassSeen
	var msgs []ClassMessage
	if rec.Hash != hash {
		dirty = true
		// A class we sent before is patched (one call); a new one is
		// inserted, or patched when Google has it already.
		err := pass.Errorf(pass.KindNotFound, "class not sent yet")
		if rec.Hash != "" {
			err = tn.API.PatchClass(ctx, cl)
		}
		if pass.KindOf(err) == pass.KindNotFound {
			err = tn.API.UpsertClass(ctx, cl)
		}
		if err != nil {
			return nil, err
		}
		if rec.Shown != "" {
			_ = json.Unmarshal([]byte(rec.Shown), &before) // a record without it shows nothing
			msgs = append(msgs, ClassMessages(tn.Locale, before, p.Ticket)...)
		}
		rec.Hash = hash
		s.note(ctx, p, correlationID, "class "+cl.Id+" sent")
	}
	rec.Shown = shown
	noticeID := rec.NoticeID
	if notice != nil && notice.ID != rec.NoticeID {
		msgs = append(msgs, NoticeMessage(tn.Locale, *notice))
		noticeID = notice.ID
	}
	if len(msgs) > 0 {
		refused := func(id string, err error) {
			s.note(ctx, p, correlationID, fmt.Sprintf("class %s: message %s left out: %v", cl.Id, id, err))
		}
		done := func(i int) error {
			if i == len(msgs)-1 {
				return nil // recorded with the rest below
			}
			if msgs[i].tells != nil {
				msgs[i].tells(&before)
				sent.Shown = mustJSON(before)
			} else {
				sent.NoticeID = noticeID
			}
			sent.Notified, sent.UpdatedAt = rec.Notified, now
			return s.Store.PutGoogleClass(ctx, &sent)
		}
		if err := s.tellClass(ctx, tn, rec, msgs, now, refused, done); err != nil {
			return nil, err
		}
		s.note(ctx, p, correlationID, fmt.Sprintf("class %s: %d message(s) to every holder", cl.Id, len(msgs)))
		dirty = true
	}
	if !dirty {
		return rec, nil
	}
	rec.NoticeID, rec.UpdatedAt = noticeID, now
	if err := s.Store.PutGoogleClass(ctx, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// classOf is the class of p's performance, from p's ticket and
// template, and the hash of its content.
func classOf(tn *Tenant, p *pass.Pass) (*walletobjects.EventTicketClass, string, error) {
	template := cmp.Or(tn.ClassTemplate, p.Template)
	d := Design{Template: template}
	if tn.Design != nil {
		d = tn.Design(template)
	}
	cl := BuildClass(tn.Issuer, d, p.Ticket)
	b, err := cl.MarshalJSON()
	if err != nil {
		return nil, "", fmt.Errorf("google: class %s: %w", cl.Id, err)
	}
	sum := sha256.Sum256(b)
	return cl, hex.EncodeToString(sum[:]), nil
}

// objectOf is p's object in state (BuildObject), with its template's hero
// image and background when its template is not the one its class shows
// (Tenant.ClassTemplate).
func objectOf(tn *Tenant, p *pass.Pass, state string) *walletobjects.EventTicketObject {
	o := BuildObject(tn.Issuer, p, state)
	if tn.ClassTemplate == "" || p.Template == tn.ClassTemplate || tn.Design == nil {
		return o
	}
	d := tn.Design(p.Template)
	if img := tn.Issuer.heroImage(d, p.Ticket); img != nil {
		o.HeroImage = img
	} else {
		o.NullFields = append(o.NullFields, "HeroImage")
	}
	if d.Background != "" {
		o.HexBackgroundColor = d.Background
	} else {
		o.NullFields = append(o.NullFields, "HexBackgroundColor")
	}
	return o
}

// tellClass appends the messages to the class, notifying while no pass of
// the class is at its daily quota (a class message counts for each of
// them) and silently after it. A full list loses its oldest messages
// (Client.AddClassMessage), so that a performance with many notices and
// changes still takes the next one, and the syncs of its objects, which
// pass through ensureClass, go on. done as sendWithin's.
func (s *Syncer) tellClass(ctx context.Context, tn *Tenant, rec *pass.GoogleClass, msgs []ClassMessage, now time.Time,
	refused func(id string, err error), done func(i int) error) error {
	worst, err := s.Store.GoogleMaxObjectNotifications(ctx, rec.Tenant, rec.ClassID, now.Add(-NotifyWindow))
	if err != nil {
		return err
	}
	return sendWithin(&rec.Notified, worst, now, retryThrottled(ctx), len(msgs), func(i int) bool { return msgs[i].Notify },
		func(i int, notify bool) error { return tn.API.AddClassMessage(ctx, rec.ClassID, msgs[i], notify) },
		func(i int, err error) { refused(msgs[i].ID, err) }, done)
}

// holdClass takes the class's turn to change its record, and returns its
// release: its lease (Leases), which the syncs of every instance take,
// this one's included, so that no lock of this process is held while
// another instance has the class; without Leases, one of this process's
// locks (a fixed set, a class's chosen by a hash of its key).
func (s *Syncer) holdClass(ctx context.Context, tenant, classID string) (release func(), err error) {
	return s.hold(ctx, "google-class", tenant, classID, ClassLeaseTerm, &s.classLocks)
}

// holdObject takes the turn of a pass's object, as holdClass a class's
// (ObjectLeaseTerm), and returns its release.
func (s *Syncer) holdObject(ctx context.Context, tenant, serial string) (release func(), err error) {
	return s.hold(ctx, "google-object", tenant, serial, ObjectLeaseTerm, &s.objectLocks)
}

// hold takes the lease kind/tenant/id for term, or, without Leases, the
// one of locks that the key's hash chooses.
func (s *Syncer) hold(ctx context.Context, kind, tenant, id string, term time.Duration, locks *[64]sync.Mutex) (func(), error) {
	if s.Leases != nil {
		return pass.HoldLease(ctx, s.Leases, s.Clock, kind+"/"+tenant+"/"+id, term)
	}
	h := fnv.New32a()
	h.Write([]byte(tenant + "\x00" + id))
	mu := &locks[h.Sum32()%uint32(len(locks))]
	mu.Lock()
	return mu.Unlock, nil
}

// classState reads the record of p's class (a new one when there is
// none) and the newest notice of p's performance (nil when none).
func (s *Syncer) classState(ctx context.Context, p *pass.Pass, classID string) (*pass.GoogleClass, *pass.Notice, error) {
	rec, err := s.Store.GoogleClass(ctx, p.Tenant, classID)
	switch {
	case errors.Is(err, pass.ErrNotFound):
		rec = &pass.GoogleClass{Tenant: p.Tenant, ClassID: classID}
	case err != nil:
		return nil, nil, err
	}
	if s.Notices == nil || p.Ticket.Event.PerformanceID == 0 {
		return rec, nil, nil
	}
	n, err := s.Notices.LatestNotice(ctx, p.Tenant, p.Ticket.Event.PerformanceID)
	switch {
	case errors.Is(err, pass.ErrNotFound):
		return rec, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return rec, n, nil
}

// classChanges says whether ensureClass is to change the class's record
// rec for p, of content hash and showing shown: a class not sent yet or
// changed, or a notice its holders have not had.
func classChanges(p *pass.Pass, rec *pass.GoogleClass, notice *pass.Notice, hash, shown string) bool {
	if p.Status == pass.StatusVoided && rec.Hash != "" {
		return false
	}
	return rec.Hash != hash || rec.Shown != shown || notice != nil && notice.ID != rec.NoticeID
}

func (s *Syncer) note(ctx context.Context, p *pass.Pass, correlationID, detail string) {
	if s.Timeline == nil {
		return
	}
	e := pass.TimelineEntry{Tenant: p.Tenant, SecretToken: p.SecretToken, FileID: p.FileID, At: s.now(), Kind: "google",
		CorrelationID: correlationID, Detail: detail}
	if err := s.Timeline.AddTimeline(context.WithoutCancel(ctx), e); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "timeline", slog.String("tenant", p.Tenant), slog.Any("error", err))
	}
}

// SaveURL makes sure every valid ticket of the order has its object at
// Google and returns the address that saves them all: the save page with
// a skinny JWT. It returns an error of kind pass.KindNotFound when the
// order has no valid ticket.
//
// When serials are given, only those passes (of the order) are saved.
// Without a secret token, serials names the one pass to save (a ticket's
// own link, which must not carry its order's secret).
func (s *Syncer) SaveURL(ctx context.Context, tenant, secretToken string, serials []string, correlationID string) (string, error) {
	tn, err := s.tenant(tenant)
	if err != nil {
		return "", err
	}
	var ps []pass.Pass
	if secretToken == "" {
		if len(serials) != 1 {
			return "", pass.Errorf(pass.KindInvalid, "google: a save link without its order names one pass")
		}
		p, err := s.Passes.GetPass(ctx, tenant, serials[0])
		if err != nil {
			return "", err
		}
		ps = []pass.Pass{*p}
	} else if ps, err = s.Passes.PassesByOrder(ctx, tenant, secretToken); err != nil {
		return "", err
	}
	if len(serials) == 0 {
		// The order-wide link grants what the order's secret grants: not a
		// ticket transferred to someone else (a link signed for that pass
		// names its serial).
		ps = pass.ForOrderSecret(ps)
	}
	var ids []string
	for _, p := range pass.ValidPerTicket(ps) {
		if len(serials) > 0 && !slices.Contains(serials, p.SerialNumber) {
			continue
		}
		if err := s.Sync(ctx, pass.GoogleArgs{Tenant: tenant, Serial: p.SerialNumber, Insert: true}, correlationID); err != nil {
			return "", err
		}
		ids = append(ids, ObjectID(tn.Issuer.IssuerID, tenant, p.SerialNumber))
	}
	if len(ids) == 0 {
		return "", pass.Errorf(pass.KindNotFound, "the order has no valid ticket")
	}
	tok, err := SaveJWT(tn.Account, ids, tn.Origins, s.now())
	if err != nil {
		return "", err
	}
	base := tn.SaveURL
	if base == "" {
		base = DefaultSaveURL
	}
	return base + tok, nil
}

// Expire queues the sync of every object whose event is over, so that it
// turns EXPIRED, and returns how many it queued.
func (s *Syncer) Expire(ctx context.Context) (int, error) {
	refs, err := s.Store.GoogleExpiring(ctx, s.now(), 1000)
	if err != nil {
		return 0, err
	}
	for _, r := range refs {
		if _, err := s.Queue.Enqueue(ctx, pass.TaskOf(r, ""), s.now()); err != nil {
			return 0, err
		}
	}
	return len(refs), nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v) // a struct of strings always marshals
	return string(b)
}
