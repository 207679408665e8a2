package httpapi

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// GoogleSaver makes the Google Wallet save address of an order's tickets,
// inserting their objects first.
type GoogleSaver interface {
	// SaveURL saves every valid ticket of the order, or only the passes
	// named by serials when there are any.
	SaveURL(ctx context.Context, tenant, secretToken string, serials []string, correlationID string) (string, error)
	// SaveLinkFits reports whether one save link can name every pass of
	// serials (Google's save token has a length limit): an order larger
	// than that gets a link per ticket instead of the order's.
	SaveLinkFits(tenant string, serials []string) bool
}

// DevGooglePath is where the development fake of the Google Wallet API is
// served (its OAuth token endpoint and save page too).
const DevGooglePath = "/dev/google/"

// PurposeGoogleSave is what a signed Google Wallet save link is for.
const PurposeGoogleSave = "google-save"

// GoogleSaveLink is the signed link that saves an order's tickets to
// Google Wallet, valid until exp:
// <base>/api/{tenant}/google/save/{orderSecretToken}?exp=<unix>&sig=<sig>.
func GoogleSaveLink(base string, links LinkSigner, tenant, secretToken string, exp time.Time) string {
	q := url.Values{}
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", links.Sign(PurposeGoogleSave, tenant, secretToken, exp))
	return strings.TrimRight(base, "/") + "/api/" + url.PathEscape(tenant) + "/google/save/" + url.PathEscape(secretToken) + "?" + q.Encode()
}

// PurposeGoogleSavePass is what a signed Google Wallet save link of one
// pass is for.
const PurposeGoogleSavePass = "google-save-pass"

// GoogleTicketSaveLink is the signed link that saves one ticket (the pass
// with this serial) to Google Wallet, valid until exp:
// <base>/api/{tenant}/google/pass/{serial}?exp=<unix>&sig=<sig>. It names
// the pass only, as PassLink does: whoever is given one ticket (a guest,
// the new holder of a transferred ticket) learns nothing of its order.
func GoogleTicketSaveLink(base string, links LinkSigner, tenant, serial string, exp time.Time) string {
	q := url.Values{}
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", links.Sign(PurposeGoogleSavePass, tenant, serial, exp))
	return strings.TrimRight(base, "/") + "/api/" + url.PathEscape(tenant) + "/google/pass/" + url.PathEscape(serial) + "?" + q.Encode()
}

// A signed Google save link (an order's, or one ticket's) may be opened
// SaveBurst times at once, then once per SaveEvery; one client may open
// SaveClientBurst links at once, then one per SaveClientEvery (each
// opening inserts what is missing at Google and signs a save token).
const (
	SaveBurst       = 20
	SaveEvery       = 3 * time.Second
	SaveClientBurst = 60
	SaveClientEvery = 500 * time.Millisecond
)

// secretTokenRE bounds what an order secret token in a path may be.
var secretTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// googleSave: GET /api/{tenant}/google/save/{secret}?exp=&sig= checks the
// signed link, makes sure the order's objects exist at Google and answers
// 302 to Google's save page. Nothing goes to Google before this click
// (unless the tenant inserts on payment). A link may be opened SaveBurst
// times at once, then once per SaveEvery: per link (the order's, or one
// ticket's), not per client, as buyers on one network (a venue's Wi-Fi)
// share an address; one client may open SaveClientBurst links at once,
// then one per SaveClientEvery (a reseller holding many orders' links).
func (s *Server) googleSave(c *gin.Context) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Google.Save == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant, or the tenant has no Google Wallet issuer")
		return
	}
	secret, serial := c.Param("secret"), c.Param("serial")
	if (secret != "" && !secretTokenRE.MatchString(secret)) || (serial != "" && !idChars(serial, 1, 128, "._-")) {
		writeProblem(c, http.StatusBadRequest, "malformed order reference")
		return
	}
	// The order's link signs its secret; a ticket's, its serial alone
	// (google/pass/{serial}); a ticket's link of the older form, which
	// named the order's secret too, is honoured until it expires.
	purpose, subject := PurposeGoogleSave, secret
	var serials []string
	switch {
	case secret == "":
		purpose, subject, serials = PurposeGoogleSavePass, serial, []string{serial}
	case serial != "":
		subject += "/" + serial
		serials = []string{serial}
	}
	if err := s.deps.Links.Signer.Verify(purpose, tenant, subject, c.Query("exp"), c.Query("sig"), s.now()); err != nil {
		s.linkRefused(c, err)
		return
	}
	now := s.now()
	if !s.saves.allow(tenant+"/"+purpose+"/"+subject, now) {
		c.Header("Retry-After", strconv.Itoa(int(SaveEvery/time.Second)))
		writeProblem(c, http.StatusTooManyRequests, "this save link was opened too often; try again later")
		return
	}
	if !s.saveClients.allow(s.clientIP(c), now) {
		c.Header("Retry-After", "1")
		writeProblem(c, http.StatusTooManyRequests, "too many save links opened from this client; try again later")
		return
	}
	u, err := s.deps.Google.Save.SaveURL(c.Request.Context(), tenant, secret, serials, correlationID(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusFound, u)
}

// googleLinkFits reports whether one save link can name every pass of
// current (serial numbers as keys).
func (s *Server) googleLinkFits(tenant string, current map[string]bool) bool {
	if s.deps.Google.Save == nil {
		return false
	}
	return s.deps.Google.Save.SaveLinkFits(tenant, slices.Sorted(maps.Keys(current)))
}

// imageFileRE is the form of a template image a Google Wallet pass shows.
var imageFileRE = regexp.MustCompile(`^(google-)?[a-z]+(@[23]x)?\.png$`)

// templateImage: GET /api/{tenant}/google/images/{template}/{file} serves a
// template's PNG at the public URL Google fetches images from.
func (s *Server) templateImage(c *gin.Context) {
	if _, ok := s.tenants[c.Param("tenantId")]; !ok || s.deps.TemplateFile == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	file := c.Param("file")
	if !imageFileRE.MatchString(file) || path.Base(file) != file {
		writeProblem(c, http.StatusNotFound, "no such image")
		return
	}
	data, ok := s.deps.TemplateFile(c.Param("template"), file)
	if !ok {
		writeProblem(c, http.StatusNotFound, "no such image")
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, "image/png", data)
}

// stripPrefix serves h under a route group's wildcard.
func stripPrefix(prefix string, h http.Handler) gin.HandlerFunc {
	return gin.WrapH(http.StripPrefix(strings.TrimSuffix(prefix, "/"), h))
}

// GoogleCallbacks takes Google Wallet's save and delete callbacks.
type GoogleCallbacks interface {
	// Handle verifies and records a callback to the tenant's issuer;
	// fresh is false for a replay (see google.Callbacks.Handle).
	Handle(ctx context.Context, tenant string, body []byte) (fresh bool, err error)
}

// A client may send callbacks that fail their checks callbackFailureBurst
// times, then once per callbackFailureEvery.
const (
	callbackFailureBurst = 20
	callbackFailureEvery = 3 * time.Second
)

// MaxGoogleCallbackBody bounds a Google Wallet callback (a few hundred
// bytes in practice).
const MaxGoogleCallbackBody = 16 << 10

// googleCallback: POST /api/{tenant}/google/callback takes a signed save
// or delete callback from Google Wallet: 200 once recorded (a replay too,
// so that Google stops retrying), 400 malformed or about another tenant's
// object, 401 when Google's signature does not hold, 503 when Google's
// keys cannot be fetched (Google retries).
func (s *Server) googleCallback(c *gin.Context) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Google.Callbacks == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant, or the tenant has no Google Wallet issuer")
		return
	}
	// Checking a callback's signatures costs a dozen ECDSA verifications:
	// a client whose callbacks keep failing them (Google's never do) is
	// refused for a while before any more is checked.
	// Counted per tenant: Google calls every tenant from the same
	// addresses, and one tenant's wrong issuer must not lock out the others.
	client := scopedClient(tenant, s.clientIP(c))
	if s.callbackFailures.spent(client, s.now()) {
		c.Header("Retry-After", strconv.Itoa(int(callbackFailureEvery/time.Second)))
		writeProblem(c, http.StatusTooManyRequests, "too many callbacks with a bad signature from this client; try again later")
		return
	}
	body, ok := readBody(c, MaxGoogleCallbackBody)
	if !ok {
		return
	}
	fresh, err := s.deps.Google.Callbacks.Handle(c.Request.Context(), tenant, body)
	if err != nil {
		// Only a signature that does not hold counts: a body that is not
		// JSON costs nothing to refuse, and Google itself may sign a
		// callback walletpass refuses (another tenant's object).
		if pass.KindOf(err) == pass.KindUnauthorized {
			s.callbackFailures.allow(client, s.now())
			c.Header("WWW-Authenticate", `ECv2SigningOnly realm="google-wallet-callbacks"`)
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recorded": fresh})
}
