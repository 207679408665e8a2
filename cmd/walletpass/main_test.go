package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/pass/apple/appletest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(dataDir string, extra map[string]string) func(string) string {
	m := map[string]string{"WALLETPASS_DATA_DIR": dataDir, "WALLETPASS_LISTEN": "127.0.0.1:0", "WALLETPASS_ADMIN_LISTEN": "127.0.0.1:0"}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

var servingRE = regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)

// startServe runs `walletpass serve` in-process on a free port with its
// data in dataDir, and returns its base URL and a function that stops it
// and checks that it shut down cleanly.
func startServe(t testing.TB, dataDir string) (string, func() string) {
	t.Helper()
	return startServeEnv(t, dataDir, nil)
}

// startServeEnv is startServe with extra environment variables.
func startServeEnv(t testing.TB, dataDir string, extra map[string]string) (string, func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{"serve"}, &stdout, &stderr, testEnv(dataDir, extra)) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(stdout.String()); m != nil {
			// The guide follows the serving line in writes of its own.
			for wait := time.Now().Add(5 * time.Second); !strings.Contains(stdout.String(), "What to do next") && time.Now().Before(wait); {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(stdout.String(), "What to do next") {
				t.Errorf("serve does not say what to do next:\n%s", stdout.String())
			}
			stop := func() string {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("serve returned %v after shutdown", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("serve did not stop")
				}
				return stderr.String()
			}
			return m[1], stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped early: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
	}
}

// TestServeEndToEnd starts the whole service through Run, as `make run`
// does, downloads a preview pass like a browser would and verifies it.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base, stop := startServe(t, dataDir)

	resp, err := http.Get(base + "/api/demo/preview/default?kind=festival")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d %s", resp.StatusCode, body)
	}
	pj := appletest.Verify(t, body, filepath.Join(dataDir, "pki", "wwdr.pem"))
	if ws, _ := pj["webServiceURL"].(string); ws != base+"/api/demo/apple" {
		t.Errorf("webServiceURL = %q", ws)
	}
	if pj["passTypeIdentifier"] != "pass.dev.walletpass.demo" || pj["teamIdentifier"] != "DEMOTEAM01" {
		t.Errorf("identifiers = %v / %v", pj["passTypeIdentifier"], pj["teamIdentifier"])
	}
	resp, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %d", resp.StatusCode)
	}

	logs := stop()
	if _, err := os.Stat(filepath.Join(dataDir, "walletpass.db")); err != nil {
		t.Errorf("no database in the data directory: %v", err)
	}
	if strings.Contains(logs, "BEGIN") || strings.Contains(logs, "PRIVATE KEY") {
		t.Errorf("logs carry key material")
	}
}

func TestPassBuildCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := testEnv(filepath.Join(dir, "data"), nil)
	var sample bytes.Buffer
	if err := Run(context.Background(), []string{"pass", "sample", "-kind", "sports"}, &sample, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	ticket := filepath.Join(dir, "t.json")
	if err := os.WriteFile(ticket, sample.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "t.pkpass")
	var stdout bytes.Buffer
	if err := Run(context.Background(), []string{"pass", "build", "-ticket", ticket, "-template", "default", "-o", out}, &stdout, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "wrote "+out) {
		t.Errorf("stdout = %q", stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, data, filepath.Join(dir, "data", "pki", "wwdr.pem"))
	if pj["description"] != "Ticket for Lausanne Lions vs Geneva Eagles" {
		t.Errorf("description = %v", pj["description"])
	}
	if pj["nfc"] != nil || pj["preferredStyleSchemes"] != nil {
		t.Errorf("a classic tenant's pass: nfc %v, schemes %v", pj["nfc"], pj["preferredStyleSchemes"])
	}

	// -nfc: the same ticket as an NFC tenant signs it, in the poster
	// layout with its images.
	if err := Run(context.Background(), []string{"pass", "build", "-ticket", ticket, "-nfc", "-o", out}, io.Discard, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	if data, err = os.ReadFile(out); err != nil {
		t.Fatal(err)
	}
	pj = appletest.Verify(t, data, filepath.Join(dir, "data", "pki", "wwdr.pem"))
	nfc, _ := pj["nfc"].(map[string]any)
	if nfc["encryptionPublicKey"] == nil || nfc["requiresAuthentication"] != true || pj["preferredStyleSchemes"] == nil {
		t.Errorf("-nfc: nfc %v, schemes %v", pj["nfc"], pj["preferredStyleSchemes"])
	}
	if _, ok := appletest.Unzip(t, data)["artwork@3x.png"]; !ok {
		t.Errorf("-nfc: the poster pass lacks its artwork")
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := testEnv(filepath.Join(dir, "data"), nil)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"tenant":"demo","movementId":1,"barcode":"1","event":{"name":"","start":"2027-01-01T20:00:00+01:00"},"venue":{"name":"X"}}`), 0o600)
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte(`{"tenant": `), 0o600)
	out := filepath.Join(dir, "never.pkpass")
	good := filepath.Join(dir, "good.json")
	var sample bytes.Buffer
	if err := Run(context.Background(), []string{"pass", "sample"}, &sample, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(good, sample.Bytes(), 0o600)
	// The commands on the service's data need its database: migrate makes
	// it, as the service does at start.
	if err := Run(context.Background(), []string{"migrate"}, io.Discard, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	unwritable := filepath.Join(dir, "no-such-dir", "t.pkpass")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "no command", args: nil, code: 2, want: "no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, want: `unknown command "frobnicate"`},
		{name: "missing flags", args: []string{"pass", "build"}, code: 2, want: "-ticket and -o are required"},
		{name: "bad flag", args: []string{"pass", "build", "-bogus"}, code: 2, want: "flag provided but not defined"},
		{name: "invalid ticket", args: []string{"pass", "build", "-ticket", bad, "-o", out}, code: 1, want: "event.name is required"},
		{name: "malformed ticket", args: []string{"pass", "build", "-ticket", garbage, "-o", out}, code: 1, want: "malformed JSON"},
		{name: "missing ticket", args: []string{"pass", "build", "-ticket", filepath.Join(dir, "nope.json"), "-o", out}, code: 1, want: "no such file"},
		{name: "unknown template", args: []string{"pass", "build", "-ticket", bad, "-template", "nope", "-o", out}, code: 1, want: "event.name is required"},
		{name: "unknown tenant", args: []string{"pass", "build", "-ticket", bad, "-tenant", "nope", "-o", out}, code: 1, want: `unknown tenant "nope"`},
		{name: "bad kind", args: []string{"pass", "sample", "-kind", "opera"}, code: 2, want: `unknown kind "opera"`},
		{name: "missing config", args: []string{"serve", "-config", filepath.Join(dir, "none.yaml")}, code: 1, want: "no such file"},
		{name: "token ttl", args: []string{"token", "-ttl", "48h"}, code: 2, want: "-ttl must be between"},
		{name: "token tenant", args: []string{"token", "-tenant", "nope"}, code: 1, want: `no tenant "nope"`},
		{name: "google no command", args: []string{"google"}, code: 2, want: "google: expected counts"},
		{name: "google bad flag", args: []string{"google", "counts", "-bogus"}, code: 2, want: "flag provided but not defined"},
		{name: "google unknown tenant", args: []string{"google", "counts", "-tenant", "nope"}, code: 1, want: `no tenant "nope" with a Google Wallet issuer`},
		{name: "apikey no command", args: []string{"apikey"}, code: 2, want: "expected create, list or revoke"},
		{name: "apikey unknown", args: []string{"apikey", "rotate"}, code: 2, want: `unknown command "rotate"`},
		{name: "export without -o", args: []string{"passes", "export"}, code: 2, want: "give -o FILE"},
		{name: "webhooks replay without what", args: []string{"webhooks", "replay", "-subscription", "wh_1"}, code: 2, want: "give -message or -since"},
		{name: "webhooks unknown subscription", args: []string{"webhooks", "deliveries", "-subscription", "wh_none"}, code: 1, want: "has no subscription wh_none"},
		{name: "export bad format", args: []string{"passes", "export", "-o", "-", "-format", "xml"}, code: 2, want: `-format "xml"`},
		{name: "apikey unknown scope", args: []string{"apikey", "create", "-scope", "tickets:read admin"}, code: 2, want: `unknown scope "admin"`},
		{name: "token unknown scope", args: []string{"token", "-scope", "tickets:read bogus"}, code: 2, want: `unknown scope "bogus"`},
		{name: "webhooks deliveries limit 0", args: []string{"webhooks", "deliveries", "-subscription", "wh_1", "-limit", "0"}, code: 2, want: "-limit is at least 1"},
		{name: "apikey revoke no id", args: []string{"apikey", "revoke"}, code: 2, want: "give the key's id"},
		{name: "apikey revoke unknown", args: []string{"apikey", "revoke", "nokey"}, code: 1, want: "has no active key nokey"},
		{name: "links without secret", args: []string{"orders", "links"}, code: 2, want: "give -secret"},
		{name: "links unknown order", args: []string{"orders", "links", "-secret", "nosuchsecret"}, code: 1, want: "has no passes for that order secret"},
		{name: "unwritable output", args: []string{"pass", "build", "-ticket", good, "-o", unwritable}, code: 1, want: "cannot write " + unwritable + ": no such file or directory"},
		{name: "orders unknown", args: []string{"orders", "list"}, code: 2, want: "expected timeline, links or sync"},
		{name: "retry flags after ids", args: []string{"tasks", "retry", "0123abcd", "-config", "x.yaml"}, code: 2, want: "-config after a task id: flags go before the ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.args, io.Discard, io.Discard, env)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := oneLine(err)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) || exitCode(err) != tc.code {
				t.Errorf("error %q (exit %d), want one line containing %q (exit %d)", msg, exitCode(err), tc.want, tc.code)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s behind", out)
	}
	// A command on the service's data with another data directory than
	// the service's (a systemd unit's Environment= not read) names the
	// path, and makes no empty database there for its writes to go to.
	elsewhere := filepath.Join(dir, "elsewhere")
	for _, args := range [][]string{{"tasks", "list"}, {"orders", "sync", "-file", "5"}, {"holders", "erase", "-file", "5"}} {
		err := Run(context.Background(), args, io.Discard, io.Discard, testEnv(elsewhere, nil))
		if msg := oneLine(err); !strings.Contains(msg, "no database at "+filepath.Join(elsewhere, "walletpass.db")) || exitCode(err) != 1 {
			t.Errorf("%v without the service's database: %q (exit %d)", args, msg, exitCode(err))
		}
	}
	if _, err := os.Stat(elsewhere); !os.IsNotExist(err) {
		t.Errorf("the commands made %s: %v", elsewhere, err)
	}
	// An unknown command is one line, not the whole usage first.
	var stderr bytes.Buffer
	if err := Run(context.Background(), []string{"frobnicate"}, io.Discard, &stderr, env); err == nil || stderr.Len() != 0 {
		t.Errorf("an unknown command: %v, and %d bytes on stderr besides", err, stderr.Len())
	}
}

// TestHelpExitsZero: -h and --help on every command print its flags (or
// the usage) on stdout and succeed; a bad flag is one line on stderr.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	env := testEnv(t.TempDir(), nil)
	commands := [][]string{{"serve"}, {"pass", "build"}, {"pass", "sample"}, {"certs", "dev"}, {"certs", "check"}, {"certs", "apple-wwdr"},
		{"migrate"}, {"tasks", "list"}, {"tasks", "retry"}, {"orders", "timeline"}, {"orders", "links"}, {"orders", "sync"},
		{"google", "counts"}, {"passes", "export"}, {"holders", "erase"}, {"performances", "sync"}, {"webhooks", "deliveries"}, {"webhooks", "replay"}, {"token"}, {"apikey", "create"}, {"apikey", "list"}, {"apikey", "revoke"},
		{"sandbox", "secutix"}, {"secutix", "probe"}, {"version"}}
	for _, cmd := range commands {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, cmd...), h)
			var out, errOut bytes.Buffer
			if err := Run(context.Background(), args, &out, &errOut, env); err != nil {
				t.Errorf("%v: %v (exit %d)", args, err, exitCode(err))
				continue
			}
			want := "Usage: walletpass " + strings.Join(cmd, " ")
			if !strings.Contains(out.String(), want) || errOut.Len() != 0 {
				t.Errorf("%v: stdout %q, stderr %q; want %q on stdout only", args, out.String(), errOut.String(), want)
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}, {"tasks", "--help"}, {"pass", "-h"}} {
		var out bytes.Buffer
		if err := Run(context.Background(), args, &out, io.Discard, env); err != nil || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("%v: %v, %q", args, err, out.String())
		}
	}
}

func TestCertsCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := testEnv(filepath.Join(dir, "data"), nil)
	var stdout bytes.Buffer
	if err := Run(context.Background(), []string{"certs", "dev", "-dir", filepath.Join(dir, "pki"), "-pass-type-id", "pass.com.example.x", "-team-id", "ABCDE12345"}, &stdout, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "pass.com.example.x.pem") {
		t.Errorf("certs dev output: %s", stdout.String())
	}
	stdout.Reset()
	if err := Run(context.Background(), []string{"certs", "check"}, &stdout, io.Discard, env); err != nil {
		t.Fatalf("certs check: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "tenant demo") || !strings.Contains(stdout.String(), "ok") {
		t.Errorf("certs check output: %s", stdout.String())
	}
	// A tenant whose configured team differs from the certificate's OU.
	cfg := filepath.Join(dir, "wp.yaml")
	os.WriteFile(cfg, []byte(`server: {development: true}
storage: {dataDir: "`+filepath.Join(dir, "data")+`"}
tenants:
  - id: demo
    name: Demo
    apple: {teamId: OTHERTEAM1, passTypeId: pass.dev.walletpass.demo, certFile: "`+filepath.Join(dir, "data", "pki", "pass.dev.walletpass.demo.pem")+`", keyFile: "`+filepath.Join(dir, "data", "pki", "pass.dev.walletpass.demo.key.pem")+`", wwdrFile: "`+filepath.Join(dir, "data", "pki", "wwdr.pem")+`"}
`), 0o600)
	stdout.Reset()
	err := Run(context.Background(), []string{"certs", "check", "-config", cfg}, &stdout, io.Discard, env)
	if err == nil || !strings.Contains(stdout.String(), "OTHERTEAM1") {
		t.Errorf("team mismatch: err = %v, output:\n%s", err, stdout.String())
	}
	// Outside development the same files are refused: their WWDR does not
	// lead to Apple's root (in development the development CA counts).
	prod := filepath.Join(dir, "prod.yaml")
	os.WriteFile(prod, []byte(`server: {development: false, publicBaseURL: "https://passes.example.com", linkSecret: "`+strings.Repeat("s", 32)+`"}
storage: {dataDir: "`+filepath.Join(dir, "data")+`"}
tenants:
  - id: demo
    name: Demo
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo, certFile: "`+filepath.Join(dir, "data", "pki", "pass.dev.walletpass.demo.pem")+`", keyFile: "`+filepath.Join(dir, "data", "pki", "pass.dev.walletpass.demo.key.pem")+`", wwdrFile: "`+filepath.Join(dir, "data", "pki", "wwdr.pem")+`"}
    secutix: {baseURL: "https://demo.ws.secutix.com", institution: DEMO, operator: WALLET, partner: p, secret: s}
    webhooks: {auth: apikey, key: "`+strings.Repeat("k", 16)+`"}
`), 0o600)
	stdout.Reset()
	err = Run(context.Background(), []string{"certs", "check", "-config", prod}, &stdout, io.Discard, env)
	if err == nil || !strings.Contains(stdout.String(), "does not lead to Apple's root") {
		t.Errorf("a development WWDR in production: err = %v, output:\n%s", err, stdout.String())
	}
	stdout.Reset()
	if err := Run(context.Background(), []string{"certs", "apple-wwdr"}, &stdout, io.Discard, env); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(stdout.Bytes())
	if block == nil {
		t.Fatalf("certs apple-wwdr printed no PEM: %q", stdout.String())
	}
	if c, err := x509.ParseCertificate(block.Bytes); err != nil || c.Subject.OrganizationalUnit[0] != "G4" {
		t.Errorf("certs apple-wwdr: %v %v", err, c)
	}
}

func TestSelfCommandNamesTheBinaryMakeRunStarts(t *testing.T) {
	for _, c := range []struct{ exe, wd, want string }{
		{"/src/walletpass/bin/walletpass", "/src/walletpass", "./bin/walletpass"},
		{"/tmp/go-build123/b001/exe/walletpass", "/src/walletpass", goRunSelf},
		{"/src/bin/walletpass", "/src/walletpass", "/src/bin/walletpass"},
		{"/usr/local/bin/walletpass", "/var/lib/walletpass", "/usr/local/bin/walletpass"},
	} {
		if got := selfCommandFor(c.exe, c.wd); got != c.want {
			t.Errorf("selfCommandFor(%q, %q) = %q, want %q", c.exe, c.wd, got, c.want)
		}
	}
}

// TestVersion: `walletpass version` names the Go it was built with, and a
// binary built in a checkout (as make build does) names the checkout's
// revision.
func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"version"}, &out, io.Discard, testEnv(t.TempDir(), nil)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "walletpass ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("version = %q", out.String())
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("not in a git checkout (%v): the revision is not checked", err)
		return
	}
	got, err := exec.Command(walletpassBinary(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if rev := strings.TrimSpace(string(head)); !strings.Contains(string(got), "revision "+rev) {
		t.Errorf("the built binary says %q, want revision %s", got, rev)
	}
}

// TestLogLevelAndDurations: WALLETPASS_LOG_LEVEL hides what is below it,
// and durations read as durations.
func TestLogLevelAndDurations(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := newLogger(&buf, "warn")
	log.Info("hidden")
	log.Warn("shown", slog.Duration("duration", 1234567*time.Nanosecond), slog.Duration("short", 1500*time.Nanosecond))
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("level warn logged %q", out)
	}
	if !strings.Contains(out, `"duration":"1.235ms"`) || !strings.Contains(out, `"short":"1.5µs"`) {
		t.Errorf("durations: %q", out)
	}
	cfg, err := loadConfig("", testEnv(t.TempDir(), map[string]string{"WALLETPASS_LOG_LEVEL": "debug"}))
	if err != nil || cfg.Server.LogLevel != "debug" {
		t.Fatalf("WALLETPASS_LOG_LEVEL: %v, %+v", err, cfg.Server)
	}
}
