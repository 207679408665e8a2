package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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
	fs := newFlags("secutix probe", stdout)
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
		fmt.Fprintf(stdout, "%s, then the POS config and the catalogue: %d call(s) in all\n", p.Method, p.Calls)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n--- SecuTix's answer (secrets and personal data masked)\n%s\n", p.Raw)
	if p.Catalog != nil {
		fmt.Fprintf(stdout, "\n--- its performances in the catalogue (getCatalogDetailed)\n%s\n", p.Catalog)
		fmt.Fprintf(stdout, "\n--- the point of sale (getPOSConfig)\n%s\n", p.POS)
		if p.Contact != nil {
			fmt.Fprintf(stdout, "\n--- the contacts (getContactData)\n%s\n", p.Contact)
		}
	}
	if p.MapErr != nil {
		fmt.Fprintf(stdout, "\n--- walletpass cannot make passes of it: %s\n", oneLine(p.MapErr))
		printSources(stdout, p.Fields)
		return fmt.Errorf("secutix probe: the answer does not map to passes")
	}
	o := p.Order
	fmt.Fprintf(stdout, "\n--- what walletpass reads: file %d, order %d, %d ticket(s)\n", o.FileID, o.OrderID, len(o.Tickets))
	for _, w := range o.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	for _, tk := range o.Tickets {
		fmt.Fprintf(stdout, "ticket of movement %d: %s, %s, %s, %s\n", tk.MovementID, tk.State, tk.Event.Name,
			tk.Event.Start.Format(time.RFC3339), tk.Venue.Name)
	}
	return printSources(stdout, p.Fields)
}

// printSources prints, per movement, each pass field's value and the
// path it was read from, or "missing".
func printSources(w io.Writer, fields []secutix.FieldSource) error {
	var mv int64 = -1
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, f := range fields {
		if f.MovementID != mv {
			mv = f.MovementID
			fmt.Fprintf(tw, "\nmovement %d\tvalue\tread from\n", mv)
		}
		if f.Path == "" {
			fmt.Fprintf(tw, "  %s\tmissing\t\n", f.Field)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Field, f.Value, f.Path)
	}
	return tw.Flush()
}
