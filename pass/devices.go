package pass

import (
	"context"
	"time"
)

// Device is an Apple Wallet device library registered for pass updates.
type Device struct {
	LibraryID string
	PushToken string
}

// MaxDevicesPerPass bounds the devices registered for one pass: a holder's
// phone, watch and tablets, not the rows and install events that whoever
// holds the pass's authentication token could make by inventing devices.
const MaxDevicesPerPass = 10

// DeviceStore keeps the PassKit web service's registrations.
type DeviceStore interface {
	// Register records that device registered for the pass, with its
	// current push token; created is false when it already was. A new
	// registration of a pass that MaxDevicesPerPass devices have already
	// is refused with an error of kind KindForbidden. The follow tasks
	// (the registration's announcement) are written with a new
	// registration, in its transaction, and not otherwise.
	Register(ctx context.Context, tenant string, d Device, passTypeID, serial string, now time.Time, follow ...NewTask) (created bool, err error)
	// Unregister removes a registration and reports whether there was
	// one; removing one that does not exist is not an error. The follow
	// tasks are written when a registration was removed, in the same
	// transaction.
	Unregister(ctx context.Context, tenant, deviceLibraryID, passTypeID, serial string, follow ...NewTask) (removed bool, err error)
	// Registered reports whether the device is registered for the pass.
	Registered(ctx context.Context, tenant, deviceLibraryID, passTypeID, serial string) (bool, error)
	// UpdatedSerials returns the serials registered by the device whose
	// update tag is greater than since (0: all), and the largest tag among
	// them.
	UpdatedSerials(ctx context.Context, tenant, deviceLibraryID, passTypeID string, since int64) ([]string, int64, error)
	// DevicesToPush returns the devices registered for a pass that were
	// not yet pushed for its current version, and that version's update
	// tag.
	DevicesToPush(ctx context.Context, tenant, passTypeID, serial string) ([]Device, int64, error)
	// MarkPushed records that the devices were pushed for the version with
	// update tag tag.
	MarkPushed(ctx context.Context, tenant, passTypeID, serial string, libraryIDs []string, tag int64) error
	// ForgetPushToken removes the registrations of the devices with this
	// push token (APNs said it is gone) made before since (every one when
	// since is zero: a registration made after it is the device's new one)
	// and returns how many went.
	ForgetPushToken(ctx context.Context, tenant, pushToken string, since time.Time) (int64, error)
}
