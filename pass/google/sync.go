package google

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

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
	// Origins are the web origins of the save links (may be empty).
	Origins []string
	// SaveURL is where save JWTs are opened (default DefaultSaveURL).
	SaveURL string
}

// Syncer keeps Google Wallet objects in line with passes.
type Syncer struct {
	Passes   pass.PassStore
	Store    pass.GoogleStore
	Tenants  pass.PerTenant[*Tenant]
	Timeline pass.Timeline // optional
	// Queue takes the syncs Expire queues.
	Queue pass.Enqueuer
	Log   *slog.Logger
	Clock pass.Clock
}

func (s *Syncer) now() time.Time { return s.Clock.Now() }

// Work runs a google-sync task (see workers.Worker).
func (s *Syncer) Work(ctx context.Context, a pass.GoogleArgs, correlationID string) error {
	return s.Sync(ctx, a, correlationID)
}

func (s *Syncer) tenant(id string) (*Tenant, error) { return s.Tenants.Get(id, "Google Wallet issuer") }

// Sync brings the object of the pass ref names in line with the pass:
// the class first (inserted or patched when it changed), then the object
// (inserted, or messages appended and fields patched). A pass whose
// object was never inserted is left alone unless ref.Insert. Errors keep
// their kind (KindUnavailable: retry later).
func (s *Syncer) Sync(ctx context.Context, ref pass.GoogleArgs, correlationID string) error {
	tn, err := s.tenant(ref.Tenant)
	if err != nil {
		return err
	}
	p, err := s.Passes.GetPass(ctx, ref.Tenant, ref.Serial)
	if err != nil {
		return err
	}
	rec, err := s.Store.GoogleObject(ctx, ref.Tenant, ref.Serial)
	switch {
	case errors.Is(err, pass.ErrNotFound):
		if !ref.Insert {
			return nil
		}
		rec = &pass.GoogleObject{Tenant: ref.Tenant, Serial: ref.Serial}
	case err != nil:
		return err
	}
	is := tn.Issuer
	now := s.now()
	state := StateFor(is, p, now)
	if rec.Version == p.Version && rec.State == state {
		return nil
	}
	if err := s.ensureClass(ctx, tn, p); err != nil {
		return err
	}
	obj := BuildObject(is, p, state)
	rec.ObjectID, rec.ClassID = obj.Id, obj.ClassId
	if is.ExpireAfterEvent {
		rec.ExpiresAt = Expiry(p.Ticket.Event)
	} else {
		rec.ExpiresAt = time.Time{}
	}
	shown := SeenOf(p)
	if rec.Version == 0 {
		if err := tn.API.InsertObject(ctx, obj); err != nil {
			return err
		}
		s.note(ctx, p, correlationID, fmt.Sprintf("object %s inserted, %s", obj.Id, state))
	} else {
		var before Seen
		_ = json.Unmarshal([]byte(rec.Shown), &before) // an empty record shows nothing
		if err := s.tell(ctx, tn, rec, Messages(is, before, p, now), now); err != nil {
			return err
		}
		// What the holder was told is recorded before the patch, so a
		// retried task does not repeat the messages.
		rec.Shown = mustJSON(shown)
		rec.UpdatedAt = now
		if err := s.Store.PutGoogleObject(ctx, rec); err != nil {
			return err
		}
		if err := tn.API.PatchObject(ctx, obj); err != nil {
			return err
		}
		s.note(ctx, p, correlationID, fmt.Sprintf("object %s patched to version %d, %s", obj.Id, p.Version, state))
	}
	rec.Version, rec.State, rec.Shown, rec.UpdatedAt = p.Version, state, mustJSON(shown), now
	return s.Store.PutGoogleObject(ctx, rec)
}

// tell appends the messages, notifying while the pass's daily quota lasts
// and silently after it.
func (s *Syncer) tell(ctx context.Context, tn *Tenant, rec *pass.GoogleObject, msgs []Message, now time.Time) error {
	for _, m := range msgs {
		recent := rec.Notified[:0]
		for _, at := range rec.Notified {
			if now.Sub(at) < NotifyWindow {
				recent = append(recent, at)
			}
		}
		rec.Notified = recent
		notify := m.Notify && len(rec.Notified) < NotifyLimit
		err := tn.API.AddMessage(ctx, rec.ObjectID, m, notify)
		if errors.Is(err, ErrNotifyQuota) {
			notify = false
			err = tn.API.AddMessage(ctx, rec.ObjectID, m, false)
		}
		if err != nil {
			return err
		}
		if notify {
			rec.Notified = append(rec.Notified, now)
		}
	}
	return nil
}

func (s *Syncer) ensureClass(ctx context.Context, tn *Tenant, p *pass.Pass) error {
	d := Design{Template: p.Template}
	if tn.Design != nil {
		d = tn.Design(p.Template)
	}
	cl := BuildClass(tn.Issuer, d, p.Ticket)
	b, err := cl.MarshalJSON()
	if err != nil {
		return fmt.Errorf("google: class %s: %w", cl.Id, err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	old, err := s.Store.GoogleClassHash(ctx, p.Tenant, cl.Id)
	if err == nil && old == hash {
		return nil
	}
	if err != nil && !errors.Is(err, pass.ErrNotFound) {
		return err
	}
	if err := tn.API.UpsertClass(ctx, cl); err != nil {
		return err
	}
	return s.Store.PutGoogleClassHash(ctx, p.Tenant, cl.Id, hash, s.now())
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
func (s *Syncer) SaveURL(ctx context.Context, tenant, secretToken string, serials []string, correlationID string) (string, error) {
	tn, err := s.tenant(tenant)
	if err != nil {
		return "", err
	}
	ps, err := s.Passes.PassesByOrder(ctx, tenant, secretToken)
	if err != nil {
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
