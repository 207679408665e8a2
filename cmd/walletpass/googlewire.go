package main

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"walletpass/config"
	fakegoogle "walletpass/fake/google"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/google"
	"walletpass/storage"
)

// googleSide is the Google Wallet side of a running server: the syncer and,
// in development, the fake Google Wallet API of each tenant without a
// service account, served under /dev/google/<tenant>/.
type googleSide struct {
	syncer    *google.Syncer
	callbacks *google.Callbacks
	fakes     map[string]*fakegoogle.Server
	dev       http.Handler
}

// buildGoogle wires every tenant that has a Google Wallet issuer. selfURL
// is how this process reaches itself (the development fake).
func buildGoogle(cfg *config.Config, db *storage.DB, reg *apple.Registry, selfURL string, m *metrics) (*googleSide, error) {
	g := &googleSide{fakes: map[string]*fakegoogle.Server{},
		callbacks: &google.Callbacks{Verifiers: map[string]*google.CallbackVerifier{}, Store: db, Announce: true}}
	designs := &designCache{reg: reg}
	tenants := map[string]*google.Tenant{}
	for _, t := range cfg.Tenants {
		gc := t.Google
		if !gc.Enabled() {
			continue
		}
		endpoint, saveURL, keysURL := gc.Endpoint, gc.SaveURL, gc.CallbackKeysURL
		// Google calls back only on https; the development fake on any.
		var callbackURL string
		if strings.HasPrefix(t.PublicBaseURL, "https://") || gc.UsesFake() {
			callbackURL = t.PublicBaseURL + "/api/" + t.ID + "/google/callback"
		}
		sa, err := googleAccount(cfg, t)
		if err != nil {
			return nil, err
		}
		if gc.UsesFake() {
			fake := fakegoogle.New(fakegoogle.Options{IssuerID: gc.IssuerID, RequireAuth: true,
				ServiceAccountEmail: sa.Email, ServiceAccountPublicKey: &sa.Key.PublicKey})
			g.fakes[t.ID] = fake
			base := selfURL + httpapi.DevGooglePath + t.ID + "/"
			endpoint, saveURL, sa.TokenURI = base, base+"gp/v/save/", base+"token"
			keysURL = base + strings.TrimPrefix(fake.CallbackKeysPath(), "/")
		}
		api, err := google.NewClient(google.ClientConfig{Endpoint: endpoint, Account: sa, RequestsPerSecond: gc.RequestsPerSecond,
			Transport: m.googleTransport(t.ID, nil)})
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		tenants[t.ID] = &google.Tenant{
			Issuer: &google.Issuer{Tenant: t.ID, IssuerID: gc.IssuerID, IssuerName: gc.IssuerName, ReEntry: t.Apple.ReEntry,
				ExpireAfterEvent: gc.ExpireAfterEvent, InsertOnPayment: gc.InsertOnPayment,
				ImageBaseURL: t.PublicBaseURL + "/api/" + t.ID + "/google/images", CallbackURL: callbackURL,
				Locale: cmp.Or(t.SecuTix.Locale, "en"), Rotation: rotationOf(gc)},
			Account: sa, API: api, Origins: gc.Origins, SaveURL: saveURL,
			Design: designs.of, ClassTemplate: t.DefaultTemplate,
		}
		g.callbacks.Verifiers[t.ID] = &google.CallbackVerifier{IssuerID: gc.IssuerID, KeysURL: keysURL}
	}
	g.syncer = &google.Syncer{Passes: db, Store: db, Tenants: tenants, Timeline: db, Leases: db}
	if len(g.fakes) > 0 {
		g.dev = devGoogleHandler(g.fakes, tenants)
	}
	return g, nil
}

// designOf is what a pass template gives Google Wallet: its background
// colour, a square logo (the icon) and a wide hero image (the strip).
func designOf(reg *apple.Registry, name string) google.Design {
	d := google.Design{Template: name}
	tpl, err := reg.Template(name)
	if err != nil {
		return d
	}
	d.Background = tpl.HexColour("backgroundColor")
	for _, f := range []string{"google-logo.png", "icon@3x.png", "icon@2x.png", "icon.png"} {
		if data, ok := tpl.File(f); ok {
			d.Logo, d.LogoVersion = f, contentVersion(data)
			break
		}
	}
	for _, f := range []string{"google-hero.png", "strip@3x.png", "strip@2x.png", "strip.png"} {
		if data, ok := tpl.File(f); ok {
			d.Hero, d.HeroVersion = f, contentVersion(data)
			break
		}
	}
	return d
}

// designCache keeps each template's design (designOf): its images'
// versions are digests of their content, computed once per template as
// loaded, not at every sync.
type designCache struct {
	reg *apple.Registry
	by  sync.Map // *apple.Template -> google.Design
}

func (c *designCache) of(name string) google.Design {
	tpl, err := c.reg.Template(name)
	if err != nil {
		return google.Design{Template: name}
	}
	if d, ok := c.by.Load(tpl); ok {
		return d.(google.Design)
	}
	d := designOf(c.reg, name)
	c.by.Store(tpl, d)
	return d
}

// contentVersion names an image's content in its address: the first 12
// hex digits of its SHA-256.
func contentVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// googleImageGaps names, for each template (sorted), the images Google
// Wallet is given in place of those made for it: a template without
// google-logo.png (660 px square) gives Google its Apple icon, 114 px at
// most, which Google enlarges into a blurred circle; one without
// google-hero.png (1032 px wide) its strip.
func googleImageGaps(reg *apple.Registry) map[string][]string {
	gaps := map[string][]string{}
	for _, tpl := range reg.Templates() {
		d := designOf(reg, tpl.Name)
		for want, got := range map[string]string{"google-logo.png": d.Logo, "google-hero.png": d.Hero} {
			if got != want {
				gaps[tpl.Name] = append(gaps[tpl.Name], fmt.Sprintf("no %s: Google Wallet shows %s", want, cmp.Or(got, "none")))
			}
		}
		slices.Sort(gaps[tpl.Name])
	}
	return gaps
}

// googleAccount is the service account of a tenant with a Google Wallet
// issuer: the development one with the fake, else its
// google.serviceAccountFile.
func googleAccount(cfg *config.Config, t config.Tenant) (*google.ServiceAccount, error) {
	if t.Google.UsesFake() {
		return devServiceAccount(cfg, t.ID)
	}
	data, err := readFileLimited(t.Google.ServiceAccountFile, google.MaxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: google.serviceAccountFile: %w", t.ID, err)
	}
	sa, err := google.ParseServiceAccount(data)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	return sa, nil
}

// devServiceAccount returns the development service account of a tenant,
// made once under the development PKI directory.
func devServiceAccount(cfg *config.Config, tenant string) (*google.ServiceAccount, error) {
	path := filepath.Join(cfg.DevPKIDir(), "google-"+tenant+".json")
	data, err := readFileLimited(path, google.MaxKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = google.NewServiceAccountJSON("walletpass-dev@"+tenant+".iam.gserviceaccount.com", google.DefaultTokenURI)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(path), 0o700)
		}
		if err == nil {
			err = writeFileAtomic(path, data, 0o600)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: development Google service account: %w", tenant, err)
	}
	return google.ParseServiceAccount(data)
}

// linkSigner returns the signer of access links: the configured secret,
// or in development one generated once under the data directory.
func linkSigner(cfg *config.Config) (httpapi.LinkSigner, error) {
	if cfg.Server.LinkSecret != "" {
		return httpapi.LinkSigner{Key: []byte(cfg.Server.LinkSecret)}, nil
	}
	path := filepath.Join(cfg.Storage.DataDir, "link.key")
	data, err := readFileLimited(path, 1024)
	if errors.Is(err, fs.ErrNotExist) {
		var k [32]byte
		_, _ = rand.Read(k[:])
		data = []byte(hex.EncodeToString(k[:]))
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = writeFileAtomic(path, data, 0o600)
		}
	}
	if err != nil {
		return httpapi.LinkSigner{}, fmt.Errorf("link key: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if len(key) < httpapi.MinLinkKey {
		return httpapi.LinkSigner{}, fmt.Errorf("link key %s is shorter than %d characters", path, httpapi.MinLinkKey)
	}
	return httpapi.LinkSigner{Key: []byte(key)}, nil
}

// devGoogleHandler serves each development tenant's fake Google Wallet API
// under /<tenant>/ (the prefix /dev/google is stripped before), and the
// fake's stand-in for Google's save page at /<tenant>/gp/v/save/<jwt>.
func devGoogleHandler(fakes map[string]*fakegoogle.Server, tenants map[string]*google.Tenant) http.Handler {
	mux := http.NewServeMux()
	for id, fake := range fakes {
		prefix := "/" + id
		mux.Handle(prefix+"/gp/v/save/", fake.SavePage(&tenants[id].Account.Key.PublicKey))
		mux.Handle(prefix+"/", http.StripPrefix(prefix, fake.Handler()))
	}
	return mux
}

// rotationOf is a tenant's rotating barcodes, nil without a key (the
// configuration checked its form).
func rotationOf(gc config.Google) *google.Rotation {
	key, err := hex.DecodeString(gc.RotatingBarcodeKey)
	if err != nil || len(key) == 0 {
		return nil
	}
	return &google.Rotation{Key: key, Period: time.Duration(gc.RotatingBarcodePeriod)}
}

// rotating is each tenant's rotating-barcode checker, for the gate scans.
func (g *googleSide) rotating() map[string]pass.RotatingChecker {
	out := map[string]pass.RotatingChecker{}
	if g == nil || g.syncer == nil {
		return out
	}
	for id, tn := range g.syncer.Tenants {
		if tn.Issuer.Rotation != nil {
			out[id] = tn.Issuer.Rotation
		}
	}
	return out
}
