package google

import (
	"context"
	"strings"

	"walletpass/pass"
)

// Callbacks takes Google Wallet's save and delete callbacks: each class
// names our endpoint of its tenant (Issuer.CallbackURL), Google signs
// every callback, and a replay (the same nonce) changes nothing.
type Callbacks struct {
	// Verifiers checks the callbacks of each tenant's issuer.
	Verifiers map[string]*CallbackVerifier
	Store     pass.GoogleCallbackStore
	Clock     pass.Clock
	// Announce: each new save or delete (not a replay) of a tenant's pass
	// is announced (the pass.installed and pass.uninstalled webhooks),
	// in the transaction that records it.
	Announce bool
}

// Handle verifies body as a callback to tenant's issuer and records it;
// fresh is false for a replay. Errors: KindNotFound for a tenant without
// Google Wallet; KindInvalid for a malformed callback or one about
// another tenant's object; KindUnauthorized when the signature does not
// hold; KindUnavailable when Google's keys cannot be fetched.
func (c *Callbacks) Handle(ctx context.Context, tenant string, body []byte) (fresh bool, err error) {
	v, ok := c.Verifiers[tenant]
	if !ok {
		return false, pass.Errorf(pass.KindNotFound, "google callback: tenant %s has no Google Wallet issuer", tenant)
	}
	ev, err := v.Verify(ctx, body)
	if err != nil {
		return false, err
	}
	if c.owner(v.IssuerID, ev.ObjectID) != tenant || c.owner(v.IssuerID, ev.ClassID) != tenant {
		return false, pass.Errorf(pass.KindInvalid, "google callback: object %s of class %s is not one of tenant %s's", ev.ObjectID, ev.ClassID, tenant)
	}
	return c.Store.RecordGoogleCallback(ctx, pass.GoogleCallback{Tenant: tenant, Nonce: ev.Nonce, ObjectID: ev.ObjectID,
		ClassID: ev.ClassID, EventType: ev.EventType, ReceivedAt: c.Clock.Now().UTC(), Announce: c.Announce})
}

// owner is the tenant whose ids ("<issuer>.<tenant>-…") id has; with
// tenants sharing an issuer, the longest matching tenant id wins ("demo-x"
// over "demo"). It is "" for none.
func (c *Callbacks) owner(issuerID, id string) string {
	best := ""
	for t, v := range c.Verifiers {
		if v.IssuerID == issuerID && strings.HasPrefix(id, issuerID+"."+t+"-") && len(t) > len(best) {
			best = t
		}
	}
	return best
}
