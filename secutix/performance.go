package secutix

import (
	"context"
	"fmt"
	"time"

	"walletpass/pass"
)

var _ pass.PerformanceSource = Clients(nil)

// Performance calls Performance on the tenant's Client. Errors are those
// of Clients.OrderBySecret.
func (cs Clients) Performance(ctx context.Context, tenant string, performanceID int64) (pass.PerformanceDetails, error) {
	c, err := cs.client(tenant)
	if err != nil {
		return pass.PerformanceDetails{}, err
	}
	return c.Performance(ctx, performanceID)
}

// Performance returns what the catalogue alone says of a performance
// (pass.PerformanceSource): the fields whose mapping reads the catalogue
// (product, performance, POS configuration) before anything of an order.
// With the default mapping that is the event's name, start, end and time
// zone; the venue and entrance come from the order's operation. The
// catalogue is refreshed as for an order (at most once per
// Config.CatalogInterval). A performance the catalogue does not hold is an
// error of kind KindNotFound.
func (c *Client) Performance(ctx context.Context, performanceID int64) (pass.PerformanceDetails, error) {
	v, err := c.view(ctx, []int64{performanceID})
	if err != nil {
		return pass.PerformanceDetails{}, err
	}
	e, ok := v.perfs[performanceID]
	if !ok {
		return pass.PerformanceDetails{}, pass.Errorf(pass.KindNotFound, "secutix: performance %d is not in the catalogue", performanceID)
	}
	return c.mapper.performance(performanceID, ticketScope{"product": e.product, "performance": e.performance, "pos": v.pos})
}

// performance maps a performance's catalogue entry.
func (m mapper) performance(id int64, sc ticketScope) (pass.PerformanceDetails, error) {
	var d pass.PerformanceDetails
	str := func(field string) string {
		h, ok := m.fields.lookupCatalogue(sc, field)
		if !ok {
			return ""
		}
		return textOf(h.v).pick(m.locale)
	}
	fail := func(format string, args ...any) (pass.PerformanceDetails, error) {
		return pass.PerformanceDetails{}, pass.Errorf(pass.KindInvalid, "secutix: performance %d: %s", id, fmt.Sprintf(format, args...))
	}
	d.Name = str("eventName")
	if h, ok := m.fields.lookupCatalogue(sc, "eventName"); ok {
		d.Names = textOf(h.v).all()
	}
	var loc *time.Location
	if zone := str("timeZone"); zone != "" {
		if l, err := (pass.Event{TimeZone: zone}).Location(); err == nil {
			d.TimeZone, loc = zone, l
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"eventStart", &d.Start}, {"eventEnd", &d.End}, {"doors", &d.Doors}} {
		v, err := parseTime(str(f.name), loc)
		if err != nil {
			return fail("%s: %v", f.name, err)
		}
		*f.dst = v
	}
	if d.End.IsZero() && !d.Start.IsZero() {
		if h, ok := m.fields.lookupCatalogue(sc, "eventDuration"); ok {
			if secs, err := intOf(h.v); err == nil && secs > 0 && secs < 366*24*3600 {
				d.End = d.Start.Add(time.Duration(secs) * time.Second)
			}
		}
	}
	d.Venue = venueOf(str)
	if loc != nil {
		for _, t := range []*time.Time{&d.Start, &d.End, &d.Doors} {
			if !t.IsZero() {
				*t = t.In(loc)
			}
		}
	}
	return d, nil
}
