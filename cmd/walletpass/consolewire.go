package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"walletpass/config"
	"walletpass/console"
	fakeoidc "walletpass/fake/oidc"
	"walletpass/httpapi"
	"walletpass/storage"
)

// DevConsoleClient is the console's client id at the development OpenID
// provider.
const DevConsoleClient = "walletpass-console"

// buildConsole makes the operator console, and in development without an
// identity provider the built-in one (nil when the console is off: no
// issuer outside development). The session key is derived from the link
// secret, so that every instance honours every session.
func buildConsole(cfg *config.Config, db *storage.DB, links httpapi.LinkSigner, log *slog.Logger) (http.Handler, http.Handler, error) {
	base := strings.TrimSuffix(cfg.Server.PublicBaseURL, "/")
	cc := cfg.Console
	oidcCfg := console.OIDC{Issuer: cc.Issuer, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, RoleClaim: cc.RoleClaim}
	var dev http.Handler
	if cc.Issuer == "" {
		if !cfg.Server.Development {
			return nil, nil, nil
		}
		var secret [16]byte
		_, _ = rand.Read(secret[:])
		oidcCfg = console.OIDC{Issuer: base + "/dev/oidc", ClientID: DevConsoleClient, ClientSecret: hex.EncodeToString(secret[:])}
		users := []fakeoidc.User{{Subject: "dev-admin", Name: "Ada Admin", Email: "ada@walletpass.localhost", Roles: []string{"admin"}}}
		for _, t := range cfg.Tenants {
			users = append(users, fakeoidc.User{Subject: "dev-operator-" + t.ID, Name: "Operator of " + t.Name,
				Email: "operator-" + t.ID + "@walletpass.localhost", Roles: []string{"operator:" + t.ID}})
		}
		users = append(users, fakeoidc.User{Subject: "dev-nobody", Name: "No Role", Email: "nobody@walletpass.localhost"})
		p, err := fakeoidc.New(fakeoidc.Options{Issuer: oidcCfg.Issuer, Users: users,
			Clients: map[string]fakeoidc.Client{DevConsoleClient: {Secret: oidcCfg.ClientSecret, RedirectURIs: []string{base + "/console/callback"}}}})
		if err != nil {
			return nil, nil, err
		}
		dev = p
	}
	var tenants []console.Tenant
	for _, t := range cfg.Tenants {
		tenants = append(tenants, console.Tenant{ID: t.ID, Name: t.Name})
	}
	m := hmac.New(sha256.New, links.Key)
	m.Write([]byte("walletpass console session key"))
	c, err := console.New(console.Config{BaseURL: base, OIDC: oidcCfg, SessionKey: m.Sum(nil),
		SessionTTL: time.Duration(cc.SessionTTL), Tenants: tenants, Store: db, Log: log.With(slog.String("component", "console"))})
	if err != nil {
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	return c, dev, nil
}
