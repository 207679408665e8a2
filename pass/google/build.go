package google

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/api/walletobjects/v1"

	"walletpass/internal/strs"
	"walletpass/pass"
)

// The object states of Google Wallet.
const (
	StateActive    = "ACTIVE"
	StateCompleted = "COMPLETED"
	StateExpired   = "EXPIRED"
	StateInactive  = "INACTIVE"
)

// Issuer is a tenant's Google Wallet identity and choices.
type Issuer struct {
	Tenant   string
	IssuerID string
	// IssuerName is shown on every pass (Google advises 20 characters or
	// fewer).
	IssuerName string
	// ReEntry keeps a scanned ticket ACTIVE (with a message) instead of
	// COMPLETED.
	ReEntry bool
	// ExpireAfterEvent moves passes to EXPIRED once the event is over
	// (six hours after its end, as the Apple pass's expirationDate).
	ExpireAfterEvent bool
	// InsertOnPayment inserts objects as soon as a pass exists, before the
	// buyer asks for a save link.
	InsertOnPayment bool
	// ImageBaseURL is the public URL under which the template images are
	// served: <ImageBaseURL>/<template>/<file>.
	ImageBaseURL string
	// CallbackURL, when set, is where Google reports that a user saved or
	// deleted an object of a class (the class's callbackOptions.url).
	CallbackURL string
	// Rotation, when set, gives objects a rotating barcode (TOTP) instead
	// of the static one.
	Rotation *Rotation
	// Locale is the language SecuTix's texts are read in (the tenant's
	// secutix.locale): the language tag of the event's name, the venue
	// and the tariff, whatever the holder's language. Default en.
	Locale string
}

// textLocale is the language tag of the texts read from SecuTix.
func (is *Issuer) textLocale() string {
	if is.Locale == "" {
		return "en"
	}
	return is.Locale
}

// Design is what the pass template gives Google Wallet: its background
// colour and which images it has.
type Design struct {
	Template   string
	Background string // "#rrggbb" or ""
	Logo       string // file name of a square image, or ""
	Hero       string // file name of a wide image, or ""
	// LogoVersion and HeroVersion name the images' content (a digest):
	// Google fetches an image once per address, so a changed image gets a
	// new one ("?v=…"), and the class that shows it is patched.
	LogoVersion, HeroVersion string
}

// StateFor is the object state of p at now under the lifecycle matrix:
// voided → INACTIVE; scanned → COMPLETED (ACTIVE with re-entry); past the
// event → EXPIRED when the tenant wants it; otherwise ACTIVE.
func StateFor(is *Issuer, p *pass.Pass, now time.Time) string {
	switch p.Status {
	case pass.StatusVoided:
		return StateInactive
	case pass.StatusUsed:
		if !is.ReEntry {
			return StateCompleted
		}
	}
	if is.ExpireAfterEvent && !now.Before(p.Ticket.Expiry()) {
		return StateExpired
	}
	return StateActive
}

// localized is s in one language, or nil when s is empty. Its
// translations are sent as null: a PATCH merges a LocalizedString into the
// one Google holds, so the translations of an earlier text would stay.
func localized(locale, s string) *walletobjects.LocalizedString {
	if s == "" {
		return nil
	}
	return &walletobjects.LocalizedString{DefaultValue: &walletobjects.TranslatedString{Language: pass.Language(locale), Value: s},
		NullFields: []string{"TranslatedValues"}}
}

// localizedNames is a text SecuTix gives in several languages: the
// tenant's as the default value, the others as translations, whatever the
// holder's language (a class is every holder's); plain when it has one
// (without translations, sent as null as in localized).
func localizedNames(locale, plain string, names pass.LocalText) *walletobjects.LocalizedString {
	if len(names) == 0 {
		return localized(locale, plain)
	}
	tag, def := names.PickTag(locale, "en")
	ls := &walletobjects.LocalizedString{DefaultValue: &walletobjects.TranslatedString{Language: tag, Value: def}}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		if k != tag {
			ls.TranslatedValues = append(ls.TranslatedValues, &walletobjects.TranslatedString{Language: k, Value: names[k]})
		}
	}
	if len(ls.TranslatedValues) == 0 {
		ls.NullFields = []string{"TranslatedValues"}
	}
	return ls
}

// sameInstant reports whether two stamps name the same moment, whatever
// their offsets (a time zone learnt later is no new time).
func sameInstant(a, b string) bool {
	if a == b {
		return true
	}
	ta, erra := time.Parse(time.RFC3339, a)
	tb, errb := time.Parse(time.RFC3339, b)
	return erra == nil && errb == nil && ta.Equal(tb)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// image is a template's image at its public address, described by what,
// a text in the language lang.
func (is *Issuer) image(d Design, file, version, lang, what string) *walletobjects.Image {
	if file == "" || is.ImageBaseURL == "" {
		return nil
	}
	uri := is.ImageBaseURL + "/" + d.Template + "/" + file
	if version != "" {
		uri += "?v=" + url.QueryEscape(version)
	}
	img := &walletobjects.Image{
		SourceUri:          &walletobjects.ImageUri{Uri: uri},
		ContentDescription: localized(lang, what),
	}
	if img.ContentDescription == nil {
		img.NullFields = []string{"ContentDescription"}
	}
	return img
}

// heroImage is the design's hero image, described by the event's name in
// the tenant's language (else English), tagged with the language it is
// in; the one name SecuTix gave, in the holder's language, when it gave
// no languages.
func (is *Issuer) heroImage(d Design, t pass.Ticket) *walletobjects.Image {
	lang, name := t.Event.Names.PickTag(is.textLocale(), "en")
	if name == "" {
		lang, name = cmp.Or(t.Locale, is.textLocale()), t.Event.Name
	}
	return is.image(d, d.Hero, d.HeroVersion, lang, name)
}

// groupingID groups an order's passes in the holder's wallet: the tenant
// and the file id, fitted to an id's 64 characters (fitID) for a long
// tenant id.
func groupingID(tenant, fileID string) string { return fitID(tenant + "-" + fileID) }

// maxEventID is the longest eventId (and groupingId) Google takes.
const maxEventID = 64

// eventID is the eventId of the class classID: Google groups the passes
// of one event by it and asks for the class id, with or without its
// "<issuerId>." (which an issuer's ids all share). It is the class id
// when that fits maxEventID (as every release has sent it), else the id
// without its issuer, fitted (fitID).
func eventID(issuerID, classID string) string {
	if len(classID) <= maxEventID {
		return classID
	}
	return fitID(strings.TrimPrefix(classID, issuerID+"."))
}

// fitID is s when it fits maxEventID, else its start and a hash of the
// whole: as stable as s, and as distinct.
func fitID(s string) string {
	if len(s) <= maxEventID {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:12])
	cut := maxEventID - len(h) - 1
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut-- // a valid id is ASCII; an invalid one is cut on a character
	}
	return s[:cut] + "-" + h
}

// BuildClass is the class of t's performance: event name, venue, times
// with their offsets, logo, hero image and colour. A field the class no
// longer has is sent as null, at any depth (a PATCH merges nested objects
// into what Google holds and clears only what is null).
func BuildClass(is *Issuer, d Design, t pass.Ticket) *walletobjects.EventTicketClass {
	id := ClassID(is.IssuerID, is.Tenant, t)
	c := &walletobjects.EventTicketClass{
		Id:                 id,
		IssuerName:         is.IssuerName,
		EventName:          localizedNames(is.textLocale(), t.Event.Name, t.Event.Names),
		ReviewStatus:       "UNDER_REVIEW",
		HexBackgroundColor: d.Background,
		Logo:               is.image(d, d.Logo, d.LogoVersion, is.textLocale(), is.IssuerName),
		HeroImage:          is.heroImage(d, t),
		DateTime: &walletobjects.EventDateTime{
			Start: stamp(t.Event.Start), End: stamp(t.Event.End), DoorsOpen: stamp(t.Event.Doors),
		},
		EventId: eventID(is.IssuerID, id),
	}
	null := func(field string) { c.NullFields = append(c.NullFields, field) }
	for _, f := range []struct {
		name string
		v    string
	}{{"Start", c.DateTime.Start}, {"End", c.DateTime.End}, {"DoorsOpen", c.DateTime.DoorsOpen}} {
		if f.v == "" {
			c.DateTime.NullFields = append(c.DateTime.NullFields, f.name)
		}
	}
	if c.Logo == nil {
		null("Logo")
	}
	if c.HeroImage == nil {
		null("HeroImage")
	}
	if c.EventId == "" {
		null("EventId")
	}
	if is.CallbackURL != "" {
		c.CallbackOptions = &walletobjects.CallbackOptions{Url: is.CallbackURL}
	} else {
		null("CallbackOptions")
	}
	// The objects' confirmation code is the SecuTix file id, which the
	// Apple pass shows as its order number too.
	c.ConfirmationCodeLabel = "ORDER_NUMBER"
	if v := t.Venue; v.Name != "" {
		addr := strs.JoinNonEmpty(", ", v.Address, strings.TrimSpace(v.PostalCode+" "+v.City), v.Country)
		if addr == "" {
			addr = v.Name
		}
		c.Venue = &walletobjects.EventVenue{Name: localizedNames(is.textLocale(), v.Name, v.Names), Address: localized(is.textLocale(), addr)}
	} else {
		null("Venue")
	}
	if c.HexBackgroundColor == "" {
		null("HexBackgroundColor")
	}
	return c
}

var barcodeTypes = map[pass.Symbology]string{
	pass.SymbologyQR:      "QR_CODE",
	pass.SymbologyPDF417:  "PDF_417",
	pass.SymbologyAztec:   "AZTEC",
	pass.SymbologyCode128: "CODE_128",
	pass.SymbologyCode39:  "CODE_39",
	pass.SymbologyCodabar: "CODABAR",
	pass.SymbologyEAN13:   "EAN_13",
}

// barcodeType is the Google barcode type of a ticket's symbology and
// value. Google's only interleaved 2 of 5 is ITF-14 (14 digits): another
// i2of5 value is a Code 128 of the same value, linear as the gates'
// scanners read. A symbology Google lacks is a QR code.
func barcodeType(s pass.Symbology, value string) string {
	if s == pass.SymbologyI2of5 {
		if len(value) == 14 && strings.Trim(value, "0123456789") == "" {
			return "ITF_14"
		}
		return "CODE_128"
	}
	if t, ok := barcodeTypes[s]; ok {
		return t
	}
	return "QR_CODE"
}

// BuildObject is the object of p in the given state: holder, seat, gate,
// barcode (none once the ticket is voided), face value, grouping per order
// and the validity interval. Fields the ticket no longer has are sent as
// null, at any depth (a seat's row, a barcode's alternate text), so a
// PATCH, which merges nested objects into what Google holds, clears them;
// the object's message list is never sent (messages are appended with
// addMessage).
func BuildObject(is *Issuer, p *pass.Pass, state string) *walletobjects.EventTicketObject {
	t := p.Ticket
	o := &walletobjects.EventTicketObject{
		Id:               ObjectID(is.IssuerID, is.Tenant, p.SerialNumber),
		ClassId:          ClassID(is.IssuerID, is.Tenant, t),
		State:            state,
		TicketHolderName: t.HolderName,
		TicketType:       localized(is.textLocale(), t.Tariff),
	}
	null := func(field string) { o.NullFields = append(o.NullFields, field) }
	if t.TicketID != 0 {
		o.TicketNumber = strconv.FormatInt(t.TicketID, 10)
	} else {
		null("TicketNumber")
	}
	if o.TicketHolderName == "" {
		null("TicketHolderName")
	}
	if o.TicketType == nil {
		null("TicketType")
	}
	switch {
	case t.Barcode != "" && state != StateInactive && is.Rotation != nil:
		// The secret goes to Google through the API only (the save link
		// names the object); a static barcode beside it would give away
		// what the rotation protects.
		o.RotatingBarcode = is.Rotation.barcode(p.SerialNumber, t.Barcode)
		null("Barcode")
	case t.Barcode != "" && state != StateInactive:
		// No alternate text: an older release wrote the barcode there, and
		// Google would keep it under a patched barcode.
		o.Barcode = &walletobjects.Barcode{Type: barcodeType(t.Symbology, t.Barcode), Value: t.Barcode, NullFields: []string{"AlternateText"}}
		null("RotatingBarcode")
	default:
		null("Barcode")
		null("RotatingBarcode")
	}
	seat := &walletobjects.EventSeat{
		Section: localized(is.textLocale(), strs.JoinNonEmpty(" ", t.Seat.Area, t.Seat.Block)),
		Row:     localized(is.textLocale(), t.Seat.Row),
		Seat:    localized(is.textLocale(), t.Seat.Number),
		Gate:    localized(is.textLocale(), t.Venue.Entrance),
	}
	if seat.Section != nil || seat.Row != nil || seat.Seat != nil || seat.Gate != nil {
		// A reseat to a standing area has no row or seat: sent as null,
		// they go, where left out they would stay.
		for _, f := range []struct {
			name string
			v    *walletobjects.LocalizedString
		}{{"Section", seat.Section}, {"Row", seat.Row}, {"Seat", seat.Seat}, {"Gate", seat.Gate}} {
			if f.v == nil {
				seat.NullFields = append(seat.NullFields, f.name)
			}
		}
		o.SeatInfo = seat
	} else {
		null("SeatInfo")
	}
	if t.Price.Thousandths != 0 && t.Price.Currency != "" {
		o.FaceValue = &walletobjects.Money{Micros: t.Price.Thousandths * 1000, CurrencyCode: t.Price.Currency}
	} else {
		null("FaceValue")
	}
	if t.FileID != 0 {
		ref := strconv.FormatInt(t.FileID, 10)
		o.ReservationInfo = &walletobjects.EventReservationInfo{ConfirmationCode: ref}
		o.GroupingInfo = &walletobjects.GroupingInfo{GroupingId: groupingID(is.Tenant, ref)}
	} else {
		null("ReservationInfo")
		null("GroupingInfo")
	}
	// No validTimeInterval: the time is the class's, so that a moved
	// performance is one class patch, not one patch per object; the
	// expiry (ExpireAfterEvent) is our own Expire, from the record.
	null("ValidTimeInterval")
	return o
}

// Seen is what the holder was last shown, to tell what changed.
type Seen struct {
	Start  string `json:"start,omitempty"`
	Venue  string `json:"venue,omitempty"`
	Seat   string `json:"seat,omitempty"`
	Gate   string `json:"gate,omitempty"`
	Status string `json:"status,omitempty"`
}

// SeenOf is what p shows a holder.
func SeenOf(p *pass.Pass) Seen {
	t := p.Ticket
	return Seen{
		Start:  stamp(t.Event.Start),
		Venue:  t.Venue.Name,
		Seat:   seatText(t),
		Gate:   t.Venue.Entrance,
		Status: string(p.Status),
	}
}

func seatText(t pass.Ticket) string {
	w := pass.WordsFor(t.Locale)
	var parts []string
	if s := strs.JoinNonEmpty(" ", t.Seat.Area, t.Seat.Block); s != "" {
		parts = append(parts, s)
	}
	if t.Seat.Row != "" {
		parts = append(parts, w.Row+" "+t.Seat.Row)
	}
	if t.Seat.Number != "" {
		parts = append(parts, w.Seat+" "+t.Seat.Number)
	}
	return strings.Join(parts, ", ")
}

// Message is a message for the holder, and whether it should notify.
type Message struct {
	ID     string
	Header string
	Body   string
	Notify bool
	// tells is what the holder has seen once the message is sent (its
	// part of Seen), so that a sync that fails after it does not send it
	// again.
	tells func(*Seen)
}

// Messages says what to tell the holder of p, who last saw before. A
// change of seat or gate and a cancellation notify; a scan is a silent
// message. A new time or venue is the class's to tell (ClassMessages):
// it reaches every holder of the performance at once.
func Messages(is *Issuer, before Seen, p *pass.Pass, now time.Time) []Message {
	after := SeenOf(p)
	t := p.Ticket
	w := words(t.Locale)
	id := func(what string) string { return fmt.Sprintf("v%d-%s", p.Version, what) }
	var out []Message
	if after.Status != before.Status {
		if before.Status == string(pass.StatusVoided) {
			// A cancellation undone (a reprint brought the ticket back):
			// the holder was told it was cancelled.
			out = append(out, Message{ID: id("valid"), Header: w.ValidAgainHead, Body: w.ValidAgainBody, Notify: true,
				tells: func(s *Seen) { s.Status = string(pass.StatusActive) }}) // a scan's message may follow
		}
		switch p.Status {
		case pass.StatusVoided:
			return []Message{{ID: id("cancelled"), Header: w.CancelledHead, Body: w.CancelledBody, Notify: true,
				tells: func(s *Seen) { s.Status = after.Status }}}
		case pass.StatusUsed:
			at := now
			if !t.UsedAt.IsZero() {
				at = t.UsedAt // the scan's time: a sync may come later
			}
			if t.Event.TimeZone != "" {
				if loc, err := t.Event.Location(); err == nil {
					at = at.In(loc)
				}
			} else if !t.Event.Start.IsZero() {
				at = at.In(t.Event.Start.Location())
			}
			head := w.UsedHead
			if is.ReEntry {
				head = w.CheckedInHead
			}
			out = append(out, Message{ID: id("scanned"), Header: head, Body: fmt.Sprintf(w.ScannedBody, at.Format("15:04")),
				tells: func(s *Seen) { s.Status = after.Status }})
		}
	}
	if before.Seat != after.Seat && after.Seat != "" {
		out = append(out, Message{ID: id("seat"), Header: w.SeatHead, Body: after.Seat, Notify: true,
			tells: func(s *Seen) { s.Seat = after.Seat }})
	}
	if before.Gate != after.Gate && after.Gate != "" {
		out = append(out, Message{ID: id("gate"), Header: w.GateHead, Body: after.Gate, Notify: true,
			tells: func(s *Seen) { s.Gate = after.Gate }})
	}
	return out
}

func words(locale string) pass.GoogleWords { return pass.WordsFor(locale).Google }

// ClassSeen is what a class last showed every holder of the performance.
type ClassSeen struct {
	Start string `json:"start,omitempty"`
	Venue string `json:"venue,omitempty"`
}

// classSeenOf is what the class shows of t's performance, in the tenant's
// language (locale): the class is every holder's, whatever the language
// of the holder whose pass sends it.
func classSeenOf(locale string, t pass.Ticket) ClassSeen {
	return ClassSeen{Start: stamp(t.Event.Start), Venue: inLocale(locale, t.Venue.Name, t.Venue.Names)}
}

// inLocale is a name in locale when names has it (else in English, else
// its first), or plain when there are no names: a ticket's plain names
// are in its holder's language.
func inLocale(locale, plain string, names pass.LocalText) string {
	if v := names.Pick(locale, "en"); v != "" {
		return v
	}
	return plain
}

// ClassMessage is a message to every holder of a class, in several
// languages.
type ClassMessage struct {
	ID     string
	Header *walletobjects.LocalizedString
	Body   *walletobjects.LocalizedString
	Notify bool
	// tells is what every holder has seen once the message is sent (its
	// part of ClassSeen); nil for a notice.
	tells func(*ClassSeen)
}

// messageLanguages are the languages the class messages walletpass writes
// itself are sent in.
var messageLanguages = []string{"en", "fr", "de"}

// multi is a LocalizedString of text per language, with def's as the
// default value.
func multi(def string, text func(lang string) string) *walletobjects.LocalizedString {
	def = pass.Language(def)
	ls := &walletobjects.LocalizedString{DefaultValue: &walletobjects.TranslatedString{Language: def, Value: text(def)}}
	for _, l := range messageLanguages {
		if l != def {
			ls.TranslatedValues = append(ls.TranslatedValues, &walletobjects.TranslatedString{Language: l, Value: text(l)})
		}
	}
	return ls
}

// ClassMessages says what to tell every holder when the class showed
// before and now shows t's performance: a new time or venue notifies.
func ClassMessages(locale string, before ClassSeen, t pass.Ticket) []ClassMessage {
	after := classSeenOf(locale, t)
	id := func(what, v string) string {
		sum := sha256.Sum256([]byte(v))
		return what + "-" + hex.EncodeToString(sum[:6])
	}
	var out []ClassMessage
	if !sameInstant(before.Start, after.Start) && !t.Event.Start.IsZero() {
		start := t.Event.Start.Format("2006-01-02 15:04")
		out = append(out, ClassMessage{ID: id("time", after.Start),
			Header: multi(locale, func(l string) string { return words(l).TimeHead }),
			Body:   multi(locale, func(l string) string { return fmt.Sprintf(words(l).TimeBody, start) }), Notify: true,
			tells: func(s *ClassSeen) { s.Start = after.Start }})
	}
	// A venue is the same in another of its languages (what a class showed
	// when a holder's language decided it).
	sameVenue := before.Venue == after.Venue || before.Venue == t.Venue.Name || slices.Contains(slices.Collect(maps.Values(t.Venue.Names)), before.Venue)
	if !sameVenue && after.Venue != "" {
		out = append(out, ClassMessage{ID: id("venue", after.Venue),
			Header: multi(locale, func(l string) string { return words(l).VenueHead }),
			Body:   localized(locale, after.Venue), Notify: true,
			tells: func(s *ClassSeen) { s.Venue = after.Venue }})
	}
	return out
}

// NoticeMessage is an organiser's notice as a class message: its
// languages as translations, the tenant's language (else English, else
// the first) as the default; without a title, a heading in our words.
func NoticeMessage(locale string, n pass.Notice) ClassMessage {
	text := func(lt pass.LocalText) *walletobjects.LocalizedString {
		def := lt.Pick(locale, "en")
		ls := &walletobjects.LocalizedString{}
		for _, lang := range slices.Sorted(maps.Keys(lt)) {
			ts := &walletobjects.TranslatedString{Language: lang, Value: lt[lang]}
			if ls.DefaultValue == nil && lt[lang] == def {
				ls.DefaultValue = ts
				continue
			}
			ls.TranslatedValues = append(ls.TranslatedValues, ts)
		}
		return ls
	}
	m := ClassMessage{ID: "notice-" + n.ID, Body: text(n.Body), Notify: true}
	if len(n.Header) > 0 {
		m.Header = text(n.Header)
	} else {
		m.Header = multi(locale, func(l string) string { return words(l).NoticeHead })
	}
	return m
}
