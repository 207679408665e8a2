package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"walletpass/config"
)

// FuzzLoad: any configuration file loads or is refused with an error,
// never a panic; one that loads loads again the same and validates; and a
// refusal never shows the value of a secret (the link secret, a
// tenant's SecuTix secret, webhook password or OAuth client secret), which
// the operator may have put in the file.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "walletpass.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	const secret = "Zq7-secret-value-9x"
	for _, s := range []string{string(example),
		"server: {linkSecret: " + secret + ", listen: \"127.0.0.1:9000\"}\n",
		"server:\n  linkSecret: \"" + secret + "\n  listen: [\n",
		"server: {linkSecret: " + secret + ", bogus: 1}\n",
		"tenants:\n  - id: demo\n    secutix: {secret: " + secret + ", requestsPerMinute: " + secret + "}\n",
		"workers: {retention: " + secret + "}\n", "tenants: 5\n", "", "{", "- a\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	// The success path: the example loads (as TestExampleConfigLoads).
	if _, err := config.Load(filepath.Join("..", "walletpass.example.yaml"), func(string) string { return "" }); err != nil {
		f.Fatalf("the example does not load: %v", err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		path := filepath.Join(dir, "walletpass.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		getenv := func(string) string { return "" }
		cfg, err := config.Load(path, getenv)
		if err != nil {
			msg := err.Error()
			for _, v := range secretsIn(body) {
				if strings.Contains(msg, v) {
					t.Fatalf("the error shows the secret %q: %s", v, msg)
				}
			}
			return
		}
		again, err := config.Load(path, getenv)
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("loaded once, then: %v (same: %v)", err, reflect.DeepEqual(cfg, again))
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a loaded configuration does not validate: %v", err)
		}
	})
}

// secretsIn returns the values the lines of body give to a key named like
// a secret (at least 8 characters: shorter ones appear by chance).
func secretsIn(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		for _, key := range []string{"linkSecret:", "secret:", "password:", "clientSecret:"} {
			_, v, ok := strings.Cut(line, key)
			if !ok {
				continue
			}
			v = strings.Trim(strings.TrimSpace(strings.SplitN(v, ",", 2)[0]), `"'{}`)
			if len(v) >= 8 {
				out = append(out, v)
			}
		}
	}
	return out
}
