package pass

// PassQuery selects a tenant's passes for the organisers' passes API. Zero
// fields select everything; Limit is at most MaxPageSize.
type PassQuery struct {
	Tenant        string
	FileID        int64
	OrderID       int64
	PerformanceID int64
	MovementID    int64
	TicketID      int64
	Status        Status // "" for any
	// Installed is "" (any), "apple" (a device registered for updates),
	// "google" (saved in Google Wallet), "wallet" (either) or "none".
	Installed string
	// Template is the template's name ("" for any).
	Template string
	// Sort orders the page (none: oldest first); ties go by serial number.
	Sort          []PassSort
	Offset, Limit int
}

// PassSort is one key of a passes listing's order: SortCreated or
// SortUpdated, newest first when Desc.
type PassSort struct {
	By   string
	Desc bool
}

// The keys a passes listing sorts by.
const (
	SortCreated = "created"
	SortUpdated = "updated"
)

// MaxPageSize bounds a page of the passes API.
const MaxPageSize = 500

// Installs says where a pass is installed.
type Installs struct {
	// AppleDevices is how many devices registered for its updates (a
	// device that removes the pass unregisters).
	AppleDevices int
	// GoogleState is its Google Wallet object's state (ACTIVE, COMPLETED,
	// EXPIRED, INACTIVE), "" when no object was made.
	GoogleState string
	// GoogleObjectID is the Google Wallet object's id, "" when none.
	GoogleObjectID string
	// GoogleSaved: Google's last callback for the object was a save.
	GoogleSaved bool
}

// PassListing is a pass with where it is installed.
type PassListing struct {
	Pass     Pass
	Installs Installs
}
