package apple_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
)

// TestPassesAcceptedByPasskitGenerator: every kind of sample pass, for a
// classic and an NFC tenant of an https deployment, in every state, is
// accepted by the schemas of passkit-generator (an independent Node.js
// pass library); a pass broken on purpose is refused, so the check can
// fail. It needs WALLETPASS_PASSKIT_GENERATOR (scripts/passkit-generator.sh
// prints it; .ci/run sets it) and node.
func TestPassesAcceptedByPasskitGenerator(t *testing.T) {
	dir := os.Getenv("WALLETPASS_PASSKIT_GENERATOR")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("WALLETPASS_PASSKIT_GENERATOR is not set: CI checks every pass with passkit-generator (scripts/passkit-generator.sh)")
		}
		t.Skip("set WALLETPASS_PASSKIT_GENERATOR=$(scripts/passkit-generator.sh) to check the passes with passkit-generator")
	}
	b := setup(t)
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	issuers := map[string]*apple.Issuer{}
	for name, nfc := range map[string]*apple.NFC{"classic": nil, "nfc-auth": {EncryptionPublicKey: testNFCKey, RequiresAuthentication: true},
		"nfc": {EncryptionPublicKey: testNFCKey, Message: "ticketId"}} {
		is, err := apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
			OrganizationName: "Demo Concerts", WebServiceURL: "https://passes.example.com/api/demo/apple",
			Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR, NFC: nfc, SharingProhibited: "named",
			// Every entry of the event guide, so that the schemas see them all.
			EventGuide: []apple.GuideRule{{Links: map[string]string{
				"bagPolicyURL": "https://example.com/bags", "orderFoodURL": "https://example.com/food",
				"parkingInformationURL": "https://example.com/parking", "purchaseParkingURL": "https://example.com/parking/buy",
				"directionsInformationURL": "https://example.com/directions", "transitInformationURL": "https://example.com/transit",
				"merchandiseURL": "https://example.com/shop", "accessibilityURL": "https://example.com/access",
				"addOnURL": "https://example.com/add-ons", "contactVenueWebsite": "https://example.com",
				"contactVenueEmail": "info@example.com", "contactVenuePhoneNumber": "+41 21 000 00 00"}}}})
		if err != nil {
			t.Fatal(err)
		}
		issuers[name] = is
	}
	out := t.TempDir()
	var files []string
	for name, is := range issuers {
		for _, k := range []pass.EventKind{pass.EventConcert, pass.EventFestival, pass.EventSports, pass.EventTheatre,
			pass.EventConference, pass.EventMovie, pass.EventGeneric} {
			for _, st := range []pass.TicketState{pass.TicketValid, pass.TicketUsed, pass.TicketCancelled} {
				tk := apple.SampleTicket(k)
				tk.State = st
				tk.Notice = "Doors open at 19:00"
				if k == pass.EventMovie { // an iOS 27 format, with its fallback
					tk.Symbology, tk.Barcode = pass.SymbologyCode39, "FILM-0042"
				}
				built, err := is.Build(b.tpl, apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken})
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(out, fmt.Sprintf("%s-%s-%s.json", name, k, strings.ToLower(string(st))))
				if err := os.WriteFile(f, built.PassJSON, 0o600); err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
			}
		}
	}
	// A season ticket with its upcoming events, on every tenant.
	for name, is := range issuers {
		built, err := is.Build(b.tpl, apple.Input{Ticket: apple.SampleSeason(), SerialNumber: testSerial, AuthToken: testToken})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(out, name+"-season.json")
		if err := os.WriteFile(f, built.PassJSON, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	check := func(files ...string) (string, error) {
		cmd := exec.Command("node", append([]string{filepath.Join("..", "..", "scripts", "passkit-check.cjs"), dir}, files...)...)
		o, err := cmd.CombinedOutput()
		return string(o), err
	}
	if o, err := check(files...); err != nil {
		t.Fatalf("passkit-generator refused passes (%v):\n%s", err, o)
	}
	t.Logf("%d passes accepted by passkit-generator", len(files))

	var broken map[string]any
	raw, _ := os.ReadFile(files[0])
	if err := json.Unmarshal(raw, &broken); err != nil {
		t.Fatal(err)
	}
	broken["relevantDates"] = []any{map[string]any{"startDate": "tomorrow"}}
	raw, _ = json.Marshal(broken)
	bad := filepath.Join(out, "broken.json")
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err := check(bad); err == nil || !strings.Contains(o, "refused") {
		t.Errorf("a broken pass was not refused: %v\n%s", err, o)
	}
}
