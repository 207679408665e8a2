package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"walletpass/pass"
	"walletpass/secutix"
)

// cmdSecuTix is `walletpass secutix probe -tenant T (-file ID | -secret TOKEN)`:
// a dry run against the tenant's SecuTix institution for the first day
// there. It authenticates, fetches the file, prints SecuTix's answer with
// secrets and personal data masked, then every pass field walletpass read
// from it, or "missing". It writes nothing and costs one call (two if the
// first token is refused).
func cmdSecuTix(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "probe" {
		return errUsage{"secutix: expected probe"}
	}
	fs := newFlags("secutix probe", stderr)
	cfgPath := configFlag(fs, getenv)
	tenant := fs.String("tenant", "", "tenant `id` (default: the first tenant)")
	file := fs.Int64("file", 0, "the SecuTix file `id`")
	secret := fs.String("secret", "", "the order's secret `token`")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*file == 0) == (*secret == "") {
		return errUsage{"secutix probe: give -file or -secret"}
	}
	if *file < 0 {
		return errUsage{"secutix probe: -file must be positive"}
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	t, err := pickTenant(cfg, *tenant)
	if err != nil {
		return err
	}
	sx := t.SecuTix
	base, inst := sx.BaseURL, sx.Institution
	if sx.UsesSandbox() {
		// The built-in sandbox lives in the running server.
		base = strings.TrimRight(cfg.Server.PublicBaseURL, "/") + "/sandbox/secutix"
		if inst == "" {
			inst = t.ID
		}
	}
	cl, err := secutix.New(secutixConfig(t, base, inst))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p, err := cl.ProbeFile(ctx, *file, *secret)
	if p != nil {
		fmt.Fprintf(stdout, "tenant %s · SecuTix %s · auth %s\n", t.ID, base, p.Auth)
		fmt.Fprintf(stdout, "%s: %d call(s)\n", p.Method, p.Calls)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n--- SecuTix's answer (secrets and personal data masked)\n%s\n", p.Raw)
	if p.MapErr != nil {
		fmt.Fprintf(stdout, "\n--- walletpass cannot make passes of it: %s\n", oneLine(p.MapErr))
		return fmt.Errorf("secutix probe: the answer does not map to passes")
	}
	o := p.Order
	fmt.Fprintf(stdout, "\n--- what walletpass reads: file %d, order %d, %d ticket(s)\n", o.FileID, o.OrderID, len(o.Tickets))
	for _, w := range o.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	for i, tk := range o.Tickets {
		fmt.Fprintf(stdout, "\nticket %d (movement %d)\n", i+1, tk.MovementID)
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		for _, f := range probeFields(tk) {
			v := f.value
			if v == "" {
				v = "missing"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", f.name, v)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

type probeField struct{ name, value string }

// probeFields lists the pass fields of a ticket as the probe shows them;
// personal data is masked.
func probeFields(t pass.Ticket) []probeField {
	when := func(at time.Time) string {
		if at.IsZero() {
			return ""
		}
		return at.Format(time.RFC3339)
	}
	id := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	price := ""
	if t.Price.Currency != "" {
		price = t.Price.Decimal() + " " + t.Price.Currency
	}
	return []probeField{
		{"ticketId", id(t.TicketID)},
		{"barcode", secutix.MaskValue(t.Barcode)},
		{"symbology", string(t.Symbology)},
		{"state", string(t.State)},
		{"event.performanceId", id(t.Event.PerformanceID)},
		{"event.name", t.Event.Name},
		{"event.kind", string(t.Event.Kind)},
		{"event.start", when(t.Event.Start)},
		{"event.end", when(t.Event.End)},
		{"event.doors", when(t.Event.Doors)},
		{"event.timeZone", t.Event.TimeZone},
		{"event.performers", strings.Join(t.Event.Performers, ", ")},
		{"venue.name", t.Venue.Name},
		{"venue.address", t.Venue.Address},
		{"venue.city", t.Venue.City},
		{"venue.postalCode", t.Venue.PostalCode},
		{"venue.country", t.Venue.Country},
		{"venue.entrance", t.Venue.Entrance},
		{"seat.area", t.Seat.Area},
		{"seat.block", t.Seat.Block},
		{"seat.row", t.Seat.Row},
		{"seat.number", t.Seat.Number},
		{"tariff", t.Tariff},
		{"price", price},
		{"holderName", secutix.MaskValue(t.HolderName)},
		{"holderEmail", secutix.MaskValue(t.HolderEmail)},
		{"locale", t.Locale},
	}
}
