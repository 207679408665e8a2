// Package config loads and validates walletpass's configuration: one YAML
// file plus environment overrides for secrets and deployment settings.
// Validation lists every problem at once. With no file, the defaults are
// the embedded development setup: SQLite and blobs under ./data, a "demo"
// tenant signed by a generated development PKI.
package config

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"walletpass/internal/httpx"
)

// Config is the whole configuration.
type Config struct {
	Server  Server   `yaml:"server"`
	Storage Storage  `yaml:"storage"`
	Workers Workers  `yaml:"workers"`
	Console Console  `yaml:"console"`
	Tenants []Tenant `yaml:"tenants"`
	// TemplatesDir optionally holds more templates, one folder each; the
	// built-in ones (such as "default") are always available.
	TemplatesDir string `yaml:"templatesDir"`
	// envProblems are the environment overrides that could not be read
	// (Validate lists them with the rest).
	envProblems []string
}

// Server is how the HTTP server listens and is reached.
type Server struct {
	Listen string `yaml:"listen"`
	// PublicBaseURL is how phones and browsers reach this service.
	PublicBaseURL string `yaml:"publicBaseURL"`
	// Development allows http:// URLs in passes and generates a
	// development PKI for tenants without certificates. Never in production.
	Development bool `yaml:"development"`
	// Preview serves sample passes at /api/{tenant}/preview/{template}
	// (always on in development).
	Preview bool `yaml:"preview"`
	// AccessLog writes a log line for every request; requests that fail
	// (4xx, 5xx) are always logged.
	AccessLog bool `yaml:"accessLog"`
	// LinkSecret signs the links that grant access (Google Wallet save
	// links, downloads): at least 32 characters, the same on every
	// instance. In development it is generated under dataDir when empty.
	LinkSecret string `yaml:"linkSecret"`
	// LinkTTL is how long a signed link works (default 720h).
	LinkTTL Duration `yaml:"linkTTL"`
	// TrustedProxies are the load balancers (addresses or CIDRs) whose
	// X-Forwarded-For header names the client; none by default.
	TrustedProxies []string `yaml:"trustedProxies"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `yaml:"logLevel"`
	// AdminListen is where /metrics and /debug/pprof are served, apart
	// from the public listener (default 127.0.0.1:9464; "off": nowhere).
	AdminListen string `yaml:"adminListen"`
	// DrainDelay is how long, after SIGTERM, /readyz answers 503 while
	// requests are still served, so that a load balancer stops sending
	// new ones before the listener closes (default 0).
	DrainDelay Duration `yaml:"drainDelay"`
}

// TemplateRule is one of a tenant's template rules.
type TemplateRule struct {
	Template      string `yaml:"template"`
	ProductCode   string `yaml:"productCode"`
	ProductFamily string `yaml:"productFamily"`
	EventID       int64  `yaml:"eventId"`
	PerformanceID int64  `yaml:"performanceId"`
}

// matchers counts what the rule matches on (it must be one).
func (r TemplateRule) matchers() int {
	n := 0
	for _, set := range []bool{r.ProductCode != "", r.ProductFamily != "", r.EventID != 0, r.PerformanceID != 0} {
		if set {
			n++
		}
	}
	return n
}

// AdminOff is the AdminListen value that serves no admin listener.
const AdminOff = "off"

// Storage says where state and pass files live.
type Storage struct {
	// DataDir holds the SQLite database, the local blob store and the
	// development PKI unless set otherwise.
	DataDir    string `yaml:"dataDir"`
	SQLitePath string `yaml:"sqlitePath"`
	BlobDir    string `yaml:"blobDir"`
	// PostgresURL switches the state to PostgreSQL (several instances
	// share it): postgres://user:password@host:5432/db?sslmode=require.
	// Best given as WALLETPASS_DATABASE_URL.
	PostgresURL string `yaml:"postgresURL"`
	// S3URL switches the pass files to an S3-compatible bucket:
	// s3://ACCESS:SECRET@host[:port]/bucket[/prefix]?region=eu-central-1[&secure=false][&style=path|virtual].
	// Best given as WALLETPASS_S3_URL.
	S3URL string `yaml:"s3URL"`
}

// Console is the operator console at /console/: the identity provider
// operators sign in at (OpenID Connect, authorization code with PKCE).
// Without an issuer the console is off, except in development, where the
// built-in development provider at /dev/oidc signs operators in.
type Console struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret"`
	// RoleClaim names the ID token's claim with the roles: "admin" (every
	// tenant) or "operator:<tenant>" (default "roles"); a path of nested
	// claims separated by dots ("realm_access.roles") when no claim has
	// that name.
	RoleClaim string `yaml:"roleClaim"`
	// TokenAuthMethod is how walletpass authenticates at the provider's
	// token endpoint: client_secret_basic (default) or client_secret_post.
	TokenAuthMethod string `yaml:"tokenAuthMethod"`
	// SessionTTL is how long a sign-in lasts (default 8h, at most 24h).
	SessionTTL Duration `yaml:"sessionTTL"`
}

// Workers tunes the background work. Zero values take the defaults.
type Workers struct {
	// Count is how many tasks run at once (default 16; they mostly wait on
	// SecuTix, APNs and the disk).
	Count int `yaml:"count"`
	// MaxAttempts before a task is dead (default 8).
	MaxAttempts int `yaml:"maxAttempts"`
	// Lease is how long a running task is reserved; renewed while it runs,
	// it lets another instance take over a crashed one's task (default 30s).
	Lease Duration `yaml:"lease"`
	// MaxBackoff caps the delay between attempts (default 5m).
	MaxBackoff Duration `yaml:"maxBackoff"`
	// ReconcileEvery compares the passes of every running performance
	// with SecuTix's ticket list and syncs the orders that differ
	// (default 15m; "off").
	ReconcileEvery Duration `yaml:"reconcileEvery"`
	// Retention keeps finished tasks (done or dead: a dead task may hold
	// an order SecuTix sent whole), events, timelines, the push log and
	// delivered outbound webhook messages this long (default 720h).
	Retention Duration `yaml:"retention"`
}

// Tenant is one organiser.
type Tenant struct {
	ID              string `yaml:"id"`
	Name            string `yaml:"name"`
	PublicBaseURL   string `yaml:"publicBaseURL"`
	DefaultTemplate string `yaml:"defaultTemplate"`
	// TemplateVariable is the SecuTix comfort variable of an event that
	// names its tickets' template ("WALLET=vip"); default WALLET, "off"
	// for none. It goes before TemplateRules.
	TemplateVariable string `yaml:"templateVariable"`
	// TemplateRules choose a ticket's template, first match wins, before
	// the default; each names a template and one of productCode,
	// productFamily ("PASS" or "PASS/OPEN_PASS"), eventId, performanceId.
	TemplateRules []TemplateRule `yaml:"templateRules"`
	// HolderDataDays, when positive, erases holder names and e-mail
	// addresses from an order's passes, timeline and app registrations
	// this many days after its event ended (GDPR retention); 0 keeps them.
	HolderDataDays int      `yaml:"holderDataDays"`
	Apple          Apple    `yaml:"apple"`
	Google         Google   `yaml:"google"`
	API            API      `yaml:"api"`
	App            App      `yaml:"app"`
	SecuTix        SecuTix  `yaml:"secutix"`
	Webhooks       Webhooks `yaml:"webhooks"`
}

// SecuTix is a tenant's SecuTix institution.
type SecuTix struct {
	// BaseURL is https://<institution>.ws.secutix.com; empty in development
	// means the built-in sandbox served by this process under /sandbox/.
	BaseURL string `yaml:"baseURL"`
	// Auth is how walletpass authenticates: jwt (default; a self-signed
	// HS256 JWT per request, SecuTix's documented mode) or token (the
	// /tnai/backend-apis/v1/auth exchange).
	Auth string `yaml:"auth"`
	// JWTTimes is the unit of the JWT's iat and exp: seconds (default,
	// RFC 7519's, as SecuTix's example token and the public clients have
	// them) or milliseconds (as SecuTix's API document words it), for an
	// institution that refuses the seconds.
	JWTTimes string `yaml:"jwtTimes"`
	// AuthPath is the token exchange's path in token mode (default
	// /tnai/backend-apis/v1/auth; SecuTix's public clients are seen
	// calling /tnco/backend-apis/v1/auth too).
	AuthPath string `yaml:"authPath"`
	// Institution is the institution code (the JWT's sub); default: the
	// one the operator login names (CMOSA_WALLET → CMOSA).
	Institution string `yaml:"institution"`
	Operator    string `yaml:"operator"`
	Partner     string `yaml:"partner"`
	// Secret: best given as WALLETPASS_TENANT_<ID>_SECUTIX_SECRET.
	Secret string `yaml:"secret"`
	// EventKind is the kind of events when SecuTix does not say (default concert).
	EventKind string `yaml:"eventKind"`
	// Symbology is the barcode format the gates read (SecuTix's orders do
	// not say): qr (default), pdf417, aztec, code128, or iOS 27's code39,
	// codabar, ean13, i2of5 (older iOS then shows a QR code of the same
	// value).
	Symbology string `yaml:"symbology"`
	// Locale picks localized names after the holder's language (default
	// en); Google Wallet's default language.
	Locale string `yaml:"locale"`
	// RequestsPerMinute per SecuTix service (default 60, SecuTix's quota),
	// counted over a sliding window of 61 s by every instance together.
	// Tenants on one institution share its quota: give them the same value.
	RequestsPerMinute int `yaml:"requestsPerMinute"`
	// QuotaWindow is the window those requests are counted over (default
	// 61s: SecuTix's minute and a second of margin). Change it only for a
	// sandbox whose minute is shorter (load runs in compressed time).
	QuotaWindow Duration `yaml:"quotaWindow"`
	// CatalogInterval is the least time between two reads of the catalogue
	// (getCatalogDetailed; default 10m, SecuTix's limit; 1m for the
	// built-in sandbox, which then allows as much). A performance moved in
	// SecuTix reaches the passes after at most this much and the
	// reconciliation interval.
	CatalogInterval Duration `yaml:"catalogInterval"`
	// Fields maps pass fields to paths in SecuTix's JSON over the
	// defaults, e.g. seatRow: "movement.rowLabel | ticket.row" (see
	// docs/secutix.md); checked when the service starts.
	Fields map[string]string `yaml:"fields"`
	// SeasonTickets say which events a season ticket admits to (SecuTix's
	// orders do not): a ticket of productCode lists every performance of
	// the covered products that has not ended, from the catalogue.
	SeasonTickets []SeasonTicket `yaml:"seasonTickets"`
	// ContactLookup reads each order's contact (getContactData, one call
	// per order on its own quota), so that fields can map the holder's
	// e-mail and language to "contact.…" paths. Off by default.
	ContactLookup bool `yaml:"contactLookup"`
	// ContactDetails is sent as getContactData's details (the parts of
	// the contact to return), when the institution needs it; SecuTix
	// documents the list but not its values. Empty: none sent.
	ContactDetails []string `yaml:"contactDetails"`
	// CatalogScope is getCatalogDetailed's scope: EXTENDED (default; also
	// the products no longer on sale, so that a refund of a past or
	// cancelled performance still maps) or none (SecuTix's default: what
	// is on sale).
	CatalogScope string `yaml:"catalogScope"`
	// MaxResponseMiB caps an answer of SecuTix's (default 4), and
	// CatalogMaxResponseMiB the catalogue's (default 64; the extended
	// scope of a large institution may need more): a larger answer fails
	// its sync, which an operator retries once the cap is raised.
	MaxResponseMiB        int `yaml:"maxResponseMiB"`
	CatalogMaxResponseMiB int `yaml:"catalogMaxResponseMiB"`
	// InstallStatusKey, when set, writes where an order's passes are
	// installed to the order in SecuTix (updateExternalReferences, kind
	// ORDER, this key; the value APPLE, GOOGLE, APPLE,GOOGLE or NONE), at
	// background priority within the quota. Off by default.
	InstallStatusKey string `yaml:"installStatusKey"`
	// Granularity is getOrderDetails' granularity (default TICKETS).
	Granularity string `yaml:"granularity"`
}

// UsesSandbox reports whether the tenant talks to the built-in sandbox.
func (s SecuTix) UsesSandbox() bool { return s.BaseURL == "" }

// Webhooks is how SecuTix authenticates to our webhook endpoints.
type Webhooks struct {
	// Auth is none, basic or apikey.
	Auth     string `yaml:"auth"`
	Username string `yaml:"username"`
	// Password: best given as WALLETPASS_TENANT_<ID>_WEBHOOK_PASSWORD.
	Password string `yaml:"password"`
	// Header carries the API key (default X-API-Key).
	Header string `yaml:"header"`
	// Key: best given as WALLETPASS_TENANT_<ID>_WEBHOOK_KEY.
	Key string `yaml:"key"`
}

// Duration is a time.Duration written as "15m", "1h30m" or "off" (zero
// means the default; "off" is negative).
type Duration time.Duration

// UnmarshalText reads a Go duration or "off".
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "off" {
		*d = -1
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 15m or 1h", s)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// Apple is a tenant's Apple Wallet identity.
type Apple struct {
	TeamID     string `yaml:"teamId"`
	PassTypeID string `yaml:"passTypeId"`
	// Either a .p12 file (with its password, best given through the
	// environment) or a PEM certificate and key.
	P12File     string `yaml:"p12File"`
	P12Password string `yaml:"p12Password"`
	CertFile    string `yaml:"certFile"`
	KeyFile     string `yaml:"keyFile"`
	// WWDRFile is Apple's WWDR intermediate (G4), PEM or DER.
	WWDRFile string `yaml:"wwdrFile"`
	// ReEntry keeps a scanned ticket's pass valid, and lets the gate
	// (POST /scans) admit it again.
	ReEntry bool `yaml:"reEntry"`
	// SharingProhibited removes Wallet's Share button: "never" (default),
	// "named" (tickets with a holder's name) or "always". Wallet still lets
	// a pass be shared in other ways.
	SharingProhibited string `yaml:"sharingProhibited"`
	// NFC makes the tenant's passes NFC tickets (and lets them use the
	// iOS 18 poster layout); only with a Pass Type ID certificate Apple
	// enabled for NFC. Empty: classic event tickets with a barcode.
	NFC *NFC `yaml:"nfc"`
	// EventGuide are the poster event guide's entries (directions,
	// parking, bag policy, food, contact, accessibility …) by venue, event
	// or performance; the most specific rule wins each entry. Shown by NFC
	// poster tickets with two or more entries.
	EventGuide []EventGuide `yaml:"eventGuide"`
	// APNs says how pass updates are pushed.
	APNs APNs `yaml:"apns"`
}

// SeasonTicket is a season ticket product and the products whose
// performances it admits to, by their SecuTix product codes.
type SeasonTicket struct {
	ProductCode string   `yaml:"productCode"`
	Covers      []string `yaml:"covers"`
}

// EventGuide is one rule of a tenant's event guide: the tickets it is for
// (none named: every ticket) and its entries, by their pass.json key
// (directionsInformationURL, parkingInformationURL, purchaseParkingURL,
// bagPolicyURL, orderFoodURL, transitInformationURL, merchandiseURL,
// accessibilityURL, addOnURL, contactVenueWebsite: https URLs;
// contactVenueEmail, contactVenuePhoneNumber). Checked at start.
type EventGuide struct {
	// Venue is the venue's name as SecuTix gives it (any language).
	Venue         string            `yaml:"venue"`
	EventID       int64             `yaml:"eventId"`
	PerformanceID int64             `yaml:"performanceId"`
	Links         map[string]string `yaml:"links"`
}

// NFC is a tenant's NFC pass setup.
type NFC struct {
	// EncryptionPublicKey is the terminals' ECDH P-256 public key: the
	// Base64 body of its PEM (an X.509 SubjectPublicKeyInfo).
	EncryptionPublicKey string `yaml:"encryptionPublicKey"`
	// Message is what a pass sends to the terminal: barcode (default),
	// ticketId or movementId.
	Message string `yaml:"message"`
	// RequiresAuthentication asks the holder to authenticate for each tap
	// (such passes also forbid sharing).
	RequiresAuthentication bool `yaml:"requiresAuthentication"`
}

// APNs is a tenant's push credential. By default pushes use certificate
// auth with the Pass Type ID certificate on Apple's production host; in
// development with no host, an in-process fake APNs receives them.
type APNs struct {
	// Host is the APNs base URL (default https://api.push.apple.com).
	Host string `yaml:"host"`
	// CAFile, when set, is the PEM certificate authority trusted for Host
	// instead of the system's (a push proxy, a test APNs).
	CAFile string `yaml:"caFile"`
	// KeyFile, KeyID and TeamID switch to token auth with a .p8 key of the
	// team that owns the pass type.
	KeyFile string `yaml:"keyFile"`
	KeyID   string `yaml:"keyId"`
}

// apnsSandboxHosts are Apple's development APNs hosts, which no Wallet
// push token works with.
var apnsSandboxHosts = map[string]bool{"api.sandbox.push.apple.com": true, "api.development.push.apple.com": true}

// API says how the organiser's systems authenticate to the tenant's API
// (getTicketsUrl): OAuth2 bearer JWTs from their identity provider, or
// API keys made with `walletpass apikey create`.
type API struct {
	OAuth OAuth `yaml:"oauth"`
}

// OAuth is the identity provider whose access tokens the API accepts. In
// development, empty fields take the built-in development issuer (tokens
// from `walletpass token`).
type OAuth struct {
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	JWKSURL  string `yaml:"jwksURL"`
	// Scope a token must carry (default tickets:read).
	Scope string `yaml:"scope"`
	// TenantClaim names the claim that says which tenant a token is for
	// (default "tenant"); a token for another tenant is refused.
	TenantClaim string `yaml:"tenantClaim"`
}

// Enabled reports whether bearer tokens are accepted.
func (o OAuth) Enabled() bool { return o.Issuer != "" }

// App is the organiser's mobile app, told through Firebase Cloud
// Messaging when an order's tickets are ready, change or are cancelled.
type App struct {
	// FCMProjectID is the Firebase project; empty means no app pushes
	// (in development: the built-in fake FCM).
	FCMProjectID string `yaml:"fcmProjectId"`
	// FCMCredentialsFile is the service-account key allowed to send.
	FCMCredentialsFile string `yaml:"fcmCredentialsFile"`
	// FCMEndpoint overrides FCM's address (tests); must end in /v1.
	FCMEndpoint string `yaml:"fcmEndpoint"`
}

// UsesFake reports whether the tenant's app pushes go to the built-in
// fake FCM (development without credentials).
func (a App) UsesFake() bool { return a.FCMProjectID != "" && a.FCMCredentialsFile == "" }

// DevOAuthPath is where the development identity provider lives.
const DevOAuthPath = "/dev/oauth"

// Google is a tenant's Google Wallet issuer. Without an issuerId the
// tenant has no Google Wallet passes.
type Google struct {
	// IssuerID from the Google Pay & Wallet Console (a decimal number).
	IssuerID string `yaml:"issuerId"`
	// ServiceAccountFile is the service account's JSON key; its email must
	// be a user of the issuer. Empty in development: a generated key and
	// the built-in fake Google Wallet API (served under /dev/google/).
	ServiceAccountFile string `yaml:"serviceAccountFile"`
	// IssuerName is shown on the passes (default the tenant's name).
	IssuerName string `yaml:"issuerName"`
	// Endpoint overrides the API's base URL (tests, proxies).
	Endpoint string `yaml:"endpoint"`
	// SaveURL is where save links lead (default https://pay.google.com/gp/v/save/).
	SaveURL string `yaml:"saveURL"`
	// Origins are the web origins allowed to show the save button.
	Origins []string `yaml:"origins"`
	// InsertOnPayment inserts objects when a ticket is paid instead of
	// when the buyer first opens the save link.
	InsertOnPayment bool `yaml:"insertOnPayment"`
	// ExpireAfterEvent marks passes EXPIRED six hours after the event.
	ExpireAfterEvent bool `yaml:"expireAfterEvent"`
	// RequestsPerSecond caps the API calls (default 20, Google's quota).
	RequestsPerSecond float64 `yaml:"requestsPerSecond"`
	// CallbackKeysURL is where Google publishes the keys that sign its
	// save and delete callbacks (default https://pay.google.com/gp/m/issuer/keys).
	// Callbacks are asked for when the public base URL is https (and with
	// the development fake).
	CallbackKeysURL string `yaml:"callbackKeysURL"`
	// RotatingBarcodeKey, when set, gives every Google Wallet pass a
	// rotating barcode (TOTP, RFC 6238, SHA-1, 8 digits) instead of the
	// static one: the ticket's barcode, a dash, the step's Unix time, a
	// dash and the code. Each pass's TOTP secret is HMAC-SHA256(key, serial
	// number) (the first 20 bytes); the gate systems derive it the same
	// way. At least 32 bytes, hex. Best given as
	// WALLETPASS_TENANT_<ID>_GOOGLE_ROTATING_BARCODE_KEY.
	RotatingBarcodeKey string `yaml:"rotatingBarcodeKey"`
	// RotatingBarcodePeriod is the TOTP step (default 30s).
	RotatingBarcodePeriod Duration `yaml:"rotatingBarcodePeriod"`
}

// Enabled reports whether the tenant issues Google Wallet passes.
func (g Google) Enabled() bool { return g.IssuerID != "" }

// UsesFake reports whether the tenant talks to the built-in fake Google
// Wallet API (development without a service account).
func (g Google) UsesFake() bool { return g.Enabled() && g.ServiceAccountFile == "" }

// UsesDevPKI reports whether the tenant has no certificate of its own and
// so signs with the generated development PKI.
func (a Apple) UsesDevPKI() bool {
	return a.P12File == "" && a.CertFile == "" && a.KeyFile == ""
}

// DevGoogleIssuerID is the issuer id of the development default tenant.
const DevGoogleIssuerID = "3388000000022222222"

// MaxFileSize is the largest configuration file Load reads.
const MaxFileSize = 1 << 20

// Default returns the configuration `make run` uses: development mode on
// 127.0.0.1:8080, state under ./data, one "demo" tenant.
func Default() Config {
	return Config{
		Server:  Server{Listen: "127.0.0.1:8080", Development: true}, // the public URL follows the listen address
		Storage: Storage{DataDir: "data"},
		Tenants: []Tenant{{
			ID: "demo", Name: "Demo Concerts", DefaultTemplate: "default",
			Apple:  Apple{TeamID: "DEMOTEAM01", PassTypeID: "pass.dev.walletpass.demo"},
			Google: Google{IssuerID: DevGoogleIssuerID},
			App:    App{FCMProjectID: "walletpass-dev"},
		}},
	}
}

// Load reads the YAML file at path (an empty path means the defaults),
// applies environment overrides from getenv, fills derived defaults and
// validates. The error lists every problem found.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := readLimited(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		cfg = Config{}
		dec := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField())
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("config: %s: %s", path, firstLine(err.Error()))
		}
	}
	cfg.applyEnv(getenv)
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// SecuTix's published limits (per institution): calls per minute per
// service, and the least time between two reads of the catalogue; Google
// Wallet's quota of API calls a second.
const (
	SecuTixRequestsPerMinute = 60
	SecuTixCatalogInterval   = 10 * time.Minute
	GoogleRequestsPerSecond  = 20
)

// Advisories are the settings that load but that an operator should look
// at again: a tenant on a real SecuTix institution set above SecuTix's
// published limits, which SecuTix answers with 509 unless the institution
// allows more; a Google Wallet issuer whose tenants together may call more
// than Google's quota (each tenant keeps its own pace). The server logs
// each at start.
func (c Config) Advisories() []string {
	var out []string
	perIssuer := map[string][]string{} // issuer id → its tenants
	rps := map[string]float64{}        // issuer id → their pace together
	for _, t := range c.Tenants {
		if g := t.Google; g.Enabled() && !g.UsesFake() {
			perIssuer[g.IssuerID] = append(perIssuer[g.IssuerID], t.ID)
			rps[g.IssuerID] += cmp.Or(g.RequestsPerSecond, GoogleRequestsPerSecond)
		}
	}
	for _, issuer := range slices.Sorted(maps.Keys(perIssuer)) {
		if rps[issuer] > GoogleRequestsPerSecond {
			out = append(out, fmt.Sprintf("Google Wallet issuer %s: tenants %s may call %g times a second together, above Google's quota (%d)",
				issuer, strings.Join(perIssuer[issuer], ", "), rps[issuer], GoogleRequestsPerSecond))
		}
	}
	if c.Storage.PostgresURL != "" && c.Storage.S3URL == "" {
		out = append(out, "storage: PostgreSQL with the pass files in a local directory (blobDir): run one instance so, or give every instance the same bucket (s3URL); an instance cannot serve the files another one wrote")
	}
	if c.Server.Development && (!loopbackOnly(c.Server.Listen) || strings.HasPrefix(c.Server.PublicBaseURL, "https://")) {
		out = append(out, fmt.Sprintf("server.development is on while walletpass listens on %s (published at %s): development mode signs "+
			"sample passes for anyone (/api/{tenant}/preview), takes webhook endpoints on any address over http, and without console.issuer "+
			"offers a console sign-in with no password; turn it off in production (WALLETPASS_DEVELOPMENT=false: deploy/compose.yaml sets it "+
			"for trying walletpass out)", c.Server.Listen, c.Server.PublicBaseURL))
	}
	if c.Server.Development && c.Storage.PostgresURL != "" && c.Server.LinkSecret == "" {
		out = append(out, "server.development with PostgreSQL and no linkSecret: each instance makes its own link key, so the links and console sessions one instance signs fail at another; set linkSecret when several instances run")
	}
	for _, t := range c.Tenants {
		sx := t.SecuTix
		if sx.BaseURL == "" {
			continue // the built-in sandbox follows the settings
		}
		if sx.RequestsPerMinute > SecuTixRequestsPerMinute {
			out = append(out, fmt.Sprintf("tenant %q: secutix.requestsPerMinute %d is above SecuTix's published quota (%d a minute per service): SecuTix answers 509 beyond what the institution allows",
				t.ID, sx.RequestsPerMinute, SecuTixRequestsPerMinute))
		}
		if d := time.Duration(sx.CatalogInterval); d > 0 && d < SecuTixCatalogInterval {
			out = append(out, fmt.Sprintf("tenant %q: secutix.catalogInterval %s is shorter than SecuTix allows (one getCatalogDetailed per %s)",
				t.ID, d, SecuTixCatalogInterval))
		}
	}
	return out
}

// loopbackOnly reports whether the listen address is reached from this
// machine only.
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// toolEnv are the WALLETPASS_ variables of walletpass's scripts, tests and
// benchmarks, not of the service (a name ending in "_" is a prefix).
var toolEnv = []string{"WALLETPASS_CONFIG", "WALLETPASS_TEST_", "WALLETPASS_BENCH_", "WALLETPASS_PG_", "WALLETPASS_S3_DIR",
	"WALLETPASS_CACHE", "WALLETPASS_ONSALE_", "WALLETPASS_UPDATE_SCREENSHOTS", "WALLETPASS_PASSKIT_GENERATOR"}

// UnknownEnv returns the names in environ (NAME=value entries, as
// os.Environ gives them) that start with WALLETPASS_ and that no setting
// of c reads: a mistyped override (WALLETPASS_POSTGRES_URL for
// WALLETPASS_DATABASE_URL), or one of a tenant c does not have, which
// would otherwise be ignored without a word.
func (c Config) UnknownEnv(environ []string) []string {
	read := map[string]bool{}
	c.applyEnv(func(name string) string { read[name] = true; return "" })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "WALLETPASS_") || read[name] || slices.ContainsFunc(toolEnv, func(t string) bool {
			return name == t || (strings.HasSuffix(t, "_") && strings.HasPrefix(name, t))
		}) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func readLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return os.ReadFile(path)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// EnvName returns the environment variable that overrides a tenant
// setting: WALLETPASS_TENANT_<ID>_<NAME>, the id upper-cased with every
// other character than letters and digits turned into "_".
func EnvName(tenantID, name string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, tenantID)
	return "WALLETPASS_TENANT_" + id + "_" + name
}

func (c *Config) applyEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.Server.Listen, "WALLETPASS_LISTEN")
	set(&c.Server.PublicBaseURL, "WALLETPASS_PUBLIC_BASE_URL")
	set(&c.Storage.DataDir, "WALLETPASS_DATA_DIR")
	set(&c.Storage.SQLitePath, "WALLETPASS_SQLITE_PATH")
	set(&c.Storage.BlobDir, "WALLETPASS_BLOB_DIR")
	set(&c.Storage.PostgresURL, "WALLETPASS_DATABASE_URL")
	set(&c.Storage.S3URL, "WALLETPASS_S3_URL")
	set(&c.TemplatesDir, "WALLETPASS_TEMPLATES_DIR")
	set(&c.Server.LinkSecret, "WALLETPASS_LINK_SECRET")
	set(&c.Server.LogLevel, "WALLETPASS_LOG_LEVEL")
	set(&c.Server.AdminListen, "WALLETPASS_ADMIN_LISTEN")
	set(&c.Console.Issuer, "WALLETPASS_CONSOLE_ISSUER")
	set(&c.Console.ClientID, "WALLETPASS_CONSOLE_CLIENT_ID")
	set(&c.Console.ClientSecret, "WALLETPASS_CONSOLE_CLIENT_SECRET")
	if v := getenv("WALLETPASS_DEVELOPMENT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.envProblems = append(c.envProblems, fmt.Sprintf("WALLETPASS_DEVELOPMENT %q must be true or false", v))
		}
		c.Server.Development = b
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		set(&t.Apple.P12File, EnvName(t.ID, "APPLE_P12_FILE"))
		set(&t.Apple.P12Password, EnvName(t.ID, "APPLE_P12_PASSWORD"))
		set(&t.Apple.CertFile, EnvName(t.ID, "APPLE_CERT_FILE"))
		set(&t.Apple.KeyFile, EnvName(t.ID, "APPLE_KEY_FILE"))
		set(&t.Apple.WWDRFile, EnvName(t.ID, "APPLE_WWDR_FILE"))
		set(&t.Apple.APNs.Host, EnvName(t.ID, "APNS_HOST"))
		set(&t.Apple.APNs.KeyFile, EnvName(t.ID, "APNS_KEY_FILE"))
		set(&t.Google.ServiceAccountFile, EnvName(t.ID, "GOOGLE_SERVICE_ACCOUNT_FILE"))
		set(&t.Google.RotatingBarcodeKey, EnvName(t.ID, "GOOGLE_ROTATING_BARCODE_KEY"))
		set(&t.App.FCMCredentialsFile, EnvName(t.ID, "FCM_CREDENTIALS_FILE"))
		set(&t.SecuTix.BaseURL, EnvName(t.ID, "SECUTIX_BASE_URL"))
		set(&t.SecuTix.Auth, EnvName(t.ID, "SECUTIX_AUTH"))
		set(&t.SecuTix.AuthPath, EnvName(t.ID, "SECUTIX_AUTH_PATH"))
		set(&t.SecuTix.Institution, EnvName(t.ID, "SECUTIX_INSTITUTION"))
		set(&t.SecuTix.Operator, EnvName(t.ID, "SECUTIX_OPERATOR"))
		set(&t.SecuTix.Partner, EnvName(t.ID, "SECUTIX_PARTNER"))
		set(&t.SecuTix.Secret, EnvName(t.ID, "SECUTIX_SECRET"))
		if name := EnvName(t.ID, "SECUTIX_CATALOG_INTERVAL"); getenv(name) != "" {
			var d Duration
			if err := d.UnmarshalText([]byte(getenv(name))); err != nil {
				c.envProblems = append(c.envProblems, fmt.Sprintf("%s %q is not a duration such as 10m", name, getenv(name)))
			} else {
				t.SecuTix.CatalogInterval = d
			}
		}
		set(&t.Webhooks.Password, EnvName(t.ID, "WEBHOOK_PASSWORD"))
		set(&t.Webhooks.Key, EnvName(t.ID, "WEBHOOK_KEY"))
	}
}

// listenURL is the base URL a browser on this machine reaches the listen
// address at: the default public URL when none is set, so links, passes,
// callbacks and the development issuer follow WALLETPASS_LISTEN. A listen
// address on every interface (":8087", "0.0.0.0:8087", "[::]:8087") is
// reached at 127.0.0.1.
func listenURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen // Validate names the bad address
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (c *Config) fillDefaults() {
	if c.Server.Listen == "" {
		c.Server.Listen = "127.0.0.1:8080"
	}
	if c.Server.PublicBaseURL == "" {
		c.Server.PublicBaseURL = listenURL(c.Server.Listen)
	}
	c.Server.PublicBaseURL = strings.TrimRight(c.Server.PublicBaseURL, "/")
	if c.Server.LinkTTL == 0 {
		c.Server.LinkTTL = Duration(720 * time.Hour)
	}
	if c.Server.LogLevel == "" {
		c.Server.LogLevel = "info"
	}
	if c.Server.AdminListen == "" {
		c.Server.AdminListen = "127.0.0.1:9464"
	}
	if c.Storage.DataDir == "" {
		c.Storage.DataDir = "data"
	}
	if c.Storage.SQLitePath == "" {
		c.Storage.SQLitePath = filepath.Join(c.Storage.DataDir, "walletpass.db")
	}
	if c.Storage.BlobDir == "" {
		c.Storage.BlobDir = filepath.Join(c.Storage.DataDir, "blobs")
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.PublicBaseURL == "" {
			t.PublicBaseURL = c.Server.PublicBaseURL
		}
		t.PublicBaseURL = strings.TrimRight(t.PublicBaseURL, "/")
		if t.DefaultTemplate == "" {
			t.DefaultTemplate = "default"
		}
		if t.TemplateVariable == "" {
			t.TemplateVariable = "WALLET"
		}
		if t.SecuTix.UsesSandbox() {
			// The sandbox accepts these; a real institution needs its own.
			if t.SecuTix.Operator == "" {
				t.SecuTix.Operator = strings.ToUpper(t.ID) + "_SANDBOX"
			}
			if t.SecuTix.Partner == "" {
				t.SecuTix.Partner = "walletpass"
			}
			if t.SecuTix.Secret == "" {
				t.SecuTix.Secret = "sandbox-secret-" + t.ID
			}
		}
		if o := &t.API.OAuth; c.Server.Development && o.Issuer == "" {
			// The built-in development issuer (`walletpass token`).
			o.Issuer = c.Server.PublicBaseURL + DevOAuthPath
			if o.JWKSURL == "" {
				o.JWKSURL = c.Server.PublicBaseURL + DevOAuthPath + "/jwks.json"
			}
		}
		if o := &t.API.OAuth; o.Enabled() {
			if o.Audience == "" {
				o.Audience = "walletpass"
			}
			if o.Scope == "" {
				o.Scope = "tickets:read"
			}
			if o.TenantClaim == "" {
				o.TenantClaim = "tenant"
			}
		}
		if t.Google.Enabled() && t.Google.IssuerName == "" {
			t.Google.IssuerName = t.Name
		}
		if t.SecuTix.EventKind == "" {
			t.SecuTix.EventKind = "concert"
		}
		if t.Webhooks.Auth == "" {
			t.Webhooks.Auth = "none"
		}
		if t.Webhooks.Auth == "apikey" && t.Webhooks.Header == "" {
			t.Webhooks.Header = "X-API-Key"
		}
	}
}

// DevPKIDir is where the development PKI lives.
func (c *Config) DevPKIDir() string { return filepath.Join(c.Storage.DataDir, "pki") }

// Tenant returns the tenant with id, or false.
func (c *Config) Tenant(id string) (Tenant, bool) {
	for _, t := range c.Tenants {
		if t.ID == id {
			return t, true
		}
	}
	return Tenant{}, false
}

// enumWord is the shape of SecuTix's enumeration values (EXTENDED,
// NOT_CANCELLED).
var enumWord = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// urlPath is a URL path of plain segments, none of them . or ..
var urlPath = regexp.MustCompile(`^(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$`)

var (
	tenantIDRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	passTypeIDRE   = regexp.MustCompile(`^pass\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
	teamIDRE       = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	googleIssuerRE = regexp.MustCompile(`^[0-9]{1,30}$`)
)

// ValidationError lists every configuration problem.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return "config: " + strings.Join(e.Problems, "; ")
}

// Validate checks the configuration and returns a *ValidationError listing
// every problem, or nil.
func (c *Config) Validate() error {
	p := slices.Clone(c.envProblems)
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if c.Server.Listen == "" {
		add("server.listen is required")
	}
	checkURL := func(field, s string) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			add("%s %q must be an absolute http(s) URL", field, s)
			return
		}
		if u.Scheme == "http" && !c.Server.Development {
			add("%s %q must use https outside development (Apple Wallet refuses http web services)", field, s)
		}
	}
	checkURL("server.publicBaseURL", c.Server.PublicBaseURL)
	if u := c.Storage.PostgresURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		add("storage.postgresURL must start with postgres://")
	}
	if u := c.Storage.S3URL; u != "" && !strings.HasPrefix(u, "s3://") {
		add("storage.s3URL must start with s3://")
	}
	if c.Server.LinkSecret == "" && !c.Server.Development {
		add("server.linkSecret is required outside development (it signs save and download links; best given as WALLETPASS_LINK_SECRET)")
	} else if c.Server.LinkSecret != "" && len(c.Server.LinkSecret) < 32 {
		add("server.linkSecret must be at least 32 characters")
	}
	if c.Server.LinkTTL < 0 {
		add("server.linkTTL cannot be off")
	} else if c.Server.LinkTTL > Duration(366*24*time.Hour) { // pass.MaxLinkLife
		add("server.linkTTL must be at most 8784h (a year): links to tickets last until their event anyway")
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := httpx.ParseProxy(p); err != nil {
			add("server.trustedProxies: %v", err) // the rules the per-client limits read them by
		}
	}
	switch strings.ToLower(c.Server.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		add("server.logLevel %q must be debug, info, warn or error", c.Server.LogLevel)
	}
	if a := c.Server.AdminListen; a != AdminOff {
		if _, port, err := net.SplitHostPort(a); err != nil {
			add("server.adminListen %q must be host:port or %q", a, AdminOff)
		} else if a == c.Server.Listen && port != "0" {
			add("server.adminListen must differ from server.listen (the admin listener is not for the public)")
		}
	}
	if c.Server.DrainDelay < 0 || c.Server.DrainDelay > Duration(time.Minute) {
		add("server.drainDelay must be between 0 and 1m")
	}
	// Only reconcileEvery may be off: a lease, a backoff or a retention of
	// "off" would renew leases never, fail the first retry or purge every
	// record at once.
	if w := c.Workers; w.Count < 0 || w.MaxAttempts < 0 {
		add("workers.count and workers.maxAttempts must not be negative (0 for the default)")
	}
	if l := c.Workers.Lease; l != 0 && l < Duration(time.Second) {
		add("workers.lease must be at least 1s (leave it out for 30s; it cannot be off)")
	}
	if c.Workers.MaxBackoff < 0 {
		add("workers.maxBackoff cannot be off (leave it out for 5m)")
	}
	if c.Workers.Retention < 0 {
		add("workers.retention cannot be off (leave it out for 720h)")
	}
	if cs := c.Console; cs.Issuer != "" {
		if u, err := url.Parse(cs.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.Server.Development)) {
			add("console.issuer %q must be an absolute https URL (http only in development)", cs.Issuer)
		}
		if cs.ClientID == "" {
			add("console.clientId is required with console.issuer")
		}
	} else if cs.ClientID != "" || cs.ClientSecret != "" {
		add("console.issuer is required with console.clientId and clientSecret")
	}
	switch c.Console.TokenAuthMethod {
	case "", "client_secret_basic", "client_secret_post":
	default:
		add("console.tokenAuthMethod %q must be client_secret_basic or client_secret_post", c.Console.TokenAuthMethod)
	}
	if c.Console.SessionTTL < 0 || c.Console.SessionTTL > Duration(24*time.Hour) {
		add("console.sessionTTL must be between 0 (the default, 8h) and 24h")
	}
	if len(c.Tenants) == 0 {
		add("at least one tenant is required")
	}
	seen := map[string]bool{}
	for i, t := range c.Tenants {
		where := fmt.Sprintf("tenants[%d]", i)
		if !tenantIDRE.MatchString(t.ID) {
			add("%s.id %q must be 1-63 lowercase letters, digits or dashes", where, t.ID)
		} else {
			where = fmt.Sprintf("tenant %q", t.ID)
		}
		if seen[t.ID] {
			add("%s: duplicate tenant id", where)
		}
		seen[t.ID] = true
		if strings.TrimSpace(t.Name) == "" {
			add("%s: name is required", where)
		}
		checkURL(where+": publicBaseURL", t.PublicBaseURL)
		for j, r := range t.TemplateRules {
			switch {
			case strings.TrimSpace(r.Template) == "":
				add("%s: templateRules[%d] names no template", where, j)
			case r.matchers() != 1:
				add("%s: templateRules[%d] (template %s) must match on exactly one of productCode, productFamily, eventId, performanceId", where, j, r.Template)
			case r.EventID < 0 || r.PerformanceID < 0:
				add("%s: templateRules[%d]: ids are positive", where, j)
			}
		}
		if t.HolderDataDays < 0 || t.HolderDataDays > 3650 {
			add("%s: holderDataDays must be 0 (keep) to 3650", where)
		}
		if v := t.TemplateVariable; v != "off" && (strings.ContainsAny(v, "= \t") || len(v) > 64) {
			add("%s: templateVariable %q must be a comfort variable's name or off", where, v)
		}
		a := t.Apple
		switch a.SharingProhibited {
		case "", "never", "named", "always":
		default:
			add("%s: apple.sharingProhibited %q must be never, named or always", where, a.SharingProhibited)
		}
		if !passTypeIDRE.MatchString(a.PassTypeID) {
			add("%s: apple.passTypeId %q must look like pass.com.example.tickets", where, a.PassTypeID)
		}
		if !teamIDRE.MatchString(a.TeamID) {
			add("%s: apple.teamId %q must be 10 uppercase letters or digits", where, a.TeamID)
		}
		switch {
		case a.UsesDevPKI():
			if !c.Server.Development {
				add("%s: apple certificate is missing (p12File, or certFile and keyFile); the development PKI is only for development", where)
			}
		case a.P12File != "" && (a.CertFile != "" || a.KeyFile != ""):
			add("%s: apple: give either p12File or certFile+keyFile, not both", where)
		case a.P12File == "" && (a.CertFile == "" || a.KeyFile == ""):
			add("%s: apple: certFile and keyFile go together", where)
		}
		sx := t.SecuTix
		if sx.UsesSandbox() {
			if !c.Server.Development {
				add("%s: secutix.baseURL is required (the built-in sandbox is only for development)", where)
			}
		} else {
			if u, err := url.Parse(sx.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.Server.Development)) {
				add("%s: secutix.baseURL %q must be an https URL", where, sx.BaseURL)
			}
			if sx.Operator == "" || sx.Partner == "" || sx.Secret == "" {
				add("%s: secutix.operator, partner and secret are required", where)
			}
		}
		switch sx.EventKind {
		case "concert", "festival", "sports", "theatre", "conference", "movie", "generic":
		default:
			add("%s: secutix.eventKind %q is not one of concert, festival, sports, theatre, conference, movie, generic", where, sx.EventKind)
		}
		switch sx.Symbology {
		case "", "qr", "pdf417", "aztec", "code128", "code39", "codabar", "ean13", "i2of5":
		default:
			add("%s: secutix.symbology %q is not one of qr, pdf417, aztec, code128, code39, codabar, ean13, i2of5", where, sx.Symbology)
		}
		if sx.RequestsPerMinute < 0 {
			add("%s: secutix.requestsPerMinute must not be negative", where)
		}
		if sx.CatalogInterval < 0 {
			add("%s: secutix.catalogInterval must not be negative", where)
		}
		if sx.QuotaWindow < 0 {
			add("%s: secutix.quotaWindow must not be negative", where)
		}
		switch sx.Auth {
		case "", "jwt", "token":
		default:
			add("%s: secutix.auth %q is not jwt or token", where, sx.Auth)
		}
		switch sx.JWTTimes {
		case "", "seconds", "milliseconds":
		default:
			add("%s: secutix.jwtTimes %q is not seconds or milliseconds", where, sx.JWTTimes)
		}
		if sx.AuthPath != "" && !urlPath.MatchString(sx.AuthPath) {
			add("%s: secutix.authPath %q is not a path such as /tnco/backend-apis/v1/auth (letters, digits, - _ . / only; no query)", where, sx.AuthPath)
		}
		if sx.MaxResponseMiB < 0 || sx.MaxResponseMiB > 1024 || sx.CatalogMaxResponseMiB < 0 || sx.CatalogMaxResponseMiB > 1024 {
			add("%s: secutix.maxResponseMiB and catalogMaxResponseMiB are from 1 to 1024 (0: the default)", where)
		}
		if sc := sx.CatalogScope; sc != "" && sc != "none" && !enumWord.MatchString(sc) {
			add("%s: secutix.catalogScope %q is not none or an upper-case SecuTix word such as EXTENDED", where, sc)
		}
		for _, d := range sx.ContactDetails {
			if !enumWord.MatchString(d) {
				add("%s: secutix.contactDetails: %q is not an upper-case SecuTix word", where, d)
			}
		}
		if (sx.Auth == "" || sx.Auth == "jwt") && sx.Institution == "" && !strings.Contains(sx.Operator, "_") && sx.Operator != "" {
			add("%s: secutix.institution is required in jwt mode (operator %q names no institution)", where, sx.Operator)
		}
		switch w := t.Webhooks; w.Auth {
		case "none":
			if !c.Server.Development {
				add("%s: webhooks.auth none is only for development (use basic or apikey)", where)
			}
		case "basic":
			if w.Username == "" || w.Password == "" {
				add("%s: webhooks.auth basic needs username and password", where)
			} else if len(w.Password) < 16 {
				// As an API key: a short password is guessed.
				add("%s: webhooks.auth basic needs a password of at least 16 characters", where)
			}
		case "apikey":
			if len(w.Key) < 16 {
				add("%s: webhooks.auth apikey needs a key of at least 16 characters", where)
			}
		default:
			add("%s: webhooks.auth %q is not one of none, basic, apikey", where, w.Auth)
		}
		if ap := a.APNs; (ap.KeyFile == "") != (ap.KeyID == "") {
			add("%s: apple.apns.keyFile and keyId go together (token auth)", where)
		} else if ap.KeyFile != "" {
			if _, err := os.Stat(ap.KeyFile); err != nil {
				add("%s: apple.apns.keyFile %s: %s", where, ap.KeyFile, describeStatErr(err))
			}
		}
		if f := a.APNs.CAFile; f != "" {
			if _, err := os.Stat(f); err != nil {
				add("%s: apple.apns.caFile %s: %s", where, f, describeStatErr(err))
			}
		}
		if h := a.APNs.Host; h != "" {
			if u, err := url.Parse(h); err != nil || u.Scheme != "https" || u.Host == "" {
				add("%s: apple.apns.host %q must be an https URL", where, h)
			} else if apnsSandboxHosts[strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")] {
				// Every Wallet push token is a production one: the
				// sandbox answers BadDeviceToken to each, and each
				// registration would be deleted (Wallet does not
				// register again on its own).
				add("%s: apple.apns.host %q is Apple's sandbox: Wallet passes only use the production APNs host (leave host empty)", where, h)
			}
		}
		if g := t.Google; g.Enabled() || g.ServiceAccountFile != "" {
			if !googleIssuerRE.MatchString(g.IssuerID) {
				add("%s: google.issuerId %q must be the issuer's decimal number", where, g.IssuerID)
			}
			if g.ServiceAccountFile == "" && !c.Server.Development {
				add("%s: google.serviceAccountFile is required (the built-in fake is only for development)", where)
			} else if g.ServiceAccountFile != "" {
				if _, err := os.Stat(g.ServiceAccountFile); err != nil {
					add("%s: google.serviceAccountFile %s: %s", where, g.ServiceAccountFile, describeStatErr(err))
				}
			}
			for _, f := range []struct{ name, v string }{{"endpoint", g.Endpoint}, {"saveURL", g.SaveURL}, {"callbackKeysURL", g.CallbackKeysURL}} {
				if f.v == "" {
					continue
				}
				if u, err := url.Parse(f.v); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.Server.Development)) {
					add("%s: google.%s %q must be an https URL", where, f.name, f.v)
				}
			}
			if g.RequestsPerSecond < 0 {
				add("%s: google.requestsPerSecond must not be negative", where)
			}
			if k := g.RotatingBarcodeKey; k != "" {
				if b, err := hex.DecodeString(k); err != nil || len(b) < 32 {
					add("%s: google.rotatingBarcodeKey must be at least 32 bytes in hex (64 hex digits)", where)
				}
			}
			if p := time.Duration(g.RotatingBarcodePeriod); p != 0 && (p < 5*time.Second || p > 10*time.Minute || p%time.Second != 0) {
				add("%s: google.rotatingBarcodePeriod must be whole seconds from 5s to 10m", where)
			}
		}
		if o := t.API.OAuth; o.Enabled() {
			if u, err := url.Parse(o.JWKSURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.Server.Development)) {
				add("%s: api.oauth.jwksURL %q must be an https URL", where, o.JWKSURL)
			}
		}
		if ap := t.App; ap.FCMCredentialsFile != "" || ap.FCMEndpoint != "" {
			if ap.FCMProjectID == "" {
				add("%s: app.fcmProjectId is required with app.fcmCredentialsFile or app.fcmEndpoint", where)
			}
		}
		if ap := t.App; ap.FCMProjectID != "" && ap.FCMCredentialsFile == "" && ap.FCMEndpoint == "" && !c.Server.Development {
			add("%s: app.fcmCredentialsFile is required (the built-in fake FCM is only for development)", where)
		}
		if ap := t.App; ap.FCMCredentialsFile != "" {
			if _, err := os.Stat(ap.FCMCredentialsFile); err != nil {
				add("%s: app.fcmCredentialsFile %s: %s", where, ap.FCMCredentialsFile, describeStatErr(err))
			}
		}
		if !a.UsesDevPKI() {
			for _, f := range []struct{ name, path string }{{"p12File", a.P12File}, {"certFile", a.CertFile}, {"keyFile", a.KeyFile}, {"wwdrFile", a.WWDRFile}} {
				if f.path == "" {
					continue
				}
				if _, err := os.Stat(f.path); err != nil {
					add("%s: apple.%s %s: %s", where, f.name, f.path, describeStatErr(err))
				}
			}
		}
	}
	// Tenants that trust one issuer and audience tell their tokens apart
	// by the tenant claim (each then requires it): in one claim, or a
	// token naming one tenant in each could open both.
	claimOf := map[[2]string]string{}
	firstOf := map[[2]string]string{}
	for _, t := range c.Tenants {
		o := t.API.OAuth
		if !o.Enabled() {
			continue
		}
		k, claim := [2]string{o.Issuer, o.Audience}, cmp.Or(o.TenantClaim, "tenant")
		if prev, ok := claimOf[k]; ok && prev != claim {
			add("tenants %s and %s trust the same api.oauth issuer and audience but name the tenant in different claims (%s, %s): "+
				"one token could open both; give them one api.oauth.tenantClaim or different audiences", firstOf[k], t.ID, prev, claim)
			continue
		}
		if _, ok := claimOf[k]; !ok {
			claimOf[k], firstOf[k] = claim, t.ID
		}
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func describeStatErr(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "no such file"
	}
	if errors.Is(err, os.ErrPermission) {
		return "permission denied"
	}
	return "cannot be read"
}
