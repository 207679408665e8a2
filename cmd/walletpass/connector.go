package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"walletpass/certs"
	"walletpass/config"
	fakeapns "walletpass/fake/apns"
	fakefcm "walletpass/fake/fcm"
	fakesecutix "walletpass/fake/secutix"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/secutix"
	"walletpass/storage"
	"walletpass/workers"
)

// connector is the SecuTix side of a running server: the clients, the
// built-in sandbox (development), the syncer and the dispatcher.
type connector struct {
	sandbox    *fakesecutix.Sandbox
	dispatcher *workers.Dispatcher
	webhooks   map[string]httpapi.WebhookAuth
	pushers    apnsPushers
	fakeAPNs   *fakeapns.Server // development only
	google     *googleSide
	syncer     *pass.Syncer
	apps       appNotifiers
	fakeFCM    map[string]*fakefcm.Handler // development only
	devFCM     http.Handler
}

// buildConnector wires the SecuTix connector. selfURL is how this process
// reaches itself (for the sandbox's API and webhooks).
func buildConnector(cfg *config.Config, db *storage.DB, blobs pass.BlobStore, reg *apple.Registry, ids map[string]*certs.Identity,
	log *slog.Logger, selfURL string) (*connector, error) {
	c := &connector{webhooks: map[string]httpapi.WebhookAuth{}}
	var err error
	if c.pushers, c.fakeAPNs, err = buildPushers(cfg, ids); err != nil {
		if c.fakeAPNs != nil {
			c.fakeAPNs.Close()
		}
		return nil, err
	}
	clients := secutix.Clients{}
	for _, t := range cfg.Tenants {
		w := t.Webhooks
		c.webhooks[t.ID] = httpapi.WebhookAuth{Mode: w.Auth, Username: w.Username, Password: w.Password, Header: w.Header, Key: w.Key}
		sx := t.SecuTix
		base := sx.BaseURL
		if sx.UsesSandbox() {
			if c.sandbox != nil {
				return nil, fmt.Errorf("tenant %s: only one tenant can use the built-in sandbox; give the others a secutix.baseURL", t.ID)
			}
			headers := map[string]string{}
			switch w.Auth {
			case "basic":
				headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(w.Username+":"+w.Password))
			case "apikey":
				headers[w.Header] = w.Key
			}
			sb, err := fakesecutix.New(fakesecutix.Config{
				Tenant: t.ID, Institution: t.ID, Operator: sx.Operator, Partner: sx.Partner, Secret: sx.Secret,
				WebhookURL:     selfURL + "/api/" + t.ID + "/webhooks/listeners/secutix/orders",
				WebhookHeaders: headers, QuotaPerMinute: sx.RequestsPerMinute, Log: log,
			})
			if err != nil {
				return nil, fmt.Errorf("tenant %s: sandbox: %w", t.ID, err)
			}
			c.sandbox = sb
			base = selfURL + "/sandbox/secutix"
		}
		cl, err := secutix.New(secutix.Config{
			Tenant: t.ID, BaseURL: base, Operator: sx.Operator, Partner: sx.Partner, Secret: sx.Secret,
			RequestsPerMinute: sx.RequestsPerMinute, DefaultEventKind: pass.EventKind(sx.EventKind), Locale: sx.Locale,
		})
		if err != nil {
			return nil, fmt.Errorf("tenant %s: secutix: %w", t.ID, err)
		}
		clients[t.ID] = cl
	}
	templates := map[string]string{}
	for _, t := range cfg.Tenants {
		templates[t.ID] = t.DefaultTemplate
	}
	svc := &pass.Service{Passes: db, Blobs: blobs, Packager: reg}
	var wake func()
	syncer := &pass.Syncer{Orders: clients, Service: svc, Queue: db, Timeline: db, Log: log,
		Template: func(tenant string) string { return templates[tenant] },
		// A new pass version was stored with its push task (one push per
		// device; changes close together coalesce): run it now.
		Changed: func(context.Context, *pass.Pass) { wake() }}
	if c.google, err = buildGoogle(cfg, db, reg, selfURL); err != nil {
		return nil, err
	}
	c.google.syncer.Log = log.With(slog.String("component", "google"))
	// The certificates are checked at start and then twice a day, by one
	// instance: an expiring or expired one is logged for the operator.
	jobs := []workers.Job{{Name: "certificate-check", Every: 12 * time.Hour, Run: func(context.Context) error {
		checkCertificates(cfg, ids, log, time.Now())
		return nil
	}}}
	for _, t := range cfg.Tenants {
		if t.Google.Enabled() && t.Google.ExpireAfterEvent {
			jobs = append(jobs, workers.Job{Name: "google-expire", Every: 10 * time.Minute, Run: func(ctx context.Context) error {
				n, err := c.google.syncer.Expire(ctx, func(ctx context.Context, t pass.NewTask) error {
					_, err := db.Enqueue(ctx, t, time.Now())
					return err
				})
				if n > 0 {
					wake()
				}
				return err
			}})
			break
		}
	}
	c.syncer = syncer
	if c.apps, c.fakeFCM, c.devFCM, err = buildAppNotifiers(context.Background(), cfg, selfURL); err != nil {
		return nil, err
	}
	db.AppNotices = func(tenant string) bool { _, ok := c.apps[tenant]; return ok }
	notices := &pass.CustomerService{Store: db, Notifier: c.apps, PageURL: func(tenant, secret string) string {
		t, _ := cfg.Tenant(tenant)
		return httpapi.OrderPageURL(t.PublicBaseURL, tenant, secret)
	}}
	pushes := &pass.PushService{Devices: db, Pusher: c.pushers, Log: log.With(slog.String("component", "apns"))}
	w := cfg.Workers
	c.dispatcher = workers.New(workers.Config{
		Workers: w.Count, MaxAttempts: w.MaxAttempts, MaxBackoff: time.Duration(w.MaxBackoff), Lease: time.Duration(w.Lease),
		Reconcile: time.Duration(w.ReconcileEvery), RetentionAge: time.Duration(w.Retention), Jobs: jobs,
		// Several instances on PostgreSQL: the periodic jobs run on one of
		// them, and a task enqueued by any wakes them all.
		Elector: db.Elector("walletpass-jobs"), Listen: db.ListenTasks,
	}, db, db, map[string]workers.Handler{
		pass.TaskSyncOrder:      workers.SyncHandler(syncer),
		pass.TaskPushPass:       workers.PushHandler(pushes),
		pass.TaskGoogleSync:     workers.GoogleHandler(c.google.syncer),
		pass.TaskNotifyCustomer: workers.NoticeHandler(notices),
	}, log.With(slog.String("component", "workers")))
	wake = c.dispatcher.Wake
	return c, nil
}

// stop drains the background work: the sandbox's webhook deliveries, then
// the running tasks.
func (c *connector) stop(ctx context.Context) error {
	if c.sandbox != nil {
		c.sandbox.Close()
	}
	err := c.dispatcher.Stop(ctx)
	c.pushers.close()
	c.apps.close()
	if c.fakeAPNs != nil {
		c.fakeAPNs.Close()
	}
	return err
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
		for _, p := range id.Check(t.Apple.PassTypeID, t.Apple.TeamID, now) {
			n++
			log.Warn("certificate", slog.String("tenant", t.ID), slog.String("severity", p.Severity.String()), slog.String("problem", p.Message))
		}
	}
	return n
}
