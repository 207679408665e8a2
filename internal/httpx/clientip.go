package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseProxies parses trusted proxies given as addresses ("10.0.0.5",
// "::1") or CIDR ranges ("10.0.0.0/8"). An IPv4 address or range written
// in IPv6 ("::ffff:10.0.0.5", "::ffff:10.0.0.0/104") is its IPv4 form, as
// a peer's address is compared in; an address with a zone is refused.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ParseProxy(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseProxy parses one trusted proxy, as ParseProxies does.
func ParseProxy(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR range", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q mixes IPv4 and IPv6 addresses", s)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ClientIP is the address of r's client: the connection's peer, unless
// the peer is a trusted proxy; then the right-most address of
// X-Forwarded-For that is not a trusted proxy (the left-most when all
// are), or the peer when the header is missing or malformed. A client
// that reaches the service directly cannot choose its address.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil {
		return peer
	}
	if !isTrusted(addr, trusted) {
		return addr.Unmap().String()
	}
	peer = addr.Unmap().String()
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		if i == 0 || !isTrusted(a, trusted) {
			return a.Unmap().String()
		}
	}
	return peer
}

// UntrustedForward reports whether r looks forwarded by a proxy while no
// proxy is trusted: trusted is empty, the peer is on a loopback,
// private or shared (RFC 6598) address, where load balancers and reverse
// proxies sit, and r carries X-Forwarded-For or X-Real-IP (header says
// which). ClientIP then takes the proxy for the client, so that every
// client behind it shares one address. A peer on a public address that
// sends these headers is a client speaking for itself, not a proxy: false.
func UntrustedForward(r *http.Request, trusted []netip.Prefix) (header string, ok bool) {
	if len(trusted) > 0 {
		return "", false
	}
	switch {
	case r.Header.Get("X-Forwarded-For") != "":
		header = "X-Forwarded-For"
	case r.Header.Get("X-Real-IP") != "":
		header = "X-Real-IP"
	default:
		return "", false
	}
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return "", false
	}
	if a = a.WithZone("").Unmap(); !a.IsLoopback() && !a.IsPrivate() && !sharedSpace.Contains(a) {
		return "", false
	}
	return header, true
}

// sharedSpace is the shared address space of carrier-grade NAT (RFC
// 6598), which some clouds' load balancers use to reach their backends.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// parseHop reads one address of X-Forwarded-For, which some balancers
// write with the client's port ("203.0.113.9:1234", "[2001:db8::1]:1234").
func parseHop(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), nil
	}
	return netip.ParseAddr(s)
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.WithZone("").Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// LimitKey is the key a per-client limit counts a client address under:
// the address itself, or for IPv6 its /64 network, which one subscriber
// usually holds whole (counting single addresses would give it 2^64
// buckets).
func LimitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); !a.Is6() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
