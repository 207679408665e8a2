package secutix

import (
	"context"
	"encoding/json"
	"fmt"

	"walletpass/pass"
)

// MethodListTicketsByCriteria lists the tickets of a product with their
// states (externalOrderHistoryService), for reconciliation.
const MethodListTicketsByCriteria = "listTicketsByCriteria"

// ServiceHistory is the service of MethodListTicketsByCriteria.
const ServiceHistory = "externalOrderHistoryService"

// DefaultTicketPageSize is how many tickets one listTicketsByCriteria
// call asks for (SecuTix's default cap is 5,000).
const DefaultTicketPageSize = 5000

// maxTicketPages bounds one listing.
const maxTicketPages = 1000

var _ pass.TicketLister = (*Client)(nil)

// TicketStates lists the tickets of a performance with their states: it
// finds the performance's product in the catalogue, then pages through
// listTicketsByCriteria (the product, a date range of three years either
// side of now, TicketPageSize per page) while SecuTix says the list is
// truncated or a page comes back full, and keeps the tickets of the
// performance. A state walletpass does not know is returned as "".
// Errors are those of OrderBySecret; KindNotFound when the performance is
// not in the catalogue.
func (c *Client) TicketStates(ctx context.Context, tenant string, performanceID int64) ([]pass.TicketStatus, error) {
	if err := c.checkTenant(tenant); err != nil {
		return nil, err
	}
	cat, err := c.view(ctx, []int64{performanceID})
	if err != nil {
		return nil, err
	}
	e, ok := cat.perfs[performanceID]
	if !ok {
		return nil, pass.Errorf(pass.KindNotFound, "secutix: performance %d is not in the catalogue", performanceID)
	}
	productID, err := intOf(get(e.product, "id"))
	if err != nil || productID <= 0 {
		return nil, pass.Errorf(pass.KindUnavailable, "secutix: the catalogue names no product id for performance %d", performanceID)
	}
	now := c.cfg.Clock.Now().UTC()
	const layout = "2006-01-02T15:04:05.000Z"
	var out []pass.TicketStatus
	seen := map[int64]bool{}
	for page, start := 0, 0; page < maxTicketPages; page++ {
		req := map[string]any{
			"ticketFilterCriteria": map[string]any{"productId": productID,
				"startDate": now.AddDate(-3, 0, 0).Format(layout), "endDate": now.AddDate(3, 0, 0).Format(layout)},
			"paginationParameter": map[string]any{"startPosition": start, "maxResult": c.cfg.TicketPageSize},
		}
		body, err := c.call(ctx, MethodListTicketsByCriteria, req, fmt.Sprintf("product %d from %d", productID, start))
		if err != nil {
			return nil, err
		}
		var res struct {
			Truncated bool `json:"truncated"`
			Summaries []struct {
				TicketID      flexInt `json:"ticketId"`
				TicketState   text    `json:"ticketState"`
				PerformanceID flexInt `json:"performanceId"`
			} `json:"ticketSummaries"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			return nil, malformed(MethodListTicketsByCriteria, err)
		}
		fresh, withID := 0, 0
		for _, s := range res.Summaries {
			if s.TicketID <= 0 {
				// No ticket to compare (a summary without its id): left
				// out, or reconciliation would compare its state with
				// every pass whose ticket id is unknown.
				continue
			}
			withID++
			if id := int64(s.TicketID); !seen[id] {
				seen[id] = true
				fresh++
			} else {
				continue // on an earlier page too
			}
			if s.PerformanceID != 0 && int64(s.PerformanceID) != performanceID {
				continue
			}
			st, _ := ticketState(s.TicketState.String())
			out = append(out, pass.TicketStatus{TicketID: int64(s.TicketID), PerformanceID: performanceID, State: st})
		}
		if page > 0 && withID > 0 && fresh == 0 {
			// The page holds only tickets of the pages before: SecuTix did
			// not honour startPosition, and asking on would loop.
			return nil, pass.Errorf(pass.KindUnavailable,
				"secutix: listTicketsByCriteria sent the tickets of the pages before again from position %d (product %d): its pagination is not followed",
				start, productID)
		}
		if !res.Truncated && len(res.Summaries) < c.cfg.TicketPageSize {
			return out, nil
		}
		if len(res.Summaries) == 0 {
			return out, nil // truncated but empty: nothing more to page through
		}
		start += len(res.Summaries)
	}
	return out, pass.Errorf(pass.KindUnavailable, "secutix: more than %d pages of tickets for performance %d", maxTicketPages, performanceID)
}
