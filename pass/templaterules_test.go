package pass_test

import (
	"testing"

	"walletpass/pass"
)

// TestTemplateChoice: the comfort variable first (when it names a
// template that exists), then the rules in order, then the default; each
// choice says why.
func TestTemplateChoice(t *testing.T) {
	exists := func(n string) bool { return n == "vip" || n == "season" || n == "derby" }
	c := pass.TemplateChoice{Variable: "WALLET", Default: "default", Exists: exists, Rules: []pass.TemplateRule{
		{Template: "season", ProductFamily: "PASS/OPEN_PASS"},
		{Template: "derby", PerformanceID: 42},
		{Template: "vip", ProductCode: "GALA"},
		{Template: "derby", EventID: 7},
	}}
	tk := func(edit func(*pass.Ticket)) pass.Ticket {
		var t pass.Ticket
		edit(&t)
		return t
	}
	for _, tc := range []struct {
		name      string
		t         pass.Ticket
		want, why string
	}{
		{"comfort variable", tk(func(t *pass.Ticket) { t.Product.Comfort = []string{"ZONE=a", "wallet = vip"}; t.Product.Code = "GALA" }), "vip", "comfort variable WALLET=vip"},
		{"comfort variable naming no template", tk(func(t *pass.Ticket) { t.Product.Comfort = []string{"WALLET=gold"}; t.Product.Code = "GALA" }), "vip", "rule 3: productCode=GALA"},
		{"family and sub type", tk(func(t *pass.Ticket) { t.Product.FamilyType, t.Product.FamilySubType = "PASS", "OPEN_PASS" }), "season", "rule 1: productFamily=PASS/OPEN_PASS"},
		{"family without the sub type", tk(func(t *pass.Ticket) { t.Product.FamilyType = "PASS" }), "default", "the tenant's default"},
		{"first match wins", tk(func(t *pass.Ticket) { t.Event.PerformanceID = 42; t.Product.Code = "gala" }), "derby", "rule 2: performanceId=42"},
		{"event id", tk(func(t *pass.Ticket) { t.Product.EventID = 7 }), "derby", "rule 4: eventId=7"},
		{"nothing matches", tk(func(t *pass.Ticket) { t.Product.Code = "OTHER" }), "default", "the tenant's default"},
	} {
		got, why := c.Choose(tc.t)
		if got != tc.want || why != tc.why {
			t.Errorf("%s: %s (%s), want %s (%s)", tc.name, got, why, tc.want, tc.why)
		}
	}
	off := c
	off.Variable = ""
	if got, _ := off.Choose(tk(func(t *pass.Ticket) { t.Product.Comfort = []string{"WALLET=vip"} })); got != "default" {
		t.Errorf("without a comfort variable: %s", got)
	}
}
