package outbound

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"walletpass/pass"
)

// The endpoint of a webhook subscription is outside input: an organiser
// types it, and in production the service must not be made to post to its
// own network. These targets hold CheckEndpoint and private, the decision
// of the dial-time guard, against a classification of the test's own.

// notPublic reports whether a is an address no outside endpoint has, by
// the IANA special-purpose registries: the test's own reading, written
// without private. An address that carries an IPv4 address (mapped, NAT64's
// well-known prefix, 6to4) is judged by the address it carries; an IPv6
// address outside global unicast (2000::/3) is reserved by the IETF, the
// deprecated IPv4-compatible ::/96 included.
func notPublic(a netip.Addr) bool {
	a = a.WithZone("")
	if a.Is4In6() {
		return notPublic(a.Unmap())
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case wellKnownNAT64.Contains(a):
			return notPublic(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFourPrefix.Contains(a):
			return notPublic(netip.AddrFrom4([4]byte(b[2:6])))
		case !globalUnicast.Contains(a):
			return true
		}
	}
	for _, p := range notGlobal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	wellKnownNAT64  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
	globalUnicast   = netip.MustParsePrefix("2000::/3")
	// notGlobal are the ranges that are not globally reachable, written
	// out rather than taken from net/netip's predicates.
	notGlobal = func() []netip.Prefix {
		var out []netip.Prefix
		for _, s := range []string{
			"0.0.0.0/8",         // this network, unspecified
			"10.0.0.0/8",        // private
			"100.64.0.0/10",     // shared address space
			"127.0.0.0/8",       // loopback
			"169.254.0.0/16",    // link-local
			"172.16.0.0/12",     // private
			"192.0.0.0/24",      // IETF protocol assignments
			"192.0.2.0/24",      // documentation
			"192.88.99.0/24",    // deprecated 6to4 relay anycast
			"192.168.0.0/16",    // private
			"198.18.0.0/15",     // benchmarking
			"198.51.100.0/24",   // documentation
			"203.0.113.0/24",    // documentation
			"224.0.0.0/4",       // multicast
			"240.0.0.0/4",       // reserved, broadcast
			"2001::/23",         // IETF protocol assignments (Teredo, ORCHID, ...)
			"2001:db8::/32",     // documentation
			"3fff::/20",         // documentation
			"::/128", "::1/128", // unspecified, loopback (outside 2000::/3 too)
			"fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", // unique-local, link-local, site-local, multicast
		} {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}()
)

// TestNotPublic keeps the oracle honest: it must call public what is
// public, or the targets below would hold vacuously.
func TestNotPublic(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"93.184.215.14", false},
		{"8.8.8.8", false},
		{"2606:4700::6810:84e5", false},
		{"::ffff:93.184.215.14", false},
		{"64:ff9b::5db8:d70e", false},
		{"2002:5db8:d70e::1", false},
		{"127.0.0.1", true},
		{"100.64.0.1", true},
		{"198.19.255.255", true},
		{"255.255.255.255", true},
		{"::ffff:10.0.0.1", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"2002:c0a8:101::1", true},
		{"::7f00:1", true},
		{"fe80::1%eth0", true},
		{"4000::1", true},
	} {
		if got := notPublic(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("notPublic(%s): got %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// FuzzCheckEndpoint checks CheckEndpoint in production (allowLocal false)
// and in development: an accepted endpoint is an absolute URL without
// credentials of at most 2048 characters, https in production (or http in
// development), and in production a host that is a literal IP address is
// a public one, judged with the address it carries; production accepts
// nothing development refuses; every refusal is an error of kind invalid
// that does not quote the endpoint.
func FuzzCheckEndpoint(f *testing.F) {
	accepted := []string{
		"https://crm.example.com/hooks",
		"https://93.184.215.14/x",
		"https://93.184.215.14:8443/x?y=1#z",
		"https://[2606:4700::6810:84e5]/hooks",
		"https://[::ffff:93.184.215.14]/x",
		"https://[64:ff9b::5db8:d70e]/x",
		"https://[2002:5db8:d70e::1]/x",
		"https://CRM.Example.COM:443/a%20b",
	}
	for _, u := range accepted {
		// Else the properties of an accepted endpoint would hold vacuously.
		if err := CheckEndpoint(u, false); err != nil {
			f.Fatalf("CheckEndpoint(%q, false): %v; want it accepted", u, err)
		}
		f.Add(u, false)
	}
	for _, u := range []string{
		"http://crm.example.com/hooks",
		"https://user:pw@crm.example.com/",
		"https://127.0.0.1/hooks",
		"https://10.1.2.3/hooks",
		"https://[::1]/hooks",
		"https://169.254.169.254/latest/meta-data",
		"https://100.100.100.200/latest/meta-data",
		"https://198.18.0.1/",
		"https://192.0.2.1/",
		"https://240.0.0.1/",
		"https://0.0.0.0/",
		"https://224.0.0.1/",
		"https://[::ffff:127.0.0.1]/",
		"https://[::ffff:a9fe:a9fe]/",
		"https://[64:ff9b::7f00:1]/",
		"https://[64:ff9b::a00:1]/",
		"https://[64:ff9b:1::1]/",
		"https://[2002:7f00:1::]/",
		"https://[2002:a9fe:a9fe::1]/",
		"https://[fd00::1]/",
		"https://[fe80::1]/",
		"https://[2001:db8::1]/",
		"https://localhost/hooks",
		"https://api.localhost/hooks",
		"ftp://crm.example.com/",
		"/relative",
		"https:opaque",
		"https://",
		"https://crm.example.com/" + strings.Repeat("a", 2048),
		"http://127.0.0.1:8099/hooks",
		"https://[::1",
		"https://%zz/",
	} {
		if err := CheckEndpoint(u, false); err == nil {
			f.Fatalf("CheckEndpoint(%q, false): accepted; want it refused", u)
		}
		f.Add(u, false)
		f.Add(u, true)
	}
	// Seeds whose outcome the target does not pin, near forms a literal
	// address can take (a zone, a port, a trailing dot).
	for _, u := range []string{
		"https://[2606:4700::6810:84e5%25eth0]/x",
		"https://93.184.215.14.:443/x",
		"https://[::ffff:5db8:d70e]:8443/",
	} {
		f.Add(u, false)
	}
	f.Fuzz(func(t *testing.T, u string, allowLocal bool) {
		err := CheckEndpoint(u, allowLocal)
		if err != nil {
			if k := pass.KindOf(err); k != pass.KindInvalid {
				t.Fatalf("CheckEndpoint(%q, %v): got an error of kind %v (%v), want invalid", u, allowLocal, k, err)
			}
			// The endpoint's path and query may carry the receiver's token.
			if len(u) >= 16 && strings.Contains(err.Error(), u) {
				t.Fatalf("CheckEndpoint(%q, %v): the error %q quotes the endpoint", u, allowLocal, err)
			}
			return
		}
		if !allowLocal && CheckEndpoint(u, true) != nil {
			t.Fatalf("CheckEndpoint(%q): accepted in production, refused in development", u)
		}
		p, perr := url.Parse(u)
		switch {
		case perr != nil:
			t.Fatalf("CheckEndpoint(%q, %v): accepted a URL that does not parse: %v", u, allowLocal, perr)
		case p.Host == "" || p.Opaque != "":
			t.Fatalf("CheckEndpoint(%q, %v): accepted a URL that is not absolute", u, allowLocal)
		case p.User != nil:
			t.Fatalf("CheckEndpoint(%q, %v): accepted a URL with credentials", u, allowLocal)
		case len(u) > 2048:
			t.Fatalf("CheckEndpoint(%q, %v): accepted a URL of %d characters", u, allowLocal, len(u))
		case p.Scheme != "https" && !(allowLocal && p.Scheme == "http"):
			t.Fatalf("CheckEndpoint(%q, %v): accepted the scheme %q", u, allowLocal, p.Scheme)
		}
		if allowLocal {
			return
		}
		if a, err := netip.ParseAddr(p.Hostname()); err == nil && notPublic(a) {
			t.Fatalf("CheckEndpoint(%q, false): accepted the address %s, which is not public", u, a)
		}
	})
}

// FuzzPrivate checks private, which the sender's dialer asks about every
// address it connects to in production: an address it lets through is
// public by the test's own classification, a 4-byte address and its
// IPv4-mapped 16-byte form are judged alike, and anything that is not an
// address of 4 or 16 bytes is refused.
func FuzzPrivate(f *testing.F) {
	for _, s := range []string{
		"93.184.215.14", "2606:4700::6810:84e5", "::ffff:93.184.215.14", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1",
		"127.0.0.1", "10.0.0.1", "100.64.0.1", "169.254.169.254", "198.18.0.1", "203.0.113.7", "240.0.0.1",
		"::1", "::", "fe80::1", "fd12::1", "ff02::1", "2001:db8::1", "64:ff9b::7f00:1", "64:ff9b:1::1",
		"2002:a00:1::1", "::ffff:169.254.169.254",
	} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := private(net.IP(b))
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			if !got {
				t.Fatalf("private(% x): an address of %d bytes is let through", b, len(b))
			}
			return
		}
		if !got && notPublic(a) {
			t.Fatalf("private(%s): let through an address that is not public", a)
		}
		if a.Is4() {
			mapped := netip.AddrFrom16(a.As16()).AsSlice()
			if m := private(net.IP(mapped)); m != got {
				t.Fatalf("private(%s) = %v, but private(::ffff:%s) = %v", a, got, a, m)
			}
		}
	})
}
