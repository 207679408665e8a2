package pass

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Status is what a pass shows about its ticket.
type Status string

// The pass statuses.
const (
	StatusActive Status = "active"
	StatusUsed   Status = "used"
	StatusVoided Status = "voided"
)

// StatusFor returns the pass status for a ticket state.
func StatusFor(s TicketState) Status {
	switch s {
	case TicketUsed:
		return StatusUsed
	case TicketCancelled:
		return StatusVoided
	default:
		return StatusActive
	}
}

// AuthTokenLen is the length of a generated authentication token. Apple
// requires at least 16 characters; we use 43 (256 random bits).
const AuthTokenLen = 43

// Pass is one wallet pass made from a ticket. Its SerialNumber and
// AuthToken never change once issued; every change of content makes a new
// Version with a new UpdateTag.
type Pass struct {
	Tenant           string
	SerialNumber     string
	AuthToken        string
	PassTypeID       string
	Template         string
	MovementID       int64
	HolderGeneration int
	FileID           int64
	OrderID          int64
	TicketID         int64
	Version          int
	UpdateTag        int64 // Unix milliseconds, strictly increasing per pass
	ContentHash      string
	Status           Status
	// BlobKey is where a version stored as a file before the stored form
	// moved into the database is ("" for the others).
	BlobKey string
	// Content is the stored form of the version being written (see
	// Packager.Sign); it is not read back with the pass (PassFiles reads
	// it).
	Content     []byte
	SecretToken string // the order's secret token (for reconciliation and the order page)
	HolderKey   string // who holds it (see HolderKey); a new holder gets a new pass
	Ticket      Ticket // the ticket as the pass shows it now
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NewSerialNumber returns a random serial number: 32 lowercase hex digits.
func NewSerialNumber() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// NewAuthToken returns a random authentication token of AuthTokenLen
// URL-safe characters.
func NewAuthToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// PassStore keeps passes and their versions.
type PassStore interface {
	// CreatePass stores a new pass at version 1 and the tasks that follow
	// it, in one transaction. It returns an error of kind KindConflict if
	// a pass with the same identity already exists.
	CreatePass(ctx context.Context, p *Pass, follow []NewTask) error
	// GetPass returns a pass by tenant and serial number, or an error
	// wrapping ErrNotFound.
	GetPass(ctx context.Context, tenant, serial string) (*Pass, error)
	// GetPassMeta is GetPass without the ticket snapshot (Pass.Ticket is
	// zero): enough to authenticate and serve the pass file.
	GetPassMeta(ctx context.Context, tenant, serial string) (*Pass, error)
	// GetPassByIdentity returns the pass of (tenant, movement id, holder
	// generation), or an error wrapping ErrNotFound.
	GetPassByIdentity(ctx context.Context, tenant string, movementID int64, holderGeneration int) (*Pass, error)
	// LatestPassForMovement returns the pass of the newest holder
	// generation of a movement, or an error wrapping ErrNotFound.
	LatestPassForMovement(ctx context.Context, tenant string, movementID int64) (*Pass, error)
	// PassesByOrder returns the passes of an order (every holder
	// generation), ordered by movement and generation.
	PassesByOrder(ctx context.Context, tenant, secretToken string) ([]Pass, error)
	// UpdatePass stores a new version of p if its version is exactly one
	// more than the stored one, together with the tasks that follow it
	// (FollowUps), in one transaction; otherwise it returns an error of
	// kind KindConflict and changes nothing.
	UpdatePass(ctx context.Context, p *Pass, follow []NewTask) error
	// UpdatePasses is UpdatePass for several passes, and the tasks more,
	// in one transaction: all are stored, or none (a conflict on one is
	// the error).
	UpdatePasses(ctx context.Context, ws []PassWrite, more []NewTask) error
}

// PassWrite is a new version of a pass and the tasks that follow it.
type PassWrite struct {
	Pass   *Pass
	Follow []NewTask
}

// BlobStore keeps signed pass files.
type BlobStore interface {
	// Put stores data under key, replacing any previous content atomically.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Get returns the content under key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
}

// LatestPerTicket returns, from an order's passes sorted by movement and
// holder generation (as PassStore.PassesByOrder gives them), the newest
// holder's pass of each ticket, in ticket order.
func LatestPerTicket(ps []Pass) []Pass {
	var out []Pass
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].MovementID == p.MovementID {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}

// ForOrderSecret keeps the passes an order's secret grants: those of the
// holders the order was issued to (holder generation 0). A ticket
// transferred to someone else is theirs: its new pass is reached through
// its own capability (a link signed for that pass), never through the
// seller's secret; the seller still sees the voided pass they gave away.
func ForOrderSecret(ps []Pass) []Pass {
	var out []Pass
	for _, p := range ps {
		if p.HolderGeneration == 0 {
			out = append(out, p)
		}
	}
	return out
}

// ValidPerTicket is LatestPerTicket without the voided passes: what the
// buyer of an order holds now.
func ValidPerTicket(ps []Pass) []Pass {
	var out []Pass
	for _, p := range LatestPerTicket(ps) {
		if p.Status != StatusVoided {
			out = append(out, p)
		}
	}
	return out
}
