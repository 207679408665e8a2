package outbound

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"walletpass/pass"
)

func TestCheckEndpoint(t *testing.T) {
	for _, c := range []struct {
		url        string
		allowLocal bool
		ok         bool
	}{
		{"https://crm.example.com/hooks", false, true},
		{"http://crm.example.com/hooks", false, false},
		{"https://user:pw@crm.example.com/", false, false},
		{"https://127.0.0.1/hooks", false, false},
		{"https://10.1.2.3/hooks", false, false},
		{"https://[::1]/hooks", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://localhost/hooks", false, false},
		{"https://api.localhost/hooks", false, false},
		{"ftp://crm.example.com/", false, false},
		{"/relative", false, false},
		{"http://127.0.0.1:8099/hooks", true, true},
	} {
		err := CheckEndpoint(c.url, c.allowLocal)
		if (err == nil) != c.ok {
			t.Errorf("CheckEndpoint(%q, %v) = %v, want ok %v", c.url, c.allowLocal, err, c.ok)
		}
	}
}

// TestSenderRefusesPrivateAddresses: in production a name that resolves
// to a private address (here, loopback) is refused when dialing, so an
// endpoint cannot reach the service's own network.
func TestSenderRefusesPrivateAddresses(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	sub := pass.Subscription{ID: "wh_1", Endpoint: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), Secret: NewSecret()}
	m := pass.OutboundMessage{ID: "msg_1", Payload: []byte(`{}`)}
	if st, err := NewSender(false).Send(context.Background(), sub, m); err == nil || st != 0 || hit {
		t.Errorf("production sender reached %s: %d %v", sub.Endpoint, st, err)
	}
	if st, err := NewSender(true).Send(context.Background(), sub, m); err != nil || st != 200 || !hit {
		t.Errorf("development sender: %d %v", st, err)
	}
}
