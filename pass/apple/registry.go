package apple

import (
	"context"
	"sync"

	"walletpass/pass"
)

// Registry holds each tenant's Issuer and the loaded templates, and
// implements pass.Packager.
type Registry struct {
	mu        sync.RWMutex
	issuers   pass.PerTenant[*Issuer]
	templates map[string]*Template
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{issuers: pass.PerTenant[*Issuer]{}, templates: map[string]*Template{}}
}

// AddIssuer registers the issuer of tenant.
func (r *Registry) AddIssuer(tenant string, is *Issuer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.issuers[tenant] = is
}

// AddTemplate registers a template under its name.
func (r *Registry) AddTemplate(t *Template) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.templates[t.Name] = t
}

// Issuer returns tenant's issuer, or an error of kind pass.KindNotFound.
func (r *Registry) Issuer(tenant string) (*Issuer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.issuers.Get(tenant, "Apple pass issuer")
}

// Template returns the template called name, or an error of kind
// pass.KindNotFound.
func (r *Registry) Template(name string) (*Template, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.templates[name]
	if !ok {
		return nil, pass.Errorf(pass.KindNotFound, "no template called %q", name)
	}
	return t, nil
}

// Render implements pass.Packager.
func (r *Registry) Render(_ context.Context, tenant, template string, in pass.PassInput) (pass.Rendered, error) {
	is, t, err := r.signer(tenant, template)
	if err != nil {
		return pass.Rendered{}, err
	}
	pj, err := is.Render(t, Input{Ticket: in.Ticket, SerialNumber: in.SerialNumber, AuthToken: in.AuthToken})
	if err != nil {
		return pass.Rendered{}, err
	}
	return pass.Rendered{PassJSON: pj, ContentHash: ContentHash(t, pj), PassTypeID: is.cfg.PassTypeID, Template: template,
		Signer: is.signer, SignerSince: is.cfg.Cert.NotBefore, SignerCASince: is.cfg.WWDR.NotBefore}, nil
}

// Sign implements pass.Packager: it returns the stored form of the pass
// (Issuer.PackageSigned), which Files completes for download.
func (r *Registry) Sign(_ context.Context, tenant string, rd pass.Rendered) ([]byte, error) {
	is, t, err := r.signer(tenant, rd.Template)
	if err != nil {
		return nil, err
	}
	return is.PackageSigned(t, rd.PassJSON)
}

// signer returns tenant's issuer and the template called name.
func (r *Registry) signer(tenant, name string) (*Issuer, *Template, error) {
	is, err := r.Issuer(tenant)
	if err != nil {
		return nil, nil, err
	}
	t, err := r.Template(name)
	if err != nil {
		return nil, nil, err
	}
	return is, t, nil
}

// Sample renders and signs a whole sample pass (the template's files
// included; it is not stored) of tenant with template; with nfc, as an NFC
// tenant signs it (Issuer.AsNFC). Errors are Render's.
func (r *Registry) Sample(_ context.Context, tenant, template string, in pass.PassInput, nfc bool) ([]byte, error) {
	is, t, err := r.signer(tenant, template)
	if err != nil {
		return nil, err
	}
	if nfc {
		if is, err = is.AsNFC(); err != nil {
			return nil, err
		}
	}
	pj, err := is.Render(t, Input{Ticket: in.Ticket, SerialNumber: in.SerialNumber, AuthToken: in.AuthToken})
	if err != nil {
		return nil, err
	}
	return is.Package(t, pj)
}

// Templates returns every registered template, in no particular order.
func (r *Registry) Templates() []*Template {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Template, 0, len(r.templates))
	for _, t := range r.templates {
		out = append(out, t)
	}
	return out
}

// PassTypeID returns the issuer's pass type identifier.
func (is *Issuer) PassTypeID() string { return is.cfg.PassTypeID }

var _ pass.Packager = (*Registry)(nil)
