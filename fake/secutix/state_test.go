package secutix_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	fakesecutix "walletpass/fake/secutix"
)

// TestStateSurvivesARestart: with a state file, a new sandbox knows the
// files, tickets and catalogue of the one before it, and goes on with
// fresh ids; a corrupt file is an error naming it.
func TestStateSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	cfg := fakesecutix.Config{Operator: operator, Partner: partner, Secret: secret, StateFile: path}
	sb, err := fakesecutix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o, err := sb.CreateOrder(fakesecutix.OrderRequest{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Modify(o.FileID, o.Tickets[0].TicketID, fakesecutix.Change{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Validate(o.FileID, o.Tickets[1].TicketID); err != nil {
		t.Fatal(err)
	}
	before, _ := sb.Order(o.FileID)
	sb.Close()

	again, err := fakesecutix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	after, ok := again.Order(o.FileID)
	if !ok {
		t.Fatal("the restarted sandbox does not know the file")
	}
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("the file changed across the restart (-before +after):\n%s", d)
	}
	// Its tickets still act, and new orders get new ids in the same
	// catalogue.
	if _, err := again.Cancel(o.FileID, o.Tickets[0].TicketID); err != nil {
		t.Errorf("cancel after the restart: %v", err)
	}
	o2, err := again.CreateOrder(fakesecutix.OrderRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if o2.FileID == o.FileID || o2.OrderID == o.OrderID || o2.Tickets[0].TicketID == o.Tickets[0].TicketID {
		t.Errorf("ids reused after the restart: %d/%d", o2.FileID, o.FileID)
	}
	f1, _ := again.Order(o.FileID)
	f2, _ := again.Order(o2.FileID)
	p1 := f1.OrderDetailsDatas[0].OperationDatas[0].PerformanceID
	p2 := f2.OrderDetailsDatas[0].OperationDatas[0].PerformanceID
	if p1 != p2 {
		t.Errorf("the same show got a new performance after the restart: %d, %d", p1, p2)
	}

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fakesecutix.New(cfg); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a corrupt state file: %v", err)
	}
}
