package main

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
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
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/secutix"
	"walletpass/storage"
)

// DevConsoleClient is the console's client id at the development OpenID
// provider.
const DevConsoleClient = "walletpass-console"

// buildConsole makes the operator console, and in development without an
// identity provider the built-in one (nil when the console is off: no
// issuer outside development). The session key is derived from the link
// secret, so that every instance honours every session.
func buildConsole(cfg *config.Config, a *App, links httpapi.LinkSigner) (http.Handler, http.Handler, error) {
	db, log := a.DB, a.Log
	base := strings.TrimSuffix(cfg.Server.PublicBaseURL, "/")
	cc := cfg.Console
	oidcCfg := console.OIDC{Issuer: cc.Issuer, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, RoleClaim: cc.RoleClaim,
		TokenAuthMethod: cc.TokenAuthMethod}
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
			Clients: map[string]fakeoidc.Client{DevConsoleClient: {Secret: oidcCfg.ClientSecret, RedirectURIs: []string{base + "/console/callback"},
				PostLogoutRedirectURIs: []string{base + "/console/signedout"}}}})
		if err != nil {
			return nil, nil, err
		}
		dev = p
	}
	var tenants []console.Tenant
	bases := map[string]string{}
	google := map[string]bool{}
	for _, t := range cfg.Tenants {
		ct := console.Tenant{ID: t.ID, Name: t.Name}
		if id := a.Identities[t.ID]; id != nil {
			for _, c := range []struct {
				name string
				cert *x509.Certificate
			}{{"pass signing and APNs", id.Leaf}, {"Apple WWDR", id.WWDR}} {
				if c.cert != nil {
					ct.Certificates = append(ct.Certificates, console.Certificate{Name: c.name, Subject: c.cert.Subject.CommonName, NotAfter: c.cert.NotAfter})
				}
			}
		}
		if cl := a.SecuTix[t.ID]; cl != nil {
			ct.SecuTix.Institution = cl.Institution()
			ct.SecuTix.RequestsPerMin = cmp.Or(t.SecuTix.RequestsPerMinute, secutix.DefaultRequestsPerMinute)
			if _, _, _, ok, _ := cl.QuotaUsage(context.Background()); ok {
				ct.SecuTix.Usage = func(ctx context.Context) (int, time.Time, error) {
					calls, _, paused, _, err := cl.QuotaUsage(ctx)
					return calls, paused, err
				}
			}
		}
		tenants = append(tenants, ct)
		bases[t.ID] = strings.TrimSuffix(cmp.Or(t.PublicBaseURL, cfg.Server.PublicBaseURL), "/")
		google[t.ID] = t.Google.Enabled()
	}
	m := hmac.New(sha256.New, links.Key)
	m.Write([]byte("walletpass console session key"))
	c, err := console.New(console.Config{BaseURL: base, OIDC: oidcCfg, SessionKey: m.Sum(nil),
		SessionTTL: time.Duration(cc.SessionTTL), Tenants: tenants, Store: db, Revocations: db, Log: log.With(slog.String("component", "console")),
		Clock: time.Now, Versions: consoleVersions{db: db, files: a.Files}, Voids: a.Inbox, LinkTTL: time.Duration(cfg.Server.LinkTTL),
		TrustedProxies: cfg.Server.TrustedProxies,
		Links: func(tenant, secret string, serials []string, exp time.Time) []console.Link {
			base := bases[tenant]
			out := []console.Link{{Label: "Order page", URL: httpapi.OrderPageURL(base, tenant, secret)}}
			if len(serials) > 0 && len(serials) <= apple.MaxBundlePasses {
				out = append(out, console.Link{Label: "Apple Wallet, all", URL: httpapi.BundleLink(base, links, tenant, secret, exp)})
			}
			// One Google link for all when one save token can name them all.
			googleAll := google[tenant] && len(serials) > 0 && a.Google.syncer != nil && a.Google.syncer.SaveLinkFits(tenant, serials)
			if googleAll {
				out = append(out, console.Link{Label: "Google Wallet, all", URL: httpapi.GoogleSaveLink(base, links, tenant, secret, exp)})
			}
			for i, serial := range serials {
				out = append(out, console.Link{Label: fmt.Sprintf("Apple Wallet, pass %d", i+1), URL: httpapi.PassLink(base, links, tenant, serial, exp)})
				if google[tenant] && !googleAll {
					out = append(out, console.Link{Label: fmt.Sprintf("Google Wallet, pass %d", i+1), URL: httpapi.GoogleTicketSaveLink(base, links, tenant, serial, exp)})
				}
			}
			return out
		}})
	if err != nil {
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	return c, dev, nil
}

// consoleVersions shows the console the stored versions of passes.
type consoleVersions struct {
	db    *storage.DB
	files *apple.Files
}

// VersionFields reads what a version shows, from its stored form.
func (v consoleVersions) VersionFields(ctx context.Context, tenant, serial string, version int) ([]pass.Field, error) {
	data, err := v.db.VersionContent(ctx, tenant, serial, version)
	if err != nil {
		return nil, err
	}
	return apple.PassFields(data)
}

// VersionPreview renders a version's front and back, completed with its
// template's files.
func (v consoleVersions) VersionPreview(ctx context.Context, tenant, serial string, version int, lang string) ([]byte, error) {
	data, err := v.db.VersionContent(ctx, tenant, serial, version)
	if err != nil {
		return nil, err
	}
	if data, err = v.files.Complete(ctx, data); err != nil {
		return nil, err
	}
	return apple.PreviewHTML(data, lang)
}
