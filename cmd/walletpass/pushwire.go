package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"walletpass/certs"
	"walletpass/config"
	fakeapns "walletpass/fake/apns"
	"walletpass/pass"
	"walletpass/push/apns"
)

// apnsPushers holds each tenant's APNs client.
type apnsPushers pass.PerTenant[*apns.Client]

// pushers is the domain's view of them: one pass.Pusher per tenant.
func (m apnsPushers) pushers() pass.TenantPushers {
	out := pass.TenantPushers{}
	for t, c := range m {
		out[t] = c
	}
	return out
}

func (m apnsPushers) close() {
	for _, c := range m {
		c.Close()
	}
}

// buildPushers makes each tenant's APNs client: certificate auth with its
// Pass Type ID certificate, or token auth with a .p8 key. In development a
// tenant without an APNs host pushes to an in-process fake APNs that checks
// the certificate against the development WWDR (returned, to be closed).
func buildPushers(cfg *config.Config, ids map[string]*certs.Identity) (apnsPushers, *fakeapns.Server, error) {
	m := apnsPushers{}
	var fake *fakeapns.Server
	for _, t := range cfg.Tenants {
		id := ids[t.ID]
		ac := apns.Config{Host: t.Apple.APNs.Host}
		if t.Apple.APNs.KeyFile != "" {
			key, err := os.ReadFile(t.Apple.APNs.KeyFile)
			if err != nil {
				return nil, fake, fmt.Errorf("tenant %s: apns key: %w", t.ID, err)
			}
			ac.TokenKeyPEM, ac.KeyID, ac.TeamID = key, t.Apple.APNs.KeyID, t.Apple.TeamID
		} else {
			ac.Certificate = &tls.Certificate{Certificate: [][]byte{id.Leaf.Raw, id.WWDR.Raw}, PrivateKey: id.Key, Leaf: id.Leaf}
		}
		if f := t.Apple.APNs.CAFile; f != "" {
			pem, err := readFileLimited(f, 1<<20)
			if err != nil {
				return nil, fake, fmt.Errorf("tenant %s: apns caFile: %w", t.ID, err)
			}
			ac.RootCAs = x509.NewCertPool()
			if !ac.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fake, fmt.Errorf("tenant %s: apns caFile %s holds no PEM certificate", t.ID, f)
			}
		}
		if ac.Host == "" && cfg.Server.Development {
			if fake == nil {
				pool := x509.NewCertPool()
				for _, i := range ids {
					pool.AddCert(i.WWDR)
				}
				fake = fakeapns.NewServer(fakeapns.Options{RequireClientCert: true, ClientCAs: pool})
			}
			ac.Host, ac.RootCAs = fake.URL, fake.CA
		}
		c, err := apns.New(ac)
		if err != nil {
			return nil, fake, fmt.Errorf("tenant %s: apns: %w", t.ID, err)
		}
		m[t.ID] = c
	}
	return m, fake, nil
}

var _ pass.Pusher = (*apns.Client)(nil)
