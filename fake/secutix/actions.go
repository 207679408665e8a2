package secutix

import (
	"net/http"
	"strconv"
	"time"
)

// The ticket actions of POST /sandbox/orders/{fileId}/tickets/{ticketId}/{action}.
const (
	ActionModify   = "modify"
	ActionReprint  = "reprint"
	ActionTransfer = "transfer"
	ActionValidate = "validate"
	ActionCancel   = "cancel"
	ActionRefund   = "refund"
)

// Change is the body of the modify action. Nil fields stay as they are; a
// Change that sets nothing moves the ticket to another seat (a new seatId
// in another area). Start and End move the performance in the catalogue,
// so every ticket of it changes; the tickets of the same operation are
// notified. A new Start without End keeps the duration.
type Change struct {
	Seat   *Seat   `json:"seat,omitempty"`
	Start  *string `json:"start,omitempty"`
	End    *string `json:"end,omitempty"`
	Holder *Holder `json:"holder,omitempty"` // a correction of the name, not a transfer
}

func (c Change) empty() bool {
	return (c.Seat == nil || *c.Seat == Seat{}) && c.Start == nil && c.End == nil &&
		(c.Holder == nil || *c.Holder == Holder{})
}

// TicketView is a ticket as the control API shows it.
type TicketView struct {
	FileID           int64     `json:"fileId"`
	OrderID          int64     `json:"orderId"`
	OrderSecretToken string    `json:"orderSecretToken"`
	MovementID       int64     `json:"movementId"`
	TicketID         int64     `json:"ticketId"`
	Barcode          string    `json:"barcode"`
	State            string    `json:"state"` // SecuTix ticketState: VALID, CONTROLLED, CANCELLED
	Event            EventView `json:"event"`
	Seat             Seat      `json:"seat"`
	Holder           Holder    `json:"holder"`
	Tariff           string    `json:"tariff"`
	Price            int64     `json:"price"`
	Currency         string    `json:"currency"`
}

// EventView is the event part of a TicketView.
type EventView struct {
	Name  string `json:"name"`
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
}

// cursor points at one sale movement of a file. Its pointers are only
// valid until a slice they point into grows.
type cursor struct {
	f  *File
	o  *OrderDetailsData
	op *OperationData
	mv *MovementData
}

func (c cursor) ticket() *TicketData { return &c.mv.Tickets[len(c.mv.Tickets)-1] }

// view is the ticket's view. Callers hold s.mu.
func (s *Sandbox) view(c cursor) TicketView {
	t := c.ticket()
	start, end := s.performance(c.op.PerformanceID)
	return TicketView{
		FileID: c.f.FileDetailsData.FileID, OrderID: c.o.OrderID, OrderSecretToken: c.o.OrderSecretID,
		MovementID: c.mv.MovementID, TicketID: t.TicketID, Barcode: t.Barcode, State: t.TicketState,
		Seat:   Seat{Area: c.mv.Area, Category: c.mv.SeatCategory},
		Holder: Holder{FirstName: c.mv.BeneficiaryFirstname, LastName: c.mv.BeneficiaryLastname},
		Tariff: c.op.AudienceSubCategory, Price: c.op.UnitPrice, Currency: c.o.CatalogCurrency.CurrencyCode,
		Event: EventView{Name: c.op.Performance, Start: formatTime(start), End: formatTime(end)},
	}
}

func (c cursor) hook(state, at string) Webhook {
	return Webhook{TicketID: c.ticket().TicketID, SaleMovementID: c.mv.MovementID,
		OrderSecretToken: c.o.OrderSecretID, State: state, LastUpdate: at}
}

// find returns the cursor of a sale movement. Callers hold s.mu.
func (s *Sandbox) find(fileID, movementID int64) (cursor, bool) {
	f := s.files[fileID]
	if f == nil {
		return cursor{}, false
	}
	for i := range f.OrderDetailsDatas {
		o := &f.OrderDetailsDatas[i]
		if o.OrderType != "SALE" {
			continue
		}
		for j := range o.MovementDatas {
			mv := &o.MovementDatas[j]
			if mv.MovementID != movementID || len(mv.Tickets) == 0 {
				continue
			}
			for k := range o.OperationDatas {
				if o.OperationDatas[k].OperationID == mv.OperationID {
					return cursor{f: f, o: o, op: &o.OperationDatas[k], mv: mv}, true
				}
			}
		}
	}
	return cursor{}, false
}

// act runs one action on the current ticket ticketID of file fileID under
// the lock: it checks that the transition is possible, lets change mutate
// the file and return the webhooks to send, stamps the file and queues
// them. Errors are *Error: 404 for an unknown file or ticket, 409 for an
// impossible transition, 400 for a bad change.
func (s *Sandbox) act(fileID, ticketID int64, action string, change func(c cursor, now time.Time) ([]Webhook, *Error)) (TicketView, error) {
	return s.actOn(fileID, ticketID, action, func(c cursor, now time.Time) ([]Webhook, int64, *Error) {
		hooks, err := change(c, now)
		return hooks, 0, err
	})
}

// actOn is act for a change that closes another order than the sale (a
// refund): change returns its id, which V1 and V2 webhooks name.
func (s *Sandbox) actOn(fileID, ticketID int64, action string, change func(c cursor, now time.Time) ([]Webhook, int64, *Error)) (TicketView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[fileID] == nil {
		return TicketView{}, errorf(http.StatusNotFound, "no file %d", fileID)
	}
	ref, ok := s.byTicket[ticketID]
	if !ok || ref.fileID != fileID {
		return TicketView{}, errorf(http.StatusNotFound, "no ticket %d in file %d", ticketID, fileID)
	}
	c, ok := s.find(fileID, ref.movementID)
	if !ok {
		return TicketView{}, errorf(http.StatusNotFound, "no ticket %d in file %d", ticketID, fileID)
	}
	cur := c.ticket()
	switch {
	case cur.TicketID != ticketID:
		return TicketView{}, errorf(http.StatusConflict, "ticket %d was replaced by ticket %d", ticketID, cur.TicketID)
	case cur.TicketState == "CANCELLED" || cur.TicketState == "INVALIDATED":
		return TicketView{}, errorf(http.StatusConflict, "ticket %d is cancelled: it cannot %s", ticketID, action)
	case cur.TicketState == "CONTROLLED" && action != ActionCancel && action != ActionRefund:
		return TicketView{}, errorf(http.StatusConflict, "ticket %d was already validated: it cannot %s", ticketID, action)
	}
	now := s.now()
	hooks, orderID, err := change(c, now)
	if err != nil {
		return TicketView{}, err
	}
	c, _ = s.find(fileID, ref.movementID) // slices may have grown
	c.f.FileDetailsData.LastModDateTime = formatTime(now)
	s.log.Info("ticket changed", "fileId", fileID, "movementId", ref.movementID, "action", action)
	// V1 and V2 webhooks name the order the change closed: the one the
	// ticket was sold in, or the refund.
	if orderID == 0 {
		orderID = c.o.OrderID
	}
	s.saveLocked()
	s.hooks.enqueue(fileID, orderID, hooks...)
	return s.view(c), nil
}

// Modify changes a ticket's seat, entrance, event times or holder name (see
// Change); an empty Change moves it to another seat. It sends MODIFIED.
// Errors as for act: 400 for a bad time, 409 for a cancelled or
// validated ticket.
func (s *Sandbox) Modify(fileID, ticketID int64, ch Change) (TicketView, error) {
	return s.act(fileID, ticketID, ActionModify, func(c cursor, now time.Time) ([]Webhook, *Error) {
		stamp := formatTime(now)
		if ch.empty() {
			c.mv.Area = s.nextArea(c.mv.Area)
			c.mv.SeatID = s.nextID("seat")
			return []Webhook{c.hook("MODIFIED", stamp)}, nil
		}
		// Validate everything before changing anything.
		start, end := s.performance(c.op.PerformanceID)
		timesChanged := ch.Start != nil || ch.End != nil
		if ch.Start != nil {
			t, err := parseRFC3339("start", *ch.Start)
			if err != nil {
				return nil, err
			}
			if ch.End == nil {
				end = end.Add(t.Sub(start))
			}
			start = t
		}
		if ch.End != nil {
			t, err := parseRFC3339("end", *ch.End)
			if err != nil {
				return nil, err
			}
			end = t
		}
		if end.Before(start) {
			return nil, errorf(http.StatusBadRequest, "end is before start")
		}
		if st := ch.Seat; st != nil {
			if st.Area != "" {
				c.mv.Area = st.Area
				c.mv.SeatID = s.nextID("seat")
			}
			if st.Category != "" {
				c.mv.SeatCategory = st.Category
			}
		}
		if h := ch.Holder; h != nil {
			if h.FirstName != "" {
				c.mv.BeneficiaryFirstname = h.FirstName
			}
			if h.LastName != "" {
				c.mv.BeneficiaryLastname = h.LastName
			}
		}
		if !timesChanged {
			return []Webhook{c.hook("MODIFIED", stamp)}, nil
		}
		s.reschedule(c.op.PerformanceID, start, end)
		// The performance moved: every live ticket of the operation changed.
		hooks := []Webhook{c.hook("MODIFIED", stamp)}
		for i := range c.o.MovementDatas {
			mv := &c.o.MovementDatas[i]
			if mv.OperationID != c.op.OperationID || mv.MovementID == c.mv.MovementID || len(mv.Tickets) == 0 {
				continue
			}
			t := mv.Tickets[len(mv.Tickets)-1]
			if t.TicketState == "CANCELLED" || t.TicketState == "INVALIDATED" {
				continue
			}
			hooks = append(hooks, Webhook{TicketID: t.TicketID, SaleMovementID: mv.MovementID,
				OrderSecretToken: c.o.OrderSecretID, State: "MODIFIED", LastUpdate: stamp})
		}
		return hooks, nil
	})
}

// Reprint issues a new ticket (new ticketId and barcode) for the same
// movement and invalidates the old one; it sends MODIFIED with the new
// ticketId. Errors as for Modify.
func (s *Sandbox) Reprint(fileID, ticketID int64) (TicketView, error) {
	return s.act(fileID, ticketID, ActionReprint, func(c cursor, now time.Time) ([]Webhook, *Error) {
		s.reissue(c, "REPRINTED", now)
		return []Webhook{c.hook("MODIFIED", formatTime(now))}, nil
	})
}

// Transfer gives the ticket to a new holder (to, with demo values for the
// fields it leaves empty; nil: a generated holder) and, as a transfer must
// not leave the old holder with a working barcode, reissues it like
// Reprint. It sends MODIFIED. Errors as for Modify.
func (s *Sandbox) Transfer(fileID, ticketID int64, to *Holder) (TicketView, error) {
	return s.act(fileID, ticketID, ActionTransfer, func(c cursor, now time.Time) ([]Webhook, *Error) {
		h := s.nextHolder(c.mv.BeneficiaryFirstname + " " + c.mv.BeneficiaryLastname)
		if to != nil {
			mergeHolder(&h, *to)
		}
		c.mv.BeneficiaryFirstname, c.mv.BeneficiaryLastname = h.FirstName, h.LastName
		s.reissue(c, "TRANSFERRED", now)
		return []Webhook{c.hook("MODIFIED", formatTime(now))}, nil
	})
}

// Validate marks the ticket scanned at the gate (CONTROLLED) and sends
// VALIDATED. A ticket validates once: 409 the second time.
func (s *Sandbox) Validate(fileID, ticketID int64) (TicketView, error) {
	return s.act(fileID, ticketID, ActionValidate, func(c cursor, now time.Time) ([]Webhook, *Error) {
		c.ticket().TicketState = "CONTROLLED"
		return []Webhook{c.hook("VALIDATED", formatTime(now))}, nil
	})
}

// Cancel cancels the ticket (CANCELLED) and sends CANCELLED. A cancelled
// ticket accepts no further action (409).
func (s *Sandbox) Cancel(fileID, ticketID int64) (TicketView, error) {
	return s.act(fileID, ticketID, ActionCancel, func(c cursor, now time.Time) ([]Webhook, *Error) {
		t := c.ticket()
		t.TicketState, t.CancellationCause = "CANCELLED", "CANCELLED"
		return []Webhook{c.hook("CANCELLED", formatTime(now))}, nil
	})
}

// Refund cancels the ticket through a REFUND_CLIENT order added to the
// file (its movement has the sale movement's seat, its amounts are
// negative) and sends CANCELLED. Errors as for Cancel.
func (s *Sandbox) Refund(fileID, ticketID int64) (TicketView, error) {
	return s.actOn(fileID, ticketID, ActionRefund, func(c cursor, now time.Time) ([]Webhook, int64, *Error) {
		t := c.ticket()
		t.TicketState, t.CancellationCause = "CANCELLED", "CANCELLED"
		hook := c.hook("CANCELLED", formatTime(now))
		op := *c.op
		op.OperationID = s.nextID("operation")
		op.Quantity = 1
		op.BasePrice, op.UnitPrice, op.TotalAmount = -c.op.UnitPrice, -c.op.UnitPrice, -c.op.UnitPrice
		op.Locations = append([]Location(nil), c.op.Locations...)
		refund := OrderDetailsData{
			OrderID: s.nextID("order"), OrderSecretID: randomToken(18), OrderState: "CLOSED", OrderType: "REFUND_CLIENT",
			CreationDateTime: formatTime(now), ReferenceDate: c.o.ReferenceDate,
			SaleAmount: -c.op.UnitPrice, CatalogCurrency: c.o.CatalogCurrency, ContactReference: c.o.ContactReference,
			SalesChannelCode: c.o.SalesChannelCode, SalesChannelName: c.o.SalesChannelName,
			OperationDatas: []OperationData{op},
			MovementDatas: []MovementData{{
				MovementID: s.nextID("movement"), OperationID: op.OperationID, Type: c.mv.Type,
				SeatID: c.mv.SeatID, SeatCategoryID: c.mv.SeatCategoryID, SeatCategory: c.mv.SeatCategory, AreaID: c.mv.AreaID, Area: c.mv.Area,
			}},
		}
		s.byOrder[refund.OrderID] = c.f.FileDetailsData.FileID
		s.bySecret[refund.OrderSecretID] = c.f.FileDetailsData.FileID
		c.f.OrderDetailsDatas = append(c.f.OrderDetailsDatas, refund) // invalidates c
		return []Webhook{hook}, refund.OrderID, nil
	})
}

// reissue invalidates the current ticket of c and appends a new one.
// Callers hold s.mu.
func (s *Sandbox) reissue(c cursor, cause string, now time.Time) {
	old := c.ticket()
	old.TicketState, old.CancellationCause = "INVALIDATED", cause
	start, end := s.performance(c.op.PerformanceID)
	nt := s.newTicket(c.mv.MovementID, c.f.FileDetailsData.FileID, old.Price, start, end, now)
	c.mv.Tickets = append(c.mv.Tickets, nt)
	c.mv.BarCode = nt.Barcode
}

// parseOr parses a stored date, which is always well-formed.
func parseOr(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// parseID parses a path id: a positive int64.
func parseID(name, v string) (int64, *Error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusBadRequest, "%s %q is not a positive 64-bit integer", name, v)
	}
	return id, nil
}
