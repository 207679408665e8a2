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
// stays: the holder may still use it.

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
	// is erased.
	AddErasure(ctx context.Context, tenant, subject string, at time.Time) error
	// Erased reports whether any of the subjects was erased.
	Erased(ctx context.Context, tenant string, subjects ...string) (bool, error)
	// HolderPasses returns the passes of an order (fileID not 0) or whose
	// holder key is one of keys.
	HolderPasses(ctx context.Context, tenant string, fileID int64, keys ...string) ([]Pass, error)
	// DropVersionFiles forgets the files of the pass's versions before
	// version: it removes their stored forms and returns how many, and
	// the keys of files stored in the blob store by earlier releases.
	DropVersionFiles(ctx context.Context, tenant, serial string, before int) (blobKeys []string, dropped int, err error)
	// ScrubTimeline replaces each of words in the order's timeline with
	// "[erased]" and returns how many entries changed.
	ScrubTimeline(ctx context.Context, tenant, secretToken string, words []string) (int, error)
	// ForgetOrderInstallations removes the organiser's app registrations
	// of an order.
	ForgetOrderInstallations(ctx context.Context, tenant, secretToken string) error
	// HolderDataAfter returns up to limit file ids of orders with a pass
	// whose event ended before endedBefore and that were not erased.
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
}

// Erase erases the holder data req names. It returns an error of kind
// KindInvalid for a request that names neither or both, or a malformed
// address; erasing what has no pass is not an error (the erasure is
// recorded: passes made later leave the data out).
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
	words := map[string][]string{} // order secret -> what to scrub
	var errs []error
	for i := range ps {
		p := &ps[i]
		t := p.Ticket
		for _, w := range []string{t.HolderName, t.HolderEmail} {
			if strings.TrimSpace(w) != "" {
				words[p.SecretToken] = append(words[p.SecretToken], w)
			}
		}
		if t.HolderName == "" && t.HolderEmail == "" && !strings.HasPrefix(p.HolderKey, "email:") && !strings.HasPrefix(p.HolderKey, "name:") {
			continue // nothing of the holder's left on it
		}
		t.HolderName, t.HolderEmail = "", ""
		next, _, err := e.Service.update(ctx, p, t, Change{Erased: true})
		if err != nil {
			errs = append(errs, fmt.Errorf("pass %s: %w", p.SerialNumber, err))
			continue
		}
		rep.Passes++
		old, dropped, err := e.Store.DropVersionFiles(ctx, req.Tenant, p.SerialNumber, next.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Files += dropped
		for _, k := range old {
			if err := e.Blobs.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Files++
		}
	}
	for secret, ws := range words {
		n, err := e.Store.ScrubTimeline(ctx, req.Tenant, secret, ws)
		if err != nil {
			errs = append(errs, err)
		}
		rep.Timeline += n
		if req.FileID != 0 {
			if err := e.Store.ForgetOrderInstallations(ctx, req.Tenant, secret); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if e.Log != nil {
		e.Log.InfoContext(ctx, "holder data erased", slog.String("tenant", req.Tenant), slog.String("why", req.Why),
			slog.Int("passes", rep.Passes), slog.Int("files", rep.Files), slog.Int("timelineEntries", rep.Timeline))
	}
	return rep, errors.Join(errs...)
}

// Retain erases the holder data of every order whose event ended more
// than days ago (a tenant's retention setting), a batch at a time, and
// returns how many orders it erased.
func (e *Eraser) Retain(ctx context.Context, tenant string, days int) (int, error) {
	if days <= 0 {
		return 0, nil
	}
	cutoff := e.Clock.Now().Add(-time.Duration(days) * 24 * time.Hour)
	n := 0
	for {
		files, err := e.Store.HolderDataAfter(ctx, tenant, cutoff, 100)
		if err != nil || len(files) == 0 {
			return n, err
		}
		for _, f := range files {
			if _, err := e.Erase(ctx, ErasureRequest{Tenant: tenant, FileID: f, Why: "retention"}); err != nil {
				return n, fmt.Errorf("retention of order %d: %w", f, err)
			}
			n++
		}
	}
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
