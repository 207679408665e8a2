package secutix

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The types below are the sandbox's data, shaped exactly like the JSON of
// SecuTix's ExternalOrderService v1_33 as the project's SecuTix notes
// record it (without their "_inferred" suffixes). Money is in thousandths of the
// currency unit, ids are int64, dates are ISO-8601 with an offset and
// milliseconds.

// Envelope is the status part of every SecuTix answer. Detail, message and
// request id are null on success unless set.
type Envelope struct {
	StatusCode    string  `json:"statusCode"` // success | in_progress | error
	StatusDetail  *string `json:"statusDetail"`
	StatusMessage *string `json:"statusMessage"`
	RequestID     *int64  `json:"requestId"` // an Integer, as SecuTix's
}

// FileResult is the answer of getFileDetails and getFileDetailsFromOrderSecretId.
type FileResult struct {
	Envelope
	FileDetailsData   *FileDetailsData   `json:"fileDetailsData,omitempty"`
	OrderDetailsDatas []OrderDetailsData `json:"orderDetailsDatas,omitempty"`
}

// OrderResult is the answer of getOrderDetails.
type OrderResult struct {
	Envelope
	OrderDetailsData *OrderDetailsData `json:"orderDetailsData,omitempty"`
}

// File is a SecuTix file (what a buyer bought in one go): its details and
// its orders, a sale and possibly refunds.
type File struct {
	FileDetailsData   FileDetailsData    `json:"fileDetailsData"`
	OrderDetailsDatas []OrderDetailsData `json:"orderDetailsDatas"`
}

// FileDetailsData is the file part of getFileDetails.
type FileDetailsData struct {
	FileID          int64         `json:"fileId"`
	FileState       string        `json:"fileState"`
	LastModDateTime string        `json:"lastModDateTime"`
	FileContacts    []FileContact `json:"fileContacts,omitempty"`
}

// FileContact is a contact of a file.
type FileContact struct {
	ContactReference string `json:"contactReference"`
	Role             string `json:"role,omitempty"`
}

// OrderDetailsData is one order of a file.
type OrderDetailsData struct {
	OrderID           int64           `json:"orderId"`
	OrderSecretID     string          `json:"orderSecretId"`
	OrderState        string          `json:"orderState"`
	OrderType         string          `json:"orderType"` // SALE | REFUND
	CreationDateTime  string          `json:"creationDateTime"`
	ReferenceDate     string          `json:"referenceDate"`
	SaleAmount        int64           `json:"saleAmount"`
	PreSaleAmount     int64           `json:"preSaleAmount"`
	ReservationAmount int64           `json:"reservationAmount"`
	CatalogCurrency   Currency        `json:"catalogCurrency"`
	ContactReference  string          `json:"contactReference"`
	SalesChannelCode  string          `json:"salesChannelCode"`
	SalesChannelName  string          `json:"salesChannelName"`
	ContactEmail      string          `json:"contactEmail,omitempty"`
	ContactLocale     string          `json:"contactLocale,omitempty"`
	OperationDatas    []OperationData `json:"operationDatas"`
	MovementDatas     []MovementData  `json:"movementDatas,omitempty"`
}

// Currency is an order's catalog currency.
type Currency struct {
	CurrencyCode  string `json:"currencyCode"`
	FractionDigit int    `json:"fractionDigit"`
	MinAmount     int64  `json:"minAmount"`
	Symbol        string `json:"symbol"`
}

// OperationData is a product × tariff × quantity line of an order.
type OperationData struct {
	OperationID                            int64      `json:"operationId"`
	FileID                                 int64      `json:"fileId"`
	Kind                                   string     `json:"kind"`
	Type                                   string     `json:"type"`
	Quantity                               int        `json:"quantity"`
	BasePrice                              int64      `json:"basePrice"`
	UnitPrice                              int64      `json:"unitPrice"`
	TotalAmount                            int64      `json:"totalAmount"`
	ProductID                              int64      `json:"productId"`
	Product                                string     `json:"product"`
	ProductCode                            string     `json:"productCode"`
	ProductFamilyType                      string     `json:"productFamilyType"`
	EventID                                int64      `json:"eventId"`
	PerformanceID                          int64      `json:"performanceId"`
	Performance                            Text       `json:"performance"`
	EventKind                              string     `json:"eventKind,omitempty"`
	PerformanceStartDate                   string     `json:"performanceStartDate,omitempty"`
	PerformanceEndDate                     string     `json:"performanceEndDate,omitempty"`
	DoorsOpenDate                          string     `json:"doorsOpenDate,omitempty"`
	TimeZone                               string     `json:"timeZone,omitempty"`
	Performers                             []string   `json:"performers,omitempty"`
	HomeTeam                               *Team      `json:"homeTeam,omitempty"`
	AwayTeam                               *Team      `json:"awayTeam,omitempty"`
	League                                 string     `json:"league,omitempty"`
	AudienceSubCategoryID                  int64      `json:"audienceSubCategoryId"`
	AudienceSubCategory                    string     `json:"audienceSubCategory"`
	AudienceSubCategoryExternalDescription string     `json:"audienceSubCategoryExternalDescription"`
	Locations                              []Location `json:"locations"`
}

// Team is one side of a sports match.
type Team struct {
	Name         string `json:"name"`
	Abbreviation string `json:"abbreviation,omitempty"`
}

// Location is where an operation's performance takes place.
type Location struct {
	SiteCode         string   `json:"siteCode"`
	SiteExternalName Text     `json:"siteExternalName"`
	SiteName         string   `json:"siteName,omitempty"`
	SpaceCode        string   `json:"spaceCode"`
	SiteAddress      Address  `json:"siteAddress"`
	Latitude         *float64 `json:"latitude,omitempty"`
	Longitude        *float64 `json:"longitude,omitempty"`
}

// Address is a site's postal address.
type Address struct {
	FirstAddressLine string `json:"firstAddressLine"`
	ZipCode          string `json:"zipCode"`
	Locality         string `json:"locality"`
	CountryCode      string `json:"countryCode"`
}

// MovementData is one seat or entry right: the unit a wallet pass is made
// for. Its movementId never changes; its tickets do (a reprint or a
// transfer adds a new one and invalidates the old). A movement of a REFUND
// order names the sale movement it cancels in CancelledMovementID.
type MovementData struct {
	MovementID          int64        `json:"movementId"`
	OperationID         int64        `json:"operationId"`
	Type                string       `json:"type"`
	SeatID              int64        `json:"seatId,omitempty"`
	SeatCategoryID      int64        `json:"seatCategoryId,omitempty"`
	SeatCategory        string       `json:"seatCategory,omitempty"`
	ContingentID        int64        `json:"contingentId,omitempty"`
	Contingent          string       `json:"contingent,omitempty"`
	AreaID              int64        `json:"areaId,omitempty"`
	Area                string       `json:"area,omitempty"`
	Block               string       `json:"block,omitempty"`
	Row                 string       `json:"row,omitempty"`
	SeatNumber          string       `json:"seatNumber,omitempty"`
	Entrance            string       `json:"entrance,omitempty"`
	Holder              *Holder      `json:"holder,omitempty"`
	Tickets             []TicketData `json:"tickets,omitempty"`
	CancelledMovementID int64        `json:"cancelledMovementId,omitempty"`
}

// Holder is the person a ticket is for.
type Holder struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email,omitempty"`
	Locale    string `json:"locale,omitempty"`
}

// TicketData is one printed (or printable) ticket of a movement; the last
// one listed is the current one.
type TicketData struct {
	TicketID          int64  `json:"ticketId"`
	Barcode           string `json:"barcode"`
	TicketState       string `json:"ticketState"` // VALID | CONTROLLED | CANCELLED | INVALIDATED
	TicketMedium      string `json:"ticketMedium"`
	CancellationCause string `json:"cancellationCause"`
	CreationDate      string `json:"creationDate"`
	ValidityStartTime string `json:"validityStartTime,omitempty"`
	ValidityEndTime   string `json:"validityEndTime,omitempty"`
	Price             int64  `json:"price"`
}

// Translation is one localized value of a Text.
type Translation struct {
	Locale string `json:"locale"`
	Value  string `json:"value"`
}

// Text is a SecuTix name: a plain string, or, with Translations, the
// object {"translations":[{"locale","value"}]}.
type Text struct {
	Value        string
	Translations []Translation
}

// MarshalJSON implements json.Marshaler.
func (t Text) MarshalJSON() ([]byte, error) {
	if len(t.Translations) > 0 {
		return json.Marshal(struct {
			Translations []Translation `json:"translations"`
		}{t.Translations})
	}
	return json.Marshal(t.Value)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	*t = Text{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty text")
	case string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &t.Value)
	default:
		var obj struct {
			Translations []Translation `json:"translations"`
		}
		err := json.Unmarshal(b, &obj)
		t.Translations = obj.Translations
		return err
	}
}

// String returns the English value, else the first, else Value.
func (t Text) String() string {
	for _, tr := range t.Translations {
		if tr.Locale == "en" {
			return tr.Value
		}
	}
	if len(t.Translations) > 0 {
		return t.Translations[0].Value
	}
	return t.Value
}

// Webhook is the change notification the sandbox POSTs to Config.WebhookURL,
// the body of walletpass's /webhooks/listeners/secutix/orders.
type Webhook struct {
	TicketID         int64  `json:"ticketId"`
	SaleMovementID   int64  `json:"saleMovementId"`
	OrderSecretToken string `json:"orderSecretToken"`
	State            string `json:"state"`      // PAID | MODIFIED | VALIDATED | CANCELLED
	LastUpdate       string `json:"lastUpdate"` // RFC 3339, milliseconds, numeric offset
}
