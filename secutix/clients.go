package secutix

import (
	"context"
	"errors"

	"walletpass/pass"
)

// ErrUnknownTenant is wrapped by the error Clients returns for a tenant it
// has no Client for. It is deliberately not pass.ErrNotFound: an unknown
// tenant says nothing about whether an order exists.
var ErrUnknownTenant = errors.New("secutix: no SecuTix client for this tenant")

// Clients is a pass.OrderSource for many tenants: it dispatches each call
// to the Client of the call's tenant.
type Clients map[string]*Client

var (
	_ pass.OrderSource   = Clients(nil)
	_ pass.DetailsSource = Clients(nil)
	_ pass.TicketLister  = Clients(nil)
)

// TicketStates calls TicketStates on the tenant's Client. Errors are those
// of Clients.OrderBySecret.
func (cs Clients) TicketStates(ctx context.Context, tenant string, performanceID int64) ([]pass.TicketStatus, error) {
	c, err := cs.client(tenant)
	if err != nil {
		return nil, err
	}
	return c.TicketStates(ctx, tenant, performanceID)
}

func (cs Clients) client(tenant string) (*Client, error) {
	c, err := pass.PerTenant[*Client](cs).Get(tenant, "SecuTix client")
	if err != nil || c == nil {
		return nil, pass.Wrap(pass.KindNotFound, ErrUnknownTenant, "secutix: tenant "+quote(tenant)+" has no SecuTix client")
	}
	return c, nil
}

// OrderBySecret calls OrderBySecret on the tenant's Client. An unknown
// tenant is an error of kind KindNotFound wrapping ErrUnknownTenant (not
// pass.ErrNotFound); other errors are the Client's.
func (cs Clients) OrderBySecret(ctx context.Context, tenant, secretToken string) (*pass.Order, error) {
	c, err := cs.client(tenant)
	if err != nil {
		return nil, err
	}
	return c.OrderBySecret(ctx, tenant, secretToken)
}

// OrderByFileID calls OrderByFileID on the tenant's Client. Errors are
// those of Clients.OrderBySecret.
func (cs Clients) OrderByFileID(ctx context.Context, tenant string, fileID int64) (*pass.Order, error) {
	c, err := cs.client(tenant)
	if err != nil {
		return nil, err
	}
	return c.OrderByFileID(ctx, tenant, fileID)
}

// OrderByOrderID calls OrderByOrderID on the tenant's Client. Errors are
// those of Clients.OrderBySecret.
func (cs Clients) OrderByOrderID(ctx context.Context, tenant string, orderID int64) (*pass.Order, error) {
	c, err := cs.client(tenant)
	if err != nil {
		return nil, err
	}
	return c.OrderByOrderID(ctx, tenant, orderID)
}

// OrderFromDetails calls OrderFromDetails on the tenant's Client. Errors
// are those of Clients.OrderBySecret.
func (cs Clients) OrderFromDetails(ctx context.Context, tenant string, details []byte) (*pass.Order, error) {
	c, err := cs.client(tenant)
	if err != nil {
		return nil, err
	}
	return c.OrderFromDetails(ctx, tenant, details)
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

// SetExternalReference calls SetExternalReference on the tenant's Client.
func (cs Clients) SetExternalReference(ctx context.Context, tenant string, orderID int64, key, value string) error {
	c, err := cs.client(tenant)
	if err != nil {
		return err
	}
	return c.SetExternalReference(ctx, tenant, orderID, key, value)
}
