package secutix

import (
	"net/http"
	"sort"
	"time"
)

// externalOrderHistoryService/listTicketsByCriteria: the tickets of a
// product with their states, paged. The date range is mandatory (SecuTix
// answers an error without it); a ticket is listed when it was created
// within it. Without paginationParameter at most 5,000 tickets come back;
// "truncated" says more remain.
const (
	methodListTickets = "listTicketsByCriteria"
	maxTicketsListed  = 5000
)

// TicketListResult is the answer of listTicketsByCriteria.
type TicketListResult struct {
	Envelope
	Truncated       bool            `json:"truncated"`
	TicketSummaries []TicketSummary `json:"ticketSummaries"`
}

// TicketSummary is one ticket of the list.
type TicketSummary struct {
	TicketID              int64  `json:"ticketId"`
	TicketState           string `json:"ticketState"`
	PerformanceID         int64  `json:"performanceId"`
	SeatCategoryID        int64  `json:"seatCategoryId"`
	AudienceSubCategoryID int64  `json:"audienceSubCategoryId"`
	AudienceSubCategory   string `json:"audienceSubCategory"`
	Price                 int64  `json:"price"`
}

type ticketListRequest struct {
	TicketFilterCriteria *struct {
		ProductID int64  `json:"productId"`
		StartDate string `json:"startDate"`
		EndDate   string `json:"endDate"`
	} `json:"ticketFilterCriteria"`
	PaginationParameter *struct {
		StartPosition int `json:"startPosition"`
		MaxResult     int `json:"maxResult"`
	} `json:"paginationParameter"`
}

// serveTicketList answers listTicketsByCriteria. Callers hold s.mu and
// have passed gate.
func (s *Sandbox) serveTicketList(w http.ResponseWriter, req ticketListRequest, ok Envelope) {
	if req.TicketFilterCriteria == nil {
		writeEnvelope(w, http.StatusOK, "INVALID_PARAMETER", "ticketFilterCriteria is required")
		return
	}
	c := req.TicketFilterCriteria
	from, err1 := time.Parse(time.RFC3339, c.StartDate)
	to, err2 := time.Parse(time.RFC3339, c.EndDate)
	if err1 != nil || err2 != nil || to.Before(from) {
		writeEnvelope(w, http.StatusOK, "INVALID_PARAMETER", "startDate and endDate are required")
		return
	}
	var all []TicketSummary
	ids := make([]int64, 0, len(s.files))
	for id := range s.files {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		for _, o := range s.files[id].OrderDetailsDatas {
			if o.OrderType != "SALE" {
				continue
			}
			for _, mv := range o.MovementDatas {
				var op *OperationData
				for k := range o.OperationDatas {
					if o.OperationDatas[k].OperationID == mv.OperationID {
						op = &o.OperationDatas[k]
					}
				}
				if op == nil || op.ProductID != c.ProductID {
					continue
				}
				for _, t := range mv.Tickets {
					if at := parseOr(t.CreationDate); at.Before(from) || at.After(to) {
						continue
					}
					all = append(all, TicketSummary{TicketID: t.TicketID, TicketState: t.TicketState, PerformanceID: op.PerformanceID,
						SeatCategoryID: mv.SeatCategoryID, AudienceSubCategoryID: op.AudienceSubCategoryID,
						AudienceSubCategory: op.AudienceSubCategory, Price: t.Price})
				}
			}
		}
	}
	start, limit := 0, maxTicketsListed
	if p := req.PaginationParameter; p != nil {
		start, limit = max(0, p.StartPosition), p.MaxResult
		if limit <= 0 {
			limit = maxTicketsListed
		}
	}
	res := TicketListResult{Envelope: ok, TicketSummaries: []TicketSummary{}}
	if start < len(all) {
		end := min(len(all), start+limit)
		res.TicketSummaries = all[start:end]
		res.Truncated = end < len(all)
	}
	writeJSON(w, http.StatusOK, res)
}
