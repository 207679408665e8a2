package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"walletpass/config"
	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/secutix"
	"walletpass/storage"
)

// TestSecuTixQuotaSharedByInstances: three instances on one PostgreSQL
// database, each with the SecuTix client and quota the server wires, call
// one SecuTix sandbox at once, three times more than its quota allows in
// one window. The shared quota spaces them: the sandbox answers no 509
// (the client does not retry one, so every call succeeding says so) and
// sees every call.
func TestSecuTixQuotaSharedByInstances(t *testing.T) {
	t.Parallel()
	pgDSN := needService(t, "WALLETPASS_TEST_POSTGRES", "a PostgreSQL DSN")
	dsn := freshSchema(t, pgDSN)
	// The sandbox counts fixed one-second windows, SecuTix's minutes in
	// miniature; the instances keep a sliding window of 1.3 s, its 61 s.
	const limit, instances, perInstance = 5, 3, 5
	const sandboxWindow, window = time.Second, 1300 * time.Millisecond
	sb, srv := startSandbox(t, fakesecutix.Config{Secret: "quota-secret", QuotaPerMinute: limit, QuotaWindow: sandboxWindow})
	o, err := sb.CreateOrder(fakesecutix.OrderRequest{})
	if err != nil {
		t.Fatal(err)
	}

	tenant := config.Tenant{ID: "demo", SecuTix: config.SecuTix{BaseURL: srv.URL + "/sandbox/secutix", Operator: "DEMO_WALLET",
		Partner: "walletpass", Secret: "quota-secret", RequestsPerMinute: limit}}
	var clients []*secutix.Client
	for range instances {
		db, err := storage.OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		quotas := newSecuTixQuotas(db, true, window, nil)
		scfg := secutixConfig(tenant, tenant.SecuTix.BaseURL, "")
		scfg.Catalogs = db // as the app: one catalogue read for the three
		if scfg.Quota, err = quotas.quota(scfg.RequestsPerMinute, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := scfg.Quota.(*storage.SecuTixQuota); !ok {
			t.Fatalf("got a quota of type %T on PostgreSQL, want the database's", scfg.Quota)
		}
		cl, err := secutix.New(scfg)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
	}

	var wg sync.WaitGroup
	for i, cl := range clients {
		for j := range perInstance {
			wg.Go(func() {
				// Two methods of one service, at every priority: they all
				// count together.
				ctx := pass.WithPriority(t.Context(), pass.Priority((i+j)%3-1))
				var err error
				if j%2 == 0 {
					_, err = cl.OrderByFileID(ctx, "demo", o.FileID)
				} else {
					_, err = cl.OrderBySecret(ctx, "demo", o.OrderSecretToken)
				}
				if err != nil {
					t.Errorf("instance %d, call %d: %v", i, j, err)
				}
			})
		}
	}
	wg.Wait()
	got := sb.Calls("getFileDetails") + sb.Calls("getFileDetailsFromOrderSecretId")
	if want := instances * perInstance; got != want {
		t.Errorf("the sandbox saw %d calls, want %d", got, want)
	}
}

// TestSecuTixQuotaOnSQLite: without PostgreSQL, the tenants share one
// quota kept in the process, whatever their number.
func TestSecuTixQuotaOnSQLite(t *testing.T) {
	t.Parallel()
	qs := newSecuTixQuotas(nil, false, secutix.DefaultQuotaWindow, nil)
	a, err := qs.quota(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := qs.quota(secutix.DefaultRequestsPerMinute, secutix.DefaultQuotaWindow)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(*secutix.LocalQuota); !ok || a != b {
		t.Errorf("got quotas %T %p and %T %p, want one *secutix.LocalQuota", a, a, b, b)
	}
}
