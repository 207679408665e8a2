package pass

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Symbology is the barcode format printed on a ticket.
type Symbology string

// The barcode formats Apple Wallet and Google Wallet both render.
const (
	SymbologyQR      Symbology = "qr"
	SymbologyPDF417  Symbology = "pdf417"
	SymbologyAztec   Symbology = "aztec"
	SymbologyCode128 Symbology = "code128"
	// iOS 27's formats: older iOS shows a QR code of the same value (the
	// pass lists it after them).
	SymbologyCode39  Symbology = "code39"
	SymbologyCodabar Symbology = "codabar"
	SymbologyEAN13   Symbology = "ean13"
	SymbologyI2of5   Symbology = "i2of5"
)

// Valid reports whether s is one of the known symbologies.
func (s Symbology) Valid() bool {
	return s.Legacy() || s == SymbologyCode39 || s == SymbologyCodabar || s == SymbologyEAN13 || s == SymbologyI2of5
}

// Legacy reports whether every iOS shows s (the formats before iOS 27).
func (s Symbology) Legacy() bool {
	switch s {
	case SymbologyQR, SymbologyPDF417, SymbologyAztec, SymbologyCode128:
		return true
	}
	return false
}

// checkBarcode returns what is wrong with value in symbology s, or "".
func (s Symbology) checkBarcode(value string) string {
	only := func(allowed string) bool {
		for _, r := range value {
			if !strings.ContainsRune(allowed, r) {
				return false
			}
		}
		return true
	}
	const digits = "0123456789"
	switch s {
	case SymbologyCode128:
		if !isPrintableASCII(value) {
			return "barcode must be printable ASCII for code128"
		}
	case SymbologyCode39:
		if !only(digits + "ABCDEFGHIJKLMNOPQRSTUVWXYZ -.$/+%") {
			return "barcode must be digits, capital letters, space or - . $ / + % for code39"
		}
	case SymbologyCodabar:
		if !only(digits + "-$:/.+") {
			return "barcode must be digits or - $ : / . + for codabar"
		}
	case SymbologyEAN13:
		if len(value) != 13 || !only(digits) {
			return "barcode must be 13 digits for ean13"
		}
	case SymbologyI2of5:
		if len(value)%2 != 0 || !only(digits) {
			return "barcode must be an even number of digits for i2of5"
		}
	}
	return ""
}

// EventKind says what sort of event a ticket is for; it picks the wording
// and the semantic tags of the pass.
type EventKind string

// The event kinds.
const (
	EventConcert    EventKind = "concert"
	EventFestival   EventKind = "festival"
	EventSports     EventKind = "sports"
	EventTheatre    EventKind = "theatre"
	EventConference EventKind = "conference"
	EventMovie      EventKind = "movie"
	EventGeneric    EventKind = "generic"
)

// Valid reports whether k is a known kind.
func (k EventKind) Valid() bool {
	switch k {
	case EventConcert, EventFestival, EventSports, EventTheatre, EventConference, EventMovie, EventGeneric:
		return true
	}
	return false
}

// TicketState is the state of a ticket as far as a pass is concerned.
type TicketState string

// The ticket states. SecuTix's many states map onto these three.
const (
	TicketValid     TicketState = "VALID"     // paid, usable
	TicketUsed      TicketState = "USED"      // validated (scanned) at the gate
	TicketCancelled TicketState = "CANCELLED" // cancelled, invalidated or refunded
)

// Valid reports whether s is a known state.
func (s TicketState) Valid() bool {
	switch s {
	case TicketValid, TicketUsed, TicketCancelled:
		return true
	}
	return false
}

// Team is one side of a sports match.
type Team struct {
	Name         string `json:"name,omitempty"`
	Abbreviation string `json:"abbreviation,omitempty"`
	Location     string `json:"location,omitempty"`
}

// Event is what a ticket admits to.
type Event struct {
	// PerformanceID is SecuTix's id of the performance (one date of a
	// show), when known: tickets of one performance share a Google Wallet
	// class.
	PerformanceID int64  `json:"performanceId,omitempty"`
	Name          string `json:"name"` // in the holder's language when SecuTix has it
	// Names are the event's name in every language SecuTix gives (BCP 47
	// tag → name); empty when it gives one text.
	Names      LocalText `json:"names,omitempty"`
	Kind       EventKind `json:"kind"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	Doors      time.Time `json:"doors,omitzero"`
	TimeZone   string    `json:"timeZone,omitempty"` // IANA name, e.g. Europe/Zurich
	Performers []string  `json:"performers,omitempty"`
	HomeTeam   Team      `json:"homeTeam,omitzero"`
	AwayTeam   Team      `json:"awayTeam,omitzero"`
	League     string    `json:"league,omitempty"`
	Sport      string    `json:"sport,omitempty"`
}

// Venue is where the event takes place.
type Venue struct {
	Name string `json:"name"` // in the holder's language when SecuTix has it
	// Names are the venue's name in every language SecuTix gives.
	Names      LocalText `json:"names,omitempty"`
	Address    string    `json:"address,omitempty"`
	City       string    `json:"city,omitempty"`
	PostalCode string    `json:"postalCode,omitempty"`
	Country    string    `json:"country,omitempty"` // ISO 3166 alpha-2
	Latitude   *float64  `json:"latitude,omitempty"`
	Longitude  *float64  `json:"longitude,omitempty"`
	Entrance   string    `json:"entrance,omitempty"` // entrance, gate or door
	Room       string    `json:"room,omitempty"`
}

// Seat locates a numbered seat; all parts are empty for a standing ticket.
type Seat struct {
	Area   string `json:"area,omitempty"`
	Block  string `json:"block,omitempty"`
	Row    string `json:"row,omitempty"`
	Number string `json:"number,omitempty"`
}

// Seated reports whether the seat names a row or a number.
func (s Seat) Seated() bool { return s.Row != "" || s.Number != "" }

// Money is an amount in thousandths of the currency unit, as SecuTix counts.
type Money struct {
	Thousandths int64  `json:"thousandths"`
	Currency    string `json:"currency"` // ISO 4217
}

// Decimal returns the amount with two decimals, e.g. "45.00".
func (m Money) Decimal() string {
	neg := m.Thousandths < 0
	v := m.Thousandths
	if neg {
		v = -v
	}
	cents := (v + 5) / 10
	s := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	if neg {
		s = "-" + s
	}
	return s
}

// Ticket holds everything a pass shows about one SecuTix ticket.
type Ticket struct {
	Tenant           string      `json:"tenant"`
	FileID           int64       `json:"fileId"`
	OrderID          int64       `json:"orderId"`
	OrderSecretToken string      `json:"orderSecretToken"`
	MovementID       int64       `json:"movementId"`
	TicketID         int64       `json:"ticketId"`
	Barcode          string      `json:"barcode"`
	Symbology        Symbology   `json:"symbology,omitempty"`
	Event            Event       `json:"event"`
	Venue            Venue       `json:"venue"`
	Seat             Seat        `json:"seat,omitzero"`
	Tariff           string      `json:"tariff,omitempty"`
	Price            Money       `json:"price,omitzero"`
	HolderName       string      `json:"holderName,omitempty"`
	HolderEmail      string      `json:"holderEmail,omitempty"` // personal data: never logged, not shown by default
	Locale           string      `json:"locale,omitempty"`      // BCP 47, e.g. fr-CH
	State            TicketState `json:"state"`
	HolderGeneration int         `json:"holderGeneration,omitempty"`
	// Product is what SecuTix says of the ticket's product: what template
	// rules choose by (TemplateChoice). Not shown on the pass.
	Product Product `json:"product,omitzero"`
	// Notice is the organiser's newest message to the holders of the
	// performance, in the holder's language (set by the Service from the
	// NoticeStore; shown on the back of the pass).
	Notice string `json:"notice,omitempty"`
	// Upcoming are the events a ticket admits to besides its own (a season
	// or multi-event ticket): iOS 26 lists them on the one pass.
	Upcoming []UpcomingEvent `json:"upcoming,omitempty"`
	// ReadAt is when SecuTix was read for this ticket (its order request
	// went out; zero when unknown, as for an order mapped from a
	// webhook's body): a sync whose read is older than the one a pass
	// was made from leaves that pass alone (Syncer), so that two syncs of
	// one order that overlap cannot undo the later one's void or
	// transfer.
	ReadAt time.Time `json:"readAt,omitzero"`
	// ScanAnnounced: the scan that makes the ticket used was announced
	// (ticket.scanned) by walletpass's gate when it was made; a ticket
	// SecuTix's own gates marked used is announced with its pass's new
	// version (FollowUps). Set by the sync, never stored.
	ScanAnnounced bool `json:"-"`
	// UsedAt is when the ticket was used, as the gate that used it
	// reported (walletpass's, or SecuTix's VALIDATED webhook); zero when
	// SecuTix said it is used without a hint of when. Google Wallet's
	// "scanned at" message shows it, not the time of its own sync, which
	// may come later.
	UsedAt time.Time `json:"usedAt,omitzero"`
	// VoidOnly: the ticket (always cancelled) only voids a pass made of
	// its movement earlier; none is made for it (the Syncer skips it when
	// the movement has no pass, and voids the pass there is rather than
	// make one for a new holder). The SecuTix mapping sets it for a
	// cancelled SIMPLE_PRODUCT line or unpaid hold (earlier releases made
	// passes of those), a cancelled ticket with a stand-in date
	// (EventUnknown), and a movement whose new ticket is not printed yet,
	// mapped from the cancelled ticket it replaces. Set by the mapping,
	// never stored: Validate and a pass's JSON ignore it.
	VoidOnly bool `json:"-"`
	// EventUnknown: Event is a stand-in (the SecuTix mapping dated a
	// cancelled ticket by its validity or its order's time, without its
	// performance, which the catalogue no longer holds): the Syncer gives
	// the ticket the Event its pass already shows (its date, performance
	// and time zone), so that the voided pass shows what it showed and
	// keeps its Google Wallet class. Set by the mapping, never stored.
	EventUnknown bool `json:"-"`
}

// MultiEvent reports whether t admits to several events (a season
// ticket): an entry to one of them does not use it up.
func (t Ticket) MultiEvent() bool { return len(t.Upcoming) > 0 }

// AssumedLength is how long an event whose end is unknown (SecuTix's
// duration is optional) is taken to last, everywhere an end is needed.
const AssumedLength = 6 * time.Hour

// EventEnd is when an event that starts at start and ends at end (zero
// when unknown) is taken to end: end, or start + AssumedLength; zero
// when both are unknown.
func EventEnd(start, end time.Time) time.Time {
	if end.IsZero() && !start.IsZero() {
		return start.Add(AssumedLength)
	}
	return end
}

// LastEnd is when the last of t's events ends (EventEnd): its own, or for
// a season ticket its last upcoming event when that is later; zero when
// none is dated.
func (t Ticket) LastEnd() time.Time {
	last := EventEnd(t.Event.Start, t.Event.End)
	for _, u := range t.Upcoming {
		if e := EventEnd(u.Start, u.End); e.After(last) {
			last = e
		}
	}
	return last
}

// Expiry is when a pass of t shows as expired (Apple Wallet's
// expirationDate; Google Wallet's EXPIRED, for a tenant that wants it):
// six hours after its last event ends (LastEnd).
func (t Ticket) Expiry() time.Time {
	return t.LastEnd().Add(6 * time.Hour)
}

// UpcomingEvent is one of the events of a season or multi-event ticket.
type UpcomingEvent struct {
	ID    string    `json:"id"` // unique within the ticket
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	Venue string    `json:"venue,omitempty"` // the ticket's venue when empty
}

// MaxUpcoming bounds a ticket's upcoming events.
const MaxUpcoming = 50

// Product is a ticket's SecuTix product.
type Product struct {
	Code          string `json:"code,omitempty"`
	FamilyType    string `json:"familyType,omitempty"`    // SINGLE_ENTRY, PASS, …
	FamilySubType string `json:"familySubType,omitempty"` // OPEN_PASS, …
	EventID       int64  `json:"eventId,omitempty"`
	// Comfort are the event's comfort variables as NAME=value.
	Comfort []string `json:"comfort,omitempty"`
}

// MaxTicketJSON is the largest ticket document ParseTicket accepts.
const MaxTicketJSON = 64 << 10

// ParseTicket decodes a ticket from JSON, fills defaults and validates it.
// It returns an error of kind KindInvalid naming the first bad field.
func ParseTicket(data []byte) (Ticket, error) {
	if len(data) > MaxTicketJSON {
		return Ticket{}, Errorf(KindTooLarge, "ticket: document is %d bytes, the limit is %d", len(data), MaxTicketJSON)
	}
	var t Ticket
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Ticket{}, Wrap(KindInvalid, err, "ticket: malformed JSON")
	}
	if dec.More() {
		return Ticket{}, Errorf(KindInvalid, "ticket: trailing data after the JSON object")
	}
	t.Normalize()
	if err := t.Validate(); err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// Normalize fills defaults: QR symbology, generic event kind, valid state,
// English locale, and the event's IANA time zone applied to its times when
// it is known.
func (t *Ticket) Normalize() {
	if t.Symbology == "" {
		t.Symbology = SymbologyQR
	}
	if t.Event.Kind == "" {
		t.Event.Kind = EventGeneric
	}
	if t.State == "" {
		t.State = TicketValid
	}
	if t.Locale == "" {
		t.Locale = "en"
	}
	if t.Event.TimeZone != "" {
		if loc, err := t.Event.Location(); err == nil {
			for _, p := range []*time.Time{&t.Event.Start, &t.Event.End, &t.Event.Doors} {
				if !p.IsZero() {
					*p = p.In(loc)
				}
			}
		}
	}
}

// Validate checks that the ticket can become a pass. It returns an error of
// kind KindInvalid naming every bad field.
func (t Ticket) Validate() error {
	var probs []string
	if t.Tenant == "" {
		probs = append(probs, "tenant is required")
	}
	if t.MovementID == 0 {
		probs = append(probs, "movementId is required")
	}
	if t.Barcode == "" && t.State != TicketCancelled {
		probs = append(probs, "barcode is required")
	}
	if len(t.Barcode) > 2048 {
		probs = append(probs, "barcode is longer than 2048 bytes")
	}
	if !t.Symbology.Valid() {
		probs = append(probs, fmt.Sprintf("symbology %q is not one of qr, pdf417, aztec, code128, code39, codabar, ean13, i2of5", t.Symbology))
	}
	if p := t.Symbology.checkBarcode(t.Barcode); p != "" && t.Barcode != "" {
		probs = append(probs, p)
	}
	if strings.TrimSpace(t.Event.Name) == "" {
		probs = append(probs, "event.name is required")
	}
	if !t.Event.Kind.Valid() {
		probs = append(probs, fmt.Sprintf("event.kind %q is unknown", t.Event.Kind))
	}
	if t.Event.Start.IsZero() {
		probs = append(probs, "event.start is required")
	}
	if !t.Event.End.IsZero() && t.Event.End.Before(t.Event.Start) {
		probs = append(probs, "event.end is before event.start")
	}
	if t.Event.TimeZone != "" {
		if _, err := loadLocation(t.Event.TimeZone); err != nil {
			probs = append(probs, fmt.Sprintf("event.timeZone %q is not a known time zone", t.Event.TimeZone))
		}
	}
	if strings.TrimSpace(t.Venue.Name) == "" {
		probs = append(probs, "venue.name is required")
	}
	if lat := t.Venue.Latitude; lat != nil && (*lat < -90 || *lat > 90) {
		probs = append(probs, "venue.latitude is out of range")
	}
	if lon := t.Venue.Longitude; lon != nil && (*lon < -180 || *lon > 180) {
		probs = append(probs, "venue.longitude is out of range")
	}
	if (t.Venue.Latitude == nil) != (t.Venue.Longitude == nil) {
		probs = append(probs, "venue.latitude and venue.longitude go together")
	}
	if t.Price.Thousandths != 0 && len(t.Price.Currency) != 3 {
		probs = append(probs, "price.currency must be a 3-letter ISO 4217 code")
	}
	if !t.State.Valid() {
		probs = append(probs, fmt.Sprintf("state %q is not one of VALID, USED, CANCELLED", t.State))
	}
	if t.HolderGeneration < 0 {
		probs = append(probs, "holderGeneration is negative")
	}
	if len(t.Upcoming) > MaxUpcoming {
		probs = append(probs, fmt.Sprintf("more than %d upcoming events", MaxUpcoming))
	}
	ids := map[string]bool{}
	for i, u := range t.Upcoming {
		switch {
		case u.ID == "" || len(u.ID) > 64 || ids[u.ID]:
			probs = append(probs, fmt.Sprintf("upcoming[%d].id must be unique and 1 to 64 characters", i))
		case strings.TrimSpace(u.Name) == "":
			probs = append(probs, fmt.Sprintf("upcoming[%d].name is required", i))
		case u.Start.IsZero():
			probs = append(probs, fmt.Sprintf("upcoming[%d].start is required", i))
		case !u.End.IsZero() && u.End.Before(u.Start):
			probs = append(probs, fmt.Sprintf("upcoming[%d].end is before its start", i))
		}
		ids[u.ID] = true
	}
	if len(probs) > 0 {
		return Errorf(KindInvalid, "ticket: %s", strings.Join(probs, "; "))
	}
	return nil
}

var locations sync.Map // IANA name -> *time.Location

// Location is the event's time zone (Event.TimeZone, an IANA name), from
// a cache: time.LoadLocation reads the zone file on every call. An
// unknown name is an error of kind KindInvalid.
func (e Event) Location() (*time.Location, error) {
	loc, err := loadLocation(e.TimeZone)
	if err != nil {
		return nil, Wrap(KindInvalid, err, "unknown time zone "+strconv.Quote(e.TimeZone))
	}
	return loc, nil
}

// loadLocation is time.LoadLocation with a cache. Names that fail are not
// cached (they come from outside).
func loadLocation(name string) (*time.Location, error) {
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err // not cached: names come from outside
	}
	locations.Store(name, loc)
	return loc, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Language is the lowercase language of a locale such as "fr-CH" or
// "fr_CH" ("fr"); "en" when there is none.
func Language(locale string) string {
	l, _, _ := strings.Cut(strings.ReplaceAll(locale, "_", "-"), "-")
	if l = strings.ToLower(strings.TrimSpace(l)); l == "" {
		return "en"
	}
	return l
}
