package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"walletpass/httpapi"
	"walletpass/pass"
)

// TestPassesAPI: GET /api/{tenant}/passes and /passes/{serial} as an
// organiser's system calls them: scope passes:read for tokens and API
// keys, tenant isolation, filters, paging with x-pagination-total, install
// status per wallet and the versions of a pass.
func TestPassesAPI(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 2})
	ps := s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	// One pass is on an iPhone, and its ticket changes (version 2).
	first := byMovement(ps, o.Tickets[0].MovementID, 0)
	s.phoneFor(t, *first, "e1").register()
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "version 2", func(ps []pass.Pass) bool { return byMovement(ps, o.Tickets[0].MovementID, 0).Version == 2 })

	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	cli := func(args ...string) string {
		var out syncBuffer
		if err := Run(context.Background(), args, &out, &syncBuffer{}, env); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	mint := func(tenant string, scopes ...string) map[string]string {
		return map[string]string{"Authorization": s.bearer(tenant, scopes...)}
	}
	reader := mint("demo", "passes:read")
	readerKey := map[string]string{"X-API-Key": cli("apikey", "create", "-name", "crm", "-scope", "passes:read")}
	shopKey := map[string]string{"X-API-Key": cli("apikey", "create", "-name", "shop")}
	list := s.base + "/api/demo/passes"

	for _, c := range []struct {
		name   string
		hdr    map[string]string
		status int
		detail string
	}{
		{"no credentials", nil, 401, "no token"},
		{"getTicketsUrl's scope only", mint("demo", "tickets:read"), 403, "lacks the scope passes:read"},
		{"another tenant's token", mint("other", "passes:read"), 403, "another tenant"},
		{"an API key without the scope", shopKey, 403, "lacks the scope passes:read"},
	} {
		resp, body := fetch(t, list, c.hdr)
		var p httpapi.Problem
		_ = json.Unmarshal(body, &p)
		if resp.StatusCode != c.status || !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%s: %d %s, want %d %q", c.name, resp.StatusCode, body, c.status, c.detail)
		}
		if resp, _ := fetch(t, list+"/"+first.SerialNumber, c.hdr); resp.StatusCode != c.status {
			t.Errorf("%s, one pass: %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}
	// An API key without passes:read still reads tickets, as keys always did.
	if resp, body := fetch(t, s.base+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10), shopKey); resp.StatusCode != 200 {
		t.Errorf("getTicketsUrl with a tickets:read key: %d %s", resp.StatusCode, body)
	}

	get := func(query string, hdr map[string]string) ([]httpapi.PassView, string) {
		t.Helper()
		resp, body := fetch(t, list+query, hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("GET passes%s: %d %s", query, resp.StatusCode, body)
		}
		var out []httpapi.PassView
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out, resp.Header.Get("x-pagination-total")
	}
	file := "?fileId=" + strconv.FormatInt(o.FileID, 10)
	for _, c := range []struct {
		query string
		n     int
		total string
	}{
		{file, 2, "2"},
		{file + "&installed=apple", 1, "1"},
		{file + "&installed=none", 1, "1"},
		{file + "&status=voided", 0, "0"},
		{file + "&pageSize=1&pageIndex=1", 1, "2"},
		{"?fileId=999", 0, "0"},
		{"?movementId=" + strconv.FormatInt(o.Tickets[1].MovementID, 10), 1, "1"},
		{"?ticketId=" + strconv.FormatInt(o.Tickets[0].TicketID, 10), 1, "1"},
	} {
		for _, hdr := range []map[string]string{reader, readerKey} {
			got, total := get(c.query, hdr)
			if len(got) != c.n || total != c.total {
				t.Errorf("%s: %d passes, total %s; want %d, %s", c.query, len(got), total, c.n, c.total)
			}
		}
	}
	got, _ := get(file+"&installed=apple", reader)
	if v := got[0]; v.SerialNumber != first.SerialNumber || v.Installs.Apple.Devices != 1 || v.Version != 2 ||
		v.Status != pass.StatusActive || v.FileID != o.FileID || v.Event.Name == "" || v.PerformanceID == 0 {
		t.Errorf("listed pass: %+v", v)
	}
	for _, q := range []string{"?pageSize=0", "?pageSize=501", "?pageIndex=-1", "?fileId=abc", "?status=lost", "?installed=phone", "?fileId=+5",
		"?ticketId=x", "?filter%5B0%5D.field=identifiers.movementId&filter%5B0%5D.operator=equals&filter%5B0%5D.value=1", "?fileid=1",
		"?fileId=0", "?orderId=0", "?performanceId=0", "?movementId=0", "?ticketId=0", "?fileId=", "?fileId=1&fileId=0"} {
		if resp, body := fetch(t, list+q, reader); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s, want 400", q, resp.StatusCode, body)
		}
	}

	resp, body := fetch(t, list+"/"+first.SerialNumber, readerKey)
	var one httpapi.PassView
	if err := json.Unmarshal(body, &one); err != nil || resp.StatusCode != 200 {
		t.Fatalf("one pass: %d %s", resp.StatusCode, body)
	}
	if len(one.Versions) != 2 || one.Versions[1].Version != 2 || one.Installs.Apple.Devices != 1 {
		t.Errorf("one pass: %+v", one)
	}
	if strings.Contains(string(body), first.AuthToken) || strings.Contains(string(body), o.Secret) {
		t.Error("the passes API shows an authentication token or an order secret")
	}
	if resp, _ := fetch(t, list+"/nosuchserial", reader); resp.StatusCode != 404 {
		t.Errorf("unknown serial: %d", resp.StatusCode)
	}
	// The signed download at the same path is unchanged: no link, no file.
	if resp, _ := fetch(t, list+"/"+first.SerialNumber+".pkpass", reader); resp.StatusCode != 401 {
		t.Errorf("a .pkpass without its signed link: %d, want 401", resp.StatusCode)
	}
}

// TestPassesExport: `walletpass passes export` writes what another
// provider needs to take the passes over (serial, authentication token,
// web service, Google object id, SecuTix identifiers), as CSV and JSON,
// to a file only its owner can read.
func TestPassesExport(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 2})
	ps := s.waitPasses(o.Secret, "2 passes", func(ps []pass.Pass) bool { return len(ps) == 2 })
	// The buyer saves the order to Google Wallet: both get an object.
	if resp, body := fetch(t, s.orderLinks(o.Secret)["google-save"], nil); resp.StatusCode != 302 {
		t.Fatalf("google save: %d %s", resp.StatusCode, body)
	}
	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	dir := t.TempDir()
	for _, format := range []string{"csv", "json"} {
		path := filepath.Join(dir, "passes."+format)
		var stderr syncBuffer
		if err := Run(context.Background(), []string{"passes", "export", "-format", format, "-o", path}, &syncBuffer{}, &stderr, env); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.Contains(stderr.String(), "wrote 2 passes") || !strings.Contains(stderr.String(), "keep it secret") {
			t.Errorf("%s: %q", format, stderr.String())
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", format, err, st.Mode())
		}
		data, _ := os.ReadFile(path)
		var recs []exportRecord
		if format == "json" {
			if err := json.Unmarshal(data, &recs); err != nil {
				t.Fatal(err)
			}
		} else {
			rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
			if err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(exportColumns, ",") {
				t.Fatalf("csv: %v %q", err, rows)
			}
			for _, r := range rows[1:] {
				recs = append(recs, exportRecord{SerialNumber: r[0], AuthenticationToken: r[2], WebServiceURL: r[3], GoogleObjectID: r[4]})
			}
		}
		if len(recs) != 2 {
			t.Fatalf("%s: %d records", format, len(recs))
		}
		for _, r := range recs {
			var p *pass.Pass
			for i := range ps {
				if ps[i].SerialNumber == r.SerialNumber {
					p = &ps[i]
				}
			}
			if p == nil || r.AuthenticationToken != p.AuthToken || r.WebServiceURL != s.base+"/api/demo/apple" || r.GoogleObjectID == "" {
				t.Errorf("%s: %+v", format, r)
			}
		}
	}
}
