package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	fakesecutix "walletpass/fake/secutix"
)

// TestStandaloneSandboxByEnvironment: the demo tenant pointed, by
// environment only, at a SecuTix-shaped server in another process (the
// sandbox started standalone) in jwt mode. A listener webhook, answered
// 200, leads to passes whose barcode, holder, venue and start time (the
// catalogue's start, in the POS time zone) are SecuTix's; a refund voids
// its pass; no call is refused (401 or 509); the catalogue is read once.
func TestStandaloneSandboxByEnvironment(t *testing.T) {
	t.Parallel()
	bin := walletpassBinary(t)
	sbAddr, wpAddr := freePort(t), freePort(t)
	const secret = "standalone-secret-0123"
	sbURL, wpURL := "http://"+sbAddr, "http://"+wpAddr
	sandbox := exec.Command(bin, "sandbox", "secutix", "-listen", sbAddr, "-tenant", "demo",
		"-webhook-url", wpURL+"/api/demo/webhooks/listeners/secutix/orders",
		"-operator", "DEMO_WALLET", "-partner", "walletpass", "-secret", secret)
	var sbLog syncBuffer
	sandbox.Stdout, sandbox.Stderr = io.Discard, &sbLog
	if err := sandbox.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandbox.Process.Signal(syscall.SIGTERM); sandbox.Wait() })
	getJSON := func(url string, hdr map[string]string, v any) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, x := range hdr {
			req.Header.Set(k, x)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	for deadline := time.Now().Add(30 * time.Second); getJSON(sbURL+"/sandbox/stats", nil, nil) != 200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not start\n%s", sbLog.String())
		}
	}

	dataDir := t.TempDir()
	env := append(os.Environ(), "WALLETPASS_DATA_DIR="+dataDir, "WALLETPASS_ADMIN_LISTEN=127.0.0.1:0", "WALLETPASS_LISTEN="+wpAddr, "WALLETPASS_PUBLIC_BASE_URL="+wpURL,
		"WALLETPASS_CONFIG=",
		"WALLETPASS_TENANT_DEMO_SECUTIX_BASE_URL="+sbURL+"/sandbox/secutix",
		"WALLETPASS_TENANT_DEMO_SECUTIX_AUTH=jwt",
		"WALLETPASS_TENANT_DEMO_SECUTIX_INSTITUTION=DEMO",
		"WALLETPASS_TENANT_DEMO_SECUTIX_OPERATOR=DEMO_WALLET",
		"WALLETPASS_TENANT_DEMO_SECUTIX_PARTNER=walletpass",
		"WALLETPASS_TENANT_DEMO_SECUTIX_SECRET="+secret)
	p := startProc(t, bin, env, wpURL)
	t.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGTERM); <-p.done })
	key := func() string {
		cmd := exec.Command(bin, "apikey", "create", "-name", "shop")
		cmd.Env = env
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("apikey: %v", err)
		}
		return strings.TrimSpace(string(b))
	}()

	// A paid order: the sandbox sends one listener webhook per ticket.
	resp, err := http.Post(sbURL+"/sandbox/orders", "application/json", strings.NewReader(`{"count":2}`))
	if err != nil {
		t.Fatal(err)
	}
	var o fakesecutix.CreatedOrder
	json.NewDecoder(resp.Body).Decode(&o)
	resp.Body.Close()
	var file fakesecutix.FileResult
	getJSON(fmt.Sprintf("%s/sandbox/orders/%d", sbURL, o.FileID), nil, &file)
	mv := file.OrderDetailsDatas[0].MovementDatas[0]

	type ticket struct {
		MovementID   int64  `json:"movementId"`
		State        string `json:"state"`
		ApplePassURL string `json:"applePassUrl"`
	}
	tickets := func() []ticket {
		var r struct{ Tickets []ticket }
		getJSON(wpURL+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10),
			map[string]string{"X-API-Key": key}, &r)
		return r.Tickets
	}
	passJSON := func(url string) map[string]any {
		t.Helper()
		r, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("the pass is not a zip (HTTP %d)", r.StatusCode)
		}
		f, err := zr.Open("pass.json")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var pj map[string]any
		json.NewDecoder(f).Decode(&pj)
		return pj
	}
	ts := tickets()
	if len(ts) != 2 {
		t.Fatalf("getTicketsUrl: %d tickets, want 2", len(ts))
	}
	var first ticket
	for _, tk := range ts {
		if tk.MovementID == mv.MovementID {
			first = tk
		}
	}
	pj := passJSON(first.ApplePassURL)
	raw, _ := json.Marshal(pj)
	sem, _ := pj["semantics"].(map[string]any)
	barcode := pj["barcodes"].([]any)[0].(map[string]any)["message"]
	// The catalogue says 20:00 Europe/Zurich, 30 days after the order.
	start, _ := time.Parse(time.RFC3339, fmt.Sprint(sem["eventStartDate"]))
	zurich, _ := time.LoadLocation("Europe/Zurich")
	if barcode != mv.BarCode || !strings.Contains(string(raw), mv.BeneficiaryFirstname+" "+mv.BeneficiaryLastname) ||
		sem["venueName"] != "Victoria Hall" || start.In(zurich).Hour() != 20 || start.In(zurich).Minute() != 0 {
		t.Errorf("pass: barcode %v (SecuTix %s), venue %v, start %s; holder %s %s in it: %v", barcode, mv.BarCode, sem["venueName"],
			start.In(zurich), mv.BeneficiaryFirstname, mv.BeneficiaryLastname,
			strings.Contains(string(raw), mv.BeneficiaryFirstname+" "+mv.BeneficiaryLastname))
	}

	// A refund: its webhook voids the pass.
	r2, err := http.Post(fmt.Sprintf("%s/sandbox/orders/%d/tickets/%d/refund", sbURL, o.FileID, o.Tickets[0].TicketID), "application/json", nil)
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("refund: %v %v", r2, err)
	}
	r2.Body.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		voided := false
		for _, tk := range tickets() {
			voided = voided || (tk.MovementID == o.Tickets[0].MovementID && tk.State == "CANCELLED")
		}
		if voided {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refunded ticket's pass was not voided\n%s", p.stderr.String())
		}
	}
	var st fakesecutix.Stats
	getJSON(sbURL+"/sandbox/stats", nil, &st)
	if st.Refused != 0 || st.Calls["auth"] != 0 || st.Calls["getCatalogDetailed"] != 1 {
		t.Errorf("sandbox stats %+v: want no refusal, no /v1/auth (jwt mode), one catalogue read", st)
	}
	if strings.Contains(p.stderr.String(), "HTTP 401") || strings.Contains(sbLog.String(), "JWT refused") {
		t.Errorf("a call was refused:\n%s\n%s", p.stderr.String(), sbLog.String())
	}
}
