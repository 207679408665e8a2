package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"walletpass/certs"
	"walletpass/config"
	fakeapns "walletpass/fake/apns"
	fakefcm "walletpass/fake/fcm"
	fakegoogle "walletpass/fake/google"
	fakesecutix "walletpass/fake/secutix"
	"walletpass/httpapi"
	"walletpass/outbound"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/secutix"
	"walletpass/storage"
	"walletpass/workers"
)

// App is a walletpass server as one value: NewApp builds everything that
// `walletpass serve` runs, Run serves until its context ends, Close
// releases what NewApp opened. Tests build the same value and read its
// fields (the fakes' controls, the store, the dispatcher); nothing is
// package-level, so several Apps run side by side in one process.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	// URL is how this process reaches itself (the listener's address).
	URL      string
	listener net.Listener
	// AdminURL is the admin listener's base URL (/metrics, /debug/pprof),
	// "" when server.adminListen is off.
	AdminURL      string
	adminListener net.Listener
	admin         *http.Server
	metrics       *metrics

	// Stores and signing.
	DB         *storage.DB
	Blobs      pass.BlobStore
	Files      *apple.Files // the stored passes, completed for download
	Registry   *apple.Registry
	Identities map[string]*certs.Identity

	// Adapters, one per tenant.
	SecuTix secutix.Clients
	APNs    apnsPushers
	FCM     appNotifiers
	Google  *googleSide

	// The development fakes (nil or empty in production).
	Sandbox *fakesecutix.Sandbox
	Fakes   devFakes

	// The domain's services and the workers that run them.
	Passes     *pass.Service
	Syncer     *pass.Syncer
	Reconciler *pass.Reconciler
	// Performances rewrites every pass of a performance (notices,
	// catalogue changes); Announcer takes the organisers' notices.
	Performances *pass.PerformanceSyncer
	Announcer    *pass.Announcer
	Eraser       *pass.Eraser
	Pushes       *pass.PushService
	Notices      *pass.AppNoticeService
	Inbox        *pass.Inbox
	Dispatcher   *workers.Dispatcher
	Server       *http.Server

	closers  []func()    // in the order to run them
	draining atomic.Bool // set at shutdown: readiness answers 503
}

// healthChecks are what readiness asks: the database, and the pass file
// store when it can tell (a bucket answers a HEAD, a directory exists).
func (a *App) healthChecks() []httpapi.HealthCheck {
	checks := []httpapi.HealthCheck{{What: "the database", Pinger: a.DB}}
	if p, ok := a.Blobs.(httpapi.Pinger); ok {
		checks = append(checks, httpapi.HealthCheck{What: "the pass file store", Pinger: p})
	}
	return checks
}

// NewApp builds a server for cfg: it listens on cfg.Server.Listen (in
// development, port 0 points the public URLs at the port chosen), opens
// the store and the blob store, loads the templates and certificates,
// builds the adapters and the fakes the configuration asks for, and wires
// the domain's services, the dispatcher and the HTTP handler. Nothing runs
// until Run. On error, what was opened is closed again.
func NewApp(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, Log: log}
	if err := a.build(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// build does NewApp's work; what it opened is in a.closers.
func (a *App) build(ctx context.Context) error {
	cfg, log := a.Config, a.Log
	var err error
	if a.listener, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	a.closers = append(a.closers, func() { a.listener.Close() })
	useActualPort(cfg, a.listener.Addr().String())
	a.URL = "http://" + a.listener.Addr().String()
	if a.Registry, a.Identities, err = buildIssuers(cfg, log); err != nil {
		return err
	}
	if a.DB, err = openStore(ctx, cfg); err != nil {
		return err
	}
	a.closers = append(a.closers, func() { a.DB.Close() })
	a.metrics = newMetrics(a.DB, a.Identities)
	if l := cfg.Server.AdminListen; l != config.AdminOff {
		if a.adminListener, err = net.Listen("tcp", l); err != nil {
			return fmt.Errorf("listen on %s (server.adminListen): %w", l, err)
		}
		a.closers = append(a.closers, func() { a.adminListener.Close() })
		a.AdminURL = "http://" + a.adminListener.Addr().String()
		a.admin = &http.Server{Handler: a.metrics.adminHandler(), ReadHeaderTimeout: 10 * time.Second,
			// A CPU profile or trace takes as long as asked (?seconds=).
			WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	}
	if a.Blobs, err = openBlobs(ctx, cfg); err != nil {
		return err
	}
	if a.Files, err = passFiles(ctx, a.Blobs, a.DB, a.Registry); err != nil {
		return err
	}
	if err := a.buildAdapters(ctx); err != nil {
		return err
	}
	a.buildServices()
	return a.buildServer()
}

// buildAdapters makes each tenant's SecuTix client (the built-in sandbox
// for a development tenant without a SecuTix URL), APNs and FCM clients
// and Google Wallet side, with the development fakes they talk to.
func (a *App) buildAdapters(ctx context.Context) error {
	cfg := a.Config
	var err error
	a.APNs, a.Fakes.APNs, err = buildPushers(cfg, a.Identities)
	if a.Fakes.APNs != nil {
		a.closers = append(a.closers, a.Fakes.APNs.Close)
	}
	if err != nil {
		return err
	}
	a.closers = append(a.closers, a.APNs.close)
	quotas := newSecuTixQuotas(a.DB, cfg.Storage.PostgresURL != "", secutix.DefaultQuotaWindow,
		a.Log.With(slog.String("component", "secutix")))
	a.SecuTix, a.Sandbox, err = buildSecuTix(cfg, a.URL, quotas, a.DB, a.Log, a.metrics)
	if a.Sandbox != nil { // made before a later tenant failed: it is closed too
		a.closers = append(a.closers, a.Sandbox.Close)
	}
	if err != nil {
		return err
	}
	if a.FCM, a.Fakes.FCM, a.Fakes.fcmHandler, err = buildAppNotifiers(ctx, cfg, a.URL); err != nil {
		return err
	}
	a.closers = append(a.closers, a.FCM.close)
	if a.Google, err = buildGoogle(cfg, a.DB, a.Registry, a.URL, a.metrics); err != nil {
		return err
	}
	a.Fakes.Google = a.Google.fakes
	if len(a.Google.syncer.Tenants) > 0 {
		for name, gaps := range googleImageGaps(a.Registry) {
			for _, g := range gaps {
				a.Log.Warn("template", slog.String("template", name), slog.String("problem", g))
			}
		}
	}
	return nil
}

// buildSecuTix makes a SecuTix client per tenant, each with its quota from
// quotas; the one tenant without a SecuTix URL in development talks to the
// built-in sandbox, served by this process under /sandbox/, which sends
// its webhooks to selfURL. The clients share each institution's catalogue
// through catalogs.
func buildSecuTix(cfg *config.Config, selfURL string, quotas *secutixQuotas, catalogs secutix.CatalogStore, log *slog.Logger, m *metrics) (secutix.Clients, *fakesecutix.Sandbox, error) {
	clients := secutix.Clients{}
	var sb *fakesecutix.Sandbox
	for _, t := range cfg.Tenants {
		sx := t.SecuTix
		base, inst := sx.BaseURL, sx.Institution
		if sx.UsesSandbox() {
			if sb != nil {
				return nil, sb, fmt.Errorf("tenant %s: only one tenant can use the built-in sandbox; give the others a secutix.baseURL", t.ID)
			}
			w := t.Webhooks
			headers := map[string]string{}
			switch w.Auth {
			case "basic":
				headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(w.Username+":"+w.Password))
			case "apikey":
				headers[w.Header] = w.Key
			}
			var err error
			if inst == "" {
				inst = t.ID // the sandbox's codes start with it; the JWT's sub matches it in any case
			}
			sb, err = fakesecutix.New(fakesecutix.Config{
				Tenant: t.ID, Institution: inst, Operator: sx.Operator, Partner: sx.Partner, Secret: sx.Secret,
				WebhookURL:     selfURL + "/api/" + t.ID + "/webhooks/listeners/secutix/orders",
				WebhookHeaders: headers, QuotaPerMinute: sx.RequestsPerMinute, Log: log,
				// In development a rescheduled demo show should reach the
				// passes within a minute, not SecuTix's ten.
				CatalogInterval: cmp.Or(time.Duration(sx.CatalogInterval), devCatalogInterval),
				// Its orders outlive a restart, as the passes made of them do.
				StateFile: filepath.Join(cfg.Storage.DataDir, "sandbox-"+t.ID+".json"),
			})
			if err != nil {
				return nil, nil, fmt.Errorf("tenant %s: sandbox: %w", t.ID, err)
			}
			base = selfURL + "/sandbox/secutix"
		}
		scfg := secutixConfig(t, base, inst)
		scfg.Log, scfg.Catalogs = log, catalogs
		scfg.Observe, scfg.QuotaWait = m.secutixHooks(t.ID)
		if every := time.Duration(sx.CatalogInterval); every > 0 {
			scfg.CatalogInterval = every
		}
		if sx.UsesSandbox() {
			scfg.CatalogInterval = cmp.Or(time.Duration(sx.CatalogInterval), devCatalogInterval)
			scfg.SetupCheckInterval = scfg.CatalogInterval / 6
		}
		var err error
		if scfg.Quota, err = quotas.quota(scfg.RequestsPerMinute, time.Duration(sx.QuotaWindow)); err != nil {
			return nil, sb, fmt.Errorf("tenant %s: secutix: %w", t.ID, err)
		}
		cl, err := secutix.New(scfg)
		if err != nil {
			return nil, sb, fmt.Errorf("tenant %s: secutix: %w", t.ID, err)
		}
		clients[t.ID] = cl
	}
	return clients, sb, nil
}

// devCatalogInterval is the built-in sandbox's limit on catalogue reads.
const devCatalogInterval = time.Minute

// secutixQuotas hands the tenants' SecuTix clients their quota. On
// PostgreSQL it is the database's, which every instance shares; on SQLite,
// where one process owns the database, one LocalQuota for the process.
// The quota's keys name the institution and the service, so tenants on
// one institution count together and other institutions apart. Tenants
// with the same requestsPerMinute share one quota value; a tenant with
// another limit gets its own over the same keys (give the tenants of one
// institution the same limit).
type secutixQuotas struct {
	db        *storage.DB
	postgres  bool
	window    time.Duration
	log       *slog.Logger
	bySetting map[quotaSetting]secutix.Quota
}

var _ secutix.Quota = (*storage.SecuTixQuota)(nil)

// newSecuTixQuotas returns the quotas of db (PostgreSQL when postgres is
// true), each counting its calls over window.
func newSecuTixQuotas(db *storage.DB, postgres bool, window time.Duration, log *slog.Logger) *secutixQuotas {
	return &secutixQuotas{db: db, postgres: postgres, window: window, log: log, bySetting: map[quotaSetting]secutix.Quota{}}
}

// quota returns the quota of limit calls per window and key; 0 means
// SecuTix's 60.
func (qs *secutixQuotas) quota(limit int, window time.Duration) (secutix.Quota, error) {
	if limit <= 0 {
		limit = secutix.DefaultRequestsPerMinute
	}
	if window <= 0 {
		window = qs.window
	}
	k := quotaSetting{limit, window}
	if q, ok := qs.bySetting[k]; ok {
		return q, nil
	}
	var q secutix.Quota = secutix.NewLocalQuota(limit, window, qs.log)
	if qs.postgres {
		pq, err := qs.db.SecuTixQuota(limit, window, qs.log)
		if err != nil {
			return nil, err
		}
		q = pq
	}
	qs.bySetting[k] = q
	return q, nil
}

// quotaSetting is a quota's limit and window.
type quotaSetting struct {
	limit  int
	window time.Duration
}

// secutixConfig is the client configuration of tenant t, talking to base
// as institution inst (both given: the built-in sandbox changes them).
func secutixConfig(t config.Tenant, base, inst string) secutix.Config {
	sx := t.SecuTix
	return secutix.Config{
		Tenant: t.ID, BaseURL: base, Auth: sx.Auth, AuthPath: sx.AuthPath, JWTMillis: sx.JWTTimes == "milliseconds", Institution: inst,
		Operator: sx.Operator, Partner: sx.Partner, Secret: sx.Secret,
		RequestsPerMinute: sx.RequestsPerMinute, DefaultEventKind: pass.EventKind(sx.EventKind), Locale: sx.Locale,
		Symbology: pass.Symbology(sx.Symbology),
		Fields:    sx.Fields, Granularity: sx.Granularity, ContactLookup: sx.ContactLookup, ContactDetails: sx.ContactDetails,
		CatalogScope:  sx.CatalogScope,
		SeasonTickets: seasonTickets(sx.SeasonTickets),
		// 0 leaves the client's defaults.
		MaxResponseBytes: int64(sx.MaxResponseMiB) << 20, CatalogMaxBytes: int64(sx.CatalogMaxResponseMiB) << 20,
	}
}

// seasonTickets is a tenant's season tickets as the SecuTix client takes
// them: product code → the product codes it covers.
func seasonTickets(list []config.SeasonTicket) map[string][]string {
	if len(list) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, s := range list {
		out[s.ProductCode] = append(out[s.ProductCode], s.Covers...)
	}
	return out
}

// reEntry names the tenants whose tickets admit again after a scan
// (apple.reEntry, which Google objects follow too).
func reEntry(cfg *config.Config) map[string]bool {
	out := map[string]bool{}
	for _, t := range cfg.Tenants {
		if t.Apple.ReEntry {
			out[t.ID] = true
		}
	}
	return out
}

// policies is each tenant's follow-up policy, from its configuration and
// the adapters it has.
func (a *App) policies() pass.Policies {
	pol := pass.Policies{}
	for _, t := range a.Config.Tenants {
		_, app := a.FCM[t.ID]
		pol[t.ID] = pass.Policy{AppNotices: app, Google: t.Google.Enabled(), GoogleOnPayment: t.Google.Enabled() && t.Google.InsertOnPayment,
			Events: true}
	}
	return pol
}

// templateChoice is how a tenant's tickets get their template.
func templateChoice(t config.Tenant, exists func(string) bool) pass.TemplateChoice {
	c := pass.TemplateChoice{Variable: t.TemplateVariable, Default: t.DefaultTemplate, Exists: exists}
	if c.Variable == "off" {
		c.Variable = ""
	}
	for _, r := range t.TemplateRules {
		c.Rules = append(c.Rules, pass.TemplateRule{Template: r.Template, ProductCode: r.ProductCode,
			ProductFamily: r.ProductFamily, EventID: r.EventID, PerformanceID: r.PerformanceID})
	}
	return c
}

// buildServices wires the domain's services over the stores and adapters,
// and the dispatcher that runs their tasks.
func (a *App) buildServices() {
	cfg, db, log := a.Config, a.DB, a.Log
	pol := a.policies()
	templates := map[string]pass.TemplateChoice{}
	exists := func(name string) bool { _, err := a.Registry.Template(name); return err == nil }
	for _, t := range cfg.Tenants {
		templates[t.ID] = templateChoice(t, exists)
	}
	locales := map[string]string{}
	for _, t := range cfg.Tenants {
		locales[t.ID] = cmp.Or(t.SecuTix.Locale, "en")
	}
	a.Passes = &pass.Service{Passes: db, Packager: countedPackager{Packager: a.Registry, m: a.metrics}, Policies: pol,
		Notices: db, Locales: locales, Erasures: db}
	a.Eraser = newEraser(cfg, a.Passes, db, a.Blobs, log)
	a.Performances = &pass.PerformanceSyncer{Service: a.Passes, Passes: db, Notices: db, Catalogue: a.SecuTix, Queue: db, Timeline: db,
		Log: log.With(slog.String("component", "performances"))}
	a.Announcer = &pass.Announcer{Notices: db, Locales: locales}
	a.Syncer = &pass.Syncer{Orders: a.SecuTix, Service: a.Passes, Hints: db, Timeline: db, Log: log, Templates: templates}
	a.Pushes = &pass.PushService{Devices: db, Pusher: a.metrics.pushers(a.APNs.pushers()), Log: log.With(slog.String("component", "apns")), Journal: db}
	a.Notices = &pass.AppNoticeService{Store: db, Notifier: a.metrics.notifiers(a.FCM.notifiers()), Policies: pol, Log: log,
		PageURL: func(tenant, secret string) string {
			t, _ := cfg.Tenant(tenant)
			return httpapi.OrderPageURL(t.PublicBaseURL, tenant, secret)
		}}
	a.Inbox = &pass.Inbox{Queue: db}
	gs := a.Google.syncer
	gs.Queue, gs.Log, gs.Notices = db, log.With(slog.String("component", "google")), db
	for id, tn := range gs.Tenants {
		tn.Locale = locales[id]
	}

	// The certificates are checked at start and then twice a day, by one
	// instance: an expiring or expired one is logged for the operator.
	jobs := []workers.Job{{Name: "certificate-check", Every: 12 * time.Hour, Run: func(context.Context) error {
		checkCertificates(cfg, a.Identities, log, time.Now())
		return nil
	}}}
	for _, t := range cfg.Tenants {
		if t.Google.Enabled() && t.Google.ExpireAfterEvent {
			jobs = append(jobs, workers.Job{Name: "google-expire", Every: 10 * time.Minute, Run: func(ctx context.Context) error {
				_, err := gs.Expire(ctx)
				return err
			}})
			break
		}
	}
	// When a tenant's syncs wait for SecuTix's quota, say how long the
	// backlog will take (one call per sync).
	jobs = append(jobs, workers.Job{Name: "secutix-backlog", Every: time.Minute, Run: func(ctx context.Context) error {
		for _, t := range cfg.Tenants {
			n, err := db.CountTasks(ctx, t.ID, pass.TaskSyncOrder, "")
			if err != nil {
				return err
			}
			rpm := cmp.Or(t.SecuTix.RequestsPerMinute, secutix.DefaultRequestsPerMinute)
			if n > rpm {
				log.Info("secutix backlog", slog.String("tenant", t.ID), slog.Int("syncs", n),
					slog.Duration("drainsIn", secutix.DrainTime(n, rpm, time.Duration(t.SecuTix.QuotaWindow))))
			}
		}
		return nil
	}})
	// Holder data is erased the given number of days after each event,
	// by one instance.
	for _, t := range cfg.Tenants {
		if days := t.HolderDataDays; days > 0 {
			jobs = append(jobs, workers.Job{Name: "holder-retention-" + t.ID, Every: time.Hour, Run: func(ctx context.Context) error {
				_, err := a.Eraser.Retain(ctx, t.ID, days)
				return err
			}})
		}
	}
	// Season tickets: the event under way becomes the active one of each
	// pass that lists several (iOS 26), by one instance.
	jobs = append(jobs, workers.Job{Name: "upcoming-events", Every: 15 * time.Minute, Run: func(ctx context.Context) error {
		var errs []error
		for _, t := range cfg.Tenants {
			if _, err := a.Passes.RefreshUpcoming(ctx, db, t.ID); err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
			}
		}
		return errors.Join(errs...)
	}})
	// PostgreSQL gets the first statistics of a new database's tables
	// within seconds of their first few hundred rows, by one instance:
	// until then it plans some per-pass lookups as if the tables were
	// empty (storage.(*DB).FirstStatistics).
	if cfg.Storage.PostgresURL != "" {
		jobs = append(jobs, workers.Job{Name: "first-statistics", Every: 5 * time.Second, Run: func(ctx context.Context) error {
			tables, err := db.FirstStatistics(ctx)
			if len(tables) > 0 {
				log.Info("first statistics", slog.Any("tables", tables))
			}
			return err
		}})
	}
	w := cfg.Workers
	// Reconciliation compares the passes of every running performance with
	// SecuTix's ticket list (a few calls per performance), by one instance.
	tenants := make([]string, 0, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		tenants = append(tenants, t.ID)
	}
	a.Reconciler = &pass.Reconciler{Tickets: a.SecuTix, Passes: db, Queue: db, Tenants: tenants,
		Log: log.With(slog.String("component", "reconcile")), Performances: a.Performances}
	if every := time.Duration(w.ReconcileEvery); every >= 0 {
		jobs = append(jobs, workers.Job{Name: "reconcile", Every: cmp.Or(every, 15*time.Minute), Run: a.Reconciler.Run})
	}
	installStatus := &pass.InstallStatus{Store: db, SecuTix: a.SecuTix, Keys: map[string]string{}, Queue: db}
	for _, t := range cfg.Tenants {
		installStatus.Keys[t.ID] = t.SecuTix.InstallStatusKey
	}
	fanout := &pass.Fanout{Store: db, InstallStatus: installStatus}
	a.Dispatcher = workers.New(workers.Config{
		Workers: w.Count, MaxAttempts: w.MaxAttempts, MaxBackoff: time.Duration(w.MaxBackoff), Lease: time.Duration(w.Lease),
		Reconcile: -1, RetentionAge: time.Duration(w.Retention), Jobs: jobs,
		// The periodic jobs run on one instance; every task written, by
		// this process or (PostgreSQL) another instance, wakes the
		// dispatcher through the store.
		Elector: db.Elector("walletpass-jobs"), Listen: db.ListenTasks,
		OnAttempt: a.metrics.taskAttempt, OnJob: a.metrics.jobRun, OnLeader: a.metrics.leading,
		// A webhook delivery's failing streams wait on their own
		// (pass.Deliverer); the task itself fails only when the store
		// does: backoff up to an hour, 200 attempts. Messages that arrive
		// while it runs go out pass.DeliveryGap later.
		// An event's fan-out (its messages, stored once) fails only when
		// the store does, and must not die before the deliveries would:
		// the same days of retries, so that no event is lost.
		Kinds: map[string]workers.KindPolicy{
			pass.TaskWebhookDelivery: {MaxAttempts: 200, MaxBackoff: time.Hour, RerunDelay: pass.DeliveryGap},
			pass.TaskEventFanout:     {MaxAttempts: 200, MaxBackoff: time.Hour},
			pass.TaskEventBatch:      {MaxAttempts: 200, MaxBackoff: time.Hour},
		},
	}, db, db, workers.Handlers(
		workers.Handle[pass.OrderRef](a.Syncer),
		workers.Handle[pass.PushArgs](a.Pushes),
		workers.Handle[pass.GoogleArgs](gs),
		workers.Handle[pass.PerformanceArgs](a.Performances),
		workers.Handle(workers.WorkFunc[pass.PushPerformanceArgs](func(ctx context.Context, p pass.PushPerformanceArgs, _ string) error {
			return a.Pushes.PushPerformance(ctx, p)
		})),
		workers.Handle(workers.WorkFunc[pass.GooglePerformanceArgs](gs.SyncPerformance)),
		workers.Handle[pass.AppNoticeArgs](a.Notices),
		workers.Handle[pass.EventArgs](fanout),
		workers.Handle(workers.WorkFunc[pass.EventBatchArgs](fanout.WorkBatch)),
		workers.Handle[pass.InstallStatusArgs](installStatus),
		workers.Handle[pass.DeliveryArgs](&pass.Deliverer{Store: db, Sender: outbound.NewSender(cfg.Server.Development),
			Log: log.With(slog.String("component", "webhooks"))}),
	), log.With(slog.String("component", "workers")))
	a.metrics.knownJobs(a.Dispatcher.JobNames())
}

// buildServer makes the HTTP server: the route table of package httpapi
// over the services, grouped by feature.
func (a *App) buildServer() error {
	cfg, db, reg := a.Config, a.DB, a.Registry
	var tenants []httpapi.TenantInfo
	webhookAuth := map[string]httpapi.WebhookAuth{}
	for _, t := range cfg.Tenants {
		ti := httpapi.TenantInfo{ID: t.ID, Name: t.Name, DefaultTemplate: t.DefaultTemplate, PublicBaseURL: t.PublicBaseURL,
			Google: t.Google.Enabled(), Locale: t.SecuTix.Locale}
		if tpl, err := reg.Template(t.DefaultTemplate); err == nil {
			ti.Background, ti.Foreground = tpl.HexColour("backgroundColor"), tpl.HexColour("foregroundColor")
		}
		tenants = append(tenants, ti)
		w := t.Webhooks
		webhookAuth[t.ID] = httpapi.WebhookAuth{Mode: w.Auth, Username: w.Username, Password: w.Password, Header: w.Header, Key: w.Key}
	}
	links, err := linkSigner(cfg)
	if err != nil {
		return err
	}
	tickets, devIssuer, err := buildTicketsAPI(cfg, db, a.Syncer)
	if err != nil {
		return err
	}
	deps := httpapi.Deps{
		Log: a.Log, Tenants: tenants, Health: a.healthChecks(), Draining: a.draining.Load, Metrics: a.metrics,
		Scans: &pass.Gate{Store: db, Inbox: a.Inbox, Events: true, Rotating: a.Google.rotating(), ReEntry: reEntry(cfg)}, Notices: a.Announcer, Erasures: a.Eraser,
		Subscriptions: httpapi.SubscriptionDeps{Store: db, NewSecret: outbound.NewSecret,
			CheckEndpoint: func(u string) error { return outbound.CheckEndpoint(u, cfg.Server.Development) }},
		AccessLog: cfg.Server.AccessLog, TrustedProxies: cfg.Server.TrustedProxies,
		Passes: db, Files: a.Files,
		TemplateFile: func(name, file string) ([]byte, bool) {
			tpl, err := reg.Template(name)
			if err != nil {
				return nil, false
			}
			return tpl.File(file)
		},
		Webhooks: httpapi.WebhookDeps{Inbox: a.Inbox, Auth: webhookAuth},
		Apple:    httpapi.AppleDeps{Devices: db, Timeline: db, Announce: true},
		Links:    httpapi.LinkDeps{Signer: links, TTL: time.Duration(cfg.Server.LinkTTL)},
		Tickets:  tickets,
		App:      httpapi.AppDeps{Installations: db, Notices: a.Notices},
		Preview:  httpapi.PreviewDeps{Enabled: cfg.Server.Development || cfg.Server.Preview, Packager: reg},
		Dev:      httpapi.DevDeps{FCM: a.Fakes.fcmHandler, Google: a.Google.dev},
	}
	if len(a.Google.syncer.Tenants) > 0 {
		deps.Google = httpapi.GoogleDeps{Save: a.Google.syncer, Callbacks: a.Google.callbacks}
	}
	if a.Sandbox != nil {
		deps.Dev.Sandbox = a.Sandbox.Handler()
	}
	if devIssuer != nil {
		deps.Dev.OAuth = devIssuer.Handler()
	}
	if deps.Console, deps.Dev.OIDC, err = buildConsole(cfg, a, links); err != nil {
		return err
	}
	a.Server = &http.Server{
		Handler:           httpapi.New(deps),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	return nil
}

// clockAdvice is the warning a clock offset from the database's calls for
// (see storage.DB.ClockOffset), or "": the instances compare the times
// they stamp within pass.ReadSkew, so each must be within half of it of
// the database server's clock, which they share.
func clockAdvice(offset, uncertainty time.Duration, err error) string {
	if err != nil || offset.Abs()-uncertainty <= pass.ReadSkew/2 {
		return ""
	}
	return fmt.Sprintf("this machine's clock is %s off the database server's (± %s): instances compare the times they stamp within %s, so keep every instance's clock and the server's synchronised (NTP)",
		offset.Round(time.Millisecond), uncertainty.Round(time.Millisecond), pass.ReadSkew)
}

// Run starts the dispatcher and serves HTTP until ctx ends or the server
// fails, then shuts down in order: stop accepting HTTP (waiting up to 30 s
// for requests in flight), stop the sandbox's webhook deliveries, drain the
// running tasks. Close releases the rest.
func (a *App) Run(ctx context.Context) error {
	if err := a.Dispatcher.Start(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Server.Serve(a.listener) }()
	if a.admin != nil {
		go a.admin.Serve(a.adminListener) // ends at Shutdown; its failures leave the service running
	}
	v := buildVersion()
	a.Log.Info("serving", slog.String("listen", a.listener.Addr().String()), slog.Bool("development", a.Config.Server.Development),
		slog.String("version", v.Version), slog.String("revision", v.Revision), slog.String("go", v.GoVersion))
	for _, advice := range a.Config.Advisories() {
		a.Log.Warn("configuration", slog.String("advice", advice))
	}
	for _, name := range a.Config.UnknownEnv(os.Environ()) {
		a.Log.Warn("configuration", slog.String("advice", name+" is set but is no walletpass setting (a misspelt name, or a tenant "+
			"that is not configured): it is ignored; walletpass.example.yaml lists the variables"))
	}
	checkCtx, cancelCheck := context.WithTimeout(ctx, 5*time.Second)
	if advice := clockAdvice(a.DB.ClockOffset(checkCtx)); advice != "" {
		a.Log.Warn("clock", slog.String("advice", advice))
	}
	cancelCheck()

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		a.draining.Store(true)
		if d := time.Duration(a.Config.Server.DrainDelay); d > 0 {
			a.Log.Info("draining", slog.Duration("delay", d))
			select {
			case serveErr = <-errc:
			case <-time.After(d):
			}
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Server.Shutdown(shutdownCtx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("shutdown: %w", err)
	}
	if a.admin != nil {
		a.admin.Shutdown(shutdownCtx)
	}
	if a.Sandbox != nil {
		a.Sandbox.Close()
	}
	if err := a.Dispatcher.Stop(shutdownCtx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("stop workers: %w", err)
	}
	if serveErr == nil {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	a.Log.Info("stopped")
	return nil
}

// Close releases what NewApp opened, in reverse order: the clients and
// fakes, then the store and the listener. Call it after Run returns (or
// instead of Run). It may be called more than once.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// checkCertificates logs each tenant's certificate problems (expiry
// within 30 days, expired, wrong pass type or team).
func checkCertificates(cfg *config.Config, ids map[string]*certs.Identity, log *slog.Logger, now time.Time) int {
	n := 0
	for _, t := range cfg.Tenants {
		id, ok := ids[t.ID]
		if !ok {
			continue
		}
		for _, p := range checkIdentity(cfg, t, id, now) {
			n++
			log.Warn("certificate", slog.String("tenant", t.ID), slog.String("severity", p.Severity.String()), slog.String("problem", p.Message))
		}
	}
	return n
}

// devFakes are the development fakes this process serves, for the tests'
// eyes and controls: APNs (its own TLS listener), FCM and Google Wallet per
// tenant (served under /dev/fcm/ and /dev/google/).
type devFakes struct {
	APNs   *fakeapns.Server
	FCM    map[string]*fakefcm.Handler
	Google map[string]*fakegoogle.Server

	fcmHandler http.Handler
}
