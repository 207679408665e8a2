package google

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
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/walletobjects/v1"
)

// SavePage is a stand-in for Google's save page, served at
// <prefix>/gp/v/save/<jwt> (it reads the token from the last path
// segment). It checks the link as Google would ([Server.VerifySaveJWT]:
// RS256 signed by key, issued by the service account, aud "google", typ
// "savetowallet"; and objects that exist), then does what Google
// does once the user saved: each object not yet in a wallet gets a user
// and a signed "save" callback to its class's callbackOptions.url. It
// shows the passes it saved.
func (s *Server) SavePage(key *rsa.PublicKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		claims, err := s.VerifySaveJWT(tok, key)
		if err != nil {
			http.Error(w, "Something went wrong: "+err.Error(), http.StatusBadRequest)
			return
		}
		var out []savedPass
		for _, ref := range claims.Payload.EventTicketObjects {
			o, ok := s.EventTicketObject(ref.ID)
			if !ok {
				http.Error(w, "Something went wrong: object "+ref.ID+" does not exist", http.StatusBadRequest)
				return
			}
			sp := savedPass{ID: o.Id, State: o.State, Colour: "#1b2a4a", Seat: seatLine(o)}
			if c, ok := s.EventTicketClass(o.ClassId); ok {
				if c.EventName != nil && c.EventName.DefaultValue != nil {
					sp.Event = c.EventName.DefaultValue.Value
				}
				if c.HexBackgroundColor != "" {
					sp.Colour = template.CSS(c.HexBackgroundColor)
				}
				// A pass already in a wallet is not saved again.
				if cb := c.CallbackOptions; !o.HasUsers && cb != nil && cb.Url != "" {
					var nonce [12]byte
					_, _ = rand.Read(nonce[:])
					body := s.SignCallback(s.issuer, o.ClassId, o.Id, "save", hex.EncodeToString(nonce[:]), time.Now().Add(time.Hour))
					status, err := s.SendCallback(r.Context(), cb.Url, body)
					sp.Callback = fmt.Sprintf("callback answered %d", status)
					if err != nil {
						sp.Callback = "callback failed: " + err.Error()
					}
				}
				s.SetHasUsers(o.Id, true)
			}
			out = append(out, sp)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = savePageTpl.Execute(w, out)
	})
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

// SaveClaims is the part of a save JWT's claims the save page reads.
type SaveClaims struct {
	Iss     string `json:"iss"`
	Aud     string `json:"aud"`
	Typ     string `json:"typ"`
	Iat     int64  `json:"iat"`
	Payload struct {
		EventTicketObjects []struct {
			ID string `json:"id"`
		} `json:"eventTicketObjects"`
	} `json:"payload"`
}

// VerifySaveJWT checks a save link as Google would: RS256 signed by the
// issuer's service account, an iss, aud "google", typ "savetowallet", an
// iat (Google requires one) and at least one object. It does not know the
// service account's e-mail; [Server.VerifySaveJWT] checks iss against it
// too. It returns an error saying what is wrong.
func VerifySaveJWT(tok string, key *rsa.PublicKey) (*SaveClaims, error) {
	return verifySaveJWT(tok, key, "")
}

// VerifySaveJWT is [VerifySaveJWT] that also refuses a link whose iss is
// not Options.ServiceAccountEmail, when the fake was given one: Google
// takes a save link only from the service account that signs it.
func (s *Server) VerifySaveJWT(tok string, key *rsa.PublicKey) (*SaveClaims, error) {
	return verifySaveJWT(tok, key, s.saEmail)
}

// verifySaveJWT checks a save link; iss, when not empty, is the service
// account e-mail the link must be issued by.
func verifySaveJWT(tok string, key *rsa.PublicKey, iss string) (*SaveClaims, error) {
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
	var c SaveClaims
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, errors.New("malformed claims")
	}
	if c.Aud != "google" || c.Typ != "savetowallet" {
		return nil, fmt.Errorf("aud %q / typ %q: want google / savetowallet", c.Aud, c.Typ)
	}
	switch {
	case c.Iss == "":
		return nil, errors.New("the JWT has no iss: want the service account's e-mail")
	case iss != "" && c.Iss != iss:
		return nil, fmt.Errorf("iss %q is not the issuer's service account %q", c.Iss, iss)
	case c.Iat <= 0:
		return nil, errors.New("the JWT has no iat (issued-at time)")
	}
	if len(c.Payload.EventTicketObjects) == 0 {
		return nil, errors.New("the link names no object")
	}
	return &c, nil
}
