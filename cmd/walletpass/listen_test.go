package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"walletpass/pass"
)

// TestListenAddressDrivesDevelopmentURLs: with only WALLETPASS_LISTEN
// changed, every URL walletpass hands out (in passes, in the organisers'
// API, in the CLI's links, in development tokens) uses that address, and
// the development issuer's tokens are accepted.
func TestListenAddressDrivesDevelopmentURLs(t *testing.T) {
	t.Parallel()
	addr := freePort(t)
	base := "http://" + addr
	env := map[string]string{"WALLETPASS_LISTEN": addr}
	s := startSystemEnv(t, "", env)
	defer s.stop()
	if s.base != base {
		t.Fatalf("serving on %s, want %s", s.base, base)
	}
	o := s.createOrder(map[string]any{"count": 1})
	ps := s.waitPasses(o.Secret, "1 pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	pj := s.verify(ps[0])
	if ws, _ := pj["webServiceURL"].(string); ws != base+"/api/demo/apple" {
		t.Errorf("webServiceURL = %q, want it on %s", ws, base)
	}

	cliEnv := testEnv(s.dataDir, env)
	cli := func(args ...string) string {
		var out, errOut syncBuffer
		if err := Run(context.Background(), args, &out, &errOut, cliEnv); err != nil {
			t.Fatalf("%v: %v %s", args, err, errOut.String())
		}
		return out.String()
	}
	tok := strings.TrimSpace(cli("token", "-scope", "tickets:read"))
	var claims struct {
		Iss string `json:"iss"`
	}
	if parts := strings.Split(tok, "."); len(parts) == 3 {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(b, &claims)
	}
	if claims.Iss != base+"/dev/oauth" {
		t.Errorf("token issuer = %q, want %s/dev/oauth", claims.Iss, base)
	}

	req, _ := http.NewRequest("GET", base+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("getTicketsUrl: %d %s", resp.StatusCode, body)
	}
	links := cli("orders", "links", "-secret", o.Secret)
	urls := regexp.MustCompile(`https?://[^\s"\\]+`)
	for what, text := range map[string]string{"getTicketsUrl": string(body), "orders links": links} {
		found := urls.FindAllString(text, -1)
		if len(found) < 2 {
			t.Errorf("%s gives %d URLs: %s", what, len(found), text)
		}
		for _, u := range found {
			if !strings.HasPrefix(u, base+"/") {
				t.Errorf("%s gives %s, not on %s", what, u, base)
			}
		}
	}
}
