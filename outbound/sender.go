// Package outbound delivers the organisers' webhooks: Standard Webhooks
// signatures (webhook-id, webhook-timestamp, webhook-signature: v1,
// base64 of HMAC-SHA256 over id.timestamp.body with the whsec_ secret),
// over a client that refuses to reach private addresses in production.
package outbound

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"walletpass/internal/httpx"
	"walletpass/pass"
)

// NewSecret returns a new signing secret: whsec_ and 32 random bytes in
// base64.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// CheckEndpoint says whether u may receive webhooks: https (http too when
// allowLocal, for development), an absolute URL without credentials, and,
// when it names an address, not a private one unless allowLocal.
func CheckEndpoint(u string, allowLocal bool) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Host == "" || p.Opaque != "":
		return pass.Errorf(pass.KindInvalid, "the endpoint must be an absolute URL")
	case p.User != nil:
		return pass.Errorf(pass.KindInvalid, "the endpoint must not hold credentials")
	case p.Scheme != "https" && !(allowLocal && p.Scheme == "http"):
		return pass.Errorf(pass.KindInvalid, "the endpoint must use https")
	case len(u) > 2048:
		return pass.Errorf(pass.KindInvalid, "the endpoint is longer than 2048 characters")
	}
	if allowLocal {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(p.Hostname()), ".") // a name may end with the root's dot
	refused := pass.Errorf(pass.KindInvalid, "the endpoint must not be a loopback or private address")
	if a, err := netip.ParseAddr(host); err == nil {
		// An address with a zone (fe80::1%eth0) is a local one.
		if a.Zone() != "" || private(net.IP(a.AsSlice())) {
			return refused
		}
		return nil
	}
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return refused
	case numericHost(host):
		// Numbers that are not an address in standard form (2130706433,
		// 127.1, 0x7f.1): resolvers read such names as IPv4 addresses;
		// no public name is one.
		return pass.Errorf(pass.KindInvalid, "the endpoint's host is neither a name nor an address in standard form")
	}
	return nil
}

// numericHost reports whether every label of host is a number, decimal or
// hexadecimal (0x…), as the classic inet_aton forms of IPv4 addresses are.
func numericHost(host string) bool {
	for label := range strings.SplitSeq(host, ".") {
		digits := label
		if hex, ok := strings.CutPrefix(label, "0x"); ok {
			digits = strings.TrimLeft(hex, "0123456789abcdef")
		} else {
			digits = strings.TrimLeft(label, "0123456789")
		}
		if label == "" || digits != "" {
			return false
		}
	}
	return true
}

// private reports whether ip is an address no outside endpoint has:
// loopback, private, link-local, unspecified, multicast, or any other
// range set aside for special use and not reachable across the internet
// (shared address space, benchmarking, documentation, reserved, site- and
// unique-local). An address that carries an IPv4 address (mapped, NAT64's
// well-known prefix, 6to4) is judged by the address it carries; the
// networks' own NAT64 prefixes reach their private networks, so they are
// refused whole.
func private(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return true
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return private(net.IP(b[12:16]))
		case sixToFour.Contains(a):
			return private(net.IP(b[2:6]))
		case !globalUnicast6.Contains(a):
			// Outside 2000::/3 every IPv6 address is reserved, or local
			// (::7f00:1, IPv4-compatible 127.0.0.1, reaches it through a
			// tunnel).
			return true
		}
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range specialUse {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// globalUnicast6 is where IANA allocates global unicast addresses.
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	// specialUse are the ranges of the IANA special-purpose registries
	// that are not globally reachable, beyond those net/netip names.
	specialUse = func() []netip.Prefix {
		var out []netip.Prefix
		for _, s := range []string{
			"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
			"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
			"64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fec0::/10",
		} {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}()
)

// Sender posts messages. It implements pass.WebhookSender.
type Sender struct {
	client *http.Client
}

// Timeout bounds one delivery (the receiver has this long to answer): the
// 30 s that receivers written for the product we replace were given.
const Timeout = 30 * time.Second

// idlePerHost is how many idle connections to one endpoint's host the
// sender keeps: a subscription's deliveries run pass.DeliveryStreams
// requests at once, and a connection that finds no idle place is closed,
// so that fewer would open (and, over https, handshake) new connections
// all through a burst. Four times that covers a few subscriptions on one
// host; idle connections close after IdleConnTimeout.
const idlePerHost = 4 * pass.DeliveryStreams

// NewSender returns a sender; with allowLocal false its connections to a
// loopback or private address are refused at dial time (a name that
// resolves there included), so that an endpoint cannot reach the
// service's own network.
func NewSender(allowLocal bool) *Sender {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowLocal {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || private(ip) {
				return fmt.Errorf("outbound: %s is not a public address", host)
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: idlePerHost,
		IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: Timeout, Proxy: nil}
	return &Sender{client: &http.Client{Transport: tr, Timeout: Timeout,
		// A redirect is an answer, not a delivery.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Send posts m to sub's endpoint, signed with sub's secret. The status is
// the endpoint's answer, 0 when none came; a 429 or 503 with Retry-After
// comes with a *pass.RetryAfterError saying how long the endpoint asks to
// be left alone.
func (s *Sender) Send(ctx context.Context, sub pass.Subscription, m pass.OutboundMessage) (int, error) {
	now := time.Now()
	// Several signatures, space-separated, while a rotated secret's
	// overlap lasts: a receiver that knows either secret verifies.
	var sigs []string
	for _, secret := range sub.Secrets(now) {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return 0, pass.Wrap(pass.KindInvalid, err, "the subscription's secret")
		}
		sig, err := wh.Sign(m.ID, now, m.Payload)
		if err != nil {
			return 0, err
		}
		sigs = append(sigs, sig)
	}
	sig := strings.Join(sigs, " ")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(m.Payload))
	if err != nil {
		return 0, pass.Errorf(pass.KindInvalid, "the subscription's endpoint is not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "walletpass-webhooks")
	req.Header.Set(standardwebhooks.HeaderWebhookID, m.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, withoutPath(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return resp.StatusCode, &pass.RetryAfterError{After: d,
				Err: pass.Errorf(pass.KindUnavailable, "HTTP %d, retry after %s", resp.StatusCode, d)}
		}
	}
	return resp.StatusCode, nil
}

// withoutPath is a failed request's error naming the endpoint by its
// scheme and host alone: its path and query may carry the receiver's own
// token, and the error reaches the log, the task list and the delivery
// log.
func withoutPath(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	where := "the endpoint"
	if u, perr := url.Parse(ue.URL); perr == nil {
		where = u.Scheme + "://" + u.Host
	}
	return fmt.Errorf("%s %s: %w", ue.Op, where, ue.Err)
}

var _ pass.WebhookSender = (*Sender)(nil)
