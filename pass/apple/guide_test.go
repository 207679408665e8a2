package apple_test

import (
	"strings"
	"testing"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
)

// TestEventGuideByVenueEventAndPerformance: a tenant's event guide rules
// give each poster pass its entries, the most specific rule winning each;
// a classic pass and a guide of one entry show none; bad rules stop the
// issuer with every problem named.
func TestEventGuideByVenueEventAndPerformance(t *testing.T) {
	b := setup(t)
	id, err := certs.Load(certs.Source{CertFile: b.dev.Cert, KeyFile: b.dev.Key, WWDRFile: b.dev.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	rules := []apple.GuideRule{
		{EventID: 77, Links: map[string]string{"bagPolicyURL": "https://example.com/bags-event-77"}},
		{Links: map[string]string{"directionsInformationURL": "https://example.com/directions", "bagPolicyURL": "https://example.com/bags"}},
		{Venue: "lakeside arena", Links: map[string]string{"parkingInformationURL": "https://example.com/lakeside/parking",
			"contactVenuePhoneNumber": "+41 21 000 00 00", "bagPolicyURL": "https://example.com/lakeside/bags"}},
		{PerformanceID: 9001, Links: map[string]string{"bagPolicyURL": "https://example.com/bags-9001"}},
		{Venue: "Other Hall", Links: map[string]string{"orderFoodURL": "https://example.com/other/food"}},
	}
	issuer := func(nfc *apple.NFC, rules []apple.GuideRule) (*apple.Issuer, error) {
		return apple.NewIssuer(apple.IssuerConfig{PassTypeID: appletest.PassTypeID, TeamID: appletest.TeamID,
			OrganizationName: "Demo Concerts", WebServiceURL: "https://passes.example.com/api/demo/apple",
			Cert: id.Leaf, Key: id.Key, WWDR: id.WWDR, NFC: nfc, EventGuide: rules})
	}
	nfc, err := issuer(&apple.NFC{EncryptionPublicKey: testNFCKey, RequiresAuthentication: true}, rules)
	if err != nil {
		t.Fatal(err)
	}
	classic, err := issuer(nil, rules)
	if err != nil {
		t.Fatal(err)
	}
	build := func(is *apple.Issuer, edit func(*pass.Ticket)) map[string]any {
		t.Helper()
		tk := apple.SampleTicket(pass.EventConcert)
		edit(&tk)
		return b.built(t, is, tk)
	}
	for _, c := range []struct {
		name string
		edit func(*pass.Ticket)
		want map[string]string
	}{
		{"the venue's entries over the tenant's", func(*pass.Ticket) {}, map[string]string{
			"directionsInformationURL": "https://example.com/directions", "bagPolicyURL": "https://example.com/lakeside/bags",
			"parkingInformationURL": "https://example.com/lakeside/parking", "contactVenuePhoneNumber": "+41 21 000 00 00"}},
		{"the event's over the venue's", func(tk *pass.Ticket) { tk.Product.EventID = 77 }, map[string]string{
			"directionsInformationURL": "https://example.com/directions", "bagPolicyURL": "https://example.com/bags-event-77",
			"parkingInformationURL": "https://example.com/lakeside/parking", "contactVenuePhoneNumber": "+41 21 000 00 00"}},
		{"the performance's over the event's", func(tk *pass.Ticket) { tk.Product.EventID, tk.Event.PerformanceID = 77, 9001 }, map[string]string{
			"directionsInformationURL": "https://example.com/directions", "bagPolicyURL": "https://example.com/bags-9001",
			"parkingInformationURL": "https://example.com/lakeside/parking", "contactVenuePhoneNumber": "+41 21 000 00 00"}},
		{"the venue by its name in another language", func(tk *pass.Ticket) {
			tk.Venue.Name, tk.Venue.Names = "Arène du Lac", pass.LocalText{"fr": "Arène du Lac", "en": "Lakeside Arena"}
		}, map[string]string{
			"directionsInformationURL": "https://example.com/directions", "bagPolicyURL": "https://example.com/lakeside/bags",
			"parkingInformationURL": "https://example.com/lakeside/parking", "contactVenuePhoneNumber": "+41 21 000 00 00"}},
		{"another venue", func(tk *pass.Ticket) { tk.Venue.Name = "Other Hall" }, map[string]string{
			"directionsInformationURL": "https://example.com/directions", "bagPolicyURL": "https://example.com/bags",
			"orderFoodURL": "https://example.com/other/food"}},
	} {
		pj := build(nfc, c.edit)
		if pj["preferredStyleSchemes"] == nil {
			t.Fatalf("%s: not a poster pass", c.name)
		}
		for _, k := range apple.GuideKeys {
			got, _ := pj[k].(string)
			if got != c.want[k] {
				t.Errorf("%s: %s = %q, want %q", c.name, k, got, c.want[k])
			}
		}
	}
	// A classic event ticket has no guide to show.
	if pj := build(classic, func(*pass.Ticket) {}); pj["bagPolicyURL"] != nil || pj["directionsInformationURL"] != nil {
		t.Errorf("a classic pass carries the guide: %v", pj["bagPolicyURL"])
	}
	// One entry is no guide.
	one, err := issuer(&apple.NFC{EncryptionPublicKey: testNFCKey}, []apple.GuideRule{{Links: map[string]string{"bagPolicyURL": "https://example.com/bags"}}})
	if err != nil {
		t.Fatal(err)
	}
	if pj := build(one, func(*pass.Ticket) {}); pj["bagPolicyURL"] != nil {
		t.Errorf("a guide of one entry is shown: %v", pj["bagPolicyURL"])
	}
	// Bad rules: every problem named.
	_, err = issuer(nil, []apple.GuideRule{
		{Links: map[string]string{"bagPolicyURL": "http://example.com/bags", "parkingURL": "https://example.com/p"}},
		{Venue: "X"},
		{Links: map[string]string{"contactVenueEmail": "not an address", "contactVenuePhoneNumber": "call us"}},
		{EventID: -1, Links: map[string]string{"orderFoodURL": "https:///nohost"}},
	})
	for _, want := range []string{`eventGuide[0]: links: bagPolicyURL: "http://example.com/bags" is not an https URL`,
		`eventGuide[0]: links: "parkingURL" is not an event guide entry`, "eventGuide[1]: links: give at least one entry",
		`contactVenueEmail "not an address"`, `contactVenuePhoneNumber "call us"`, "eventGuide[3]: eventId and performanceId",
		`orderFoodURL: "https:///nohost"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad rules: %v; want it to name %s", err, want)
		}
	}
	if pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("bad rules: kind %v", pass.KindOf(err))
	}
}
