package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"walletpass/certs"
	"walletpass/config"
	"walletpass/pass/apple"
	"walletpass/templates"
)

// loadTemplates loads the built-in templates, then those of dir (which
// replace built-ins of the same name).
func loadTemplates(dir string) ([]*apple.Template, error) {
	var out []*apple.Template
	entries, err := fs.ReadDir(templates.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := fs.Sub(templates.FS, e.Name())
		if err != nil {
			return nil, err
		}
		t, err := apple.LoadTemplate(e.Name(), sub)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if dir == "" {
		return out, nil
	}
	entries, err = os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		t, err := apple.LoadTemplate(e.Name(), os.DirFS(filepath.Join(dir, e.Name())))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// tenantSource says where a tenant's signing identity is, generating the
// development PKI when the tenant has no certificate of its own.
func tenantSource(cfg *config.Config, t config.Tenant) (certs.Source, error) {
	a := t.Apple
	if !a.UsesDevPKI() {
		return certs.Source{P12File: a.P12File, P12Password: a.P12Password, CertFile: a.CertFile, KeyFile: a.KeyFile, WWDRFile: a.WWDRFile}, nil
	}
	dev, err := certs.EnsureDev(cfg.DevPKIDir(), a.PassTypeID, a.TeamID, t.Name)
	if err != nil {
		return certs.Source{}, fmt.Errorf("tenant %s: development PKI: %w", t.ID, err)
	}
	return certs.Source{CertFile: dev.Cert, KeyFile: dev.Key, WWDRFile: dev.WWDRCert}, nil
}

// checkIdentity is everything wrong with a tenant's signing identity:
// certs.Identity.Check, and whether its WWDR leads to Apple's root (in
// development, the development CA is trusted too).
func checkIdentity(cfg *config.Config, t config.Tenant, id *certs.Identity, now time.Time) []certs.Problem {
	roots := certs.AppleRoots()
	if cfg.Server.Development {
		if dev, err := certs.LoadCertificate(filepath.Join(cfg.DevPKIDir(), "wwdr.pem")); err == nil {
			roots.AddCert(dev)
		}
	}
	return append(id.Check(t.Apple.PassTypeID, t.Apple.TeamID, now), id.CheckChain(roots, now)...)
}

// buildRegistry loads every template and every tenant's signing identity,
// checks the certificates (errors stop the start, warnings are logged) and
// returns the registry that renders and signs passes.
func buildRegistry(cfg *config.Config, log *slog.Logger) (*apple.Registry, error) {
	reg, _, err := buildIssuers(cfg, log)
	return reg, err
}

// buildIssuers is buildRegistry that also returns each tenant's signing
// identity (the APNs client uses the same certificate).
func buildIssuers(cfg *config.Config, log *slog.Logger) (*apple.Registry, map[string]*certs.Identity, error) {
	reg := apple.NewRegistry()
	ids := map[string]*certs.Identity{}
	tpls, err := loadTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range tpls {
		reg.AddTemplate(t)
	}
	for _, t := range cfg.Tenants {
		if _, err := reg.Template(t.DefaultTemplate); err != nil {
			return nil, nil, fmt.Errorf("tenant %s: defaultTemplate: %w", t.ID, err)
		}
		for i, r := range t.TemplateRules {
			if _, err := reg.Template(r.Template); err != nil {
				return nil, nil, fmt.Errorf("tenant %s: templateRules[%d]: %w", t.ID, i, err)
			}
		}
		if len(t.Apple.EventGuide) > 0 {
			for _, name := range append([]string{t.DefaultTemplate}, ruleTemplates(t)...) {
				if tpl, _ := reg.Template(name); tpl.HasEventGuide() {
					return nil, nil, fmt.Errorf("tenant %s: apple.eventGuide: template %s gives the event guide itself; keep it in one place", t.ID, name)
				}
			}
		}
		src, err := tenantSource(cfg, t)
		if err != nil {
			return nil, nil, err
		}
		id, err := certs.Load(src)
		if err != nil {
			return nil, nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		problems := checkIdentity(cfg, t, id, time.Now())
		for _, p := range problems {
			log.Warn("certificate", slog.String("tenant", t.ID), slog.String("severity", p.Severity.String()), slog.String("problem", p.Message))
		}
		if certs.HasErrors(problems) {
			return nil, nil, fmt.Errorf("tenant %s: the Apple certificate is not usable (run walletpass certs check)", t.ID)
		}
		is, err := apple.NewIssuer(apple.IssuerConfig{
			PassTypeID: t.Apple.PassTypeID, TeamID: t.Apple.TeamID, OrganizationName: t.Name,
			WebServiceURL: t.PublicBaseURL + "/api/" + t.ID + "/apple",
			AllowHTTP:     cfg.Server.Development, ReEntry: t.Apple.ReEntry, SharingProhibited: t.Apple.SharingProhibited, NFC: nfcOf(t.Apple.NFC),
			EventGuide: guideOf(t.Apple.EventGuide),
			Cert:       id.Leaf, Key: id.Key, WWDR: id.WWDR,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		reg.AddIssuer(t.ID, is)
		ids[t.ID] = id
	}
	return reg, ids, nil
}

// ruleTemplates are the templates a tenant's rules may choose.
func ruleTemplates(t config.Tenant) []string {
	var out []string
	for _, r := range t.TemplateRules {
		out = append(out, r.Template)
	}
	return out
}

// guideOf is a tenant's event guide as the pass engine takes it.
func guideOf(rules []config.EventGuide) []apple.GuideRule {
	var out []apple.GuideRule
	for _, r := range rules {
		out = append(out, apple.GuideRule{Venue: r.Venue, EventID: r.EventID, PerformanceID: r.PerformanceID, Links: r.Links})
	}
	return out
}

// nfcOf is a tenant's NFC setup as the pass engine takes it.
func nfcOf(n *config.NFC) *apple.NFC {
	if n == nil || n.EncryptionPublicKey == "" {
		return nil
	}
	return &apple.NFC{EncryptionPublicKey: n.EncryptionPublicKey, Message: n.Message, RequiresAuthentication: n.RequiresAuthentication}
}
