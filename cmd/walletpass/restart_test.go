package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSandboxSurvivesARestart: `make run` stopped and started again on
// the same data directory still knows the built-in sandbox's orders: a
// ticket sold before the restart changes after it, and its pass follows.
func TestSandboxSurvivesARestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base, stop := startServe(t, dataDir)
	resp, err := http.Post(base+"/sandbox/orders", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var o order
	json.NewDecoder(resp.Body).Decode(&o)
	resp.Body.Close()
	timeline := func() string {
		var out bytes.Buffer
		Run(context.Background(), []string{"orders", "timeline", "-secret", o.Secret}, &out, io.Discard, testEnv(dataDir, nil))
		return out.String()
	}
	waitFor := func(what, want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if strings.Contains(timeline(), want) {
				return
			}
		}
		t.Fatalf("no %s in the timeline:\n%s", what, timeline())
	}
	waitFor("first pass", "version=1")
	stop()

	base, stop = startServe(t, dataDir)
	defer stop()
	url := fmt.Sprintf("%s/sandbox/orders/%d/tickets/%d/modify", base, o.FileID, o.Tickets[0].TicketID)
	resp, err = http.Post(url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("modify after the restart: %d %s", resp.StatusCode, body)
	}
	waitFor("second version", "version=2")
	if strings.Contains(timeline(), "not found") {
		t.Errorf("a sync did not find the order:\n%s", timeline())
	}
}
