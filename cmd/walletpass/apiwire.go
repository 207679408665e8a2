package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"walletpass/auth"
	"walletpass/config"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/storage"
)

// devIssuerPath is where the development identity provider's key lives.
func devIssuerPath(cfg *config.Config) string { return filepath.Join(cfg.DevPKIDir(), "oauth-dev.pem") }

// usesDevIssuer reports whether a tenant takes the development issuer's
// tokens.
func usesDevIssuer(cfg *config.Config, t config.Tenant) bool {
	return cfg.Server.Development && strings.HasSuffix(t.API.OAuth.Issuer, config.DevOAuthPath)
}

// buildTicketsAPI wires the organisers' API: a token verifier per tenant
// that has an identity provider, API keys from the store, and the order
// syncer. In development it also returns the development issuer.
func buildTicketsAPI(cfg *config.Config, db *storage.DB, orders httpapi.OrderSyncer) (httpapi.TicketsAPI, *auth.DevIssuer, error) {
	api := httpapi.TicketsAPI{Verifiers: map[string]httpapi.TokenVerifier{}, Scopes: map[string]string{}, Orders: orders,
		APIKey: func(ctx context.Context, hash string) (httpapi.APIKeyInfo, error) {
			k, err := db.APIKeyByHash(ctx, hash)
			if err != nil {
				return httpapi.APIKeyInfo{}, err
			}
			return httpapi.APIKeyInfo{Tenant: k.Tenant, Revoked: !k.RevokedAt.IsZero(), Scopes: k.Scopes}, nil
		},
		Passes: db}
	var dev *auth.DevIssuer
	// Tenants that trust one issuer and audience must each see their name
	// in a token (config.Validate makes them use one claim for it).
	trusting := map[[2]string]int{}
	for _, t := range cfg.Tenants {
		if o := t.API.OAuth; o.Enabled() {
			trusting[[2]string{o.Issuer, o.Audience}]++
		}
	}
	for _, t := range cfg.Tenants {
		o := t.API.OAuth
		api.Scopes[t.ID] = o.Scope
		if !o.Enabled() {
			continue
		}
		if usesDevIssuer(cfg, t) && dev == nil {
			var err error
			if dev, err = auth.LoadOrCreateDevIssuer(devIssuerPath(cfg), o.Issuer); err != nil {
				return api, nil, fmt.Errorf("development identity provider: %w", err)
			}
		}
		v, err := auth.NewVerifier(auth.VerifierConfig{Tenant: t.ID, Issuer: o.Issuer, Audience: o.Audience, JWKSURL: o.JWKSURL,
			Scope: o.Scope, TenantClaim: o.TenantClaim, RequireTenantClaim: trusting[[2]string{o.Issuer, o.Audience}] > 1,
			OtherAudiences: otherAudiences(cfg, t)})
		if err != nil {
			return api, nil, fmt.Errorf("tenant %s: api.oauth: %w", t.ID, err)
		}
		api.Verifiers[t.ID] = v
	}
	return api, dev, nil
}

// otherAudiences are the audiences that tenants other than t trust at
// t's issuer, other than t's own (auth.VerifierConfig.OtherAudiences).
func otherAudiences(cfg *config.Config, t config.Tenant) []string {
	o := t.API.OAuth
	var out []string
	for _, u := range cfg.Tenants {
		if ou := u.API.OAuth; u.ID != t.ID && ou.Enabled() && ou.Issuer == o.Issuer && ou.Audience != o.Audience &&
			!slices.Contains(out, ou.Audience) {
			out = append(out, ou.Audience)
		}
	}
	return out
}

// cmdToken is `walletpass token -tenant ID -scope S [-ttl D]`: a token of
// the development identity provider, which a development server accepts.
func cmdToken(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("token", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	scope := fs.String("scope", "tickets:read", "space-separated `scopes`")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		return errUsage{"token: -ttl must be between 1s and 24h"}
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	t, err := pickTenant(cfg, *tenant)
	if err != nil {
		return err
	}
	if !usesDevIssuer(cfg, t) {
		return fmt.Errorf("token: tenant %s takes tokens from its own identity provider (%s), not from walletpass", t.ID, t.API.OAuth.Issuer)
	}
	dev, err := auth.LoadOrCreateDevIssuer(devIssuerPath(cfg), t.API.OAuth.Issuer)
	if err != nil {
		return err
	}
	scopes := strings.Fields(*scope)
	for _, sc := range scopes {
		if !slices.Contains(tokenScopes, sc) {
			return errUsage{fmt.Sprintf("token: unknown scope %q (%s)", sc, strings.Join(tokenScopes, ", "))}
		}
	}
	tok, err := dev.Token(t.ID, t.API.OAuth.Audience, scopes, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func pickTenant(cfg *config.Config, id string) (config.Tenant, error) {
	if id == "" {
		return cfg.Tenants[0], nil
	}
	t, ok := cfg.Tenant(id)
	if !ok {
		return config.Tenant{}, fmt.Errorf("no tenant %q", id)
	}
	return t, nil
}

// apiKeyScopes are the scopes an API key may carry.
var apiKeyScopes = []string{httpapi.ScopeTickets, httpapi.ScopePasses, httpapi.ScopeScans, httpapi.ScopeWebhooksRead,
	httpapi.ScopeWebhooksWrite}

// tokenScopes are the scopes a token may carry: an API key's, and those
// only tokens carry (an event-wide message, an erasure).
var tokenScopes = append(slices.Clone(apiKeyScopes), httpapi.ScopePassesWrite, httpapi.ScopeHoldersErase)

// cmdAPIKey is `walletpass apikey create|list|revoke`.
func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errUsage{"apikey: expected create, list or revoke"}
	}
	sub := args[0]
	fs := newFlags("apikey "+sub, stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	var name, scopes *string
	if sub == "create" {
		name = fs.String("name", "", "what the key is for (e.g. the shop)")
		scopes = fs.String("scope", httpapi.ScopeTickets, "what the key may do: space-separated `scopes` among "+strings.Join(apiKeyScopes, ", "))
	}
	rest := args[1:]
	var id string
	if sub == "revoke" && len(rest) > 0 && !strings.HasPrefix(rest[len(rest)-1], "-") {
		id, rest = rest[len(rest)-1], rest[:len(rest)-1]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch sub {
	case "create", "list", "revoke":
	default:
		return errUsage{fmt.Sprintf("apikey: unknown command %q (create, list, revoke)", sub)}
	}
	if sub == "revoke" && id == "" {
		return errUsage{"apikey revoke: give the key's id"}
	}
	t, db, err := tenantStore(ctx, *cfgPath, *tenant, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	var keyScopes []string
	if sub == "create" {
		keyScopes = strings.Fields(*scopes)
		if len(keyScopes) == 0 {
			return errUsage{"apikey create: -scope names no scope"}
		}
		for _, sc := range keyScopes {
			if !slices.Contains(apiKeyScopes, sc) {
				return errUsage{fmt.Sprintf("apikey create: unknown scope %q (%s)", sc, strings.Join(apiKeyScopes, ", "))}
			}
		}
	}
	switch sub {
	case "create":
		key, hash := auth.NewAPIKey()
		var id [6]byte
		_, _ = rand.Read(id[:])
		k := storage.APIKey{Tenant: t.ID, ID: hex.EncodeToString(id[:]), Name: *name, Hash: hash, CreatedAt: time.Now(), Scopes: keyScopes}
		if err := db.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "API key %s for tenant %s; it is shown once, keep it secret:\n", k.ID, t.ID)
		fmt.Fprintln(stdout, key)
	case "list":
		keys, err := db.APIKeys(ctx, t.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, " "), k.CreatedAt.Local().Format(time.DateTime), revoked)
		}
		return tw.Flush()
	case "revoke":
		if err := db.RevokeAPIKey(ctx, t.ID, id, time.Now()); err != nil {
			if errors.Is(err, pass.ErrNotFound) {
				return fmt.Errorf("apikey revoke: tenant %s has no active key %s", t.ID, id)
			}
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
	}
	return nil
}
