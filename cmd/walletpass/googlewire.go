package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/api/walletobjects/v1"

	"walletpass/config"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/google"
	"walletpass/pass/google/googletest"
	"walletpass/storage"
)

// googleSide is the Google Wallet side of a running server: the syncer and,
// in development, the fake Google Wallet API of each tenant without a
// service account, served under /dev/google/<tenant>/.
type googleSide struct {
	syncer    *google.Syncer
	callbacks *google.Callbacks
	fakes     map[string]*googletest.Server
	dev       http.Handler
}

// buildGoogle wires every tenant that has a Google Wallet issuer. selfURL
// is how this process reaches itself (the development fake).
func buildGoogle(cfg *config.Config, db *storage.DB, reg *apple.Registry, selfURL string) (*googleSide, error) {
	g := &googleSide{fakes: map[string]*googletest.Server{},
		callbacks: &google.Callbacks{Verifiers: map[string]*google.CallbackVerifier{}, Store: db}}
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
		var sa *google.ServiceAccount
		if gc.UsesFake() {
			var err error
			if sa, err = devServiceAccount(cfg, t.ID); err != nil {
				return nil, err
			}
			fake := googletest.New(googletest.Options{IssuerID: gc.IssuerID, RequireAuth: true,
				ServiceAccountEmail: sa.Email, ServiceAccountPublicKey: &sa.Key.PublicKey})
			g.fakes[t.ID] = fake
			base := selfURL + httpapi.DevGooglePath + t.ID + "/"
			endpoint, saveURL, sa.TokenURI = base, base+"gp/v/save/", base+"token"
			keysURL = base + strings.TrimPrefix(fake.CallbackKeysPath(), "/")
		} else {
			data, err := readFileLimited(gc.ServiceAccountFile, google.MaxKeyFile)
			if err != nil {
				return nil, fmt.Errorf("tenant %s: google.serviceAccountFile: %w", t.ID, err)
			}
			if sa, err = google.ParseServiceAccount(data); err != nil {
				return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
			}
		}
		api, err := google.NewClient(google.ClientConfig{Endpoint: endpoint, Account: sa, RequestsPerSecond: gc.RequestsPerSecond})
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		tenants[t.ID] = &google.Tenant{
			Issuer: &google.Issuer{Tenant: t.ID, IssuerID: gc.IssuerID, IssuerName: gc.IssuerName, ReEntry: t.Apple.ReEntry,
				ExpireAfterEvent: gc.ExpireAfterEvent, InsertOnPayment: gc.InsertOnPayment,
				ImageBaseURL: t.PublicBaseURL + "/api/" + t.ID + "/google/images", CallbackURL: callbackURL},
			Account: sa, API: api, Origins: gc.Origins, SaveURL: saveURL,
			Design: func(name string) google.Design { return designOf(reg, name) },
		}
		g.callbacks.Verifiers[t.ID] = &google.CallbackVerifier{IssuerID: gc.IssuerID, KeysURL: keysURL}
	}
	g.syncer = &google.Syncer{Passes: db, Store: db, Tenants: tenants, Timeline: db}
	db.GoogleOnPayment = func(tenant string) bool {
		tn, ok := tenants[tenant]
		return ok && tn.Issuer.InsertOnPayment
	}
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
	for _, f := range []string{"icon@3x.png", "icon@2x.png", "icon.png"} {
		if _, ok := tpl.File(f); ok {
			d.Logo = f
			break
		}
	}
	for _, f := range []string{"strip@3x.png", "strip@2x.png", "strip.png"} {
		if _, ok := tpl.File(f); ok {
			d.Hero = f
			break
		}
	}
	return d
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
func linkSigner(cfg *config.Config) (pass.LinkSigner, error) {
	if cfg.Server.LinkSecret != "" {
		return pass.LinkSigner{Key: []byte(cfg.Server.LinkSecret)}, nil
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
		return pass.LinkSigner{}, fmt.Errorf("link key: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if len(key) < pass.MinLinkKey {
		return pass.LinkSigner{}, fmt.Errorf("link key %s is shorter than %d characters", path, pass.MinLinkKey)
	}
	return pass.LinkSigner{Key: []byte(key)}, nil
}

// devGoogleHandler serves each development tenant's fake Google Wallet API
// under /<tenant>/ (the prefix /dev/google is stripped before), and a
// stand-in for Google's save page at /<tenant>/gp/v/save/<jwt> that checks
// the link as Google would and shows the passes it saves.
func devGoogleHandler(fakes map[string]*googletest.Server, tenants map[string]*google.Tenant) http.Handler {
	mux := http.NewServeMux()
	for id, fake := range fakes {
		prefix := "/" + id
		mux.Handle(prefix+"/gp/v/save/", savePage(fake, tenants[id]))
		mux.Handle(prefix+"/", http.StripPrefix(prefix, fake.Handler()))
	}
	return mux
}

var savePageTpl = template.Must(template.New("save").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Saved to Google Wallet (development)</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
.pass{border-radius:1rem;padding:1rem;margin:1rem 0;color:#fff}</style></head>
<body><h1>Saved to Google Wallet</h1>
<p>This is the development stand-in for Google's save page: the link was signed by the tenant's service account and names {{len .}} objects.</p>
{{range .}}<div class="pass" id="{{.ID}}" style="background:{{.Colour}}">
<strong>{{.Event}}</strong><br>{{.Seat}}<br>State: <span class="state">{{.State}}</span>
{{if .Callback}}<br><small class="callback">{{.Callback}}</small>{{end}}</div>
{{end}}</body></html>`))

type savedPass struct {
	ID, Event, Seat, State, Callback string
	Colour                           template.CSS
}

func savePage(fake *googletest.Server, tn *google.Tenant) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		claims, err := verifySaveJWT(tok, &tn.Account.Key.PublicKey)
		if err != nil {
			http.Error(w, "Something went wrong: "+err.Error(), http.StatusBadRequest)
			return
		}
		var out []savedPass
		for _, ref := range claims.Payload.EventTicketObjects {
			o, ok := fake.EventTicketObject(ref.ID)
			if !ok {
				http.Error(w, "Something went wrong: object "+ref.ID+" does not exist", http.StatusBadRequest)
				return
			}
			sp := savedPass{ID: o.Id, State: o.State, Colour: "#1b2a4a"}
			if c, ok := fake.EventTicketClass(o.ClassId); ok {
				if c.EventName != nil && c.EventName.DefaultValue != nil {
					sp.Event = c.EventName.DefaultValue.Value
				}
				if c.HexBackgroundColor != "" {
					sp.Colour = template.CSS(c.HexBackgroundColor)
				}
				// As Google does once the user saved: the object has a user,
				// and the class's callback URL hears of it.
				// (A pass already in a wallet is not saved again.)
				if cb := c.CallbackOptions; !o.HasUsers && cb != nil && cb.Url != "" {
					var nonce [12]byte
					_, _ = rand.Read(nonce[:])
					body := fake.SignCallback(tn.Issuer.IssuerID, o.ClassId, o.Id, pass.GoogleSaved, hex.EncodeToString(nonce[:]),
						time.Now().Add(time.Hour))
					status, err := fake.SendCallback(r.Context(), cb.Url, body)
					sp.Callback = fmt.Sprintf("callback answered %d", status)
					if err != nil {
						sp.Callback = "callback failed: " + err.Error()
					}
				}
				fake.SetHasUsers(o.Id, true)
			}
			sp.Seat = seatLine(o)
			out = append(out, sp)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = savePageTpl.Execute(w, out)
	})
}

// seatLine is the seat of an object as one line: "Section A · Row 3 · Seat 12".
func seatLine(o *walletobjects.EventTicketObject) string {
	si := o.SeatInfo
	if si == nil {
		return ""
	}
	var parts []string
	for _, f := range []struct {
		label string
		v     *walletobjects.LocalizedString
	}{{"Section", si.Section}, {"Row", si.Row}, {"Seat", si.Seat}, {"Gate", si.Gate}} {
		if f.v != nil && f.v.DefaultValue != nil && f.v.DefaultValue.Value != "" {
			parts = append(parts, f.label+" "+f.v.DefaultValue.Value)
		}
	}
	return strings.Join(parts, " · ")
}

// verifySaveJWT checks a save link as Google would: RS256 signed by the
// issuer's service account, aud "google", typ "savetowallet".
func verifySaveJWT(tok string, key *rsa.PublicKey) (*google.SaveClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" {
		return nil, errors.New("the JWT header is not RS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("malformed signature")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, errors.New("the signature does not verify with the issuer's service account")
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("malformed claims")
	}
	var c google.SaveClaims
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, errors.New("malformed claims")
	}
	if c.Aud != "google" || c.Typ != "savetowallet" {
		return nil, fmt.Errorf("aud %q / typ %q: want google / savetowallet", c.Aud, c.Typ)
	}
	if len(c.Payload.EventTicketObjects) == 0 {
		return nil, errors.New("the link names no object")
	}
	return &c, nil
}
