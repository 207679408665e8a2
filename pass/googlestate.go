package pass

import (
	"context"
	"time"
)

// TaskGoogleSync is the kind of the task that brings a pass's Google
// Wallet object in line with the pass.
const TaskGoogleSync = "google-sync"

// GoogleArgs names the pass whose Google Wallet object a google-sync task
// brings in line with the pass.
type GoogleArgs struct {
	Tenant string `json:"tenant"`
	Serial string `json:"serial"`
	// Insert creates the object if Google does not have it yet (the tenant
	// inserts on payment); otherwise only objects a buyer asked for are
	// kept in sync.
	Insert bool `json:"insert,omitempty"`
}

// Kind implements TaskArgs.
func (GoogleArgs) Kind() string { return TaskGoogleSync }

// TaskTenant implements TaskArgs.
func (a GoogleArgs) TaskTenant() string { return a.Tenant }

// DedupKey implements TaskArgs: changes close together coalesce into one
// round of calls.
func (a GoogleArgs) DedupKey() string { return "google:" + a.Serial }

// Validate implements TaskArgs.
func (a GoogleArgs) Validate() error {
	if a.Tenant == "" || a.Serial == "" {
		return Errorf(KindInvalid, "google-sync: tenant and serial are required")
	}
	return nil
}

// GoogleObject is what we know of a pass's Google Wallet object.
type GoogleObject struct {
	Tenant   string
	Serial   string
	ObjectID string
	ClassID  string
	// Version is the pass version Google shows; 0 until it is inserted.
	Version int
	// State is the object state Google shows (ACTIVE, COMPLETED, …).
	State string
	// Shown is what the holder was last told, as the Google package
	// records it (JSON).
	Shown string
	// Notified holds the times of the notifying messages of the last 24 h.
	Notified []time.Time
	// ExpiresAt is when the object should turn EXPIRED; zero for never.
	ExpiresAt time.Time
	// ObjectHash is the hash of the object as last sent: a class-wide
	// change patches only the objects whose own content changed.
	ObjectHash string
	UpdatedAt  time.Time
}

// GoogleClass is what we know of a Google Wallet class.
type GoogleClass struct {
	Tenant  string
	ClassID string
	// Hash is the hash of the class as last sent.
	Hash string
	// Shown is what the class last showed every holder (start, venue), as
	// the Google package records it (JSON).
	Shown string
	// Notified holds the times of the class's notifying messages of the
	// last 24 h: each reached every pass of the class.
	Notified []time.Time
	// NoticeID is the newest performance notice sent as a class message.
	NoticeID  string
	UpdatedAt time.Time
}

// GoogleRow is a pass and the record of its Google Wallet object.
type GoogleRow struct {
	Pass   Pass
	Object GoogleObject
}

// GoogleStore keeps the state of Google Wallet objects and classes.
type GoogleStore interface {
	// GoogleObject returns the record of a pass's object, or an error
	// wrapping ErrNotFound.
	GoogleObject(ctx context.Context, tenant, serial string) (*GoogleObject, error)
	// PutGoogleObject creates or replaces the record.
	PutGoogleObject(ctx context.Context, o *GoogleObject) error
	// AdvanceGoogleObjects moves several records to their versions, in
	// one transaction, where the store holds an earlier version: their
	// version, what they show, their expiry and their time (an object
	// whose own content did not change; its notifications stay as
	// stored).
	AdvanceGoogleObjects(ctx context.Context, os []*GoogleObject) error
	// GoogleClass returns the record of a class, or an error wrapping
	// ErrNotFound.
	GoogleClass(ctx context.Context, tenant, classID string) (*GoogleClass, error)
	// PutGoogleClass creates or replaces the record of a class.
	PutGoogleClass(ctx context.Context, c *GoogleClass) error
	// GoogleMaxObjectNotifications returns the largest number of notifying
	// messages one object of the class had since since.
	GoogleMaxObjectNotifications(ctx context.Context, tenant, classID string, since time.Time) (int, error)
	// GoogleRowsOfPerformance returns up to limit passes of a performance
	// that have a Google Wallet object, with its record, in serial order
	// after after.
	GoogleRowsOfPerformance(ctx context.Context, tenant string, performanceID int64, after string, limit int) ([]GoogleRow, error)
	// GoogleExpiring returns up to limit objects still shown as ACTIVE
	// whose ExpiresAt is not after now.
	GoogleExpiring(ctx context.Context, now time.Time, limit int) ([]GoogleArgs, error)
}

// Google Wallet callback event types.
const (
	GoogleSaved   = "save" // a user saved the object to their wallet
	GoogleDeleted = "del"  // a user removed it
)

// GoogleCallback is a verified save or delete callback from Google Wallet.
type GoogleCallback struct {
	Tenant     string
	Nonce      string // Google's id of the callback; a replay repeats it
	ObjectID   string
	ClassID    string
	EventType  string // GoogleSaved or GoogleDeleted
	ReceivedAt time.Time
	// Announce: a callback about one of the tenant's passes queues its
	// pass.installed or pass.uninstalled, in the transaction that records
	// it.
	Announce bool
}

// GoogleWalletCounts says how the tenant's Google Wallet objects fared.
type GoogleWalletCounts struct {
	Saves, Deletes int // callbacks received
	// InWallets is how many objects were last saved, not deleted.
	InWallets int
}

// GoogleCallbackStore keeps Google Wallet's save and delete callbacks.
type GoogleCallbackStore interface {
	// RecordGoogleCallback stores c once per nonce and, when the object is
	// one of the tenant's passes, adds an entry to its order's timeline.
	// fresh is false for a nonce already recorded (nothing changes).
	RecordGoogleCallback(ctx context.Context, c GoogleCallback) (fresh bool, err error)
	// GoogleWalletCounts counts the tenant's callbacks.
	GoogleWalletCounts(ctx context.Context, tenant string) (GoogleWalletCounts, error)
}
