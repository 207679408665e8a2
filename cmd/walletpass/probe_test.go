package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSecuTixProbe: `walletpass secutix probe` against a SecuTix sandbox
// in jwt mode: three calls (the file, the POS config, the catalogue), the answers shown with secrets and personal data masked,
// every pass field with the path it was read from, or "missing"; the usage and an unknown
// order give a one-line error that shows no secret.
func TestSecuTixProbe(t *testing.T) {
	t.Parallel()
	sb := sandboxServer(t, "probe-secret", 1000)
	orders := createOrders(t, sb.URL, 1, `{"count":1}`)
	o := orders[0]
	dir := t.TempDir()
	cfg := filepath.Join(dir, "walletpass.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {baseURL: %q, operator: DEMO_WALLET, partner: walletpass, secret: probe-secret}
`, sb.URL+"/sandbox/secutix")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(dir, map[string]string{"WALLETPASS_CONFIG": cfg})
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"secutix", "probe", "-file", strconv.FormatInt(o.FileID, 10)}, &out, &errOut, env); err != nil {
		t.Fatalf("probe: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"auth jwt (sub DEMO, aud DEMO_WALLET, iss walletpass)", "getFileDetails, then the POS config and the catalogue: 3 call(s) in all",
		"SecuTix's answer (secrets and personal data masked)", "1 ticket(s)", `"barcode": "`} {
		if !strings.Contains(s, want) {
			t.Errorf("the output lacks %q:\n%s", want, s)
		}
	}
	for _, secret := range []string{o.Secret, o.Tickets[0].Barcode, "probe-secret"} {
		if strings.Contains(s, secret) {
			t.Errorf("the output shows %q:\n%s", secret, s)
		}
	}
	// Every pass field is listed with where it was read, or "missing".
	for _, want := range []string{"getCatalogDetailed", "organizationTimeZone", "Europe/Zurich",
		"eventStart", "performance.start", "timeZone", "pos.organizationTimeZone", "venueName", "location.siteExternalName",
		"barcode", "movement.barCode", "seatRow", "missing"} {
		if !strings.Contains(s, want) {
			t.Errorf("the output lacks %q:\n%s", want, s)
		}
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"neither", []string{"secutix", "probe"}, "give -file or -secret"},
		{"both", []string{"secutix", "probe", "-file", "1", "-secret", "x"}, "give -file or -secret"},
		{"unknown order", []string{"secutix", "probe", "-secret", "NoSuchOrderSecret123"}, "secutix"},
		{"unknown command", []string{"secutix", "nope"}, "expected probe"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), tt.args, &out, &errOut, env)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
		if strings.Contains(out.String()+err.Error(), "NoSuchOrderSecret123") {
			t.Errorf("%s: the secret is shown: %s %v", tt.name, out.String(), err)
		}
	}
}
