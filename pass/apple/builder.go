package apple

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smallstep/pkcs7"

	"walletpass/pass"
)

// Limits of the files this package makes.
const (
	MaxBundlePasses    = 10
	maxBundleBytes     = 150 << 20
	minAuthTokenLength = 16
)

// IssuerConfig is what an Issuer needs: the tenant's Apple identifiers, its
// signing identity and where its PassKit web service lives.
type IssuerConfig struct {
	PassTypeID       string
	TeamID           string
	OrganizationName string
	// WebServiceURL is the base URL of the PassKit web service for this
	// tenant (…/api/{tenant}/apple). Empty makes passes that never update.
	WebServiceURL string
	// AllowHTTP permits an http:// WebServiceURL; for development only.
	AllowHTTP bool
	// ReEntry keeps a scanned ticket's pass valid (multi-entry tickets);
	// by default a used ticket's pass is voided.
	ReEntry bool
	// SharingProhibited removes the Share button: "named" for tickets
	// with a holder's name, "always", or "" / "never".
	SharingProhibited string
	// NFC, when set, makes passes NFC tickets, which is what the iOS 18
	// poster layout needs: without it a pass stays a classic event ticket.
	// Only a Pass Type ID certificate Apple enabled for NFC may sign them.
	NFC *NFC
	// EventGuide are the poster event guide's entries by venue, event
	// and performance; a poster pass shows them when it has two or more.
	EventGuide []GuideRule
	Cert       *x509.Certificate
	Key        crypto.Signer
	WWDR       *x509.Certificate
	// Clock is the clock of relevance and expiry dates.
	Clock pass.Clock
}

// NFC is a tenant's NFC pass setup.
type NFC struct {
	// EncryptionPublicKey is the terminal's ECDH P-256 public key as the
	// Base64 of its X.509 SubjectPublicKeyInfo (a PEM's body; its line
	// breaks and indentation are dropped).
	EncryptionPublicKey string
	// Message says what the pass sends to the terminal: "barcode" (the
	// ticket's barcode, the default), "ticketId" or "movementId"; at most
	// 64 bytes.
	Message string
	// RequiresAuthentication makes the holder authenticate (Face ID, Touch
	// ID) for each tap; such passes also forbid sharing.
	RequiresAuthentication bool
}

// DevNFCKey returns a new terminal key for sample NFC passes: a P-256
// public key as the Base64 of its SubjectPublicKeyInfo (its private half
// is dropped: no terminal reads these passes).
func DevNFCKey() (string, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// AsNFC returns the issuer as an NFC tenant's: is itself when it has an
// NFC setup, else a copy with a new development terminal key (DevNFCKey)
// and authentication, for samples of the poster layout.
func (is *Issuer) AsNFC() (*Issuer, error) {
	if is.cfg.NFC != nil {
		return is, nil
	}
	key, err := DevNFCKey()
	if err != nil {
		return nil, fmt.Errorf("apple: sample NFC key: %w", err)
	}
	cfg := is.cfg
	cfg.NFC = &NFC{EncryptionPublicKey: key, RequiresAuthentication: true}
	return NewIssuer(cfg)
}

// CheckNFC returns an error naming what is wrong with n. The key must be
// an ECDH P-256 public key in an X.509 SubjectPublicKeyInfo, as Base64: a
// PEM's body, which may keep its line breaks and indentation (the pass
// gets it as one line, see NewIssuer), without the BEGIN and END lines.
func CheckNFC(n NFC) error {
	der, err := base64.StdEncoding.DecodeString(compactBase64(n.EncryptionPublicKey))
	if err != nil {
		return fmt.Errorf("nfc.encryptionPublicKey is not Base64 (the body of a PEM, without its BEGIN and END lines): %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return fmt.Errorf("nfc.encryptionPublicKey is not an X.509 SubjectPublicKeyInfo: %v", err)
	}
	// crypto/x509 gives a P-256 key as *ecdsa.PublicKey whatever it is
	// for (an X.509 key names its curve, not ECDSA or ECDH); the
	// *ecdh.PublicKey it gives is an X25519 key, which Wallet cannot use.
	if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return fmt.Errorf("nfc.encryptionPublicKey must be a P-256 key (for ECDH), not %s", keyKind(pub))
	}
	switch n.Message {
	case "", "barcode", "ticketId", "movementId":
	default:
		return fmt.Errorf("nfc.message %q must be barcode, ticketId or movementId", n.Message)
	}
	return nil
}

// compactBase64 is s without white space: a PEM body's line breaks and
// indentation, which Wallet would not decode.
func compactBase64(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// keyKind names a public key's algorithm for an error message.
func keyKind(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "an EC key on " + k.Curve.Params().Name
	case *ecdh.PublicKey:
		return "an X25519 key"
	case *rsa.PublicKey:
		return "an RSA key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	default:
		return fmt.Sprintf("a %T", pub)
	}
}

// nfcMessage is what the pass of t sends to the terminal; "" when the
// ticket has none (or more than 64 bytes of it: Wallet would cut it).
func (n *NFC) message(t pass.Ticket) string {
	var m string
	switch n.Message {
	case "ticketId":
		m = strconv.FormatInt(t.TicketID, 10)
	case "movementId":
		m = strconv.FormatInt(t.MovementID, 10)
	default:
		m = t.Barcode
	}
	if len(m) > 64 || m == "0" {
		return ""
	}
	return m
}

// Issuer renders, validates, signs and packages passes for one tenant. It
// is safe for concurrent use.
type Issuer struct {
	cfg IssuerConfig
	// signer names the signing identity (see signerID).
	signer string
}

// NewIssuer checks cfg and returns an Issuer. It returns an error of kind
// pass.KindInvalid listing every problem.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	var probs []string
	if cfg.PassTypeID == "" {
		probs = append(probs, "passTypeIdentifier is required")
	}
	if cfg.TeamID == "" {
		probs = append(probs, "teamIdentifier is required")
	}
	if cfg.OrganizationName == "" {
		probs = append(probs, "organizationName is required")
	}
	if cfg.NFC != nil {
		if err := CheckNFC(*cfg.NFC); err != nil {
			probs = append(probs, err.Error())
		}
		// A copy, so the caller's setup is left as it was; passes get
		// the key as one line of Base64.
		n := *cfg.NFC
		n.EncryptionPublicKey = compactBase64(n.EncryptionPublicKey)
		cfg.NFC = &n
	}
	if err := CheckEventGuide(cfg.EventGuide); err != nil {
		probs = append(probs, err.Error())
	}
	if cfg.WebServiceURL != "" {
		if err := checkWebServiceURL(cfg.WebServiceURL, cfg.AllowHTTP); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if cfg.Cert == nil || cfg.Key == nil || cfg.WWDR == nil {
		probs = append(probs, "a signing certificate, its key and the WWDR intermediate are required")
	} else if err := cfg.Cert.CheckSignatureFrom(cfg.WWDR); err != nil {
		probs = append(probs, "the pass certificate is not signed by the given WWDR intermediate (wrong WWDR generation?)")
	}
	if len(probs) > 0 {
		return nil, pass.Errorf(pass.KindInvalid, "apple issuer: %s", strings.Join(probs, "; "))
	}
	return &Issuer{cfg: cfg, signer: signerID(cfg.Cert, cfg.WWDR)}, nil
}

// signerID names the certificate that signs an issuer's passes, with the
// intermediate the signature carries (pass.Rendered.Signer): the first 16
// bytes of the SHA-256 of their DER, in hex. It changes when either is
// renewed or replaced, and never when the same files are loaded again.
func signerID(cert, wwdr *x509.Certificate) string {
	h := sha256.New()
	h.Write(cert.Raw)
	h.Write(wwdr.Raw)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func checkWebServiceURL(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("webServiceURL %q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return fmt.Errorf("webServiceURL %q must use https outside development", s)
		}
	default:
		return fmt.Errorf("webServiceURL %q must use https", s)
	}
	return nil
}

// Input is one pass to build: the ticket and the pass's fixed identity.
type Input struct {
	Ticket       pass.Ticket
	SerialNumber string
	AuthToken    string
}

// Built is a signed pass.
type Built struct {
	PKPass      []byte
	PassJSON    []byte
	ContentHash string // changes exactly when what the holder sees changes
}

// Build renders, validates, signs and packages one pass. It returns an
// error of kind pass.KindInvalid naming the field when the pass would not
// install on a device.
func (is *Issuer) Build(t *Template, in Input) (*Built, error) {
	pj, err := is.Render(t, in)
	if err != nil {
		return nil, err
	}
	pk, err := is.Package(t, pj)
	if err != nil {
		return nil, err
	}
	return &Built{PKPass: pk, PassJSON: pj, ContentHash: ContentHash(t, pj)}, nil
}

// ContentHash returns a hash of everything a holder sees: the pass.json
// and the template's static files. It leaves out the signature: what
// decides whether a stored version is current names its signer apart
// (pass.Rendered.Signer).
func ContentHash(t *Template, passJSON []byte) string {
	h := sha256.New()
	h.Write([]byte(t.hash))
	h.Write(passJSON)
	return hex.EncodeToString(h.Sum(nil))
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render makes the pass.json of in with template t. Everything a template
// contributes was validated with ValidatePassJSON when it was loaded (over
// rendered sample passes of every event kind); what varies per pass is
// checked here as it is rendered: the ticket, the serial number and token,
// dates, numbers and the required strings. A problem is an error of kind
// pass.KindInvalid that names the field.
func (is *Issuer) Render(t *Template, in Input) ([]byte, error) {
	return renderPass(&is.cfg, t, in)
}

// Validate runs the full pass.json check of ValidatePassJSON on a rendered
// pass of template t.
func (is *Issuer) Validate(t *Template, passJSON []byte) error {
	return ValidatePassJSON(passJSON, t.fileSet(), is.cfg.AllowHTTP)
}

func renderPass(cfg *IssuerConfig, t *Template, in Input) ([]byte, error) {
	tk := in.Ticket
	if len(in.AuthToken) < minAuthTokenLength && cfg.WebServiceURL != "" {
		return nil, pass.Errorf(pass.KindInvalid, "pass.json: authenticationToken must be at least %d characters", minAuthTokenLength)
	}
	if in.SerialNumber == "" {
		return nil, pass.Errorf(pass.KindInvalid, "pass.json: serialNumber is required")
	}
	if err := tk.Validate(); err != nil {
		return nil, err
	}
	status := pass.StatusFor(tk.State)
	word := map[pass.Status]string{pass.StatusActive: "Valid", pass.StatusUsed: "Used", pass.StatusVoided: "Cancelled"}[status]
	voided := status == pass.StatusVoided || (status == pass.StatusUsed && !cfg.ReEntry)

	w := bufPool.Get().(*bytes.Buffer)
	w.Reset()
	defer bufPool.Put(w)

	w.WriteString(`{"formatVersion":1,"passTypeIdentifier":`)
	writeJSONString(w, cfg.PassTypeID)
	w.WriteString(`,"serialNumber":`)
	writeJSONString(w, in.SerialNumber)
	w.WriteString(`,"teamIdentifier":`)
	writeJSONString(w, cfg.TeamID)
	// The template's own keys, in its order, without the braces.
	mark := w.Len()
	if err := t.root.render(w, newRenderData(&tk, cfg.OrganizationName, word)); err != nil {
		return nil, pass.Wrap(pass.KindInvalid, err, "pass.json")
	}
	body := w.Bytes()[mark:]
	if len(body) > 2 { // "{...}" -> ",..."
		body[0] = ','
		w.Truncate(w.Len() - 1)
	} else {
		w.Truncate(mark)
	}
	// The poster layout is for NFC tickets (Apple's validator refuses a
	// poster pass without its nfc dictionary): without NFC, or without
	// the tags the poster needs, the pass is a classic event ticket.
	nfcMsg := ""
	if cfg.NFC != nil && status != pass.StatusVoided {
		nfcMsg = cfg.NFC.message(tk)
	}
	if nfcMsg != "" {
		w.WriteString(`,"nfc":{"message":`)
		writeJSONString(w, nfcMsg)
		w.WriteString(`,"encryptionPublicKey":`)
		writeJSONString(w, cfg.NFC.EncryptionPublicKey) // compacted by NewIssuer
		w.WriteString(`,"requiresAuthentication":`)
		w.WriteString(strconv.FormatBool(cfg.NFC.RequiresAuthentication))
		w.WriteByte('}')
		if t.poster && posterReady(tk) {
			w.WriteString(`,` + posterSchemes)
			writeGuide(w, cfg.EventGuide, &tk)
		}
	}
	if cfg.WebServiceURL != "" {
		w.WriteString(`,"webServiceURL":`)
		writeJSONString(w, cfg.WebServiceURL)
		w.WriteString(`,"authenticationToken":`)
		writeJSONString(w, in.AuthToken)
	}
	if status != pass.StatusVoided && tk.Barcode != "" {
		enc := "iso-8859-1"
		if !isLatin1(tk.Barcode) {
			enc = "utf-8"
		}
		formats := []pass.Symbology{tk.Symbology}
		if !tk.Symbology.Legacy() {
			// iOS 26 and older show no iOS 27 format: a QR code of the
			// same value follows it.
			formats = append(formats, pass.SymbologyQR)
		}
		w.WriteString(`,"barcodes":[`)
		for i, f := range formats {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(`{"format":`)
			writeJSONString(w, barcodeFormats[f])
			w.WriteString(`,"message":`)
			writeJSONString(w, tk.Barcode)
			w.WriteString(`,"messageEncoding":`)
			writeJSONString(w, enc)
			w.WriteString(`,"altText":`)
			writeJSONString(w, tk.Barcode)
			w.WriteByte('}')
		}
		w.WriteByte(']')
	}
	// A season ticket's dates are its events' at the time of rendering
	// (Service.RefreshUpcoming renders such passes again as time goes by).
	var now time.Time
	if tk.MultiEvent() {
		now = cfg.Clock.Now()
	}
	next, windows := relevance(&tk, now)
	w.WriteString(`,"relevantDate":`)
	writeJSONString(w, formatDate(next))
	w.WriteString(`,"relevantDates":[`)
	for i, win := range windows {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`{"startDate":`)
		writeJSONString(w, formatDate(win[0]))
		w.WriteString(`,"endDate":`)
		writeJSONString(w, formatDate(win[1]))
		w.WriteByte('}')
	}
	w.WriteString(`],"expirationDate":`)
	writeJSONString(w, formatDate(tk.Expiry()))
	if voided {
		w.WriteString(`,"voided":true`)
	}
	if sp := cfg.SharingProhibited; sp == "always" || (sp == "named" && strings.TrimSpace(tk.HolderName) != "") ||
		(nfcMsg != "" && cfg.NFC.RequiresAuthentication) {
		w.WriteString(`,"sharingProhibited":true`)
	}
	w.WriteString(`,"groupingIdentifier":`)
	writeJSONString(w, tk.Tenant+"-"+strconv.FormatInt(tk.FileID, 10))
	if lat, lon := tk.Venue.Latitude, tk.Venue.Longitude; lat != nil && lon != nil {
		w.WriteString(`,"locations":[{"latitude":`)
		w.WriteString(strconv.FormatFloat(*lat, 'f', -1, 64))
		w.WriteString(`,"longitude":`)
		w.WriteString(strconv.FormatFloat(*lon, 'f', -1, 64))
		w.WriteString(`}]`)
	}
	w.WriteString(`,"semantics":`)
	writeSemantics(w, &tk)
	if tk.MultiEvent() {
		writeUpcoming(w, &tk, now)
	}
	w.WriteByte('}')

	return append([]byte(nil), w.Bytes()...), nil
}

var barcodeFormats = map[pass.Symbology]string{
	pass.SymbologyQR:      "PKBarcodeFormatQR",
	pass.SymbologyPDF417:  "PKBarcodeFormatPDF417",
	pass.SymbologyAztec:   "PKBarcodeFormatAztec",
	pass.SymbologyCode128: "PKBarcodeFormatCode128",
	pass.SymbologyCode39:  "PKBarcodeFormatCode39",
	pass.SymbologyCodabar: "PKBarcodeFormatCodabar",
	pass.SymbologyEAN13:   "PKBarcodeFormatEAN13",
	pass.SymbologyI2of5:   "PKBarcodeFormatI2of5",
}

func isLatin1(s string) bool {
	for _, r := range s {
		if r > 0xff {
			return false
		}
	}
	return utf8.ValidString(s)
}

// writeUpcoming writes iOS 26's upcomingPassInformation: each event of a
// season or multi-event ticket, with its date in the venue's zone, its
// venue, and a back field (which the view needs to appear); an event is
// active from three hours before its start to its end (four hours after
// the start without one) at the time of rendering.
func writeUpcoming(w *bytes.Buffer, t *pass.Ticket, now time.Time) {
	w.WriteString(`,"upcomingPassInformation":[`)
	for i, u := range t.Upcoming {
		if i > 0 {
			w.WriteByte(',')
		}
		venue := u.Venue
		if venue == "" {
			venue = t.Venue.Name
		}
		start, end := relevantWindow(pass.Event{Start: u.Start, End: u.End})
		w.WriteString(`{"type":"event","identifier":`)
		writeJSONString(w, u.ID)
		w.WriteString(`,"name":`)
		writeJSONString(w, u.Name)
		w.WriteString(`,"isActive":`)
		w.WriteString(strconv.FormatBool(!now.Before(start) && now.Before(end)))
		w.WriteString(`,"dateInformation":{"date":`)
		writeJSONString(w, formatDate(u.Start))
		if t.Event.TimeZone != "" {
			w.WriteString(`,"timeZone":`)
			writeJSONString(w, t.Event.TimeZone)
		}
		w.WriteString(`},"semantics":{"eventName":`)
		writeJSONString(w, u.Name)
		w.WriteString(`,"eventStartDate":`)
		writeJSONString(w, formatDate(u.Start))
		if venue != "" {
			w.WriteString(`,"venueName":`)
			writeJSONString(w, venue)
		}
		// Each entry's field has a key of its own (upcoming-date-<id>):
		// checkUpcoming says why.
		w.WriteString(`},"backFields":[{"key":`)
		writeJSONString(w, "upcoming-date-"+u.ID)
		w.WriteString(`,"label":"Date","value":`)
		writeJSONString(w, formatDate(u.Start))
		w.WriteString(`,"dateStyle":"PKDateStyleFull","timeStyle":"PKDateStyleShort","ignoresTimeZone":true}]}`)
	}
	w.WriteByte(']')
}

// relevantWindow is when the pass belongs on the lock screen: from doors
// (or three hours before the start) to the end (or four hours after the
// start).
func relevantWindow(e pass.Event) (time.Time, time.Time) {
	start := e.Start.Add(-3 * time.Hour)
	if !e.Doors.IsZero() && e.Doors.Before(e.Start) {
		start = e.Doors
	}
	end := e.Start.Add(4 * time.Hour)
	if !e.End.IsZero() {
		end = e.End
	}
	return start, end
}

// maxRelevantWindows bounds the windows of a long event (Wallet shows a
// pass on the lock screen for its next windows only).
const maxRelevantWindows = 10

// relevantWindows is relevantWindow cut into windows of at most 24 hours
// when it is longer: one {startDate, endDate} per day of the event
// (Wallet is not known to honour a longer one). The windows follow one
// another without a gap, because walletpass cannot tell an event that
// runs around the clock (a 24-hour race, a marathon concert) from one
// that keeps opening hours: every moment from the first window's start to
// the end is in one. Each window starts at the first one's clock time in
// the venue's zone (doors, or three hours before the start) and ends at
// the same time the next day, the last at the end: a festival whose doors
// open at 12:00 is relevant from 12:00 to 12:00 each day. A window that
// would last longer than 24 hours (the night clocks go back) is cut at
// 24, and the next ones start an hour earlier by the clock. An event of a
// day or less is one window; one longer than maxRelevantWindows days gets
// its first maxRelevantWindows windows only.
func relevantWindows(e pass.Event) [][2]time.Time {
	start, end := relevantWindow(e)
	if end.Sub(start) <= 24*time.Hour {
		return [][2]time.Time{{start, end}}
	}
	loc := start.Location()
	if l, err := e.Location(); e.TimeZone != "" && err == nil {
		loc = l
	}
	end = end.In(loc)
	var out [][2]time.Time
	for ws := start.In(loc); ws.Before(end) && len(out) < maxRelevantWindows; {
		y, m, d := ws.Date()
		h, mi, sec := ws.Clock()
		we := time.Date(y, m, d+1, h, mi, sec, ws.Nanosecond(), loc)
		if day := ws.Add(24 * time.Hour); we.After(day) {
			we = day
		}
		if we.After(end) {
			we = end
		}
		out = append(out, [2]time.Time{ws, we})
		ws = we
	}
	return out
}

// relevance is when the pass of t belongs on the lock screen: the start
// of its next event (relevantDate, which iOS before 18 reads) and the
// windows of relevantDates. A ticket for one event gets that event's
// windows (relevantWindows). A season or multi-event ticket gets those of
// its own event and of each upcoming one, soonest first: the next
// maxRelevantWindows that have not ended at now (the last one when all
// have), so that its pass is on the lock screen at every match, not only
// at the first. An upcoming event that starts when the ticket's own event
// does is that event, listed again. The ticket's own event is left out
// when it lasts more than a day: that is the season's validity (SecuTix
// dates a season ticket without a performance by it), not a match.
func relevance(t *pass.Ticket, now time.Time) (time.Time, [][2]time.Time) {
	if !t.MultiEvent() {
		return t.Event.Start, relevantWindows(t.Event)
	}
	type window struct {
		event time.Time // the start of the window's event
		span  [2]time.Time
	}
	var all []window
	seen := make(map[int64]bool, len(t.Upcoming)+1) // events' starts
	add := func(e pass.Event) {
		if seen[e.Start.UnixNano()] {
			return
		}
		seen[e.Start.UnixNano()] = true
		for _, span := range relevantWindows(e) {
			all = append(all, window{e.Start, span})
		}
	}
	if start, end := relevantWindow(t.Event); end.Sub(start) <= 24*time.Hour {
		add(t.Event)
	}
	for _, u := range t.Upcoming {
		add(pass.Event{Start: u.Start, End: u.End, TimeZone: t.Event.TimeZone})
	}
	slices.SortStableFunc(all, func(a, b window) int { return a.span[0].Compare(b.span[0]) })
	var next time.Time
	var out [][2]time.Time
	for _, w := range all {
		if len(out) == maxRelevantWindows {
			break
		}
		if !w.span[1].After(now) {
			continue
		}
		if len(out) == 0 {
			next = w.event
		}
		out = append(out, w.span)
	}
	if len(out) == 0 { // every event is over
		last := all[len(all)-1]
		return last.event, [][2]time.Time{last.span}
	}
	return next, out
}

func (t *Template) fileSet() map[string]bool {
	m := make(map[string]bool, len(t.files))
	for _, f := range t.files {
		m[f.name] = true
	}
	return m
}

// Package writes the manifest, signs it and zips the whole pass (with the
// template's files) into a new byte slice: what a phone downloads.
// passJSON must come from Render: Package does not validate it again.
func (is *Issuer) Package(t *Template, passJSON []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(passJSON) + t.size() + 4096)
	if err := is.WritePackage(&out, t, passJSON); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// PackageSigned is Package without the template's files: the stored form
// of a version (see Files), a .pkpass holding pass.json, manifest.json and
// signature only. Its manifest names the template's files as the whole
// pass does, so the signature covers them.
func (is *Issuer) PackageSigned(t *Template, passJSON []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(passJSON) + len(t.manifst) + 4096)
	if err := is.writePackage(&out, t, passJSON, false); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// WritePackage is Package streaming to w (a file, an HTTP response, a
// reused buffer): the static files are copied straight from the template.
func (is *Issuer) WritePackage(w io.Writer, t *Template, passJSON []byte) error {
	return is.writePackage(w, t, passJSON, true)
}

// posterSchemes is how Render opts a pass into the poster layout.
const posterSchemes = `"preferredStyleSchemes":["posterEventTicket","eventTicket"]`

// isPoster reports whether a pass.json Render made uses the poster layout.
func isPoster(passJSON []byte) bool { return bytes.Contains(passJSON, []byte(posterSchemes)) }

func (is *Issuer) writePackage(w io.Writer, t *Template, passJSON []byte, withFiles bool) error {
	sum := sha1.Sum(passJSON)
	// A classic event ticket goes without the poster's images.
	poster := isPoster(passJSON)
	entries := t.classic
	if poster {
		entries = t.manifst
	}
	manifest := make([]byte, 0, len(entries)+64)
	manifest = append(manifest, '{')
	manifest = append(manifest, entries...)
	manifest = append(manifest, `"pass.json":"`...)
	manifest = hex.AppendEncode(manifest, sum[:])
	manifest = append(manifest, `"}`...)

	sig, err := is.sign(manifest)
	if err != nil {
		return err
	}
	now := is.cfg.Clock.Now().UTC().Truncate(time.Second)
	zw := zip.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{{"pass.json", passJSON}, {"manifest.json", manifest}, {"signature", sig}} {
		// Stored, not deflated: these are a few kilobytes, and the images
		// are PNGs, already compressed.
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store, Modified: now})
		if err != nil {
			return fmt.Errorf("apple: zip %s: %w", f.name, err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return fmt.Errorf("apple: zip %s: %w", f.name, err)
		}
	}
	if withFiles {
		for _, f := range t.files {
			if f.poster && !poster {
				continue
			}
			if err := writeStored(zw, f.name, f.data, f.crc32, now); err != nil {
				return err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("apple: zip: %w", err)
	}
	return nil
}

// writeStored adds a file, uncompressed, whose checksum is known.
func writeStored(zw *zip.Writer, name string, data []byte, crc uint32, modified time.Time) error {
	fw, err := zw.CreateRaw(&zip.FileHeader{
		Name: name, Method: zip.Store, Modified: modified, CRC32: crc,
		CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
	})
	if err != nil {
		return fmt.Errorf("apple: zip %s: %w", name, err)
	}
	if _, err := fw.Write(data); err != nil {
		return fmt.Errorf("apple: zip %s: %w", name, err)
	}
	return nil
}

func (t *Template) size() int {
	n := 0
	for _, f := range t.files {
		n += len(f.data) + 128 + 2*len(f.name)
	}
	return n
}

// sign makes the detached CMS signature of the manifest: SHA-256, with the
// signingTime attribute, the pass certificate and the WWDR intermediate.
func (is *Issuer) sign(manifest []byte) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(manifest)
	if err != nil {
		return nil, fmt.Errorf("apple: sign: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	// NewIssuer checked once that the WWDR issued the certificate; AddSigner
	// plus AddCertificate gives the same SignedData as AddSignerChain
	// (issuer name = the certificate's raw issuer = the WWDR's raw subject)
	// without verifying the chain again for every pass.
	if err := sd.AddSigner(is.cfg.Cert, is.cfg.Key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("apple: sign: %w", err)
	}
	sd.AddCertificate(is.cfg.WWDR)
	sd.Detach()
	sig, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("apple: sign: %w", err)
	}
	return sig, nil
}

// NamedPass is one pass of a bundle.
type NamedPass struct {
	Name   string // file name inside the bundle, e.g. "ticket-1.pkpass"
	PKPass []byte
}

// Bundle zips up to MaxBundlePasses passes into one .pkpasses file. It
// returns an error of kind pass.KindInvalid when there are none, too many,
// duplicate names, or more than 150 MB.
func Bundle(passes []NamedPass) ([]byte, error) {
	if len(passes) == 0 || len(passes) > MaxBundlePasses {
		return nil, pass.Errorf(pass.KindInvalid, "a .pkpasses bundle holds 1 to %d passes, got %d", MaxBundlePasses, len(passes))
	}
	seen := map[string]bool{}
	total := 0
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, p := range passes {
		if p.Name == "" || strings.ContainsAny(p.Name, `/\`) || !strings.HasSuffix(p.Name, ".pkpass") || seen[p.Name] {
			return nil, pass.Errorf(pass.KindInvalid, "bundle entry name %q must be unique, end in .pkpass and have no slashes", p.Name)
		}
		seen[p.Name] = true
		total += len(p.PKPass)
		if total > maxBundleBytes {
			return nil, pass.Errorf(pass.KindInvalid, "a .pkpasses bundle is limited to 150 MB")
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: p.Name, Method: zip.Store, Modified: time.Now().UTC().Truncate(time.Second)})
		if err != nil {
			return nil, fmt.Errorf("apple: bundle: %w", err)
		}
		if _, err := fw.Write(p.PKPass); err != nil {
			return nil, fmt.Errorf("apple: bundle: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("apple: bundle: %w", err)
	}
	return out.Bytes(), nil
}
