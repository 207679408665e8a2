package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"walletpass/pass"
)

// exportRecord is one pass as `passes export` writes it: what another
// provider needs to take the pass over (its serial, authentication token
// and web service, its Google Wallet object) and the SecuTix identifiers
// it was made from.
type exportRecord struct {
	SerialNumber        string    `json:"serialNumber"`
	PassTypeIdentifier  string    `json:"passTypeIdentifier"`
	AuthenticationToken string    `json:"authenticationToken"`
	WebServiceURL       string    `json:"webServiceURL"`
	GoogleObjectID      string    `json:"googleObjectId,omitempty"`
	Template            string    `json:"template"`
	Status              string    `json:"status"`
	Version             int       `json:"version"`
	FileID              int64     `json:"fileId"`
	OrderID             int64     `json:"orderId"`
	TicketID            int64     `json:"ticketId"`
	MovementID          int64     `json:"movementId"`
	HolderGeneration    int       `json:"holderGeneration"`
	PerformanceID       int64     `json:"performanceId,omitempty"`
	AppleDevices        int       `json:"appleDevices"`
	GoogleSaved         bool      `json:"googleSaved"`
	CreatedAt           time.Time `json:"createdAt"`
	UpdatedAt           time.Time `json:"updatedAt"`
}

var exportColumns = []string{"serialNumber", "passTypeIdentifier", "authenticationToken", "webServiceURL", "googleObjectId",
	"template", "status", "version", "fileId", "orderId", "ticketId", "movementId", "holderGeneration", "performanceId",
	"appleDevices", "googleSaved", "createdAt", "updatedAt"}

func (r exportRecord) csvRow() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{r.SerialNumber, r.PassTypeIdentifier, r.AuthenticationToken, r.WebServiceURL, r.GoogleObjectID,
		r.Template, r.Status, strconv.Itoa(r.Version), i(r.FileID), i(r.OrderID), i(r.TicketID), i(r.MovementID),
		strconv.Itoa(r.HolderGeneration), i(r.PerformanceID), strconv.Itoa(r.AppleDevices), strconv.FormatBool(r.GoogleSaved),
		r.CreatedAt.Format(time.RFC3339Nano), r.UpdatedAt.Format(time.RFC3339Nano)}
}

// cmdPassesExport is `walletpass passes export -o FILE [-format csv|json]
// [-tenant ID]`. The file holds every pass's authentication token: it is
// written with mode 0600, and only to stdout when asked with -o -.
func cmdPassesExport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("passes export", stdout)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	format := fs.String("format", "csv", "csv or json (an array)")
	out := fs.String("o", "", "output `file` (mode 0600; - for stdout); it holds the passes' authentication tokens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "csv" && *format != "json" {
		return errUsage{fmt.Sprintf("passes export: -format %q is not csv or json", *format)}
	}
	if *out == "" {
		return errUsage{"passes export: give -o FILE (the export holds authentication tokens; -o - writes to stdout)"}
	}
	t, db, err := tenantStore(ctx, *cfgPath, *tenant, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	var records []exportRecord
	for offset := 0; ; offset += pass.MaxPageSize {
		page, _, err := db.ListPasses(ctx, pass.PassQuery{Tenant: t.ID, Offset: offset, Limit: pass.MaxPageSize})
		if err != nil {
			return err
		}
		for _, l := range page {
			p := l.Pass
			records = append(records, exportRecord{SerialNumber: p.SerialNumber, PassTypeIdentifier: p.PassTypeID,
				AuthenticationToken: p.AuthToken, WebServiceURL: t.PublicBaseURL + "/api/" + t.ID + "/apple",
				GoogleObjectID: l.Installs.GoogleObjectID, Template: p.Template, Status: string(p.Status), Version: p.Version,
				FileID: p.FileID, OrderID: p.OrderID, TicketID: p.TicketID, MovementID: p.MovementID,
				HolderGeneration: p.HolderGeneration, PerformanceID: p.Ticket.Event.PerformanceID,
				AppleDevices: l.Installs.AppleDevices, GoogleSaved: l.Installs.GoogleSaved,
				CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt})
		}
		if len(page) < pass.MaxPageSize {
			break
		}
	}
	var buf bytes.Buffer
	if *format == "json" {
		if records == nil {
			records = []exportRecord{}
		}
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(records); err != nil {
			return err
		}
	} else {
		w := csv.NewWriter(&buf)
		w.Write(exportColumns)
		for _, r := range records {
			w.Write(r.csvRow())
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	}
	if *out == "-" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := writeFileAtomic(*out, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("passes export: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %d passes of tenant %s to %s (%s); it holds their authentication tokens: keep it secret\n",
		len(records), t.ID, *out, *format)
	return nil
}
