package pass

import (
	"context"
	"strconv"
	"strings"
)

// InstallStatusArgs ask to write where an order's passes are installed
// to the order in SecuTix, after a change of one of them (Serial). Its
// task finds the pass's order and hands the write to the order's own
// task (OrderID, with Serial still: a previous release's instance runs it
// by its pass), one for all its passes: a change while that one runs
// makes it run again, so the last write is of the order as it is last,
// never of an earlier look that waited longer for SecuTix's quota.
type InstallStatusArgs struct {
	Tenant  string `json:"tenant"`
	Serial  string `json:"serial"`
	OrderID int64  `json:"orderId,omitempty"`
}

// TaskInstallStatus is the kind of InstallStatusArgs' task.
const TaskInstallStatus = "install-status"

func (InstallStatusArgs) Kind() string         { return TaskInstallStatus }
func (a InstallStatusArgs) TaskTenant() string { return a.Tenant }
func (a InstallStatusArgs) DedupKey() string {
	if a.OrderID > 0 {
		return "install-order:" + strconv.FormatInt(a.OrderID, 10)
	}
	return "install:" + a.Serial
}
func (a InstallStatusArgs) Validate() error {
	if a.Tenant == "" || a.Serial == "" || a.OrderID < 0 {
		return Errorf(KindInvalid, "install status: a tenant and a serial number are required (and an order id is positive)")
	}
	return nil
}

// ExternalReferenceWriter writes an external reference on a SecuTix order.
type ExternalReferenceWriter interface {
	SetExternalReference(ctx context.Context, tenant string, orderID int64, key, value string) error
}

// InstallStatusStore is what the install status needs of the store.
type InstallStatusStore interface {
	GetPass(ctx context.Context, tenant, serial string) (*Pass, error)
	ListPasses(ctx context.Context, q PassQuery) ([]PassListing, int, error)
}

// InstallStatus writes, for tenants that ask (Keys: tenant → the
// external reference's key), where an order's passes are installed:
// APPLE, GOOGLE, APPLE,GOOGLE or NONE. It is the install-status worker;
// its SecuTix call goes at background priority.
type InstallStatus struct {
	Store   InstallStatusStore
	SecuTix ExternalReferenceWriter
	Keys    map[string]string
	// Queue takes the order's task a pass's hands the write to.
	Queue Enqueuer
	Clock Clock
}

// Wants reports whether tenant writes its install status.
func (s *InstallStatus) Wants(tenant string) bool { return s != nil && s.Keys[tenant] != "" }

// Work writes the install status of the order a.OrderID, or queues the
// task that does for the order of a.Serial.
func (s *InstallStatus) Work(ctx context.Context, a InstallStatusArgs, correlationID string) error {
	key := s.Keys[a.Tenant]
	if key == "" {
		return nil
	}
	if a.OrderID <= 0 {
		p, err := s.Store.GetPass(ctx, a.Tenant, a.Serial)
		if err != nil {
			if KindOf(err) == KindNotFound {
				return nil
			}
			return err
		}
		if p.OrderID <= 0 {
			// No SecuTix order to write to (and a query for order 0 would
			// list every pass of the tenant).
			return nil
		}
		t := TaskOf(InstallStatusArgs{Tenant: a.Tenant, Serial: a.Serial, OrderID: p.OrderID}, correlationID)
		_, err = s.Queue.Enqueue(ctx, t, s.Clock.Now())
		return err
	}
	passes, _, err := s.Store.ListPasses(ctx, PassQuery{Tenant: a.Tenant, OrderID: a.OrderID, Limit: MaxPageSize})
	if err != nil {
		return err
	}
	var apple, google bool
	for _, l := range passes {
		apple = apple || l.Installs.AppleDevices > 0
		google = google || l.Installs.GoogleSaved
	}
	var wallets []string
	if apple {
		wallets = append(wallets, "APPLE")
	}
	if google {
		wallets = append(wallets, "GOOGLE")
	}
	value := strings.Join(wallets, ",")
	if value == "" {
		value = "NONE"
	}
	return s.SecuTix.SetExternalReference(WithPriority(ctx, PriorityBackground), a.Tenant, a.OrderID, key, value)
}
