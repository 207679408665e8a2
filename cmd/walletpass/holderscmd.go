package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"walletpass/config"
	"walletpass/pass"
	"walletpass/storage"
)

// newEraser is the erasure of holder data over a service's stores.
func newEraser(cfg *config.Config, svc *pass.Service, db *storage.DB, blobs pass.BlobStore, log *slog.Logger) *pass.Eraser {
	del, _ := blobs.(pass.BlobDeleter) // both stores delete
	noEmail := map[string]bool{}
	for _, t := range cfg.Tenants {
		noEmail[t.ID] = strings.TrimSpace(t.SecuTix.Fields["holderEmail"]) == ""
	}
	return &pass.Eraser{Service: svc, Store: db, Blobs: del, Log: log.With(slog.String("component", "erasure")), NoEmail: noEmail}
}

// cmdHolders is `walletpass holders erase (-file ID | -email ADDRESS)
// [-tenant ID]`: the holder data of an order, or of a holder on every
// order, leaves the passes (signed again; the running service pushes them),
// their older files, the timelines and the app registrations, and stays
// out of later syncs. The address is not printed back.
func cmdHolders(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "erase" {
		return errUsage{"holders: expected erase"}
	}
	fs := newFlags("holders erase", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	fileID := fs.Int64("file", 0, "the order's SecuTix file `id`")
	email := fs.String("email", "", "the holder's e-mail `address` (every order)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*fileID == 0) == (*email == "") {
		return errUsage{"holders erase: give -file ID or -email ADDRESS"}
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	t, err := pickTenant(cfg, *tenant)
	if err != nil {
		return err
	}
	db, err := openExistingStore(ctx, cfg) // first: nothing made for a store that is not there
	if err != nil {
		return err
	}
	defer db.Close()
	log := newLogger(stderr, cfg.Server.LogLevel)
	reg, _, err := buildIssuers(cfg, log)
	if err != nil {
		return err
	}
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := passFiles(ctx, blobs, db, reg); err != nil {
		return err
	}
	// The follow-ups (pushes, Google Wallet, webhooks) go to the queue,
	// which the running service works.
	pol := pass.Policies{}
	for _, tn := range cfg.Tenants {
		pol[tn.ID] = pass.Policy{Google: tn.Google.Enabled(), Events: true}
	}
	svc := &pass.Service{Passes: db, Packager: reg, Policies: pol, Notices: db, Erasures: db}
	rep, err := newEraser(cfg, svc, db, blobs, log).Erase(ctx, pass.ErasureRequest{Tenant: t.ID, FileID: *fileID, Email: *email, Why: "request"})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "erased: %d passes signed again without holder data, %d older pass files deleted, %d timeline entries scrubbed\n",
		rep.Passes, rep.Files, rep.Timeline)
	if rep.Passes == 0 && rep.Files == 0 && rep.Timeline == 0 {
		// A mistyped file id or address looks the same: say so.
		fmt.Fprintln(stdout, "nothing held that holder data now (check the file id or address); the erasure is recorded, so later syncs leave it out")
	}
	return nil
}

// cmdPerformances is `walletpass performances sync (-id ID | -all)
// [-tenant ID]`: queues the rewrite of every pass of a performance with
// what SecuTix's catalogue says of it now (and its newest notice), as the
// reconciliation does when it sees a change; the running service does it.
// -all queues it for every performance with passes that has not ended:
// after a certificate's renewal, every such pass is signed again by the
// new one (a rewrite signs a pass whose signer changed, and nothing
// else re-signs an unchanged pass).
func cmdPerformances(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "sync" {
		return errUsage{"performances: expected sync"}
	}
	fs := newFlags("performances sync", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	id := fs.Int64("id", 0, "SecuTix's performance `id`")
	all := fs.Bool("all", false, "every performance with passes that has not ended (after a certificate's renewal)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *id < 0 || (*id == 0) == !*all {
		return errUsage{"performances sync: give -id with a positive performance id, or -all"}
	}
	t, db, err := tenantStore(ctx, *cfgPath, *tenant, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	ids := []int64{*id}
	if *all {
		if ids, err = db.PerformancesEndingAfter(ctx, t.ID, time.Now()); err != nil {
			return err
		}
	}
	for _, perf := range ids {
		task := pass.TaskOf(pass.PerformanceArgs{Tenant: t.ID, PerformanceID: perf, Why: "operator"}, "")
		q, err := db.Enqueue(ctx, task, time.Now())
		if err != nil {
			return err
		}
		if !*all {
			fmt.Fprintf(stdout, "queued the rewrite of performance %d (task %s, %s)\n", perf, q.TaskID, q.How)
		}
	}
	if *all {
		fmt.Fprintf(stdout, "queued the rewrite of %d performance(s) with passes that have not ended\n", len(ids))
	}
	return nil
}
