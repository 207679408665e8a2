package pass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// Erasure of holder data (GDPR). A holder's name and e-mail address leave
// the stored passes (each signed again without them, its older files
// deleted), the orders' timelines and the organiser's app registrations;
// the erasure is recorded, so that later syncs from SecuTix, which still
// has the data, leave it out too. The ticket itself (barcode, seat, event)
// stays: the holder may still use it. An erasure is marked complete once
// every part of it is done; one that failed or stopped half-way is run
// again whole (by the retention job, for an order, or by asking again),
// each part doing only what is left.

// ErasureRequest names whose holder data to erase: an order (its SecuTix
// file id) or a holder (an e-mail address, on every order).
type ErasureRequest struct {
	Tenant string
	FileID int64
	Email  string
	// Why is said in the logs: "request" (an operator or the API) or
	// "retention".
	Why string
}

// ErasureReport says what an erasure did.
type ErasureReport struct {
	// Passes is how many passes were signed again without holder data.
	Passes int
	// Files is how many older pass files were deleted.
	Files int
	// Timeline is how many timeline entries lost holder data.
	Timeline int
}

// ErasureStore keeps erasures and the data they remove.
type ErasureStore interface {
	// AddErasure records that the holder data of subject (ErasureSubject)
	// is erased, not complete yet (again if it was recorded before).
	AddErasure(ctx context.Context, tenant, subject string, at time.Time) error
	// CompleteErasure marks the erasure of subject complete. It returns an
	// error wrapping ErrNotFound if subject was not recorded.
	CompleteErasure(ctx context.Context, tenant, subject string, at time.Time) error
	// Erased reports whether any of the subjects was erased.
	Erased(ctx context.Context, tenant string, subjects ...string) (bool, error)
	// HolderPasses returns the passes of an order (fileID not 0) or whose
	// holder key is one of keys.
	HolderPasses(ctx context.Context, tenant string, fileID int64, keys ...string) ([]Pass, error)
	// DropVersionFiles removes the stored forms of the pass's versions
	// before version and returns how many, and the keys of those
	// versions' files stored in the blob store by earlier releases, which
	// it returns again until ForgetVersionBlobs clears them.
	DropVersionFiles(ctx context.Context, tenant, serial string, before int) (blobKeys []string, dropped int, err error)
	// ForgetVersionBlobs clears the keys of the pass's version files that
	// were deleted from the blob store.
	ForgetVersionBlobs(ctx context.Context, tenant, serial string, keys []string) error
	// ScrubTimeline replaces each of words in the order's timeline with
	// "[erased]" and returns how many entries changed.
	ScrubTimeline(ctx context.Context, tenant, secretToken string, words []string) (int, error)
	// ForgetOrderInstallations removes the organiser's app registrations
	// of an order.
	ForgetOrderInstallations(ctx context.Context, tenant, secretToken string) error
	// ForgetOrderPayloads removes the order SecuTix sent whole (a V2
	// webhook's body: holder and buyer data) from the order's sync tasks,
	// whatever their state; those still to run fetch the order instead.
	ForgetOrderPayloads(ctx context.Context, order OrderRef) error
	// HolderDataAfter returns up to limit file ids of orders whose passes'
	// events all ended (Ticket.LastEnd) before endedBefore and whose
	// erasure is not complete (never recorded, or stopped half-way).
	HolderDataAfter(ctx context.Context, tenant string, endedBefore time.Time, limit int) ([]int64, error)
}

// BlobDeleter deletes pass files.
type BlobDeleter interface {
	// Delete removes the content under key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErasureSubject is how an erasure is recorded: "file:<id>" for an order,
// "holder:<HolderKey>" for an e-mail address (its hash, not the address).
func ErasureSubject(fileID int64, email string) string {
	if fileID != 0 {
		return "file:" + strconv.FormatInt(fileID, 10)
	}
	return "holder:" + HolderKey(Ticket{HolderEmail: email})
}

// Eraser erases holder data.
type Eraser struct {
	Service *Service
	Store   ErasureStore
	Blobs   BlobDeleter
	Log     *slog.Logger
	Clock   Clock
	// NoEmail names the tenants whose passes carry no holder e-mail
	// address (their SecuTix mapping reads none): an erasure by address
	// could match nothing there, now or later, and is refused.
	NoEmail map[string]bool
}

// Erase erases the holder data req names. It returns an error of kind
// KindInvalid for a request that names neither or both, or a malformed
// address; erasing what has no pass is not an error (the erasure is
// recorded: passes made later leave the data out). An erasure that
// returns another error is recorded but not complete: asking again
// finishes it, and asking again after it is complete changes nothing.
func (e *Eraser) Erase(ctx context.Context, req ErasureRequest) (ErasureReport, error) {
	var rep ErasureReport
	req.Email = strings.TrimSpace(req.Email)
	switch {
	case req.Tenant == "":
		return rep, Errorf(KindInvalid, "erasure: the tenant is required")
	case (req.FileID == 0) == (req.Email == ""):
		return rep, Errorf(KindInvalid, "erasure: give either an order's file id or a holder's e-mail address")
	case req.FileID < 0:
		return rep, Errorf(KindInvalid, "erasure: the file id must be positive")
	case req.Email != "":
		if a, err := mail.ParseAddress(req.Email); err != nil || a.Address != req.Email || len(req.Email) > 254 {
			return rep, Errorf(KindInvalid, "erasure: the e-mail address is malformed (one address such as name@example.com)")
		}
		if e.NoEmail[req.Tenant] {
			return rep, Errorf(KindInvalid, "erasure: this tenant's passes carry no holder e-mail address (its SecuTix mapping reads "+
				"none: secutix.fields.holderEmail), so none would be found by it; erase the holder's orders by their file ids")
		}
	}
	subject := ErasureSubject(req.FileID, req.Email)
	// Recorded first: a sync running meanwhile already leaves the data out.
	if err := e.Store.AddErasure(ctx, req.Tenant, subject, e.Clock.Now()); err != nil {
		return rep, err
	}
	var keys []string
	if req.Email != "" {
		keys = HolderKeys(Ticket{HolderEmail: req.Email})
	}
	ps, err := e.Store.HolderPasses(ctx, req.Tenant, req.FileID, keys...)
	if err != nil {
		return rep, err
	}
	var secrets []string           // the orders, in the passes' order
	words := map[string][]string{} // order secret -> what to scrub
	orders := map[string]OrderRef{}
	for _, p := range ps {
		if _, ok := words[p.SecretToken]; !ok && p.SecretToken != "" {
			secrets = append(secrets, p.SecretToken)
			words[p.SecretToken] = nil
			orders[p.SecretToken] = OrderRef{Tenant: req.Tenant, SecretToken: p.SecretToken, FileID: p.FileID, OrderID: p.OrderID}
		}
		for _, w := range []string{p.Ticket.HolderName, p.Ticket.HolderEmail} {
			if strings.TrimSpace(w) != "" {
				words[p.SecretToken] = append(words[p.SecretToken], w)
			}
		}
	}
	var errs []error
	if req.FileID != 0 {
		// The order as a V2 webhook carried it, also when no pass was made
		// of it yet (its sync still to run, or dead).
		if err := e.Store.ForgetOrderPayloads(ctx, OrderRef{Tenant: req.Tenant, FileID: req.FileID}); err != nil {
			errs = append(errs, err)
		}
	}
	// The timelines before the passes: a pass names its holder (what to
	// scrub) until it is signed again, so an erasure run again after one
	// that stopped half-way still knows what to scrub. For the same
	// reason the passes of an order whose timeline failed keep their
	// holder until the next run.
	unscrubbed := map[string]bool{}
	for _, secret := range secrets {
		n, err := e.Store.ScrubTimeline(ctx, req.Tenant, secret, words[secret])
		if err != nil {
			errs = append(errs, err)
			unscrubbed[secret] = true
		}
		rep.Timeline += n
		if err := e.Store.ForgetOrderPayloads(ctx, orders[secret]); err != nil {
			errs = append(errs, err)
		}
		if req.FileID != 0 {
			if err := e.Store.ForgetOrderInstallations(ctx, req.Tenant, secret); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := range ps {
		p := &ps[i]
		if unscrubbed[p.SecretToken] {
			continue
		}
		current, signed, err := e.withoutHolder(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("pass %s: %w", p.SerialNumber, err))
			continue
		}
		if signed {
			rep.Passes++
		}
		// Also on a pass without holder data: an erasure that stopped
		// after signing it again left its older files.
		n, err := e.dropOlderFiles(ctx, req.Tenant, p.SerialNumber, current)
		rep.Files += n
		if err != nil {
			errs = append(errs, fmt.Errorf("pass %s: %w", p.SerialNumber, err))
		}
	}
	if len(errs) == 0 {
		if err := e.Store.CompleteErasure(ctx, req.Tenant, subject, e.Clock.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	if e.Log != nil {
		e.Log.InfoContext(ctx, "holder data erased", slog.String("tenant", req.Tenant), slog.String("why", req.Why),
			slog.Int("passes", rep.Passes), slog.Int("files", rep.Files), slog.Int("timelineEntries", rep.Timeline),
			slog.Bool("complete", len(errs) == 0))
	}
	return rep, errors.Join(errs...)
}

// erasureTries is how many times an erasure writes a pass that syncs keep
// writing meanwhile.
const erasureTries = 3

// withoutHolder signs p again without its holder data, if it has any,
// and returns the pass's version then and whether it signed one. A sync
// that wrote the pass meanwhile (a conflict) already left the holder out,
// the erasure being recorded: the pass is read again, and written only
// if it still names the holder.
func (e *Eraser) withoutHolder(ctx context.Context, p *Pass) (version int, signed bool, err error) {
	for try := 1; ; try++ {
		t := p.Ticket
		if t.HolderName == "" && t.HolderEmail == "" && !strings.HasPrefix(p.HolderKey, "email:") && !strings.HasPrefix(p.HolderKey, "name:") {
			return p.Version, false, nil
		}
		t.HolderName, t.HolderEmail = "", ""
		next, _, err := e.Service.update(ctx, p, t, Change{Erased: true})
		if err == nil {
			return next.Version, true, nil
		}
		if KindOf(err) != KindConflict || try == erasureTries {
			return 0, false, err
		}
		if p, err = e.Service.Passes.GetPass(ctx, p.Tenant, p.SerialNumber); err != nil {
			return 0, false, err
		}
	}
}

// dropOlderFiles removes the files of a pass's versions before before
// and returns how many: their stored forms, and their files in the blob
// store, whose keys are cleared only once deleted (a failed delete is
// tried again by the next erasure).
func (e *Eraser) dropOlderFiles(ctx context.Context, tenant, serial string, before int) (int, error) {
	keys, n, err := e.Store.DropVersionFiles(ctx, tenant, serial, before)
	if err != nil {
		return 0, err
	}
	var deleted []string
	var errs []error
	for _, k := range keys {
		if err := e.Blobs.Delete(ctx, k); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, k)
	}
	n += len(deleted)
	if err := e.Store.ForgetVersionBlobs(ctx, tenant, serial, deleted); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// retainBatch is how many orders Retain asks for at a time, besides those
// whose erasure failed in the same run.
const retainBatch = 100

// retainErrors is how many failed orders Retain names in its error (it
// counts the others).
const retainErrors = 5

// Retain erases the holder data of every order whose events all ended
// more than days ago (a tenant's retention setting: an order with a
// ticket for a later event, or a season ticket with a match to come,
// waits for it) and whose erasure is not
// complete, a batch at a time, and returns how many orders it erased. An
// order whose erasure fails does not hold up the others: Retain goes on
// and returns the failures together; the next run tries them again.
func (e *Eraser) Retain(ctx context.Context, tenant string, days int) (int, error) {
	if days <= 0 {
		return 0, nil
	}
	cutoff := e.Clock.Now().Add(-time.Duration(days) * 24 * time.Hour)
	n := 0
	failed := map[int64]bool{}
	notDue := map[int64]bool{}
	var errs []error
	for {
		// The failed orders are still incomplete, so still listed, and so
		// are those not due: each batch has room for them and
		// retainBatch others.
		files, err := e.Store.HolderDataAfter(ctx, tenant, cutoff, len(failed)+len(notDue)+retainBatch)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		tried := false
		for _, f := range files {
			if failed[f] || notDue[f] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			tried = true
			due, err := e.allEnded(ctx, tenant, f, cutoff)
			if err == nil && !due {
				notDue[f] = true
				continue
			}
			if err == nil {
				_, err = e.Erase(ctx, ErasureRequest{Tenant: tenant, FileID: f, Why: "retention"})
			}
			if err != nil {
				failed[f] = true
				if len(errs) < retainErrors {
					errs = append(errs, fmt.Errorf("retention of order %d: %w", f, err))
				}
				continue
			}
			n++
		}
		if !tried {
			if len(failed) > len(errs) {
				errs = append(errs, fmt.Errorf("retention: %d orders failed in all", len(failed)))
			}
			return n, errors.Join(errs...)
		}
	}
}

// allEnded reports whether every event of every pass of the order ended
// before cutoff. The store lists an order by the ends it keeps, which an
// earlier release wrote without a season ticket's upcoming events; the
// tickets themselves say.
func (e *Eraser) allEnded(ctx context.Context, tenant string, fileID int64, cutoff time.Time) (bool, error) {
	ps, err := e.Store.HolderPasses(ctx, tenant, fileID)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if end := p.Ticket.LastEnd(); end.IsZero() || !end.Before(cutoff) {
			return false, nil
		}
	}
	return true, nil
}

// withoutErased clears t's holder data when its order or holder was
// erased.
func (s *Service) withoutErased(ctx context.Context, t *Ticket) error {
	if s.Erasures == nil || (t.HolderName == "" && t.HolderEmail == "") {
		return nil
	}
	var subjects []string
	if t.FileID != 0 {
		subjects = append(subjects, ErasureSubject(t.FileID, ""))
	}
	if t.HolderEmail != "" {
		subjects = append(subjects, ErasureSubject(0, t.HolderEmail))
	}
	if len(subjects) == 0 {
		return nil
	}
	erased, err := s.Erasures.Erased(ctx, t.Tenant, subjects...)
	if err != nil {
		return err
	}
	if erased {
		t.HolderName, t.HolderEmail = "", ""
	}
	return nil
}
