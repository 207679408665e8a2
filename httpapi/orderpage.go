package httpapi

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/time/rate"

	"walletpass/internal/httpx"
	"walletpass/internal/strs"
	"walletpass/pass"
	"walletpass/pass/apple"
)

// Device is the kind of device a page is shown on.
type Device string

// The devices the order page tells apart.
const (
	DeviceIOS     Device = "ios"
	DeviceAndroid Device = "android"
	DeviceDesktop Device = "desktop"
)

// DeviceOf tells an iPhone or iPad, an Android phone and anything else
// from a User-Agent header.
func DeviceOf(userAgent string) Device {
	switch {
	case strings.Contains(userAgent, "Android"):
		return DeviceAndroid
	case strings.Contains(userAgent, "iPhone"), strings.Contains(userAgent, "iPad"), strings.Contains(userAgent, "iPod"),
		strings.Contains(userAgent, "Macintosh") && strings.Contains(userAgent, "Mobile/"):
		return DeviceIOS
	}
	return DeviceDesktop
}

// PageLanguage picks en, fr or de from an Accept-Language header (quality
// values honoured; English when nothing matches).
func PageLanguage(acceptLanguage string) string {
	return httpx.PreferredLanguage(acceptLanguage, pass.Speaks, "en")
}

type pageTicket struct {
	Event, When, Venue, Seat, State, StateClass, AppleURL, GoogleURL string
	// Label names the ticket in its buttons' accessible names: the event
	// and the seat, or the ticket's number for a standing one.
	Label string
}

type orderPage struct {
	Lang, TenantName, Background, Foreground, Logo, FileID string
	T                                                      pass.PageWords
	Device                                                 Device
	Tickets                                                []pageTicket
	BundleURL, GoogleURL                                   string
	QR                                                     template.HTML
}

var orderPageTpl = template.Must(template.New("order").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.T.Title}} · {{.TenantName}}</title>
<style>
:root{--brand:{{.Background}}}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f4f6;line-height:1.4}
header{background:var(--brand);color:{{.Foreground}};padding:1rem 1.25rem;display:flex;align-items:center;gap:.75rem}
header img{height:2rem;width:auto}
main{max-width:34rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
.order{color:#555;margin:0 0 1rem}
ul{list-style:none;margin:0;padding:0}
li.ticket{background:#fff;border-radius:.75rem;padding:1rem;margin:0 0 .75rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.ticket h2{font-size:1.1rem;margin:0 0 .25rem}
.ticket p{margin:.1rem 0}
.state{display:inline-block;font-size:.85rem;font-weight:600;border-radius:1rem;padding:.1rem .6rem;margin-top:.4rem}
.state.valid{background:#e3f4e8;color:#14532d}.state.used{background:#e8e8ee;color:#333}.state.cancelled{background:#fde8e8;color:#7f1d1d}
a.button{display:block;text-align:center;text-decoration:none;font-weight:600;border-radius:.6rem;padding:.8rem 1rem;margin:.6rem 0 0;min-height:44px}
a.apple{background:#000;color:#fff}a.google{background:#fff;color:#1f1f1f;border:2px solid #1f1f1f}
a.button:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px;box-shadow:0 0 0 2px #fff}
.qr{background:#fff;border-radius:.75rem;padding:1rem;text-align:center;margin:0 0 1rem}
.qr svg{width:12rem;height:12rem}
</style></head>
<body>
<header>{{if .Logo}}<img src="{{.Logo}}" alt="">{{end}}<strong>{{.TenantName}}</strong></header>
<main>
<h1>{{.T.Title}}</h1>
<p class="order">{{.T.Order}} {{.FileID}}</p>
{{if eq .Device "desktop"}}<section class="qr">{{.QR}}<p>{{.T.Scan}}</p></section>{{end}}
{{if eq .Device "ios"}}{{if .BundleURL}}<a class="button apple add-all" href="{{.BundleURL}}">{{.T.AddAllApple}}</a>{{end}}{{end}}
{{if eq .Device "android"}}{{if .GoogleURL}}<a class="button google" href="{{.GoogleURL}}">{{.T.AddGoogle}}</a>{{end}}{{end}}
<ul>
{{range .Tickets}}<li class="ticket">
<h2>{{.Event}}</h2>
<p>{{.When}}</p>
<p>{{.Venue}}</p>
{{if .Seat}}<p>{{.Seat}}</p>{{end}}
<span class="state {{.StateClass}}">{{.State}}</span>
{{if and (eq $.Device "ios") .AppleURL}}<a class="button apple add-one" href="{{.AppleURL}}" aria-label="{{$.T.AddApple}}: {{.Label}}">{{$.T.AddApple}}</a>{{end}}
{{if and (eq $.Device "android") .GoogleURL}}<a class="button google add-one" href="{{.GoogleURL}}" aria-label="{{$.T.AddGoogle}}: {{.Label}}">{{$.T.AddGoogle}}</a>{{end}}
</li>
{{end}}</ul>
</main>
</body></html>`))

// clientLimiter rate-limits an unauthenticated endpoint per client
// address: a token bucket of burst, refilled one per every.
type clientLimiter struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
	swept   time.Time
}

// spent reports whether the client's bucket is empty now, without taking
// from it.
func (l *clientLimiter) spent(client string, now time.Time) bool {
	client = httpx.LimitKey(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[client]
	return ok && lim.TokensAt(now) < 1
}

// scopedClient is the key of client (an address) within scope (a
// tenant), for a clientLimiter whose clients count per tenant: an IPv6
// client still by its /64.
func scopedClient(scope, client string) string { return scope + "\x00" + httpx.LimitKey(client) }

// allow reports whether the client may go on now. An IPv6 client counts
// by its /64 (httpx.LimitKey).
func (l *clientLimiter) allow(client string, now time.Time) bool {
	client = httpx.LimitKey(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil || now.Sub(l.swept) > 10*time.Minute || len(l.clients) > 100_000 {
		l.clients, l.swept = map[string]*rate.Limiter{}, now
	}
	lim, ok := l.clients[client]
	if !ok {
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.clients[client] = lim
	}
	return lim.AllowN(now, 1)
}

func notFoundPage(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("Not found\n"))
	c.Abort()
}

// orderPageHandler: GET /{tenant}/orders/{secret} is the buyer's page: the
// order's tickets and, for the device asking, its wallet buttons (iPhone:
// Apple Wallet per ticket and all at once; Android: Google Wallet for all;
// desktop: a QR code of the page to open on the phone). Unknown and
// malformed tokens get the same plain 404.
func (s *Server) orderPageHandler(c *gin.Context) {
	now := s.now()
	client := s.clientIP(c)
	tooMany := func() {
		c.Header("Retry-After", "2")
		c.Data(http.StatusTooManyRequests, "text/plain; charset=utf-8", []byte("Too many requests\n"))
	}
	if !s.pages.allow(client, now) {
		tooMany()
		return
	}
	miss := func() {
		// An unknown token counts against the client's guesses, and
		// past them is refused; the real orders of others behind the
		// same address (a venue's Wi-Fi) are still served.
		if !s.pageMisses.allow(client, now) {
			tooMany()
			return
		}
		notFoundPage(c)
	}
	t, ok := s.tenants[c.Param("tenantId")]
	secret := c.Param("secret")
	if !ok || !secretTokenRE.MatchString(secret) || s.deps.Passes == nil {
		miss()
		return
	}
	ps, err := s.deps.Passes.PassesByOrder(c.Request.Context(), t.ID, secret)
	ps = pass.ForOrderSecret(ps) // a transferred ticket is its new holder's
	if err != nil && pass.KindOf(err) != pass.KindNotFound {
		// Not a guess: a buyer at the doors is told to try again, not
		// that the order does not exist.
		s.log.ErrorContext(c.Request.Context(), "order page", "error", err, "correlationId", correlationID(c))
		c.Header("Cache-Control", "no-store")
		c.Header("Retry-After", "5")
		c.Data(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("Unavailable for a moment: try again\n"))
		return
	}
	if len(ps) == 0 {
		miss()
		return
	}
	// The browser's language, else the order's own, else the tenant's,
	// whichever is spoken here first; English otherwise.
	lang := "en"
	for _, l := range []string{c.GetHeader("Accept-Language"), ps[0].Ticket.Locale, t.Locale} {
		if got := httpx.PreferredLanguage(l, pass.Speaks, ""); got != "" {
			lang = got
			break
		}
	}
	page := orderPage{Lang: lang, T: pass.WordsFor(lang).Page, TenantName: t.Name, Background: t.Background, Device: DeviceOf(c.GetHeader("User-Agent"))}
	if page.Background == "" {
		page.Background = "#1b2a4a"
	}
	page.Foreground = textOn(page.Background, t.Foreground)
	if t.DefaultTemplate != "" && s.deps.TemplateFile != nil {
		if _, ok := s.deps.TemplateFile(t.DefaultTemplate, "logo@2x.png"); ok {
			page.Logo = "/api/" + t.ID + "/google/images/" + t.DefaultTemplate + "/logo@2x.png"
		}
	}
	exp := s.linkExpiry(now, ps)
	base := t.PublicBaseURL
	// Every ticket is listed (newest holder's pass of each); wallet buttons
	// only for the valid ones.
	current := map[string]bool{}
	for _, p := range pass.ValidPerTicket(ps) {
		current[p.SerialNumber] = true
	}
	for _, p := range pass.LatestPerTicket(ps) {
		tk := p.Ticket
		if page.FileID == "" && p.FileID != 0 {
			page.FileID = strconv.FormatInt(p.FileID, 10)
		}
		pt := pageTicket{Event: tk.Event.Name, When: formatWhen(tk.Event.Start, page.T), Venue: strs.JoinNonEmpty(", ", tk.Venue.Name, tk.Venue.City),
			Seat: seatLine(tk.Seat, pass.WordsFor(lang))}
		pt.Label = strs.JoinNonEmpty(", ", tk.Event.Name, pt.Seat)
		if pt.Seat == "" {
			pt.Label = strs.JoinNonEmpty(", ", tk.Event.Name, fmt.Sprintf("%d", len(page.Tickets)+1))
		}
		switch p.Status {
		case pass.StatusUsed:
			pt.State, pt.StateClass = page.T.Used, "used"
		case pass.StatusVoided:
			pt.State, pt.StateClass = page.T.Cancelled, "cancelled"
		default:
			pt.State, pt.StateClass = page.T.Valid, "valid"
		}
		if current[p.SerialNumber] {
			pt.AppleURL = PassLink(base, s.deps.Links.Signer, t.ID, p.SerialNumber, exp)
		}
		page.Tickets = append(page.Tickets, pt)
	}
	if n := len(current); n > 1 && n <= apple.MaxBundlePasses {
		page.BundleURL = BundleLink(base, s.deps.Links.Signer, t.ID, secret, exp)
	}
	if t.Google && len(current) > 0 {
		if s.googleLinkFits(t.ID, current) {
			page.GoogleURL = GoogleSaveLink(base, s.deps.Links.Signer, t.ID, secret, exp)
		} else {
			for i, p := range pass.LatestPerTicket(ps) {
				if current[p.SerialNumber] {
					page.Tickets[i].GoogleURL = GoogleTicketSaveLink(base, s.deps.Links.Signer, t.ID, p.SerialNumber, exp)
				}
			}
		}
	}
	if page.Device == DeviceDesktop {
		if q, err := qrSVG(OrderPageURL(base, t.ID, secret), page.T.QR); err == nil {
			page.QR = q
		}
	}
	c.Header("Cache-Control", "private, no-store")
	c.Header("Referrer-Policy", "no-referrer") // the URL is the capability
	c.Header("X-Robots-Tag", "noindex")
	c.Header("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	c.Header("Content-Language", lang)
	c.Header("Vary", "User-Agent, Accept-Language")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := orderPageTpl.Execute(c.Writer, page); err != nil {
		s.log.ErrorContext(c.Request.Context(), "order page", "error", err)
	}
}

// textOn is the colour of text on the brand colour bg: fg (the
// template's) when it is readable there (WCAG's 4.5:1), else black or
// white, whichever reads better.
func textOn(bg, fg string) string {
	b, ok := luminance(bg)
	if !ok {
		return "#fff"
	}
	if f, ok := luminance(fg); ok && contrast(b, f) >= 4.5 {
		return fg
	}
	if contrast(b, 0) >= contrast(b, 1) {
		return "#000"
	}
	return "#fff"
}

// luminance is the relative luminance of a "#rrggbb" colour.
func luminance(hex string) (float64, bool) {
	var r, g, b uint8
	if len(hex) != 7 || hex[0] != '#' {
		return 0, false
	}
	if _, err := fmt.Sscanf(hex[1:], "%02x%02x%02x", &r, &g, &b); err != nil {
		return 0, false
	}
	lin := func(c uint8) float64 {
		v := float64(c) / 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b), true
}

// contrast is the contrast ratio of two relative luminances.
func contrast(a, b float64) float64 {
	return (max(a, b) + 0.05) / (min(a, b) + 0.05)
}

// linkExpiry is when the links signed now for ps expire (see
// pass.LinkExpiry).
func (s *Server) linkExpiry(now time.Time, ps []pass.Pass) time.Time {
	return pass.LinkExpiry(now, s.linkTTL(), ps)
}

func (s *Server) linkTTL() time.Duration {
	if s.deps.Links.TTL > 0 {
		return s.deps.Links.TTL
	}
	return 30 * 24 * time.Hour
}

func seatLine(s pass.Seat, t pass.Words) string {
	var parts []string
	if s.Area != "" {
		parts = append(parts, s.Area)
	}
	if s.Block != "" {
		parts = append(parts, t.Block+" "+s.Block)
	}
	if s.Row != "" {
		parts = append(parts, t.Row+" "+s.Row)
	}
	if s.Number != "" {
		parts = append(parts, t.Seat+" "+s.Number)
	}
	return strings.Join(parts, " · ")
}

// formatWhen writes the event's start in its own time zone: "2 Jun 2026, 20:00".
func formatWhen(t time.Time, w pass.PageWords) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d %s %d, %s", t.Day(), w.Months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// qrSVG draws the QR code of text as an inline SVG (medium error
// correction, a 4-module quiet zone).
func qrSVG(text, label string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", err
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	n := len(bm) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, template.HTMLEscapeString(label), n, n)
	for y, row := range bm {
		for x, on := range row {
			if on {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil // built from numbers only
}
