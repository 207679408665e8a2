package httpx

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The helpers read what other parties send: SecuTix's, Google's and FCM's
// Retry-After, a browser's Accept-Language, a proxy's X-Forwarded-For.

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", " 5 ", "-1", "2147483648", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "", "1e3", "0x10"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("%q: %v, %v", v, d, ok)
		}
		if ok && strings.TrimSpace(v) == "" {
			t.Fatalf("%q: an empty value was read as %v", v, d)
		}
	})
}

func FuzzPreferredLanguage(f *testing.F) {
	for _, s := range []string{"fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "de;q=0", "", ";;;,,", "EN-gb;q=NaN", "it;q=1e400"} {
		f.Add(s)
	}
	spoken := map[string]bool{"en": true, "fr": true, "de": true}
	f.Fuzz(func(t *testing.T, header string) {
		got := PreferredLanguage(header, func(l string) bool { return spoken[l] }, "en")
		if !spoken[got] {
			t.Fatalf("%q: %q is not spoken", header, got)
		}
		if got != "en" && !strings.Contains(strings.ToLower(header), got) {
			t.Fatalf("%q: %q is not in the header", header, got)
		}
	})
}

func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "1.2.3.4, 203.0.113.9", "10.9.9.9", "", "x, 10.1.1.1", "2001:db8::1,::ffff:10.0.0.1", ",,,"} {
		f.Add("10.1.2.3:4000", s)
		f.Add("198.51.100.1:4000", s)
	}
	trusted, err := ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := ClientIP(r, trusted)
		host := peer // a peer may come without its port
		if h, _, err := net.SplitHostPort(peer); err == nil {
			host = h
		}
		pa, err := netip.ParseAddr(host)
		self := host // the peer as ClientIP names it
		if err == nil {
			self = pa.Unmap().String()
		}
		if err != nil || !trusted[0].Contains(pa.WithZone("").Unmap()) {
			if got != self {
				t.Fatalf("peer %q is not a trusted proxy, yet X-Forwarded-For %q named the client %q", peer, xff, got)
			}
			return
		}
		if got == self {
			return // no header, or one not made of addresses
		}
		for _, hop := range strings.Split(xff, ",") {
			if a, err := parseHop(strings.TrimSpace(hop)); err == nil && a.Unmap().String() == got {
				return
			}
		}
		t.Fatalf("peer %q, X-Forwarded-For %q: %q is neither the peer nor an address of the header", peer, xff, got)
	})
}
