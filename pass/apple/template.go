package apple

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"walletpass/pass"
)

// TemplateFile is the name of a template's pass.json-shaped design file.
const TemplateFile = "template.json"

// MaxTemplateFile is the largest file a template may hold.
const MaxTemplateFile = 4 << 20

// Template is a loaded, validated pass design. It is safe for concurrent use.
type Template struct {
	Name    string
	root    *object
	files   []staticFile // images and translations, sorted by name
	poster  bool         // opts into the iOS 18 poster layout
	guide   bool         // gives event guide entries (GuideKeys)
	hash    string       // SHA-1 over the static files' manifest entries
	manifst []byte       // pre-encoded manifest entries of the static files: `"name":"sha1",...`
	classic []byte       // manifst without the poster-only images
	schemes []string
	colours map[string]string // colour key -> "#rrggbb"
	// google holds the images only Google Wallet shows (GoogleImages);
	// they are not part of the .pkpass.
	google map[string][]byte
}

// GoogleImages are the template's images for Google Wallet only: a square
// logo of at least 660 px (Google masks it into a circle) and a hero image
// at least 1032 px wide and three times as wide as high.
var GoogleImages = map[string]struct{ minW, minH int }{"google-logo.png": {660, 660}, "google-hero.png": {1032, 0}}

// staticFile is an image or translation file, hashed once at load.
type staticFile struct {
	name   string
	data   []byte
	sha1   string
	crc32  uint32
	poster bool // shown by the poster layout only (posterImages)
}

// Files returns the names of the template's static files (images and
// translations), sorted.
func (t *Template) Files() []string {
	names := make([]string, len(t.files))
	for i, f := range t.files {
		names[i] = f.name
	}
	return names
}

// Poster reports whether the design opts into the iOS 18 poster layout.
func (t *Template) Poster() bool { return t.poster }

// HasEventGuide reports whether the design gives the event guide's
// entries itself (then a tenant's eventGuide cannot also give them).
func (t *Template) HasEventGuide() bool { return t.guide }

// HexColour returns a colour of the design ("backgroundColor",
// "foregroundColor", "labelColor") as "#rrggbb", or "" when the template
// does not set it. Google Wallet passes take the same colours.
func (t *Template) HexColour(key string) string { return t.colours[key] }

// File returns a static file of the template (an image such as "logo@2x.png"
// or a translation), or false.
func (t *Template) File(name string) ([]byte, bool) {
	if data, ok := t.google[name]; ok {
		return data, true
	}
	i, ok := slices.BinarySearchFunc(t.files, name, func(f staticFile, n string) int { return strings.Compare(f.name, n) })
	if !ok {
		return nil, false
	}
	return t.files[i].data, true
}

// TemplateError lists every problem found in a template; each problem names
// the file and, where it applies, the field.
type TemplateError struct {
	Template string
	Problems []string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("template %q: %s", e.Template, strings.Join(e.Problems, "; "))
}

// Keys that the builder owns: a template must not set them (pass.json
// would have them twice), nor another pass style than eventTicket.
// TestBuilderKeysCoverWhatTheBuilderWrites checks that every key the
// builder writes is here, or is one it writes in the template's stead
// (preferredStyleSchemes, the event guide's).
var builderKeys = map[string]bool{
	"formatVersion": true, "passTypeIdentifier": true, "serialNumber": true, "teamIdentifier": true,
	"authenticationToken": true, "webServiceURL": true, "barcode": true, "barcodes": true,
	"relevantDate": true, "relevantDates": true, "expirationDate": true, "voided": true,
	"sharingProhibited": true, "semantics": true, "groupingIdentifier": true, "locations": true, "nfc": true,
	"upcomingPassInformation": true, "boardingPass": true, "coupon": true, "generic": true, "storeCard": true,
}

var fieldArrays = []string{"headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields", "additionalInfoFields"}

var colourKeys = []string{"foregroundColor", "backgroundColor", "labelColor", "footerBackgroundColor"}

var imageNames = map[string]bool{
	"icon": true, "logo": true, "thumbnail": true, "strip": true, "background": true,
	"footer": true, "personalizationLogo": true, "artwork": true, "venueMap": true,
	"primaryLogo": true, "secondaryLogo": true,
}

// imagePoints are the largest sizes, in points, at which Wallet shows an
// event ticket's images (icon: the smallest; it is square).
var imagePoints = map[string]struct{ w, h int }{
	"icon": {38, 38}, "logo": {160, 50}, "primaryLogo": {126, 30}, "secondaryLogo": {135, 12},
	"strip": {375, 144}, "background": {345, 505}, "thumbnail": {90, 90}, "artwork": {358, 448},
	"footer": {286, 15}, "personalizationLogo": {150, 40},
}

// minIconPoints is the smallest icon older templates have (29 pt before
// iOS 26); smaller icons are blurred everywhere.
const minIconPoints = 29

// checkImageSize checks one image's pixels against its size in points at
// its scale ("", "@2x", "@3x"), and records it for checkImageScales.
func checkImageSize(add func(string, ...any), p, name, suffix string, w, h int, sizes map[string][4][2]int) {
	scale := 1
	if suffix != "" {
		scale = int(suffix[1] - '0')
	}
	dims := sizes[path.Dir(p)+"/"+name]
	dims[scale] = [2]int{w, h}
	sizes[path.Dir(p)+"/"+name] = dims
	max, ok := imagePoints[name]
	if !ok {
		return
	}
	if name == "icon" {
		if w != h || w < minIconPoints*scale {
			add("%s: %dx%d px; the icon is square, %d pt (%d px at this scale)", p, w, h, max.w, max.w*scale)
		}
		return
	}
	if w > max.w*scale+scale || h > max.h*scale+scale {
		add("%s: %dx%d px; Wallet shows %s at most %dx%d pt (%dx%d px at this scale)", p, w, h, name, max.w, max.h, max.w*scale, max.h*scale)
	}
}

// checkImageScales checks that an image's @2x and @3x are its @1x drawn
// two and three times as large (within a pixel per scale).
func checkImageScales(add func(string, ...any), sizes map[string][4][2]int) {
	for _, key := range slices.Sorted(maps.Keys(sizes)) {
		d := sizes[key]
		if d[1] == ([2]int{}) {
			continue
		}
		for s := 2; s <= 3; s++ {
			if d[s] == ([2]int{}) {
				continue
			}
			for i, axis := range []string{"wide", "high"} {
				if diff := d[s][i] - s*d[1][i]; diff < -s || diff > s {
					add("%s@%dx.png is %d px %s, not %d times its @1x (%d px)", strings.TrimPrefix(key, "./"), s, d[s][i], axis, s, d[1][i])
				}
			}
		}
	}
}

// posterImages are the images only the poster layout shows: a classic
// event ticket leaves them out of its .pkpass (a phone would download them
// for nothing).
var posterImages = map[string]bool{"artwork": true, "primaryLogo": true, "secondaryLogo": true, "venueMap": true}

var (
	imageFileRE = regexp.MustCompile(`^([A-Za-z]+)(@[23]x)?\.png$`)
	lprojRE     = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*\.lproj$`)
)

// LoadTemplate reads the template named name from fsys (the template's own
// directory) and validates it. It returns a *TemplateError (kind
// pass.KindInvalid when wrapped) listing every problem: missing icon,
// duplicate field keys, unknown ticket fields, keys walletpass sets itself,
// bad colours, changeMessage without %@ (in template.json or translated),
// malformed translations, unexpected files.
func LoadTemplate(name string, fsys fs.FS) (*Template, error) {
	te := &TemplateError{Template: name}
	add := func(format string, args ...any) { te.Problems = append(te.Problems, fmt.Sprintf(format, args...)) }

	raw, err := readLimited(fsys, TemplateFile)
	if err != nil {
		add("%s: %v", TemplateFile, err)
		return nil, wrapTemplateError(te)
	}
	t := &Template{Name: name}

	// Static files.
	lproj := map[string]map[string]string{} // xx.lproj -> its translations
	sizes := map[string][4][2]int{}         // image -> its pixels at each scale
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := path.Base(p)
		if p == "." {
			return nil
		}
		if strings.HasPrefix(base, ".") || base == "__MACOSX" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if strings.Contains(p, "/") || !lprojRE.MatchString(base) {
				add("%s: unexpected directory (only xx.lproj folders are allowed)", p)
				return fs.SkipDir
			}
			return nil
		}
		if p == TemplateFile || (!strings.Contains(p, "/") && (strings.EqualFold(path.Ext(p), ".md") || strings.EqualFold(path.Ext(p), ".txt"))) {
			return nil
		}
		data, err := readLimited(fsys, p)
		if err != nil {
			add("%s: %v", p, err)
			return nil
		}
		dir := path.Dir(p)
		if want, ok := GoogleImages[p]; ok {
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			switch {
			case err != nil:
				add("%s: not a valid PNG image: %v", p, err)
			case cfg.Width < want.minW || cfg.Height < want.minH:
				add("%s: %dx%d px; Google Wallet needs at least %d px wide%s", p, cfg.Width, cfg.Height, want.minW,
					map[bool]string{true: " and as high (square)", false: ""}[want.minH > 0])
			case want.minH > 0 && cfg.Width != cfg.Height:
				add("%s: %dx%d px must be square (Google masks the logo into a circle)", p, cfg.Width, cfg.Height)
			case want.minH == 0 && cfg.Width < 3*cfg.Height:
				add("%s: %dx%d px must be three times as wide as high or wider", p, cfg.Width, cfg.Height)
			default:
				if t.google == nil {
					t.google = map[string][]byte{}
				}
				t.google[p] = data
			}
			return nil
		}
		switch {
		case base == "pass.strings" && dir != ".":
			m, err := ParseStrings(data)
			if err != nil {
				add("%s: %v", p, err)
				return nil
			}
			// Shipped as Apple asks: UTF-16 with a byte-order mark, whatever
			// the template's own encoding.
			lproj[dir], data = m, UTF16Strings(m)
		case imageFileRE.MatchString(base):
			m := imageFileRE.FindStringSubmatch(base)
			if !imageNames[m[1]] {
				add("%s: %q is not a pass image name (icon, logo, thumbnail, strip, background, footer, artwork, primaryLogo, secondaryLogo, venueMap, personalizationLogo)", p, m[1])
				return nil
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			if err != nil {
				add("%s: not a valid PNG image: %v", p, err)
				return nil
			}
			checkImageSize(add, p, m[1], m[2], cfg.Width, cfg.Height, sizes)
		default:
			add("%s: unexpected file (a template holds %s, PNG images and xx.lproj/pass.strings)", p, TemplateFile)
			return nil
		}
		sum := sha1.Sum(data)
		poster := false
		if m := imageFileRE.FindStringSubmatch(base); m != nil {
			poster = posterImages[m[1]]
		}
		t.files = append(t.files, staticFile{name: p, data: data, sha1: hex.EncodeToString(sum[:]), crc32: crc32.ChecksumIEEE(data), poster: poster})
		return nil
	})
	if err != nil {
		add("reading files: %v", err)
	}
	checkImageScales(add, sizes)
	sort.Slice(t.files, func(i, j int) bool { return t.files[i].name < t.files[j].name })
	// Every language has every key: a phone in a language missing one
	// would show the key itself.
	all := map[string]bool{}
	for _, m := range lproj {
		for k := range m {
			all[k] = true
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(lproj)) {
		var missing []string
		for k := range all {
			if _, ok := lproj[dir][k]; !ok {
				missing = append(missing, strconv.Quote(k))
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			add("%s/pass.strings lacks %s (every language needs every key)", dir, strings.Join(missing, ", "))
		}
		checkChangeMessages(add, dir, lproj[dir])
	}
	has := func(name string) bool {
		return slices.ContainsFunc(t.files, func(f staticFile) bool { return f.name == name })
	}
	if !has("icon.png") {
		add("icon.png is missing: a pass without an icon cannot be opened on any Apple device")
	}
	if has("strip.png") && (has("background.png") || has("thumbnail.png")) {
		add("strip.png cannot be combined with background.png or thumbnail.png on an event ticket")
	}

	// The design file.
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		add("%s: malformed JSON: %v", TemplateFile, err)
		return nil, wrapTemplateError(te)
	}
	if bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) {
		add("%s: starts with a byte-order mark", TemplateFile)
	}
	c := compiler{file: TemplateFile, add: add, keys: map[string]string{}}
	keys := orderedKeys(raw)
	for _, k := range keys {
		if builderKeys[k] {
			add("%s: %s is set by walletpass from the ticket and the tenant; remove it from the template", TemplateFile, k)
		}
	}
	if _, ok := doc["eventTicket"]; !ok {
		add("%s: eventTicket is missing", TemplateFile)
	}
	for _, k := range []string{"description", "organizationName"} {
		if _, ok := doc[k]; !ok {
			add("%s: %s is required", TemplateFile, k)
		}
	}
	for _, k := range colourKeys {
		v, ok := doc[k]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			add("%s: %s must be a string like \"rgb(27, 42, 74)\" or \"#1B2A4A\"", TemplateFile, k)
			continue
		}
		rgb, err := normalizeColour(s)
		if err != nil {
			add("%s: %s: %v", TemplateFile, k, err)
			continue
		}
		doc[k], _ = json.Marshal(rgb)
		if t.colours == nil {
			t.colours = map[string]string{}
		}
		t.colours[k] = rgbToHex(rgb)
	}
	if v, ok := doc["preferredStyleSchemes"]; ok {
		if err := json.Unmarshal(v, &t.schemes); err != nil {
			add("%s: preferredStyleSchemes must be a list of strings", TemplateFile)
		}
		for _, s := range t.schemes {
			switch s {
			case "posterEventTicket":
				t.poster = true
			case "eventTicket":
			default:
				add("%s: preferredStyleSchemes: unknown scheme %q (posterEventTicket, eventTicket)", TemplateFile, s)
			}
		}
		if t.poster && !has("artwork.png") {
			add("artwork.png is missing: a poster event ticket (preferredStyleSchemes) needs artwork")
		}
	}

	checkFeaturedActions(add, doc["featuredActions"], t.poster)
	checkEventGuide(add, doc)
	for _, k := range GuideKeys {
		if _, ok := doc[k]; ok {
			t.guide = true
		}
	}

	root := &object{}
	for _, k := range keys {
		if builderKeys[k] || k == "preferredStyleSchemes" {
			continue
		}
		n := c.compile(k, doc[k], k == "eventTicket")
		if st, ok := n.(*strTpl); ok && (k == "description" || k == "organizationName") {
			st.required = true
		}
		root.add(k, n)
	}
	t.root = root

	if len(te.Problems) > 0 {
		return nil, wrapTemplateError(te)
	}
	var m, classic bytes.Buffer
	for _, f := range t.files {
		for _, b := range []*bytes.Buffer{&m, &classic} {
			if b == &classic && f.poster {
				continue
			}
			writeJSONString(b, f.name)
			b.WriteByte(':')
			writeJSONString(b, f.sha1)
			b.WriteByte(',')
		}
	}
	t.manifst, t.classic = m.Bytes(), classic.Bytes()
	// Render sample passes of every event kind and state and check them as
	// Wallet would: whatever the template contributes is validated here,
	// once, with errors that name the field.
	cfg := &IssuerConfig{PassTypeID: "pass.sample.template", TeamID: "SAMPLE0000", OrganizationName: "Sample",
		WebServiceURL: "https://walletpass.invalid/api/sample/apple"}
	for _, sample := range sampleTickets() {
		pj, err := renderPass(cfg, t, Input{Ticket: sample, SerialNumber: "sample-serial", AuthToken: "sample-token-0123456789"})
		if err == nil {
			err = ValidatePassJSON(pj, t.fileSet(), false)
		}
		if err != nil {
			add("%v (with a sample %s ticket, state %s)", err, sample.Event.Kind, sample.State)
			return nil, wrapTemplateError(te)
		}
	}

	h := sha1.New()
	h.Write(t.manifst)
	h.Write(raw)
	t.hash = hex.EncodeToString(h.Sum(nil))
	return t, nil
}

// checkChangeMessages checks the translations of one xx.lproj folder: a
// string with %@ is a changeMessage (template.json's are checked to have
// one), and its translation must keep the %@, where Wallet puts the
// field's new value; without it Wallet shows a generic message instead.
func checkChangeMessages(add func(string, ...any), dir string, translations map[string]string) {
	lang := strings.TrimSuffix(dir, ".lproj")
	for _, k := range slices.Sorted(maps.Keys(translations)) {
		if strings.Contains(k, "%@") && !strings.Contains(translations[k], "%@") {
			add("%s/pass.strings: the %s translation of %q lacks %%@ (a changeMessage's new value; without it Wallet shows a generic message): %q",
				dir, lang, k, translations[k])
		}
	}
}

func wrapTemplateError(te *TemplateError) error {
	return &pass.Error{Kind: pass.KindInvalid, Message: te.Error(), Err: te}
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("file is missing")
		}
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, MaxTemplateFile+1))
	if err != nil {
		return nil, err
	}
	if n > MaxTemplateFile {
		return nil, fmt.Errorf("larger than %d bytes", MaxTemplateFile)
	}
	return buf.Bytes(), nil
}

// orderedKeys returns the top-level keys of a JSON object in document order.
func orderedKeys(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

var rgbRE = regexp.MustCompile(`^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$`)
var hexRE = regexp.MustCompile(`^#([0-9A-Fa-f]{6})$`)

// normalizeColour accepts "rgb(r, g, b)" or "#RRGGBB" and returns the
// rgb() form Wallet understands on every iOS version.
func normalizeColour(s string) (string, error) {
	if m := rgbRE.FindStringSubmatch(s); m != nil {
		var v [3]int
		for i := range v {
			v[i], _ = strconv.Atoi(m[i+1])
			if v[i] > 255 {
				return "", fmt.Errorf("%q: each component must be 0 to 255", s)
			}
		}
		return fmt.Sprintf("rgb(%d, %d, %d)", v[0], v[1], v[2]), nil
	}
	if m := hexRE.FindStringSubmatch(s); m != nil {
		b, _ := hex.DecodeString(m[1])
		return fmt.Sprintf("rgb(%d, %d, %d)", b[0], b[1], b[2]), nil
	}
	return "", fmt.Errorf("%q is not a colour (use \"rgb(r, g, b)\" or \"#RRGGBB\")", s)
}

// rgbToHex turns the "rgb(r, g, b)" form normalizeColour returns into
// "#rrggbb".
func rgbToHex(rgb string) string {
	m := rgbRE.FindStringSubmatch(rgb)
	if m == nil {
		return ""
	}
	var b [3]byte
	for i := range b {
		v, _ := strconv.Atoi(m[i+1])
		b[i] = byte(v)
	}
	return "#" + hex.EncodeToString(b[:])
}

// renderData is what template expressions see: the ticket's fields at the
// top level ({{.Event.Name}}, {{.Seat.Row}}), the organisation name and the
// pass status word. It copies the fields rather than embedding pass.Ticket:
// text/template looks fields up by name on every execution, and a struct
// with an embedded field takes reflect's slow search path.
type renderData struct {
	Tenant           string
	FileID           int64
	OrderID          int64
	OrderSecretToken string
	MovementID       int64
	TicketID         int64
	Barcode          string
	Symbology        pass.Symbology
	Event            pass.Event
	Venue            pass.Venue
	Seat             pass.Seat
	Tariff           string
	Price            pass.Money
	HolderName       string
	HolderEmail      string
	Locale           string
	State            pass.TicketState
	UsedAt           time.Time // when it was used, as the gate reported (zero: not known)
	HolderGeneration int
	Product          pass.Product
	Notice           string
	Upcoming         []pass.UpcomingEvent
	Organization     string
	Status           string // Valid, Used or Cancelled: translated by pass.strings
}

func newRenderData(t *pass.Ticket, org, status string) *renderData {
	return &renderData{
		Tenant: t.Tenant, FileID: t.FileID, OrderID: t.OrderID, OrderSecretToken: t.OrderSecretToken,
		MovementID: t.MovementID, TicketID: t.TicketID, Barcode: t.Barcode, Symbology: t.Symbology,
		Event: t.Event, Venue: t.Venue, Seat: t.Seat, Tariff: t.Tariff, Price: t.Price, HolderName: t.HolderName,
		HolderEmail: t.HolderEmail, Locale: t.Locale, State: t.State, UsedAt: t.UsedAt, HolderGeneration: t.HolderGeneration, Product: t.Product, Notice: t.Notice, Upcoming: t.Upcoming, Organization: org, Status: status,
	}
}

var funcs = template.FuncMap{
	"date":  formatDate,
	"money": moneyString,
	"join":  strings.Join,
	"lines": joinLines,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"default": func(def, v string) string {
		if strings.TrimSpace(v) == "" {
			return def
		}
		return v
	},
}

// joinLines joins the non-blank parts, trimmed, one per line.
func joinLines(parts ...string) string {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

// formatDate renders t as W3C date-time to the second with its offset, as
// Wallet expects; a zero time renders as "".
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Truncate(time.Second).Format(time.RFC3339)
}

func moneyString(m pass.Money) string {
	if m.Thousandths == 0 && m.Currency == "" {
		return ""
	}
	return m.Decimal()
}

// compiler turns the template's JSON into a render tree.
type compiler struct {
	file string
	add  func(string, ...any)
	keys map[string]string // field key -> where it was first seen
}

func (c *compiler) compile(p string, raw json.RawMessage, eventTicket bool) node {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return literal("null")
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			c.add("%s: %s: %v", c.file, p, err)
			return literal("null")
		}
		o := &object{}
		for _, k := range orderedKeys(raw) {
			sub := p + "." + k
			if eventTicket && slices.Contains(fieldArrays, k) {
				o.add(k, c.compileFields(sub, m[k]))
				continue
			}
			o.add(k, c.compile(sub, m[k], false))
		}
		return o
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			c.add("%s: %s: %v", c.file, p, err)
			return literal("null")
		}
		a := &array{}
		for i, it := range items {
			a.items = append(a.items, c.compile(fmt.Sprintf("%s[%d]", p, i), it, false))
		}
		return a
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			c.add("%s: %s: %v", c.file, p, err)
			return literal(`""`)
		}
		return c.compileString(p, s)
	default:
		return literal(append([]byte(nil), raw...))
	}
}

// compileFields compiles one of the eventTicket field arrays: every element
// is a field object with a static key, checked for uniqueness across all
// arrays; a field whose value renders empty is left out of the pass.
func (c *compiler) compileFields(p string, raw json.RawMessage) node {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		c.add("%s: %s must be a list of field objects", c.file, p)
		return literal("[]")
	}
	rawItems := []json.RawMessage{}
	_ = json.Unmarshal(raw, &rawItems)
	a := &array{}
	for i, f := range items {
		fp := fmt.Sprintf("%s[%d]", p, i)
		var key string
		if err := json.Unmarshal(f["key"], &key); err != nil || key == "" {
			c.add("%s: %s: key is required and must be a plain string", c.file, fp)
			continue
		}
		fp = fmt.Sprintf("%s (key %q)", fp, key)
		if strings.Contains(key, "{{") {
			c.add("%s: %s: key must not be templated", c.file, fp)
		}
		if first, dup := c.keys[key]; dup {
			c.add("%s: %s: duplicate field key %q (also at %s); keys must be unique across all field arrays", c.file, fp, key, first)
		} else {
			c.keys[key] = fp
		}
		if _, ok := f["value"]; !ok {
			c.add("%s: %s: value is required", c.file, fp)
		}
		if cm, ok := f["changeMessage"]; ok {
			var s string
			if json.Unmarshal(cm, &s) != nil || !strings.Contains(s, "%@") {
				c.add("%s: %s: changeMessage must contain %%@ (the new value), e.g. \"Your seat is now %%@\"", c.file, fp)
			}
		}
		_, cur := f["currencyCode"]
		_, num := f["numberStyle"]
		if cur && num {
			c.add("%s: %s: currencyCode and numberStyle cannot be used together", c.file, fp)
		}
		_, ds := f["dateStyle"]
		_, ts := f["timeStyle"]
		if r, ok := f["row"]; ok && string(r) != "0" && string(r) != "1" {
			c.add("%s: %s: row must be 0 or 1", c.file, fp)
		}
		o := c.compile(fp, rawItems[i], false).(*object)
		o.field = true
		if _, set := f["ignoresTimeZone"]; (ds || ts) && !set {
			// Venue-local: Wallet shows the time in the value's own offset
			// (the event's zone), not the phone's.
			o.add("ignoresTimeZone", literal("true"))
		}
		for j, k := range o.keys {
			if k != "value" {
				continue
			}
			if st, ok := o.vals[j].(*strTpl); ok {
				switch {
				case cur || num:
					st.kind = valueNumber
				case ds || ts:
					st.kind = valueDate
				}
			}
		}
		a.items = append(a.items, o)
	}
	return a
}

func (c *compiler) compileString(p, s string) node {
	if !strings.Contains(s, "{{") {
		var b bytes.Buffer
		writeJSONString(&b, s)
		return literal(b.Bytes())
	}
	tpl, err := template.New(p).Option("missingkey=error").Funcs(funcs).Parse(s)
	if err != nil {
		c.add("%s: %s: %v", c.file, p, cleanTemplateError(err))
		return literal(`""`)
	}
	return &strTpl{path: p, tpl: tpl, fast: compileFast(tpl)}
}

var fieldErrRE = regexp.MustCompile(`can't evaluate field (\w+) in type`)

func cleanTemplateError(err error) string {
	if m := fieldErrRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Sprintf("unknown ticket field %q", m[1])
	}
	return err.Error()
}

// featuredActionTypes are the kinds of iOS 27 featured actions.
var featuredActionTypes = map[string]bool{
	"viewSchedule": true, "watchTrailer": true, "listenToMusic": true, "call": true, "place": true, "addToBalance": true,
	"order": true, "shop": true, "membershipBenefits": true, "bookAppointment": true, "bookCar": true, "bookFlight": true,
	"bookStay": true, "viewOffersRewards": true,
}

// checkFeaturedActions checks iOS 27's featuredActions: at most two, each
// with an identifier, a known type and an https url (a place names its
// Maps placeIdentifier instead); they do not show on a poster ticket.
func checkFeaturedActions(add func(string, ...any), raw json.RawMessage, poster bool) {
	if raw == nil {
		return
	}
	var acts []map[string]any
	if err := json.Unmarshal(raw, &acts); err != nil {
		add("%s: featuredActions must be a list of {identifier, type, url} objects", TemplateFile)
		return
	}
	if len(acts) > 2 {
		add("%s: featuredActions has %d entries; Wallet shows at most 2", TemplateFile, len(acts))
	}
	if poster {
		add("%s: featuredActions do not show on a poster event ticket (preferredStyleSchemes): use the event guide's URLs", TemplateFile)
	}
	for i, a := range acts {
		p := fmt.Sprintf("%s: featuredActions[%d]", TemplateFile, i)
		if id, _ := a["identifier"].(string); id == "" {
			add("%s: identifier is required", p)
		}
		typ, _ := a["type"].(string)
		if !featuredActionTypes[typ] {
			add("%s: type %q is not a featured action type (viewSchedule, listenToMusic, call, place, order, shop, …)", p, typ)
		}
		if typ == "place" {
			if pid, _ := a["placeIdentifier"].(string); pid == "" {
				add("%s: a place action needs placeIdentifier (a Maps place id)", p)
			}
			continue
		}
		if u, _ := a["url"].(string); !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "tel:") {
			add("%s: url %q must be an https (or, for call, tel:) URL", p, u)
		}
	}
}

// eventGuideURLKeys are the poster event guide's links.
var eventGuideURLKeys = []string{"bagPolicyURL", "orderFoodURL", "parkingInformationURL", "purchaseParkingURL",
	"directionsInformationURL", "transitInformationURL", "merchandiseURL", "accessibilityURL", "addOnURL", "contactVenueWebsite"}

// checkEventGuide checks the event guide's links: https, and at least two
// of them (the guide shows only then), counting the venue's e-mail and
// phone.
func checkEventGuide(add func(string, ...any), doc map[string]json.RawMessage) {
	n := 0
	for _, k := range eventGuideURLKeys {
		raw, ok := doc[k]
		if !ok {
			continue
		}
		n++
		var u string
		if json.Unmarshal(raw, &u) != nil || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "{{")) {
			add("%s: %s must be an https URL", TemplateFile, k)
		}
	}
	for _, k := range []string{"contactVenueEmail", "contactVenuePhoneNumber"} {
		if _, ok := doc[k]; ok {
			n++
		}
	}
	if n == 1 {
		add("%s: the event guide shows only with two or more of its links (%s, contactVenueEmail, contactVenuePhoneNumber); give another or none",
			TemplateFile, strings.Join(eventGuideURLKeys, ", "))
	}
}
