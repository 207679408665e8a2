package console

import (
	"net/http"
	"time"

	"walletpass/internal/httpx"
	"walletpass/pass"
)

// The tenants page: for each tenant the session sees, its certificates
// and the days they have left, its SecuTix quota use and backlog, and its
// webhook subscriptions with their delivery failures.

// certWarnDays is when a certificate's expiry turns into a warning.
const certWarnDays = 30

type certView struct {
	Certificate
	DaysLeft int
	Warn     bool
}

// subscriptionView is what the page shows of a subscription: never its
// secrets, and its endpoint by scheme and host alone (Site), since the
// path or query may carry the receiver's own token; the id tells apart
// two endpoints on one host.
type subscriptionView struct {
	ID          string
	Site        string // httpx.WithoutPath of the endpoint
	Events      []string
	Enabled     bool
	Description string
	Health      pass.SubscriptionHealth
}

type tenantView struct {
	Tenant
	Certs         []certView
	Calls         int
	QuotaKnown    bool
	PausedUntil   time.Time
	QuotaError    bool
	SyncBacklog   int // sync-order tasks pending or running
	Dead          int // tasks that gave up
	OldestDue     time.Time
	Subscriptions []subscriptionView
}

func (c *Console) tenantsPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, now := r.Context(), c.cfg.Clock.Now()
	var views []tenantView
	for _, t := range c.visible(s) {
		v := tenantView{Tenant: t}
		for _, cert := range t.Certificates {
			days := int(cert.NotAfter.Sub(now).Hours() / 24)
			v.Certs = append(v.Certs, certView{Certificate: cert, DaysLeft: days, Warn: days < certWarnDays})
		}
		if t.SecuTix.Usage != nil {
			calls, paused, err := t.SecuTix.Usage(ctx)
			v.QuotaKnown, v.QuotaError, v.Calls, v.PausedUntil = err == nil, err != nil, calls, paused
		}
		counts, err := c.cfg.Store.QueueCounts(ctx, t.ID, now)
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		for _, qc := range counts {
			switch {
			case qc.State == pass.TaskDead:
				v.Dead += qc.Count
			case qc.Kind == pass.TaskSyncOrder:
				v.SyncBacklog += qc.Count
				if !qc.OldestDue.IsZero() && (v.OldestDue.IsZero() || qc.OldestDue.Before(v.OldestDue)) {
					v.OldestDue = qc.OldestDue
				}
			}
		}
		subs, err := c.cfg.Store.Subscriptions(ctx, t.ID)
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		health, err := c.cfg.Store.SubscriptionHealth(ctx, t.ID)
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		for _, sub := range subs {
			sv := subscriptionView{ID: sub.ID, Site: httpx.WithoutPath(sub.Endpoint), Events: sub.Events, Enabled: sub.Enabled,
				Description: sub.Description}
			for _, h := range health {
				if h.SubscriptionID == sub.ID {
					sv.Health = h
				}
			}
			v.Subscriptions = append(v.Subscriptions, sv)
		}
		views = append(views, v)
	}
	c.render(w, r, s, http.StatusOK, "tenants", struct {
		Tenants []tenantView
		WarnAt  int
	}{views, certWarnDays})
}
