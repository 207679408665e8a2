package httpx

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP: the peer's address, unless the peer is a trusted proxy;
// then the right-most untrusted hop of X-Forwarded-For.
func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "::ffff:172.16.0.5", "::ffff:192.168.0.0/112", "fe80::/10"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer, xff, want string
	}{
		{"198.51.100.1:4000", "203.0.113.9", "198.51.100.1"},       // not a proxy: the header is the client's word
		{"10.1.2.3:4000", "203.0.113.9", "203.0.113.9"},            // through the balancer
		{"10.1.2.3:4000", "1.2.3.4, 203.0.113.9", "203.0.113.9"},   // the client's own header is left of the balancer's hop
		{"10.1.2.3:4000", "203.0.113.9, 192.0.2.7", "203.0.113.9"}, // two proxies
		{"10.1.2.3:4000", "", "10.1.2.3"},                          // no header
		{"10.1.2.3:4000", "not-an-address", "10.1.2.3"},            // malformed
		{"10.1.2.3:4000", "10.9.9.9", "10.9.9.9"},                  // all trusted: the left-most
		{"[::ffff:10.1.2.3]:4000", "203.0.113.9", "203.0.113.9"},   // IPv4 in IPv6
		{"[2001:db8::1]:4000", "203.0.113.9", "2001:db8::1"},
		{"10.1.2.3:4000", "203.0.113.9:1234", "203.0.113.9"}, // a hop with its port
		{"10.1.2.3:4000", "[2001:db8::9]:1234", "2001:db8::9"},
		{"172.16.0.5:4000", "203.0.113.9", "203.0.113.9"},             // a proxy written in IPv6
		{"[::ffff:192.168.1.9]:4000", "203.0.113.9", "203.0.113.9"},   // a range written in IPv6
		{"[::ffff:198.51.100.1]:4000", "203.0.113.9", "198.51.100.1"}, // an untrusted peer, as IPv4
		{"[fe80::1%eth0]:4000", "203.0.113.9", "203.0.113.9"},         // a link-local proxy with its zone
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientIP(r, trusted); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
	for _, bad := range []string{"balancer.internal", "fe80::1%eth0", "::ffff:10.0.0.0/90"} {
		if _, err := ParseProxies([]string{"10.0.0.0/8", bad}); err == nil {
			t.Errorf("%q was taken for a proxy", bad)
		}
	}
}

// TestUntrustedForward: a request from a loopback, private or shared
// address carrying X-Forwarded-For or X-Real-IP while no proxy is trusted
// came through a proxy the limits do not know; one from a public address
// is a client's own word, and with a trusted proxy nothing is missing.
func TestUntrustedForward(t *testing.T) {
	t.Parallel()
	trusted, err := ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer, xff, realIP string
		trusted                 bool
		want                    string
	}{
		{"private IPv4 with X-Forwarded-For", "10.1.2.3:4000", "203.0.113.9", "", false, "X-Forwarded-For"},
		{"private IPv4 with X-Real-IP", "192.168.1.9:4000", "", "203.0.113.9", false, "X-Real-IP"},
		{"loopback", "127.0.0.1:4000", "203.0.113.9", "", false, "X-Forwarded-For"},
		{"IPv6 loopback", "[::1]:4000", "203.0.113.9", "", false, "X-Forwarded-For"},
		{"IPv6 unique local", "[fd00::5]:4000", "203.0.113.9", "", false, "X-Forwarded-For"},
		{"private IPv4 in IPv6", "[::ffff:172.16.0.5]:4000", "203.0.113.9", "", false, "X-Forwarded-For"},
		{"shared address space", "100.100.1.1:4000", "203.0.113.9", "", false, "X-Forwarded-For"},
		{"both headers", "10.1.2.3:4000", "203.0.113.9", "203.0.113.9", false, "X-Forwarded-For"},
		{"public peer lying", "198.51.100.1:4000", "203.0.113.9", "203.0.113.9", false, ""},
		{"public IPv6 peer lying", "[2001:db8::1]:4000", "203.0.113.9", "", false, ""},
		{"private peer without a header", "10.1.2.3:4000", "", "", false, ""},
		{"a proxy is trusted", "10.1.2.3:4000", "203.0.113.9", "", true, ""},
		{"another private peer while a proxy is trusted", "192.168.1.9:4000", "203.0.113.9", "", true, ""},
		{"peer not an address", "pipe", "203.0.113.9", "", false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if c.realIP != "" {
				r.Header.Set("X-Real-IP", c.realIP)
			}
			var list []netip.Prefix
			if c.trusted {
				list = trusted
			}
			header, ok := UntrustedForward(r, list)
			if header != c.want || ok != (c.want != "") {
				t.Errorf("UntrustedForward = %q, %v; want %q, %v", header, ok, c.want, c.want != "")
			}
		})
	}
}

// TestLimitKey: an IPv6 client counts by its /64, an IPv4 one by itself.
func TestLimitKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.9":          "203.0.113.9",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:203.0.113.9":   "203.0.113.9",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
	} {
		if got := LimitKey(in); got != want {
			t.Errorf("LimitKey(%q) = %q, want %q", in, got, want)
		}
	}
}
