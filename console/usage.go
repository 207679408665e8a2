package console

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"walletpass/pass"
)

// The usage page: per performance, passes issued, added to and removed
// from each wallet, and scanned, by day, with a chart and a CSV download.

// maxPerformances bounds the performances the usage page lists.
const maxPerformances = 50

func (c *Console) usage(w http.ResponseWriter, r *http.Request, s *session) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	ps, err := c.cfg.Store.UsagePerformances(r.Context(), t.ID, maxPerformances)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	for i := range ps {
		if ps[i], err = c.cfg.Store.PerformanceUsage(r.Context(), t.ID, ps[i].PerformanceID); err != nil {
			c.failErr(w, r, s, err)
			return
		}
	}
	c.render(w, r, s, http.StatusOK, "usage", struct {
		Tenant       Tenant
		Performances []pass.PerformanceUsage
	}{t, ps})
}

func (c *Console) performanceUsage(w http.ResponseWriter, r *http.Request, s *session) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("performance"), 10, 64)
	if err != nil || id < 0 {
		c.fail(w, r, s, http.StatusNotFound, "notFound")
		return
	}
	u, err := c.cfg.Store.PerformanceUsage(r.Context(), t.ID, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		writeUsageCSV(w, t.ID, u)
		return
	}
	lang := c.pageFor(r, s, "usage", nil).Lang
	c.render(w, r, s, http.StatusOK, "performance", struct {
		Tenant Tenant
		Usage  pass.PerformanceUsage
		Chart  template.HTML
	}{t, u, usageChart(u, lang)})
}

// usageColumns are the CSV's and the table's columns after the day.
var usageColumns = []string{"issued", "appleAdded", "appleRemoved", "googleAdded", "googleRemoved", "scanned"}

func usageValues(p pass.UsagePoint) []int {
	return []int{p.Issued, p.AppleAdded, p.AppleRemoved, p.GoogleAdded, p.GoogleRemoved, p.Scanned}
}

// writeUsageCSV answers the usage by day as CSV (RFC 4180), one line per
// day and one for the totals.
func writeUsageCSV(w http.ResponseWriter, tenant string, u pass.PerformanceUsage) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="usage-%s-%d.csv"`, tenant, u.PerformanceID))
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{"day"}, usageColumns...))
	row := func(day string, p pass.UsagePoint) {
		rec := []string{day}
		for _, v := range usageValues(p) {
			rec = append(rec, strconv.Itoa(v))
		}
		_ = cw.Write(rec)
	}
	for _, d := range u.Days {
		row(d.Day.Format(time.DateOnly), d)
	}
	row("total", u.Total)
	cw.Flush()
}

// chartSeries are the chart's lines: running totals of what the
// operator watches, each with a colour readable on white.
var chartSeries = []struct {
	key    string
	colour string
	value  func(pass.UsagePoint) int
}{
	{"issued", "#1f4e99", func(p pass.UsagePoint) int { return p.Issued }},
	{"inApple", "#111111", func(p pass.UsagePoint) int { return p.AppleAdded - p.AppleRemoved }},
	{"inGoogle", "#0b7a3e", func(p pass.UsagePoint) int { return p.GoogleAdded - p.GoogleRemoved }},
	{"scanned", "#b3261e", func(p pass.UsagePoint) int { return p.Scanned }},
}

// usageChart draws the running totals by day as an SVG line chart, from
// zero the day before the first day with activity (no script; the table
// below it holds the same figures).
func usageChart(u pass.PerformanceUsage, lang string) template.HTML {
	const w, h, left, right, top, bottom = 720.0, 260.0, 48.0, 12.0, 12.0, 40.0
	if len(u.Days) == 0 {
		return ""
	}
	// The lines start at zero the day before the first day with activity.
	days := append([]pass.UsagePoint{{Day: u.Days[0].Day.AddDate(0, 0, -1)}}, u.Days...)
	first, last := days[0].Day, days[len(days)-1].Day
	span := last.Sub(first).Hours() / 24
	// Running totals, per series.
	totals := make([][]int, len(chartSeries))
	top1 := 1
	for i, s := range chartSeries {
		sum := 0
		for _, d := range days {
			sum += s.value(d)
			totals[i] = append(totals[i], sum)
			top1 = max(top1, sum)
		}
	}
	x := func(day time.Time) float64 { return left + (w-left-right)*(day.Sub(first).Hours()/24)/span }
	y := func(v int) float64 { return top + (h-top-bottom)*(1-float64(v)/float64(top1)) }
	var b strings.Builder
	esc := template.HTMLEscapeString
	title := esc(text(lang, "usageChart"))
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="chart-title"><title id="chart-title">%s</title>`, w, h, title)
	// Axes and the scale's ends.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/>`, left, top, left, h-bottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" class="tick">%d</text>`, left-6, top+4, top1)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" class="tick">0</text>`, left-6, h-bottom+4)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick">%s</text>`, left, h-bottom+16, first.Format(time.DateOnly))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" class="tick">%s</text>`, w-right, h-bottom+16, last.Format(time.DateOnly))
	for i, s := range chartSeries {
		var pts []string
		for j, d := range days {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(d.Day), y(totals[i][j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2.5" points="%s"/>`, s.colour, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], s.colour)
		}
		// The legend, under the axis.
		lx := left + float64(i)*160
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/><text x="%.1f" y="%.1f" class="legend">%s (%d)</text>`,
			lx, h-14, s.colour, lx+16, h-4, esc(text(lang, s.key)), totals[i][len(days)-1])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // only numbers, fixed colours and escaped words
}
