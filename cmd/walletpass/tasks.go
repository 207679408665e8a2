package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"walletpass/config"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/google"
	"walletpass/storage"
	"walletpass/storage/blob"
	"walletpass/storage/s3"
)

// openExistingStore is openStore for a command that works on the
// service's data: a SQLite database that is not there yet is not made
// (it would be empty, and nothing the command wrote would reach the
// service), the path named instead. PostgreSQL is opened as it is.
func openExistingStore(ctx context.Context, cfg *config.Config) (*storage.DB, error) {
	if cfg.Storage.PostgresURL == "" {
		if _, err := os.Stat(cfg.Storage.SQLitePath); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: give the service's storage settings (its WALLETPASS_DATA_DIR or storage.dataDir; "+
				"a systemd unit may set it in its own Environment=), or run `walletpass migrate` to make one", cfg.Storage.SQLitePath)
		}
	}
	return openStore(ctx, cfg)
}

func openStore(ctx context.Context, cfg *config.Config) (*storage.DB, error) {
	if cfg.Storage.PostgresURL != "" {
		return storage.OpenPostgres(ctx, cfg.Storage.PostgresURL)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Storage.SQLitePath), 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return storage.OpenSQLite(ctx, cfg.Storage.SQLitePath)
}

// openBlobs opens where pass files live: the S3 bucket of storage.s3URL,
// else the local directory.
func openBlobs(ctx context.Context, cfg *config.Config) (pass.BlobStore, error) {
	if cfg.Storage.S3URL == "" {
		return blob.NewDir(cfg.Storage.BlobDir)
	}
	sc, err := s3.ParseURL(cfg.Storage.S3URL)
	if err != nil {
		return nil, fmt.Errorf("storage.s3URL: %w", err)
	}
	return s3.New(ctx, sc)
}

// passFiles stores the files of every template of reg once, by checksum,
// before anything is signed with them, and returns the reader that puts
// the versions of versions together with them.
func passFiles(ctx context.Context, blobs pass.BlobStore, versions apple.VersionContents, reg *apple.Registry) (*apple.Files, error) {
	files := apple.NewFiles(blobs, versions)
	for _, t := range reg.Templates() {
		if err := files.AddTemplate(ctx, t); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// configAndStore loads the configuration and opens its database; the
// caller closes it.
// tenantStore is configAndStore for one tenant (the first when tenant is
// ""); the store is closed again when the tenant is unknown.
func tenantStore(ctx context.Context, cfgPath, tenant string, getenv func(string) string) (config.Tenant, *storage.DB, error) {
	cfg, db, err := configAndStore(ctx, cfgPath, getenv)
	if err != nil {
		return config.Tenant{}, nil, err
	}
	t, err := pickTenant(cfg, tenant)
	if err != nil {
		db.Close()
		return config.Tenant{}, nil, err
	}
	return t, db, nil
}

func configAndStore(ctx context.Context, cfgPath string, getenv func(string) string) (*config.Config, *storage.DB, error) {
	cfg, err := loadConfig(cfgPath, getenv)
	if err != nil {
		return nil, nil, err
	}
	db, err := openExistingStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

// cmdTasks is `walletpass tasks list [-state S]` and `walletpass tasks retry ID|-dead`.
func cmdTasks(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errUsage{"tasks: expected list or retry"}
	}
	switch args[0] {
	case "list":
		fs := newFlags("tasks list", stdout)
		cfgPath := configFlag(fs, getenv)
		st := fs.String("state", "", "only tasks in this `state`: pending, running, done, dead")
		limit := fs.Int("limit", 50, "at most this many `tasks`")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		switch pass.TaskState(*st) {
		case "", pass.TaskPending, pass.TaskRunning, pass.TaskDone, pass.TaskDead:
		default:
			return errUsage{fmt.Sprintf("tasks list: unknown state %q", *st)}
		}
		_, db, err := configAndStore(ctx, *cfgPath, getenv)
		if err != nil {
			return err
		}
		defer db.Close()
		tasks, err := db.ListTasks(ctx, pass.TaskState(*st), *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tKIND\tKEY\tSTATE\tATTEMPTS\tMERGED\tNEXT\tLAST ERROR")
		for _, t := range tasks {
			next := "-"
			if t.State == pass.TaskPending {
				next = t.NextAttemptAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", t.ID, t.Tenant, t.Kind, pass.RedactKey(t.DedupKey), t.State,
				t.Attempts, t.Merged, next, oneLineString(t.LastError, 80))
		}
		return tw.Flush()
	case "retry":
		fs := newFlags("tasks retry", stdout)
		cfgPath := configFlag(fs, getenv)
		allDead := fs.Bool("dead", false, "retry every dead task")
		ids, err := parseFlagsArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(ids) == 0 && !*allDead {
			return errUsage{"tasks retry: give task ids or -dead"}
		}
		for _, id := range ids {
			if strings.HasPrefix(id, "-") {
				flag, _, _ := strings.Cut(id, "=")
				return errUsage{fmt.Sprintf("tasks retry: %s after a task id: flags go before the ids", flag)}
			}
		}
		_, db, err := configAndStore(ctx, *cfgPath, getenv)
		if err != nil {
			return err
		}
		defer db.Close()
		if *allDead {
			dead, err := db.ListTasks(ctx, pass.TaskDead, 10000)
			if err != nil {
				return err
			}
			for _, t := range dead {
				ids = append(ids, t.ID)
			}
		}
		failed := 0
		for _, id := range ids {
			if err := db.RetryTask(ctx, id, time.Now()); err != nil {
				fmt.Fprintf(stdout, "%s: %s\n", id, oneLine(err))
				failed++
				continue
			}
			fmt.Fprintf(stdout, "%s: pending, due now\n", id)
		}
		if failed > 0 {
			return fmt.Errorf("tasks retry: %d of %d tasks could not be retried", failed, len(ids))
		}
		fmt.Fprintf(stdout, "%d task(s) will run within a second on a running server\n", len(ids))
		return nil
	}
	return errUsage{fmt.Sprintf("tasks: unknown command %q (list, retry)", args[0])}
}

// cmdOrders is `walletpass orders timeline -tenant T (-secret S | -file N)`,
// `walletpass orders links -tenant T -secret S` and `walletpass orders sync
// -tenant T (-secret S | -file N)`.
func cmdOrders(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "links" {
		return cmdOrderLinks(ctx, args[1:], stdout, getenv)
	}
	if len(args) > 0 && args[0] == "sync" {
		return cmdOrderSync(ctx, args[1:], stdout, getenv)
	}
	if len(args) == 0 || args[0] != "timeline" {
		return errUsage{"orders: expected timeline, links or sync"}
	}
	fs := newFlags("orders timeline", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	secret := fs.String("secret", "", "the order's secret `token`")
	file := fs.Int64("file", 0, "the SecuTix file `id`")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*secret == "") == (*file == 0) {
		return errUsage{"orders timeline: give -secret or -file"}
	}
	cfg, db, err := configAndStore(ctx, *cfgPath, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if *tenant == "" {
		*tenant = cfg.Tenants[0].ID
	}
	entries, err := db.Timeline(ctx, *tenant, *secret, *file)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("orders timeline: nothing recorded for that order")
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tKIND\tCORRELATION\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05.000"), e.Kind, e.CorrelationID, oneLineString(e.Detail, 120))
	}
	return tw.Flush()
}

// cmdGoogle prints what Google Wallet's callbacks told of each tenant's
// passes: saves, deletions, and the passes now in a wallet.
func cmdGoogle(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "counts" {
		return errUsage{"google: expected counts"}
	}
	fs := newFlags("google counts", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: every tenant with Google Wallet)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, db, err := configAndStore(ctx, *cfgPath, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tSAVES\tDELETIONS\tIN WALLETS")
	found := false
	for _, t := range cfg.Tenants {
		if (*tenant != "" && t.ID != *tenant) || !t.Google.Enabled() {
			continue
		}
		found = true
		c, err := db.GoogleWalletCounts(ctx, t.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", t.ID, c.Saves, c.Deletes, c.InWallets)
	}
	if !found {
		return fmt.Errorf("google counts: no tenant %q with a Google Wallet issuer", *tenant)
	}
	return tw.Flush()
}

func oneLineString(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// cmdOrderSync queues a sync of an order with SecuTix, as the console's
// "Sync with SecuTix now" does: for a change SecuTix sent no webhook of
// (one that closes no order, with its V1 or V2 webhooks) and the
// reconciliation does not see (it compares the tickets' states only). The
// running service does it. An order with passes is synced by its secret,
// as its webhooks are, so that the sync merges with one of theirs still
// waiting; one without (its webhooks were lost) is asked of SecuTix as
// given.
func cmdOrderSync(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlags("orders sync", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	secret := fs.String("secret", "", "the order's secret `token`")
	file := fs.Int64("file", 0, "the SecuTix file `id`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file < 0 || (*secret == "") == (*file == 0) {
		return errUsage{"orders sync: give -secret or -file with a positive file id"}
	}
	t, db, err := tenantStore(ctx, *cfgPath, *tenant, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	ref := pass.OrderRef{Tenant: t.ID, SecretToken: *secret, FileID: *file}
	var known []pass.Pass
	if *secret != "" {
		known, err = db.PassesByOrder(ctx, t.ID, *secret)
	} else {
		var ls []pass.PassListing
		ls, _, err = db.ListPasses(ctx, pass.PassQuery{Tenant: t.ID, FileID: *file, Limit: 1})
		for _, l := range ls {
			known = append(known, l.Pass)
		}
	}
	if err != nil {
		return err
	}
	what := fmt.Sprintf("file %d", *file)
	if *secret != "" {
		what = "the order"
	}
	if len(known) > 0 {
		ref.SecretToken, ref.FileID = known[0].SecretToken, known[0].FileID
		what = fmt.Sprintf("file %d", ref.FileID)
	} else {
		what += ", of which walletpass has no pass yet (a mistyped one fails in SecuTix: `walletpass tasks list -state dead`),"
	}
	cid := "cli-" + pass.NewSerialNumber()[:12]
	q, err := db.Enqueue(ctx, pass.TaskOf(ref, cid), time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "queued a sync of %s with SecuTix (task %s, %s); `walletpass orders timeline` shows its outcome under %s\n",
		what, q.TaskID, q.How, cid)
	return nil
}

// cmdOrderLinks prints an order's signed links (the Google Wallet save
// link), as the buyer would get them: only for an order with passes, so
// a mistyped secret gets an error, not links that lead nowhere.
func cmdOrderLinks(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlags("orders links", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	secret := fs.String("secret", "", "the order's secret `token`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		return errUsage{"orders links: give -secret"}
	}
	cfg, db, err := configAndStore(ctx, *cfgPath, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	t := cfg.Tenants[0]
	if *tenant != "" {
		var ok bool
		if t, ok = cfg.Tenant(*tenant); !ok {
			return fmt.Errorf("orders links: no tenant %q", *tenant)
		}
	}
	ps, err := db.PassesByOrder(ctx, t.ID, *secret)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return fmt.Errorf("orders links: tenant %s has no passes for that order secret (orders timeline -secret shows what happened to it)", t.ID)
	}
	var serials []string
	for _, p := range pass.ValidPerTicket(pass.ForOrderSecret(ps)) {
		serials = append(serials, p.SerialNumber)
	}
	links, err := linkSigner(cfg)
	if err != nil {
		return err
	}
	exp := pass.LinkExpiry(time.Now(), time.Duration(cfg.Server.LinkTTL), ps).Truncate(time.Second)
	fmt.Fprintf(stdout, "order-page\t%s\n", httpapi.OrderPageURL(t.PublicBaseURL, t.ID, *secret))
	if n := len(serials); n > 0 && n <= apple.MaxBundlePasses {
		fmt.Fprintf(stdout, "apple-bundle\t%s\n", httpapi.BundleLink(t.PublicBaseURL, links, t.ID, *secret, exp))
	} else {
		for _, serial := range serials {
			fmt.Fprintf(stdout, "apple-pass\t%s\n", httpapi.PassLink(t.PublicBaseURL, links, t.ID, serial, exp))
		}
	}
	if t.Google.Enabled() && len(serials) > 0 {
		sa, err := googleAccount(cfg, t)
		if err != nil {
			return err
		}
		ids := make([]string, len(serials))
		for i, serial := range serials {
			ids[i] = google.ObjectID(t.Google.IssuerID, t.ID, serial)
		}
		if google.SaveJWTFits(sa, ids, t.Google.Origins, time.Now()) {
			fmt.Fprintf(stdout, "google-save\t%s\n", httpapi.GoogleSaveLink(t.PublicBaseURL, links, t.ID, *secret, exp))
		} else {
			for _, serial := range serials {
				fmt.Fprintf(stdout, "google-save-ticket\t%s\n", httpapi.GoogleTicketSaveLink(t.PublicBaseURL, links, t.ID, serial, exp))
			}
		}
	}
	return nil
}
