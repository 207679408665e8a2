package pass_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"walletpass/pass"
)

// installStore has passes of order 0 (s1) and of order 9 (the others)
// among the tenant's others: order 9's is in Google Wallet.
type installStore struct {
	listed int
	asked  []int64
}

func (s *installStore) GetPass(_ context.Context, tenant, serial string) (*pass.Pass, error) {
	p := &pass.Pass{Tenant: tenant, SerialNumber: serial}
	if serial != "s1" {
		p.OrderID = 9
	}
	return p, nil
}

func (s *installStore) ListPasses(_ context.Context, q pass.PassQuery) ([]pass.PassListing, int, error) {
	s.listed++
	s.asked = append(s.asked, q.OrderID)
	return []pass.PassListing{{Installs: pass.Installs{GoogleSaved: true}}}, 1, nil
}

type refWriter struct {
	writes int
	last   string
}

func (w *refWriter) SetExternalReference(_ context.Context, _ string, orderID int64, key, value string) error {
	w.writes++
	w.last = fmt.Sprintf("%d %s=%s", orderID, key, value)
	return nil
}

// queued is an Enqueuer that keeps what it is given.
type queued struct{ tasks []pass.NewTask }

func (q *queued) Enqueue(_ context.Context, t pass.NewTask, _ time.Time) (pass.Enqueued, error) {
	q.tasks = append(q.tasks, t)
	return pass.Enqueued{}, nil
}

// TestInstallStatusByOrder: a pass's change hands the write to its
// order's task, one key for all the order's passes (so that the queue
// runs them one at a time, the last after the last change), which writes
// what the order's passes show.
func TestInstallStatusByOrder(t *testing.T) {
	st, w, q := &installStore{}, &refWriter{}, &queued{}
	is := &pass.InstallStatus{Store: st, SecuTix: w, Keys: map[string]string{"demo": "WALLET"}, Queue: q}
	for _, serial := range []string{"s2", "s3"} {
		if err := is.Work(context.Background(), pass.InstallStatusArgs{Tenant: "demo", Serial: serial}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if w.writes != 0 || len(q.tasks) != 2 || q.tasks[0].DedupKey != q.tasks[1].DedupKey || q.tasks[0].Kind != pass.TaskInstallStatus {
		t.Fatalf("the passes' tasks wrote %d times and queued %+v; want nothing written, the order's task twice", w.writes, q.tasks)
	}
	var order pass.InstallStatusArgs
	if err := json.Unmarshal(q.tasks[0].Payload, &order); err != nil || order.OrderID != 9 || order.Serial != "s2" || order.Validate() != nil {
		t.Fatalf("the order's task: %s, %v", q.tasks[0].Payload, err)
	}
	if err := is.Work(context.Background(), order, ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.asked, []int64{9}) || w.last != "9 WALLET=GOOGLE" {
		t.Errorf("the order's task listed orders %v and wrote %q; want order 9, GOOGLE", st.asked, w.last)
	}
	for _, a := range []pass.InstallStatusArgs{{Tenant: "demo"}, {Tenant: "demo", OrderID: 9}, {Serial: "s2"}, {Tenant: "demo", Serial: "s2", OrderID: -1}} {
		if a.Validate() == nil {
			t.Errorf("%+v is valid", a)
		}
	}
}

// TestInstallStatusWithoutOrder: a pass without a SecuTix order id writes
// nothing, and does not list the tenant's passes as if they were its
// order's.
func TestInstallStatusWithoutOrder(t *testing.T) {
	st, w := &installStore{}, &refWriter{}
	is := &pass.InstallStatus{Store: st, SecuTix: w, Keys: map[string]string{"demo": "WALLET"}}
	if err := is.Work(context.Background(), pass.InstallStatusArgs{Tenant: "demo", Serial: "s1"}, ""); err != nil {
		t.Fatal(err)
	}
	if st.listed != 0 || w.writes != 0 {
		t.Errorf("listed %d times, wrote %d times; want neither", st.listed, w.writes)
	}
}
