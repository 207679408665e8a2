package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/auth"
	"walletpass/pass"
	"walletpass/pass/apple"
)

// TokenVerifier checks an organiser's OAuth2 access token for a tenant.
type TokenVerifier interface {
	VerifyScope(ctx context.Context, token, scope string) (*auth.Claims, error)
}

// APIKeyInfo is what the server needs of a stored API key.
type APIKeyInfo struct {
	Tenant  string
	Revoked bool
	Scopes  []string // none: tickets:read
}

// OrderSyncer fetches an order from SecuTix and brings its passes in line.
type OrderSyncer interface {
	SyncOrder(ctx context.Context, ref pass.OrderRef, correlationID string) (pass.SyncResult, error)
}

// TicketsAPI is what getTicketsUrl needs: per-tenant token verifiers and
// scopes, the API-key lookup (by SHA-256 hash) and the order syncer.
type TicketsAPI struct {
	Verifiers map[string]TokenVerifier
	Scopes    map[string]string
	APIKey    func(ctx context.Context, hash string) (APIKeyInfo, error) // an error wrapping pass.ErrNotFound for an unknown key
	Orders    OrderSyncer
	// Passes answers the passes API (nil: its routes answer 404).
	Passes PassCatalog
}

// TicketsResponse is the answer of getTicketsUrl.
type TicketsResponse struct {
	FileID        int64        `json:"fileId"`
	OrderPageURL  string       `json:"orderPageUrl"`
	AppleBundle   string       `json:"appleBundleUrl,omitempty"`
	GoogleSaveURL string       `json:"googleSaveUrl,omitempty"`
	LinksExpireAt time.Time    `json:"linksExpireAt"`
	Tickets       []TicketURLs `json:"tickets"`
}

// TicketURLs is one ticket of the order with its wallet links.
type TicketURLs struct {
	TicketID      int64      `json:"ticketId"`
	MovementID    int64      `json:"movementId"`
	State         string     `json:"state"`
	Event         TicketInfo `json:"event"`
	Seat          *pass.Seat `json:"seat,omitempty"`
	ApplePassURL  string     `json:"applePassUrl,omitempty"`
	GoogleSaveURL string     `json:"googleSaveUrl,omitempty"`
}

// TicketInfo is the event of a ticket.
type TicketInfo struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	Venue string    `json:"venue"`
}

// keyScopes are what an API key may do; a key without scopes (made before
// keys had them) may read tickets.
func keyScopes(k APIKeyInfo) []string {
	if len(k.Scopes) == 0 {
		return []string{ScopeTickets}
	}
	return k.Scopes
}

// A client may present wrong organiser API credentials (no, unknown,
// revoked, expired or forged ones: each costs a key lookup or a signature
// check) APIAuthFailureBurst times per tenant, then once per
// APIAuthFailureEvery; meanwhile it hears 429 without a check, unless its
// credential passed on this instance within goodCredentialFor (the gates
// behind one address as a scanner with a revoked key: theirs still go).
const (
	APIAuthFailureBurst = 50
	APIAuthFailureEvery = time.Second
	goodCredentialFor   = 10 * time.Minute
)

// goodCredentials remembers, by the SHA-256 of their tenant and value,
// the organiser credentials that passed lately (at most maxGoodCredentials, forgotten all at once
// past that): they skip the throttle of wrong ones, and are checked all
// the same.
type goodCredentials struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time // until when
}

const maxGoodCredentials = 10_000

func (g *goodCredentials) knows(h [32]byte, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return now.Before(g.m[h])
}

func (g *goodCredentials) forget(h [32]byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, h)
}

func (g *goodCredentials) remember(h [32]byte, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil || len(g.m) >= maxGoodCredentials {
		g.m = map[[32]byte]time.Time{}
	}
	g.m[h] = now.Add(goodCredentialFor)
}

// authorizeAPI checks the organiser's credentials for tenant: an OAuth2
// bearer JWT carrying scope, or one of the tenant's API keys carrying
// keyScope (Authorization: Bearer wpk_… or X-API-Key). It answers 401 with
// a WWW-Authenticate challenge, 403 for a missing scope or another
// tenant's credentials, 503 when the identity provider's keys cannot be
// fetched, and 429 to a client past APIAuthFailureBurst 401s.
func (s *Server) authorizeAPI(c *gin.Context, tenant, keyScope, scope string) bool {
	api := s.deps.Tickets
	client := scopedClient(tenant, s.clientIP(c))
	token := auth.BearerToken(c.GetHeader("Authorization"))
	keyHeader := false
	if k := c.GetHeader("X-API-Key"); token == "" && k != "" {
		token, keyHeader = k, true
	}
	sum := sha256.Sum256([]byte(tenant + "\x00" + token)) // a credential of a tenant
	if s.apiAuthFailures.spent(client, s.now()) && (token == "" || !s.goodCredentials.knows(sum, s.now())) {
		c.Header("Retry-After", strconv.Itoa(int(APIAuthFailureEvery/time.Second)))
		writeProblem(c, http.StatusTooManyRequests, "too many requests with wrong credentials from this client; try again later")
		return false
	}
	admit := func() bool {
		s.goodCredentials.remember(sum, s.now())
		markOrganiser(c)
		return true
	}
	deny := func(err error) bool {
		switch pass.KindOf(err) {
		case pass.KindUnauthorized:
			s.apiAuthFailures.allow(client, s.now()) // spend one guess
			s.goodCredentials.forget(sum)            // revoked or expired since
			c.Header("WWW-Authenticate", auth.Challenge(err, scope))
		case pass.KindForbidden:
			c.Header("WWW-Authenticate", auth.Challenge(err, scope))
		}
		s.fail(c, err)
		return false
	}
	if token == "" {
		return deny(auth.ErrNoToken)
	}
	if !auth.LooksLikeAPIKey(token) && (keyHeader || strings.HasPrefix(token, auth.APIKeyPrefix)) {
		// Meant as an API key (mistyped, cut short): say so, not that a
		// token is malformed.
		return deny(pass.Errorf(pass.KindUnauthorized, "the API key is not valid"))
	}
	if auth.LooksLikeAPIKey(token) {
		if api.APIKey == nil {
			return deny(pass.Errorf(pass.KindUnauthorized, "API keys are not accepted here"))
		}
		k, err := api.APIKey(c.Request.Context(), auth.HashAPIKey(token))
		switch {
		case errors.Is(err, pass.ErrNotFound):
			return deny(pass.Errorf(pass.KindUnauthorized, "the API key is not valid"))
		case err != nil:
			return deny(err)
		case k.Revoked:
			return deny(pass.Errorf(pass.KindUnauthorized, "the API key was revoked"))
		case k.Tenant != tenant:
			return deny(pass.Errorf(pass.KindForbidden, "the API key is for another tenant"))
		case !slices.Contains(keyScopes(k), keyScope):
			scope = keyScope
			return deny(pass.Errorf(pass.KindForbidden, "the API key lacks the scope %s", keyScope))
		}
		return admit()
	}
	v, ok := api.Verifiers[tenant]
	if !ok {
		return deny(pass.Errorf(pass.KindUnauthorized, "the tenant accepts API keys only"))
	}
	if _, err := v.VerifyScope(c.Request.Context(), token, scope); err != nil {
		return deny(err)
	}
	return admit()
}

// getTicketsURL: GET /api/{tenant}/external/secutix/orders/getTicketsUrl/{fileId}
// fetches the SecuTix file, makes any missing passes and answers every
// ticket with its wallet links, plus the order page, the .pkpasses bundle
// and one Google Wallet link for all tickets.
func (s *Server) getTicketsURL(c *gin.Context) {
	tenantID := c.Param("tenantId")
	t, ok := s.tenants[tenantID]
	if !ok || s.deps.Tickets.Orders == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	if !s.authorizeAPI(c, tenantID, ScopeTickets, s.deps.Tickets.Scopes[tenantID]) {
		return
	}
	fileID, ok := positiveID(c.Param("fileId"))
	if !ok {
		writeProblem(c, http.StatusBadRequest, "fileId must be a positive 64-bit integer")
		return
	}
	// The organiser's system asks while a buyer waits: its SecuTix calls
	// go before the queue's.
	ctx := pass.WithPriority(c.Request.Context(), pass.PriorityBuyer)
	res, err := s.deps.Tickets.Orders.SyncOrder(ctx, pass.OrderRef{Tenant: tenantID, FileID: fileID}, correlationID(c))
	if res.Order == nil {
		var ra *pass.RetryAfterError
		if pass.KindOf(err) == pass.KindUnavailable {
			after := 30 * time.Second
			if errors.As(err, &ra) && ra.After > 0 {
				after = ra.After
			}
			c.Header("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
		}
		if pass.KindOf(err) == pass.KindNotFound {
			writeProblem(c, http.StatusNotFound, "SecuTix has no file "+strconv.FormatInt(fileID, 10))
			return
		}
		s.fail(c, err)
		return
	}
	// Passes that could be made are served even if another ticket failed
	// (that one is retried by the queue's reconciliation).
	// Every order of the file: a ticket of a second order (an exchange, a
	// later sale) is stored under that order's secret.
	secret := res.Order.SecretToken
	secrets := []string{secret}
	for _, t := range res.Order.Tickets {
		if t.OrderSecretToken != "" && !slices.Contains(secrets, t.OrderSecretToken) {
			secrets = append(secrets, t.OrderSecretToken)
		}
	}
	var ps, mine []pass.Pass
	for _, sec := range secrets {
		got, err := s.deps.Passes.PassesByOrder(c.Request.Context(), tenantID, sec)
		if err != nil {
			s.fail(c, err)
			return
		}
		ps = append(ps, got...)
		if sec == secret {
			mine = got
		}
	}
	now := s.now()
	exp := s.linkExpiry(now, ps).Truncate(time.Second)
	base := t.PublicBaseURL
	out := TicketsResponse{FileID: fileID, OrderPageURL: OrderPageURL(base, tenantID, secret), LinksExpireAt: exp.UTC(), Tickets: []TicketURLs{}}
	// Every valid ticket gets its own links (a transferred one too: the
	// organiser hands them to its new holder); the order-wide links save
	// what the main order's secret grants, its tickets not passed on.
	valid := map[string]bool{}
	for _, p := range pass.ValidPerTicket(ps) {
		valid[p.SerialNumber] = true
	}
	own := map[string]bool{}
	for _, p := range pass.ValidPerTicket(pass.ForOrderSecret(mine)) {
		own[p.SerialNumber] = true
	}
	if n := len(own); n > 0 && n <= apple.MaxBundlePasses {
		out.AppleBundle = BundleLink(base, s.deps.Links.Signer, tenantID, secret, exp)
	}
	if t.Google && len(own) > 0 && s.googleLinkFits(tenantID, own) {
		out.GoogleSaveURL = GoogleSaveLink(base, s.deps.Links.Signer, tenantID, secret, exp)
	}
	for _, p := range pass.LatestPerTicket(ps) {
		tk := p.Ticket
		tu := TicketURLs{TicketID: p.TicketID, MovementID: p.MovementID, State: string(tk.State),
			Event: TicketInfo{Name: tk.Event.Name, Start: tk.Event.Start, End: tk.Event.End, Venue: tk.Venue.Name}}
		if tk.Seat.Seated() || tk.Seat.Area != "" || tk.Seat.Block != "" {
			seat := tk.Seat
			tu.Seat = &seat
		}
		if valid[p.SerialNumber] {
			tu.ApplePassURL = PassLink(base, s.deps.Links.Signer, tenantID, p.SerialNumber, exp)
			if t.Google {
				tu.GoogleSaveURL = GoogleTicketSaveLink(base, s.deps.Links.Signer, tenantID, p.SerialNumber, exp)
			}
		}
		out.Tickets = append(out.Tickets, tu)
	}
	c.Header("Cache-Control", "no-store")
	c.PureJSON(http.StatusOK, out)
}
