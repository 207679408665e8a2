package pass_test

import (
	"context"
	"testing"

	"walletpass/pass"
)

// installStore has one pass of order 0 among the tenant's others.
type installStore struct{ listed int }

func (s *installStore) GetPass(_ context.Context, tenant, serial string) (*pass.Pass, error) {
	return &pass.Pass{Tenant: tenant, SerialNumber: serial}, nil
}

func (s *installStore) ListPasses(context.Context, pass.PassQuery) ([]pass.PassListing, int, error) {
	s.listed++
	return []pass.PassListing{{Installs: pass.Installs{AppleDevices: 1}}}, 1, nil
}

type refWriter struct{ writes int }

func (w *refWriter) SetExternalReference(context.Context, string, int64, string, string) error {
	w.writes++
	return nil
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
