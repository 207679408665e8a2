package pass

import "context"

// PerTenant holds one adapter per tenant (a SecuTix client, an APNs or FCM
// client, a Google Wallet issuer, an Apple issuer). Every adapter that
// serves many tenants looks its tenant up through it.
type PerTenant[T any] map[string]T

// Get returns the tenant's value, or an error of kind KindNotFound saying
// that the tenant has no what ("APNs client").
func (m PerTenant[T]) Get(tenant, what string) (T, error) {
	if v, ok := m[tenant]; ok {
		return v, nil
	}
	var zero T
	return zero, Errorf(KindNotFound, "tenant %q has no %s", tenant, what)
}

// TenantPushers is a Pusher for every tenant: each push goes to its
// tenant's Pusher. A tenant without one is a configuration error.
type TenantPushers PerTenant[Pusher]

// PushPass implements Pusher.
func (m TenantPushers) PushPass(ctx context.Context, tenant, deviceToken, passTypeID string) (PushResult, error) {
	p, err := PerTenant[Pusher](m).Get(tenant, "APNs client")
	if err != nil {
		return PushResult{Outcome: PushConfigError, Reason: err.Error()}, nil
	}
	return p.PushPass(ctx, tenant, deviceToken, passTypeID)
}

// TenantNotifiers is an AppNotifier for every tenant: each notice goes to
// its tenant's AppNotifier. A tenant without one is a configuration error.
type TenantNotifiers PerTenant[AppNotifier]

// NotifyApp implements AppNotifier.
func (m TenantNotifiers) NotifyApp(ctx context.Context, tenant, fcmToken string, n AppNotice) (PushOutcome, string, error) {
	a, err := PerTenant[AppNotifier](m).Get(tenant, "FCM client")
	if err != nil {
		return PushConfigError, err.Error(), nil
	}
	return a.NotifyApp(ctx, tenant, fcmToken, n)
}
