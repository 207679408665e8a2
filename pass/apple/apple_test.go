package apple_test

import (
	"archive/zip"
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testToken  = "tok-0123456789abcdefghijklmnopqrstuvwxyzABCD"
	testSerial = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// bundle is what the tests need: a development PKI, an issuer and the
// default template.
type bundle struct {
	dev    certs.DevPaths
	issuer *apple.Issuer
	tpl    *apple.Template
}

func setup(t testing.TB) bundle {
	t.Helper()
	f := appletest.Setup(t)
	return bundle{dev: f.Dev, issuer: f.Issuer, tpl: f.Template}
}

// testNFCKey is a P-256 public key (X.509 SubjectPublicKeyInfo, Base64),
// as a terminal vendor gives it.
const testNFCKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0FQ/nJf6ccwA9xpj0BO1o2pl6VbP3JEVNv/0dDRUj0P9EdMhDBkrZ9WQGuZqnWFyKW2h7Y/O6xEHme0sd5eaDA=="

// nfcIssuer is the test issuer of an NFC tenant.
func nfcIssuer(t *testing.T, b bundle, auth bool) *apple.Issuer {
	t.Helper()
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
		OrganizationName: "Demo Concerts", WebServiceURL: "https://passes.example.com/api/demo/apple",
		Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR,
		NFC: &apple.NFC{EncryptionPublicKey: testNFCKey, RequiresAuthentication: auth}})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func TestGoldenPassJSON(t *testing.T) {
	b := setup(t)
	nfc := nfcIssuer(t, b, true)
	tests := []struct {
		name       string
		kind       pass.EventKind
		nfc        bool
		wantPoster bool
	}{
		// Without NFC every pass is a classic event ticket.
		{name: "seated-concert", kind: pass.EventConcert},
		{name: "standing-festival", kind: pass.EventFestival},
		{name: "sports-match", kind: pass.EventSports},
		{name: "conference-no-poster-semantics", kind: pass.EventConference},
		// An NFC tenant: the poster layout when the ticket has every tag
		// (the festival's venue has no room: classic).
		{name: "seated-concert-nfc", kind: pass.EventConcert, nfc: true, wantPoster: true},
		{name: "standing-festival-nfc", kind: pass.EventFestival, nfc: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := apple.SampleTicket(tc.kind)
			is := b.issuer
			if tc.nfc {
				is = nfc
			}
			built, err := is.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
			if err != nil {
				t.Fatal(err)
			}
			pj := appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, built.PassJSON, "", "  "); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".pass.json.golden")
			if *update {
				if err := os.WriteFile(golden, append(pretty.Bytes(), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pass/apple -update)", err)
			}
			if diff := cmp.Diff(string(want), pretty.String()+"\n"); diff != "" {
				t.Errorf("pass.json differs from %s (-want +got):\n%s", golden, diff)
			}
			_, hasPoster := pj["preferredStyleSchemes"]
			if hasPoster != tc.wantPoster {
				t.Errorf("preferredStyleSchemes present = %v, want %v", hasPoster, tc.wantPoster)
			}
			nfcDict, _ := pj["nfc"].(map[string]any)
			if tc.nfc != (nfcDict != nil) || (tc.nfc && (nfcDict["message"] != tk.Barcode || nfcDict["requiresAuthentication"] != true ||
				pj["sharingProhibited"] != true)) {
				t.Errorf("nfc %v, sharingProhibited %v", pj["nfc"], pj["sharingProhibited"])
			}
		})
	}
}

// TestPosterNeedsNFCAndSemantics: the poster layout is only for an NFC
// tenant's tickets that carry every tag Apple's article asks for; a
// cancelled ticket sends nothing over NFC; a bad NFC key is refused.
// built signs tk with is and the bundle's template, verifies the pass
// and returns its pass.json.
func (b bundle) built(t *testing.T, is *apple.Issuer, tk pass.Ticket) map[string]any {
	t.Helper()
	built, err := is.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
}

func TestPosterNeedsNFCAndSemantics(t *testing.T) {
	b := setup(t)
	nfc := nfcIssuer(t, b, false)
	build := func(is *apple.Issuer, tk pass.Ticket) map[string]any { t.Helper(); return b.built(t, is, tk) }
	for _, c := range []struct {
		name string
		edit func(*pass.Ticket)
	}{
		{"no performers", func(tk *pass.Ticket) { tk.Event.Performers = nil }},
		{"no room", func(tk *pass.Ticket) { tk.Venue.Room = "" }},
		{"no region", func(tk *pass.Ticket) { tk.Venue.City = "" }},
	} {
		tk := apple.SampleTicket(pass.EventConcert)
		c.edit(&tk)
		if pj := build(nfc, tk); pj["preferredStyleSchemes"] != nil || pj["nfc"] == nil {
			t.Errorf("%s: a poster (%v) or no NFC (%v)", c.name, pj["preferredStyleSchemes"], pj["nfc"])
		}
	}
	sport := build(nfc, apple.SampleTicket(pass.EventSports))
	sem := sport["semantics"].(map[string]any)
	for _, k := range []string{"homeTeamAbbreviation", "awayTeamAbbreviation", "venueName", "venueRoom", "eventStartDate"} {
		if sem[k] == nil || sem[k] == "" {
			t.Errorf("poster sports pass lacks semantics.%s", k)
		}
	}
	if sport["preferredStyleSchemes"] == nil || sport["sharingProhibited"] != nil {
		t.Errorf("sports: scheme %v, sharingProhibited %v (no authentication asked)", sport["preferredStyleSchemes"], sport["sharingProhibited"])
	}
	cancelled := apple.SampleTicket(pass.EventConcert)
	cancelled.State = pass.TicketCancelled
	if pj := build(nfc, cancelled); pj["nfc"] != nil || pj["preferredStyleSchemes"] != nil {
		t.Errorf("a cancelled ticket keeps NFC: %v", pj["nfc"])
	}
	for _, bad := range []apple.NFC{{EncryptionPublicKey: "not base64!"}, {EncryptionPublicKey: base64.StdEncoding.EncodeToString([]byte("x"))},
		{EncryptionPublicKey: testNFCKey, Message: "holderName"}} {
		if err := apple.CheckNFC(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	files := appletest.Unzip(t, func() []byte {
		built, _ := nfc.Build(b.tpl, apple.Input{Ticket: apple.SampleTicket(pass.EventSports), SerialNumber: testSerial, AuthToken: testToken})
		return built.PKPass
	}())
	for _, f := range []string{"artwork.png", "artwork@2x.png", "artwork@3x.png", "primaryLogo@3x.png", "secondaryLogo@3x.png", "icon.png", "fr.lproj/pass.strings", "de.lproj/pass.strings", "en.lproj/pass.strings"} {
		if _, ok := files[f]; !ok {
			t.Errorf("pass lacks %s", f)
		}
	}
	// A classic event ticket (no NFC, or NFC without what the poster
	// needs) goes without the poster's images; Verify checked that its
	// manifest names exactly what it holds.
	for name, is := range map[string]*apple.Issuer{"no NFC": b.issuer, "NFC, no room": nfc} {
		tk := apple.SampleTicket(pass.EventSports)
		if is == nfc {
			tk.Venue.Room = ""
		}
		built, err := is.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
		if err != nil {
			t.Fatal(err)
		}
		appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
		files := appletest.Unzip(t, built.PKPass)
		for f := range files {
			if strings.HasPrefix(f, "artwork") || strings.HasPrefix(f, "primaryLogo") || strings.HasPrefix(f, "secondaryLogo") {
				t.Errorf("%s: classic pass holds the poster image %s", name, f)
			}
		}
		if _, ok := files["strip@3x.png"]; !ok {
			t.Errorf("%s: classic pass lacks its strip", name)
		}
	}
}

// TestNFCKey: the terminal key is an ECDH P-256 key in an X.509
// SubjectPublicKeyInfo, and nothing else (not X25519, another curve or
// RSA); a PEM body cut into lines is accepted and written to pass.json
// as one line of Base64.
func TestNFCKey(t *testing.T) {
	t.Parallel()
	spki := func(pub any) string {
		t.Helper()
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A PEM's body: lines of 64 characters.
	var lines []string
	for s := testNFCKey; s != ""; {
		n := min(64, len(s))
		lines = append(lines, s[:n])
		s = s[n:]
	}
	for _, c := range []struct {
		name, key string
		ok        bool
	}{
		{"P-256", testNFCKey, true},
		{"P-256 as crypto/ecdh makes it", spki(p256.PublicKey()), true},
		{"PEM body in lines", "\n" + strings.Join(lines, "\n") + "\n", true},
		{"PEM body in CRLF lines", strings.Join(lines, "\r\n"), true},
		{"PEM body indented (a YAML block)", "  " + strings.Join(lines, "\n  "), true},
		{"X25519", spki(x25519.PublicKey()), false},
		{"P-384", spki(&p384.PublicKey), false},
		{"RSA", spki(&rsaKey.PublicKey), false},
	} {
		err := apple.CheckNFC(apple.NFC{EncryptionPublicKey: c.key})
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "must be a P-256 key")) {
			t.Errorf("%s: err = %v, want ok = %v", c.name, err, c.ok)
		}
	}

	b := setup(t)
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	cfg := apple.NFC{EncryptionPublicKey: strings.Join(lines, "\r\n") + "\n"}
	is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
		OrganizationName: "Demo Concerts", Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR, NFC: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	pj := b.built(t, is, apple.SampleTicket(pass.EventConcert))
	if got := pj["nfc"].(map[string]any)["encryptionPublicKey"]; got != testNFCKey {
		t.Errorf("nfc.encryptionPublicKey = %q, want %q (one line)", got, testNFCKey)
	}
	if !strings.Contains(cfg.EncryptionPublicKey, "\n") {
		t.Errorf("NewIssuer changed the caller's NFC setup: %q", cfg.EncryptionPublicKey)
	}
}

func TestLifecycleStates(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name        string
		state       pass.TicketState
		reEntry     bool
		wantVoided  bool
		wantBarcode bool
		wantStatus  string
	}{
		{name: "valid", state: pass.TicketValid, wantBarcode: true, wantStatus: "Valid"},
		{name: "used single entry", state: pass.TicketUsed, wantVoided: true, wantBarcode: true, wantStatus: "Used"},
		{name: "cancelled", state: pass.TicketCancelled, wantVoided: true, wantStatus: "Cancelled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := apple.SampleTicket(pass.EventConcert)
			tk.State = tc.state
			built, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
			if err != nil {
				t.Fatal(err)
			}
			pj := appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
			if got := pj["voided"] == true; got != tc.wantVoided {
				t.Errorf("voided = %v, want %v", got, tc.wantVoided)
			}
			if _, got := pj["barcodes"]; got != tc.wantBarcode {
				t.Errorf("barcodes present = %v, want %v", got, tc.wantBarcode)
			}
			if got := fieldValue(pj, "status"); got != tc.wantStatus {
				t.Errorf("status field = %v, want %v", got, tc.wantStatus)
			}
		})
	}
}

func TestBarcodeSymbologies(t *testing.T) {
	b := setup(t)
	for sym, format := range map[pass.Symbology]string{
		pass.SymbologyQR: "PKBarcodeFormatQR", pass.SymbologyPDF417: "PKBarcodeFormatPDF417",
		pass.SymbologyAztec: "PKBarcodeFormatAztec", pass.SymbologyCode128: "PKBarcodeFormatCode128",
	} {
		t.Run(string(sym), func(t *testing.T) {
			tk := apple.SampleTicket(pass.EventConcert)
			tk.Symbology = sym
			pj, err := b.issuer.Render(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(pj, &m); err != nil {
				t.Fatal(err)
			}
			bc := m["barcodes"].([]any)[0].(map[string]any)
			if bc["format"] != format || bc["message"] != tk.Barcode || bc["messageEncoding"] != "iso-8859-1" {
				t.Errorf("barcode = %v, want format %s and message %s", bc, format, tk.Barcode)
			}
		})
	}
}

func TestDatesToTheSecondWithOffset(t *testing.T) {
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Event.Start = tk.Event.Start.Add(123456789 * time.Nanosecond)
	pj, err := b.issuer.Render(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(pj, []byte(`"2027-03-14T20:00:00+01:00"`)) {
		t.Errorf("pass.json lacks the start date to the second with its offset:\n%s", pj)
	}
	if bytes.Contains(pj, []byte(".123")) {
		t.Errorf("pass.json carries fractional seconds")
	}
}

func TestSerialAndTokenKept(t *testing.T) {
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	first, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	tk.Barcode = "999900001111"
	tk.Seat.Number = "15"
	second, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if first.ContentHash == second.ContentHash {
		t.Errorf("content hash did not change with the seat and barcode")
	}
	a := appletest.Verify(t, first.PKPass, b.dev.WWDRCert)
	c := appletest.Verify(t, second.PKPass, b.dev.WWDRCert)
	for _, k := range []string{"serialNumber", "authenticationToken", "webServiceURL", "passTypeIdentifier"} {
		if a[k] != c[k] {
			t.Errorf("%s changed from %v to %v", k, a[k], c[k])
		}
	}
	again, err := b.issuer.Render(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if apple.ContentHash(b.tpl, again) != second.ContentHash {
		t.Errorf("content hash is not deterministic")
	}
}

func TestBundle(t *testing.T) {
	b := setup(t)
	var passes []apple.NamedPass
	for i := range 10 {
		tk := apple.SampleTicket(pass.EventConcert)
		tk.MovementID += int64(i)
		tk.Seat.Number = string(rune('1' + i))
		built, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: pass.NewSerialNumber(), AuthToken: pass.NewAuthToken()})
		if err != nil {
			t.Fatal(err)
		}
		passes = append(passes, apple.NamedPass{Name: "ticket-" + string(rune('a'+i)) + ".pkpass", PKPass: built.PKPass})
	}
	data, err := apple.Bundle(passes)
	if err != nil {
		t.Fatal(err)
	}
	files := appletest.Unzip(t, data)
	if len(files) != 10 {
		t.Fatalf("bundle holds %d files, want 10", len(files))
	}
	for name, pk := range files {
		if !strings.HasSuffix(name, ".pkpass") {
			t.Errorf("bundle entry %s", name)
		}
		appletest.Verify(t, pk, b.dev.WWDRCert)
	}
	if _, err := apple.Bundle(append(passes, passes[0])); err == nil || pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("11 passes: err = %v, want an invalid error", err)
	}
	if _, err := apple.Bundle(nil); err == nil {
		t.Errorf("empty bundle accepted")
	}
}

func fieldValue(pj map[string]any, key string) any {
	et := pj["eventTicket"].(map[string]any)
	for _, arr := range et {
		for _, f := range arr.([]any) {
			m := f.(map[string]any)
			if m["key"] == key {
				return m["value"]
			}
		}
	}
	return nil
}

// TestSharingProhibited: the tenant's policy removes the Share button for
// every pass, or only for passes that name their holder.
func TestSharingProhibited(t *testing.T) {
	b := setup(t)
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	named := apple.SampleTicket(pass.EventConcert)
	anonymous := named
	anonymous.HolderName, anonymous.HolderEmail = "", ""
	for _, c := range []struct {
		policy           string
		named, anonymous bool
	}{{"", false, false}, {"never", false, false}, {"named", true, false}, {"always", true, true}} {
		is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
			OrganizationName: "Demo", Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR, SharingProhibited: c.policy})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			tk   pass.Ticket
			want bool
		}{{named, c.named}, {anonymous, c.anonymous}} {
			built, err := is.Build(b.tpl, apple.Input{Ticket: tc.tk, SerialNumber: testSerial, AuthToken: testToken})
			if err != nil {
				t.Fatal(err)
			}
			pj := appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
			if got, _ := pj["sharingProhibited"].(bool); got != tc.want {
				t.Errorf("policy %q, holder %q: sharingProhibited %v, want %v", c.policy, tc.tk.HolderName, got, tc.want)
			}
		}
	}
}

// TestStringsShipAsUTF16: a pass carries each language's pass.strings as
// Apple asks (UTF-16 little-endian with a byte-order mark), with the
// template's translations, accents included.
func TestStringsShipAsUTF16(t *testing.T) {
	b := setup(t)
	built, err := b.issuer.Build(b.tpl, apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(built.PKPass), int64(len(built.PKPass)))
	if err != nil {
		t.Fatal(err)
	}
	src, err := fs.ReadFile(templates.FS, "default/fr.lproj/pass.strings")
	if err != nil {
		t.Fatal(err)
	}
	want, err := apple.ParseStrings(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("fr.lproj/pass.strings")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if !bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		t.Fatalf("fr.lproj/pass.strings starts with % x, want the UTF-16LE byte-order mark", data[:4])
	}
	got, err := apple.ParseStrings(data)
	if err != nil || !maps.Equal(got, want) || !strings.Contains(got["Message from the organiser"], "’") {
		t.Errorf("the shipped translations differ: %v (%d keys, want %d)", err, len(got), len(want))
	}
}

// TestGoogleImagesStayOutOfThePass: the template's Google Wallet images
// are served (Template.File) but not packed into the .pkpass.
func TestGoogleImagesStayOutOfThePass(t *testing.T) {
	b := setup(t)
	built, err := b.issuer.Build(b.tpl, apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	files := appletest.Unzip(t, built.PKPass)
	for _, name := range []string{"google-logo.png", "google-hero.png"} {
		if _, in := files[name]; in {
			t.Errorf("%s is in the pass", name)
		}
		if data, ok := b.tpl.File(name); !ok || len(data) < 1000 {
			t.Errorf("the template does not serve %s", name)
		}
	}
}

// TestIOS27BarcodesHaveAFallback: a ticket in one of iOS 27's formats
// lists a QR code of the same value after it (older iOS shows no iOS 27
// format); the validator refuses a pass with only iOS 27 formats, and a
// value the format cannot carry is refused before signing.
func TestIOS27BarcodesHaveAFallback(t *testing.T) {
	b := setup(t)
	tk := apple.SampleTicket(pass.EventConcert)
	tk.Symbology, tk.Barcode = pass.SymbologyEAN13, "7612345678900"
	built, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
	bcs, _ := pj["barcodes"].([]any)
	if len(bcs) != 2 || bcs[0].(map[string]any)["format"] != "PKBarcodeFormatEAN13" || bcs[1].(map[string]any)["format"] != "PKBarcodeFormatQR" ||
		bcs[1].(map[string]any)["message"] != tk.Barcode {
		t.Errorf("barcodes %v", bcs)
	}
	var m map[string]any
	_ = json.Unmarshal(built.PassJSON, &m)
	m["barcodes"] = bcs[:1]
	only, _ := json.Marshal(m)
	if err := apple.ValidatePassJSON(only, map[string]bool{"icon.png": true}, false); err == nil || !strings.Contains(err.Error(), "iOS 27 formats") {
		t.Errorf("only an iOS 27 format: %v", err)
	}
	for _, c := range []struct {
		sym   pass.Symbology
		value string
	}{{pass.SymbologyEAN13, "123"}, {pass.SymbologyI2of5, "12345"}, {pass.SymbologyCode39, "lower"}, {pass.SymbologyCodabar, "AB"}} {
		tk.Symbology, tk.Barcode = c.sym, c.value
		if _, err := b.issuer.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken}); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("%s %q: %v, want refused", c.sym, c.value, err)
		}
	}
}

// TestSeasonTicketListsItsEvents: a season ticket's pass lists its next
// events (iOS 26's upcomingPassInformation), each with its date in the
// venue's zone, its venue and a back field; the one under way is active.
func TestSeasonTicketListsItsEvents(t *testing.T) {
	b := setup(t)
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	tk := apple.SampleSeason()
	during := tk.Upcoming[1].Start.Add(time.Hour)
	is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID, OrganizationName: "Demo",
		Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR, Clock: func() time.Time { return during }})
	if err != nil {
		t.Fatal(err)
	}
	built, err := is.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
	if err := is.Validate(b.tpl, built.PassJSON); err != nil { // the validator's rules for them included
		t.Errorf("the season ticket's pass.json: %v", err)
	}
	up, _ := pj["upcomingPassInformation"].([]any)
	if len(up) != 3 {
		t.Fatalf("upcomingPassInformation: %v", pj["upcomingPassInformation"])
	}
	// Every field of the pass, wherever it is, has a key of its own.
	keys := map[string]int{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if k, ok := v["key"].(string); ok && v["value"] != nil {
				keys[k]++
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(pj)
	for k, n := range keys {
		if n > 1 {
			t.Errorf("%d fields have the key %q", n, k)
		}
	}
	for i, e := range up {
		m := e.(map[string]any)
		date := m["dateInformation"].(map[string]any)
		sem := m["semantics"].(map[string]any)
		backs, _ := m["backFields"].([]any)
		if m["type"] != "event" || m["identifier"] != tk.Upcoming[i].ID || m["isActive"] != (i == 1) ||
			date["timeZone"] != "Europe/Zurich" || date["date"] != tk.Upcoming[i].Start.Format(time.RFC3339) ||
			sem["venueName"] != tk.Venue.Name || len(backs) == 0 {
			t.Errorf("entry %d: %v", i, m)
		}
	}
	bad := tk
	bad.Upcoming = append([]pass.UpcomingEvent(nil), tk.Upcoming...)
	bad.Upcoming[2].ID = bad.Upcoming[0].ID
	if _, err := is.Build(b.tpl, apple.Input{Ticket: bad, SerialNumber: testSerial, AuthToken: testToken}); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("a repeated event id: %v", err)
	}
}

// TestSeasonTicketDates: a season ticket's pass expires after its last
// upcoming event, not after its own, and is on the lock screen at each of
// its next events (at most ten, each window at most a day), not only at
// the first; relevantDate is the next event's start. The ticket's own
// event may be its first match without an end, or the season's validity
// (more than a day: not a match, so not relevant).
func TestSeasonTicketDates(t *testing.T) {
	b := setup(t)
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	season := func(matches int) pass.Ticket {
		tk := apple.SampleSeason()
		tk.Event.End = time.Time{} // the first match, without an end
		first := tk.Upcoming[0]
		tk.Upcoming = nil
		for i := range matches {
			start := first.Start.AddDate(0, 0, 7*i)
			tk.Upcoming = append(tk.Upcoming, pass.UpcomingEvent{ID: fmt.Sprintf("match-%02d", i+1),
				Name: fmt.Sprintf("Match %d", i+1), Start: start, End: start.Add(150 * time.Minute)})
		}
		return tk
	}
	validity := season(4)
	validity.Event.Start = time.Date(2026, 8, 1, 0, 0, 0, 0, validity.Event.Start.Location())
	validity.Event.End = time.Date(2027, 5, 31, 23, 59, 0, 0, validity.Event.Start.Location())
	validity.Event.Doors = time.Time{}
	before := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		tk   pass.Ticket
		now  time.Time
		want []pass.UpcomingEvent // the events the pass is relevant at
	}{
		{"three matches", season(3), before, season(3).Upcoming},
		{"twelve matches", season(12), before, season(12).Upcoming[:10]},
		{"the first two over", season(12), season(12).Upcoming[1].End.Add(time.Minute), season(12).Upcoming[2:12]},
		{"dated by its validity", validity, before, validity.Upcoming},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
				OrganizationName: "Demo", Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR, Clock: func() time.Time { return tc.now }})
			if err != nil {
				t.Fatal(err)
			}
			built, err := is.Build(b.tpl, apple.Input{Ticket: tc.tk, SerialNumber: testSerial, AuthToken: testToken})
			if err != nil {
				t.Fatal(err)
			}
			pj := appletest.Verify(t, built.PKPass, b.dev.WWDRCert)
			date := func(v any) time.Time {
				t.Helper()
				s, _ := v.(string)
				d, err := time.Parse(time.RFC3339, s)
				if err != nil {
					t.Fatalf("date %v: %v", v, err)
				}
				return d
			}
			last := tc.tk.Upcoming[len(tc.tk.Upcoming)-1]
			if exp := date(pj["expirationDate"]); exp.Before(last.End) || exp.Before(tc.tk.Event.End) {
				t.Errorf("expirationDate %v, want after the last match's end %v and the ticket's %v", exp, last.End, tc.tk.Event.End)
			}
			if got := date(pj["relevantDate"]); !got.Equal(tc.want[0].Start) {
				t.Errorf("relevantDate %v, want the next match's start %v", got, tc.want[0].Start)
			}
			rds, _ := pj["relevantDates"].([]any)
			var windows [][2]time.Time
			for _, rd := range rds {
				m := rd.(map[string]any)
				w := [2]time.Time{date(m["startDate"]), date(m["endDate"])}
				if d := w[1].Sub(w[0]); d <= 0 || d > 24*time.Hour {
					t.Errorf("window %v lasts %v", w, d)
				}
				windows = append(windows, w)
			}
			if len(windows) != len(tc.want) {
				t.Errorf("%d relevantDates %v, want one for each of %d matches", len(windows), windows, len(tc.want))
			}
			for _, u := range tc.want {
				if !slices.ContainsFunc(windows, func(w [2]time.Time) bool { return !u.Start.Before(w[0]) && u.End.Before(w[1].Add(time.Second)) }) {
					t.Errorf("no relevantDates window holds %s (%v to %v): %v", u.ID, u.Start, u.End, windows)
				}
			}
		})
	}
}
