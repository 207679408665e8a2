package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || !cfg.Server.Development {
		t.Errorf("server = %+v, want development on 127.0.0.1:8080", cfg.Server)
	}
	if got := cfg.Storage.SQLitePath; got != filepath.Join("data", "walletpass.db") {
		t.Errorf("sqlite path = %s", got)
	}
	demo, ok := cfg.Tenant("demo")
	if !ok || !demo.Apple.UsesDevPKI() || demo.PublicBaseURL != "http://127.0.0.1:8080" || demo.DefaultTemplate != "default" {
		t.Errorf("demo tenant = %+v", demo)
	}
}

// TestDevelopmentURLsFollowTheListenAddress: changing only the listen
// address moves every public URL of the development defaults with it,
// unless a public URL is set.
func TestDevelopmentURLsFollowTheListenAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ listen, public, want string }{
		{"127.0.0.1:8087", "", "http://127.0.0.1:8087"},
		{":8087", "", "http://127.0.0.1:8087"},
		{"0.0.0.0:8087", "", "http://127.0.0.1:8087"},
		{"[::]:8087", "", "http://127.0.0.1:8087"},
		{"[::1]:8087", "", "http://[::1]:8087"},
		{"localhost:8087", "", "http://localhost:8087"},
		{"127.0.0.1:8087", "http://192.168.1.20:9000/", "http://192.168.1.20:9000"},
	} {
		cfg, err := config.Load("", env(map[string]string{"WALLETPASS_LISTEN": c.listen, "WALLETPASS_PUBLIC_BASE_URL": c.public}))
		if err != nil {
			t.Fatalf("%s: %v", c.listen, err)
		}
		demo, _ := cfg.Tenant("demo")
		if cfg.Server.PublicBaseURL != c.want || demo.PublicBaseURL != c.want ||
			demo.API.OAuth.Issuer != c.want+config.DevOAuthPath || demo.API.OAuth.JWKSURL != c.want+config.DevOAuthPath+"/jwks.json" {
			t.Errorf("listen %s, public %q: server %s, tenant %s, issuer %s, JWKS %s; want all on %s", c.listen, c.public,
				cfg.Server.PublicBaseURL, demo.PublicBaseURL, demo.API.OAuth.Issuer, demo.API.OAuth.JWKSURL, c.want)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(filepath.Join("..", "walletpass.example.yaml"), env(nil))
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	if len(cfg.Tenants) == 0 {
		t.Errorf("the example config has no tenant")
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p12 := filepath.Join(dir, "pass.p12")
	if err := os.WriteFile(p12, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := write(t, `
server: {listen: "0.0.0.0:9000", publicBaseURL: "https://passes.example.com"}
tenants:
  - id: big-arena
    name: Big Arena
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.arena, p12File: /nonexistent.p12}
    secutix: {baseURL: "https://arena.ws.secutix.com", operator: ARENA_OP, partner: walletpass}
    webhooks: {auth: apikey}
    google: {issuerId: "3388000000012345678"}
workers: {count: 8, reconcileEvery: "off", retention: 48h}
`)
	saKey := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(saKey, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, env(map[string]string{
		"WALLETPASS_LINK_SECRET":                                  "0123456789abcdef0123456789abcdef",
		"WALLETPASS_TENANT_BIG_ARENA_GOOGLE_SERVICE_ACCOUNT_FILE": saKey,
		"WALLETPASS_LISTEN":                                       "127.0.0.1:9999",
		"WALLETPASS_TENANT_BIG_ARENA_APPLE_P12_FILE":              p12,
		"WALLETPASS_TENANT_BIG_ARENA_APPLE_P12_PASSWORD":          "s3cret",
		"WALLETPASS_TENANT_BIG_ARENA_SECUTIX_SECRET":              "stx-secret",
		"WALLETPASS_TENANT_BIG_ARENA_SECUTIX_AUTH":                "token",
		"WALLETPASS_TENANT_BIG_ARENA_SECUTIX_INSTITUTION":         "ARENA",
		"WALLETPASS_TENANT_BIG_ARENA_SECUTIX_OPERATOR":            "ARENA_WALLET",
		"WALLETPASS_TENANT_BIG_ARENA_SECUTIX_PARTNER":             "wallet-partner",
		"WALLETPASS_TENANT_BIG_ARENA_WEBHOOK_KEY":                 "0123456789abcdef0123",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Tenants[0].Google; g.ServiceAccountFile != saKey || g.IssuerName != "Big Arena" || g.UsesFake() {
		t.Errorf("google overrides not applied: %+v", g)
	}
	if cfg.Server.LinkSecret != "0123456789abcdef0123456789abcdef" || cfg.Server.LinkTTL != config.Duration(720*time.Hour) {
		t.Errorf("link settings: %q %v", cfg.Server.LinkSecret, cfg.Server.LinkTTL)
	}
	a := cfg.Tenants[0].Apple
	if cfg.Server.Listen != "127.0.0.1:9999" || a.P12File != p12 || a.P12Password != "s3cret" {
		t.Errorf("overrides not applied: listen %s, apple %+v", cfg.Server.Listen, a)
	}
	if sx, wh := cfg.Tenants[0].SecuTix, cfg.Tenants[0].Webhooks; sx.Secret != "stx-secret" || sx.Auth != "token" || sx.Institution != "ARENA" ||
		sx.Operator != "ARENA_WALLET" || sx.Partner != "wallet-partner" || wh.Key != "0123456789abcdef0123" || wh.Header != "X-API-Key" {
		t.Errorf("secutix/webhook overrides not applied: %+v %+v", sx, wh)
	}
	if w := cfg.Workers; w.Count != 8 || w.ReconcileEvery >= 0 || time.Duration(w.Retention) != 48*time.Hour {
		t.Errorf("workers = %+v", w)
	}
	if cfg.Tenants[0].PublicBaseURL != "https://passes.example.com" {
		t.Errorf("tenant base URL = %s", cfg.Tenants[0].PublicBaseURL)
	}
}

// TestEnvironmentOverridesRefused: an override that cannot be read is a
// problem named by its variable, not silently ignored.
func TestEnvironmentOverridesRefused(t *testing.T) {
	t.Parallel()
	_, err := config.Load("", env(map[string]string{
		"WALLETPASS_DEVELOPMENT":                          "yes",
		"WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL": "10",
	}))
	for _, want := range []string{`WALLETPASS_DEVELOPMENT "yes" must be true or false`,
		`WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL "10" is not a duration`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %s", err, want)
		}
	}
	if _, err := config.Load("", env(map[string]string{"WALLETPASS_DEVELOPMENT": "1",
		"WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL": "15m"})); err != nil {
		t.Errorf("good overrides: %v", err)
	}
}

func TestValidationListsEveryProblem(t *testing.T) {
	t.Parallel()
	path := write(t, `
server: {listen: "127.0.0.1:8080", publicBaseURL: "http://passes.example.com", linkSecret: short, logLevel: chatty, adminListen: "127.0.0.1:8080", drainDelay: 2m, linkTTL: 9000h, trustedProxies: ["10.0.0.0/8", "192.0.2.7", "lb.internal", "fe80::1%eth0", "::ffff:10.0.0.0/90"]}
storage: {postgresURL: "mysql://x", s3URL: "https://bucket"}
workers: {count: -1, lease: "off", maxBackoff: "off", retention: "off"}
console: {tokenAuthMethod: private_key_jwt}
tenants:
  - id: Bad_ID
    name: ""
    apple: {teamId: short, passTypeId: com.example, certFile: /nonexistent.pem}
  - id: ok
    name: OK
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok}
    google: {issuerId: "33880000000x", endpoint: "http://wallet.example.com", requestsPerSecond: -1}
  - id: ok
    name: Again
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok, p12File: a.p12, certFile: b.pem}
    secutix: {baseURL: "ftp://x", eventKind: opera, auth: basic}
    webhooks: {auth: apikey, key: short}
  - id: jwt
    name: JWT
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok, p12File: a.p12}
    secutix: {baseURL: "https://x.ws.secutix.com", operator: WALLET, partner: p, secret: s}
    api: {oauth: {issuer: "https://idp.example.com", audience: walletpass, jwksURL: "https://idp.example.com/jwks"}}
  - id: basic
    name: Basic
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok, p12File: a.p12}
    webhooks: {auth: basic, username: secutix, password: short}
  - id: rules
    name: Rules
    templateVariable: "WALLET=x"
    holderDataDays: -1
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok, p12File: a.p12, sharingProhibited: sometimes}
    secutix: {catalogInterval: "off", jwtTimes: minutes, authPath: "/tnco/../auth", catalogScope: extended, contactDetails: [GENERAL, "x y"], catalogMaxResponseMiB: 4096}
    templateRules:
      - {productCode: GALA}
      - {template: vip, productCode: GALA, eventId: 7}
  - id: jwt2
    name: JWT 2
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok, p12File: a.p12}
    api: {oauth: {issuer: "https://idp.example.com", audience: walletpass, jwksURL: "https://idp.example.com/jwks", tenantClaim: org}}
`)
	_, err := config.Load(path, env(nil))
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	for _, want := range []string{
		`server.publicBaseURL "http://passes.example.com" must use https outside development`,
		`server.logLevel "chatty" must be debug, info, warn or error`,
		`server.trustedProxies: "lb.internal" is neither an address nor a CIDR range`,
		`server.trustedProxies: "fe80::1%eth0" is neither an address nor a CIDR range`,
		`server.trustedProxies: "::ffff:10.0.0.0/90" mixes IPv4 and IPv6 addresses`,
		`tenant "rules": templateRules[0] names no template`,
		`tenant "rules": templateRules[1] (template vip) must match on exactly one of productCode, productFamily, eventId, performanceId`,
		`tenant "rules": templateVariable "WALLET=x" must be a comfort variable's name or off`,
		`tenant "rules": holderDataDays must be 0 (keep) to 3650`,
		`tenant "rules": apple.sharingProhibited "sometimes" must be never, named or always`,
		`tenant "rules": secutix.catalogInterval must not be negative`,
		`tenant "rules": secutix.jwtTimes "minutes" is not seconds or milliseconds`,
		`tenant "rules": secutix.authPath "/tnco/../auth" is not a path such as /tnco/backend-apis/v1/auth`,
		`tenant "rules": secutix.catalogScope "extended" is not none or an upper-case SecuTix word such as EXTENDED`,
		`tenant "rules": secutix.contactDetails: "x y" is not an upper-case SecuTix word`,
		`tenant "rules": secutix.maxResponseMiB and catalogMaxResponseMiB are from 1 to 1024 (0: the default)`,
		`server.adminListen must differ from server.listen`,
		`server.drainDelay must be between 0 and 1m`,
		`server.linkTTL must be at most 8784h`,
		`workers.count and workers.maxAttempts must not be negative`,
		`workers.lease must be at least 1s`,
		`console.tokenAuthMethod "private_key_jwt" must be client_secret_basic or client_secret_post`,
		`workers.maxBackoff cannot be off`,
		`workers.retention cannot be off`,
		`tenants[0].id "Bad_ID" must be 1-63 lowercase letters`,
		`tenants[0]: name is required`,
		`apple.passTypeId "com.example" must look like pass.com.example.tickets`,
		`apple.teamId "short" must be 10 uppercase letters or digits`,
		`certFile and keyFile go together`,
		`tenant "ok": apple certificate is missing`,
		`tenant "ok": duplicate tenant id`,
		`give either p12File or certFile+keyFile, not both`,
		`secutix.baseURL is required (the built-in sandbox is only for development)`,
		`secutix.baseURL "ftp://x" must be an https URL`,
		`secutix.operator, partner and secret are required`,
		`secutix.eventKind "opera"`,
		`secutix.auth "basic" is not jwt or token`,
		`secutix.institution is required in jwt mode (operator "WALLET" names no institution)`,
		`webhooks.auth none is only for development`,
		`webhooks.auth apikey needs a key of at least 16 characters`,
		`server.linkSecret must be at least 32 characters`,
		`storage.postgresURL must start with postgres://`,
		`storage.s3URL must start with s3://`,
		`google.issuerId "33880000000x" must be the issuer's decimal number`,
		`google.serviceAccountFile is required (the built-in fake is only for development)`,
		`google.endpoint "http://wallet.example.com" must be an https URL`,
		`google.requestsPerSecond must not be negative`,
		`tenant "basic": webhooks.auth basic needs a password of at least 16 characters`,
		`tenants jwt and jwt2 trust the same api.oauth issuer and audience but name the tenant in different claims (tenant, org)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(ve.Problems) < 9 {
		t.Errorf("got %d problems, want every one listed: %v", len(ve.Problems), ve.Problems)
	}
}

// TestAPNsSandboxHostRefused: Apple's sandbox APNs hosts answer
// BadDeviceToken to every Wallet push token (which would delete every
// registration), so apple.apns.host refuses them with a one-line problem,
// however written; the production host and a push proxy are fine.
func TestAPNsSandboxHostRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host string
		refused    bool
	}{
		{"production", "https://api.push.apple.com", false},
		{"production port 443", "https://api.push.apple.com:443", false},
		{"a push proxy", "https://apns-proxy.internal:8443", false},
		{"sandbox", "https://api.sandbox.push.apple.com", true},
		{"sandbox port 2197", "https://api.sandbox.push.apple.com:2197", true},
		{"sandbox upper case", "https://API.Sandbox.Push.Apple.com/", true},
		{"sandbox trailing dot", "https://api.sandbox.push.apple.com.", true},
		{"development", "https://api.development.push.apple.com", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load("", env(map[string]string{"WALLETPASS_TENANT_DEMO_APNS_HOST": tc.host}))
			if !tc.refused {
				if err != nil {
					t.Errorf("apple.apns.host %s: %v, want it accepted", tc.host, err)
				}
				return
			}
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("apple.apns.host %s: err = %v, want one problem", tc.host, err)
			}
			want := `tenant "demo": apple.apns.host "` + tc.host + `" is Apple's sandbox: Wallet passes only use the production APNs host`
			if p := ve.Problems[0]; !strings.Contains(p, want) || strings.Contains(p, "\n") {
				t.Errorf("problem %q, want one line saying %s", p, want)
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{name: "unknown key", body: "server: {listn: x}\n", want: "unknown field"},
		{name: "not yaml", body: "server: [\n", want: "config:"},
		{name: "no tenants", body: "server: {development: true}\ntenants: []\n", want: "at least one tenant is required"},
		{name: "bad duration", body: "workers: {retention: soon}\n", want: "not a duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(write(t, tc.body), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), env(nil)); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	if got := config.EnvName("big-arena2", "APPLE_P12_PASSWORD"); got != "WALLETPASS_TENANT_BIG_ARENA2_APPLE_P12_PASSWORD" {
		t.Errorf("got %s", got)
	}
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "walletpass.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProductionGuideConfigLoads: the complete configuration of
// docs/production.md loads and validates, with its files stood in for
// and its secrets in the environment, as the guide says.
func TestProductionGuideConfigLoads(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "production.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete configuration")
	if !ok {
		t.Fatal("docs/production.md has no complete configuration")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	yamlText, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the configuration block is not closed")
	}
	dir := t.TempDir()
	yamlText = strings.ReplaceAll(yamlText, "/etc/walletpass/", dir+"/")
	for _, f := range []string{"example/pass.p12", "AppleWWDRCAG4.pem", "example/google.json", "example/firebase.json"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("stand-in"), 0o600)
	}
	path := write(t, yamlText)
	cfg, err := config.Load(path, env(map[string]string{
		"WALLETPASS_LINK_SECRET":                       strings.Repeat("l", 40),
		"WALLETPASS_TENANT_EXAMPLE_APPLE_P12_PASSWORD": "p12-password",
		"WALLETPASS_TENANT_EXAMPLE_SECUTIX_SECRET":     "secutix-secret",
		"WALLETPASS_TENANT_EXAMPLE_WEBHOOK_KEY":        strings.Repeat("k", 24),
	}))
	if err != nil {
		t.Fatalf("the guide's configuration does not load: %v", err)
	}
	if cfg.Server.Development || len(cfg.Tenants) != 1 || cfg.Tenants[0].PublicBaseURL != "https://passes.example.com" {
		t.Errorf("loaded %+v", cfg.Server)
	}
}

// TestExampleDocumentsEverything: walletpass.example.yaml names every key
// of the configuration (set or commented out) and every environment
// variable Load reads, so that it stays the reference the docs say it is.
func TestExampleDocumentsEverything(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "walletpass.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)
	keys := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[config.Config]().PkgPath() {
			return
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name != "" {
				keys[name] = true
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[config.Config]())
	if len(keys) < 50 {
		t.Fatalf("found %d keys: the walk is broken", len(keys))
	}
	for k := range keys {
		if !regexp.MustCompile(`(?m)(^[ #]*(- )?|[{,] *)` + regexp.QuoteMeta(k) + `:`).MatchString(example) {
			t.Errorf("%s does not name the key %q", path, k)
		}
	}
	var read []string
	if _, err := config.Load(path, func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatal(err)
	}
	if len(read) < 10 {
		t.Fatalf("Load read %d variables: the recording is broken", len(read))
	}
	for _, name := range read {
		generic := name
		for _, tn := range []string{"DEMO", "EXAMPLE"} {
			if rest, ok := strings.CutPrefix(name, "WALLETPASS_TENANT_"+tn+"_"); ok {
				generic = "WALLETPASS_TENANT_<ID>_" + rest
			}
		}
		if !mentions(example, name) && !mentions(example, generic) {
			t.Errorf("%s does not name the environment variable %s", path, generic)
		}
	}
}

// TestDocsConfigKeys: every configuration key the README and docs/ name
// (`server.linkTTL`, `secutix.catalogInterval`, `apple.apns.keyFile`, …;
// a tenant's keys without the tenants list) is one the configuration
// reads.
func TestDocsConfigKeys(t *testing.T) {
	t.Parallel()
	paths := map[string]bool{}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[config.Config]().PkgPath() {
			return
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			paths[p] = true
			walk(p, f.Type)
		}
	}
	walk("", reflect.TypeFor[config.Config]())
	walk("", reflect.TypeFor[config.Tenant]()) // a tenant's keys, as the docs name them
	if !paths["server.linkTTL"] || !paths["apple.apns.keyFile"] {
		t.Fatalf("the walk is broken: %d paths", len(paths))
	}
	key := regexp.MustCompile("`((?:server|storage|workers|console|apple|google|secutix|webhooks|app|api)(?:\\.[a-z][A-Za-z0-9]*)+)")
	files, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	files = append(files, filepath.Join("..", "README.md"))
	named := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range key.FindAllStringSubmatch(line, -1) {
				if strings.HasSuffix(m[1], ".org") || strings.HasSuffix(m[1], ".com") {
					continue // an address: google.golang.org
				}
				named++
				if !paths[m[1]] {
					t.Errorf("%s:%d names the configuration key %s, which does not exist", filepath.Base(f), i+1, m[1])
				}
			}
		}
	}
	if named < 30 {
		t.Errorf("the docs name %d configuration keys: the extraction is broken", named)
	}
}

// TestAdvisories: a tenant on a real SecuTix institution set above its
// published limits loads, with an advisory for each, and so do tenants of
// one Google issuer that may together call more than Google's quota; the
// built-in sandbox's tenants, an issuer within its quota and the defaults
// get none.
func TestAdvisories(t *testing.T) {
	t.Parallel()
	sa := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(sa, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := write(t, strings.ReplaceAll(`server: {development: true}
tenants:
  - id: fast
    name: Fast
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok}
    secutix: {baseURL: "https://fast.ws.secutix.com", operator: FAST_WALLET, partner: p, secret: s, requestsPerMinute: 120, catalogInterval: 1m}
  - id: plain
    name: Plain
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok}
    secutix: {baseURL: "https://plain.ws.secutix.com", operator: PLAIN_WALLET, partner: p, secret: s}
    google: {issuerId: "3388000000022222222", serviceAccountFile: sa.json, requestsPerSecond: 15}
  - id: sandbox
    name: Sandbox
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok}
    secutix: {requestsPerMinute: 1000000, catalogInterval: 1m}
    google: {issuerId: "3388000000022222222", serviceAccountFile: sa.json}
  - id: alone
    name: Alone
    apple: {teamId: ABCDE12345, passTypeId: pass.com.example.ok}
    google: {issuerId: "3388000000033333333", serviceAccountFile: sa.json}
`, "sa.json", sa))
	cfg, err := config.Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cfg.Advisories(), "\n")
	for _, want := range []string{`tenant "fast": secutix.requestsPerMinute 120 is above SecuTix's published quota (60 a minute per service)`,
		`tenant "fast": secutix.catalogInterval 1m0s is shorter than SecuTix allows (one getCatalogDetailed per 10m0s)`,
		`Google Wallet issuer 3388000000022222222: tenants plain, sandbox may call 35 times a second together, above Google's quota (20)`} {
		if !strings.Contains(got, want) {
			t.Errorf("advisories %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "alone") || len(cfg.Advisories()) != 3 {
		t.Errorf("advisories for the defaults, the sandbox or an issuer within its quota: %q", got)
	}
	def, err := config.Load("", env(nil))
	if err != nil || len(def.Advisories()) != 0 {
		t.Errorf("the development defaults: %v %v", def.Advisories(), err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"PostgreSQL and a directory", map[string]string{"WALLETPASS_DATABASE_URL": "postgres://u:p@db:5432/w"},
			[]string{"storage: PostgreSQL with the pass files in a local directory", "server.development with PostgreSQL and no linkSecret"}},
		{"development where other machines reach it", map[string]string{"WALLETPASS_LISTEN": "0.0.0.0:8080"},
			[]string{"server.development is on while walletpass listens on 0.0.0.0:8080"}},
		{"development on this machine", map[string]string{"WALLETPASS_LISTEN": "[::1]:8080"}, nil},
		{"PostgreSQL and a bucket", map[string]string{"WALLETPASS_DATABASE_URL": "postgres://u:p@db:5432/w",
			"WALLETPASS_S3_URL": "s3://AK:SK@s3.example.com/b", "WALLETPASS_LINK_SECRET": strings.Repeat("k", 32)}, nil},
	} {
		cfg, err := config.Load("", env(tc.env))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := cfg.Advisories()
		if len(got) != len(tc.want) {
			t.Errorf("%s: advisories %q, want %d", tc.name, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("%s: advisory %q, want %q…", tc.name, got[i], w)
			}
		}
	}
}

// mentions reports whether text names the environment variable name as a
// whole word (WALLETPASS_LINK is not in WALLETPASS_LINK_SECRET).
func mentions(text, name string) bool {
	return regexp.MustCompile(`(?:^|[^A-Za-z0-9_])` + regexp.QuoteMeta(name) + `(?:[^A-Za-z0-9_]|$)`).MatchString(text)
}

// TestUnknownEnvironment: a WALLETPASS_ variable no setting reads (a
// misspelt override, a tenant not configured) is named, while the
// settings' own, a configured tenant's and the scripts' are not.
func TestUnknownEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.UnknownEnv([]string{"WALLETPASS_POSTGRES_URL=postgres://x", "WALLETPASS_DATABASE_URL=postgres://x",
		"WALLETPASS_TENANT_DEMO_SECUTIX_SECRET=s", "WALLETPASS_TENANT_DMEO_SECUTIX_SECRET=s", "WALLETPASS_TEST_POSTGRES=x",
		"WALLETPASS_CONFIG=w.yaml", "WALLETPASS_BENCH_TICKETS=10", "PATH=/bin", "WALLETPASS_DEVELOPMENT=true"})
	if want := []string{"WALLETPASS_POSTGRES_URL", "WALLETPASS_TENANT_DMEO_SECUTIX_SECRET"}; !slices.Equal(got, want) {
		t.Errorf("unknown variables %q, want %q", got, want)
	}
}
