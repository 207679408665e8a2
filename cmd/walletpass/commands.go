package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"walletpass/certs"
	"walletpass/config"
	"walletpass/pass"
	"walletpass/pass/apple"
)

func loadConfig(path string, getenv func(string) string) (*config.Config, error) {
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("serve", stdout)
	cfgPath := configFlag(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	app, err := NewApp(ctx, cfg, newLogger(stderr, cfg.Server.LogLevel))
	if err != nil {
		return err
	}
	defer app.Close()
	printNextSteps(stdout, cfg, app.listener.Addr().String(), app.AdminURL, app.Sandbox != nil)
	return app.Run(ctx)
}

// useActualPort points the public URLs at the port the system chose when
// a development server listens on port 0 (tests, several local servers):
// links and passes then reach it.
func useActualPort(cfg *config.Config, addr string) {
	if !cfg.Server.Development || !strings.HasSuffix(cfg.Server.Listen, ":0") {
		return
	}
	old, now := cfg.Server.PublicBaseURL, "http://"+addr
	cfg.Server.PublicBaseURL = now
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.PublicBaseURL == old {
			t.PublicBaseURL = now
		}
		for _, u := range []*string{&t.API.OAuth.Issuer, &t.API.OAuth.JWKSURL} {
			if rest, ok := strings.CutPrefix(*u, old+config.DevOAuthPath); ok {
				*u = now + config.DevOAuthPath + rest
			}
		}
	}
}

// selfCommand is how the next-steps hints name this program: the go run
// form when `go run` built it (its binary lives in a go-build temporary
// directory), else the binary's path, relative when it lies under the
// working directory (make run starts ./bin/walletpass).
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return goRunSelf
	}
	wd, err := os.Getwd()
	if err != nil {
		return goRunSelf
	}
	return selfCommandFor(exe, wd)
}

const goRunSelf = "go run ./cmd/walletpass"

func selfCommandFor(exe, wd string) string {
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return goRunSelf
	}
	rel, err := filepath.Rel(wd, exe)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return exe
	}
	return "." + string(filepath.Separator) + rel
}

func printNextSteps(w io.Writer, cfg *config.Config, addr, adminURL string, sandbox bool) {
	base := "http://" + addr
	fmt.Fprintf(w, "walletpass is serving on %s\n\n", base)
	if cfg.Server.Development && len(cfg.Tenants) > 0 {
		t := cfg.Tenants[0]
		fmt.Fprintf(w, "What to do next:\n")
		fmt.Fprintf(w, "  open %s/ in a browser: it links to sample passes\n", base)
		fmt.Fprintf(w, "  curl -o concert.pkpass '%s/api/%s/preview/%s?kind=concert'\n", base, t.ID, t.DefaultTemplate)
		if sandbox {
			fmt.Fprintf(w, "  create a sandbox order (SecuTix sends the webhooks, passes appear):\n")
			fmt.Fprintf(w, "    curl -s -X POST %s/sandbox/orders -d '{}'\n", base)
			self := selfCommand()
			fmt.Fprintf(w, "    %s orders timeline -secret <orderSecretToken>\n", self)
			fmt.Fprintf(w, "    %s orders links -secret <orderSecretToken>   (the order page and wallet links)\n", self)
			fmt.Fprintf(w, "  ask for an order's links as the shop would:\n")
			fmt.Fprintf(w, "    TOKEN=$(%s token)\n", self)
			fmt.Fprintf(w, "    curl -s -H \"Authorization: Bearer $TOKEN\" %s/api/%s/external/secutix/orders/getTicketsUrl/<fileId>\n", base, t.ID)
		}
		if cfg.Console.Issuer == "" {
			fmt.Fprintf(w, "  the operator console: open %s/console/ and choose a development user\n", base)
		}
		fmt.Fprintf(w, "  check the signature (see README, \"Check a pass\") against %s\n", filepath.Join(cfg.DevPKIDir(), "wwdr.pem"))
		fmt.Fprintf(w, "  health: curl %s/healthz", base)
		if adminURL != "" {
			fmt.Fprintf(w, "; metrics: curl %s/metrics", adminURL)
		}
		fmt.Fprintf(w, "\n  the API: %s/openapi.json\n\nPress Ctrl-C to stop.\n", base)
	}
}

func cmdPassBuild(_ context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("pass build", stdout)
	cfgPath := configFlag(fs, getenv)
	ticketPath := fs.String("ticket", "", "ticket JSON `file` (see walletpass pass sample)")
	tplName := fs.String("template", "", "template `name` (default: the tenant's default template)")
	tenantID := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	out := fs.String("o", "", "output `file` (.pkpass)")
	serial := fs.String("serial", "", "serial number (default: random)")
	nfc := fs.Bool("nfc", false, "sign as an NFC tenant: the tenant's apple.nfc, or a development terminal key when it has none (a sample of the poster layout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ticketPath == "" || *out == "" {
		return errUsage{"pass build: -ticket and -o are required"}
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	tenant := cfg.Tenants[0]
	if *tenantID != "" {
		t, ok := cfg.Tenant(*tenantID)
		if !ok {
			return fmt.Errorf("pass build: unknown tenant %q", *tenantID)
		}
		tenant = t
	}
	if *tplName == "" {
		*tplName = tenant.DefaultTemplate
	}
	if *nfc && tenant.Apple.NFC == nil {
		key, err := apple.DevNFCKey()
		if err != nil {
			return fmt.Errorf("pass build: %w", err)
		}
		for i := range cfg.Tenants {
			if cfg.Tenants[i].ID == tenant.ID {
				cfg.Tenants[i].Apple.NFC = &config.NFC{EncryptionPublicKey: key, RequiresAuthentication: true}
			}
		}
	}
	data, err := readFileLimited(*ticketPath, pass.MaxTicketJSON)
	if err != nil {
		return fmt.Errorf("pass build: %w", err)
	}
	tk, err := pass.ParseTicket(data)
	if err != nil {
		return fmt.Errorf("pass build: %s: %w", *ticketPath, err)
	}
	if tk.Tenant == "" {
		tk.Tenant = tenant.ID
	}
	reg, err := buildRegistry(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	is, err := reg.Issuer(tenant.ID)
	if err != nil {
		return err
	}
	tpl, err := reg.Template(*tplName)
	if err != nil {
		return err
	}
	in := apple.Input{Ticket: tk, SerialNumber: *serial, AuthToken: pass.NewAuthToken()}
	if in.SerialNumber == "" {
		in.SerialNumber = pass.NewSerialNumber()
	}
	pj, err := is.Render(tpl, in)
	if err != nil {
		return err
	}
	if err := is.Validate(tpl, pj); err != nil {
		return err
	}
	pk, err := is.Package(tpl, pj)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, pk, 0o644); err != nil {
		return fmt.Errorf("pass build: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes, serial %s, template %s, tenant %s)\n", *out, len(pk), in.SerialNumber, *tplName, tenant.ID)
	return nil
}

func cmdPassSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pass sample", stdout)
	kind := fs.String("kind", "concert", "event `kind`: concert, festival, sports, theatre, conference, movie, generic, or season (a season ticket)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if *kind == "season" {
		return enc.Encode(apple.SampleSeason())
	}
	k := pass.EventKind(*kind)
	if !k.Valid() {
		return errUsage{fmt.Sprintf("pass sample: unknown kind %q", *kind)}
	}
	return enc.Encode(apple.SampleTicket(k))
}

func cmdCertsDev(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("certs dev", stdout)
	def := config.Default()
	dir := fs.String("dir", def.DevPKIDir(), "`directory` of the development PKI")
	passType := fs.String("pass-type-id", def.Tenants[0].Apple.PassTypeID, "pass type `identifier`")
	team := fs.String("team-id", def.Tenants[0].Apple.TeamID, "team `identifier`")
	org := fs.String("org", def.Tenants[0].Name, "organisation `name`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := certs.EnsureDev(*dir, *passType, *team, *org)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "development WWDR:  %s\npass certificate:  %s\npass key:          %s\n", p.WWDRCert, p.Cert, p.Key)
	return nil
}

// cmdCertsAppleWWDR prints Apple's WWDR G4 certificate (PEM), the
// intermediate of pass certificates made since 2022, for apple.wwdrFile.
func cmdCertsAppleWWDR(args []string, stdout io.Writer) error {
	fs := newFlags("certs apple-wwdr", stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := stdout.Write(certs.AppleWWDRG4())
	return err
}

func cmdCertsCheck(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("certs check", stdout)
	cfgPath := configFlag(fs, getenv)
	only := fs.String("tenant", "", "check only this tenant `id`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	failed := 0
	checked := 0
	for _, t := range cfg.Tenants {
		if *only != "" && t.ID != *only {
			continue
		}
		checked++
		src, err := tenantSource(cfg, t)
		if err == nil {
			var id *certs.Identity
			id, err = certs.Load(src)
			if err == nil {
				fmt.Fprintf(stdout, "tenant %s: certificate %q, team %s, expires %s\n", t.ID, id.Leaf.Subject.CommonName,
					certs.TeamID(id.Leaf), id.Leaf.NotAfter.UTC().Format(time.DateOnly))
				problems := checkIdentity(cfg, t, id, time.Now())
				for _, p := range problems {
					fmt.Fprintf(stdout, "  %s: %s\n", p.Severity, p.Message)
				}
				if certs.HasErrors(problems) {
					failed++
				} else {
					fmt.Fprintf(stdout, "  ok\n")
				}
				continue
			}
		}
		fmt.Fprintf(stdout, "tenant %s:\n  error: %s\n", t.ID, oneLine(err))
		failed++
	}
	if checked == 0 {
		return fmt.Errorf("certs check: no tenant %q", *only)
	}
	if failed > 0 {
		return fmt.Errorf("certs check: %d tenant(s) have unusable certificates", failed)
	}
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("migrate", stdout)
	cfgPath := configFlag(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg) // migrate makes the database when there is none
	if err != nil {
		return err
	}
	where := cfg.Storage.SQLitePath
	if dsn := cfg.Storage.PostgresURL; dsn != "" {
		where = "on PostgreSQL" // a keyword/value string names nothing safe to print
		if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
			where = "postgres://" + u.Host + u.Path // no user, password or parameters
		}
	}
	fmt.Fprintf(stdout, "database %s is up to date\n", where)
	return db.Close()
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it, so a failed write never leaves half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := writeThroughTemp(path, data, mode); err != nil {
		// The temporary file's name means nothing to the user: name the
		// file asked for, with the cause.
		var pe *os.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		}
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

func writeThroughTemp(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".walletpass-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
