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
	OrderType         string          `json:"orderType"` // SALE | REFUND_CLIENT
	CreationDateTime  string          `json:"creationDateTime"`
	ReferenceDate     string          `json:"referenceDate"`
	SaleAmount        int64           `json:"saleAmount"`
	PreSaleAmount     int64           `json:"preSaleAmount"`
	ReservationAmount int64           `json:"reservationAmount"`
	CatalogCurrency   Currency        `json:"catalogCurrency"`
	ContactReference  string          `json:"contactReference"`
	SalesChannelCode  string          `json:"salesChannelCode"`
	SalesChannelName  string          `json:"salesChannelName"`
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

// OperationData is a product × tariff × quantity line of an order. It
// names its performance; the performance's date is in the catalogue.
type OperationData struct {
	OperationID                            int64      `json:"operationId"`
	FileID                                 int64      `json:"fileId"`
	Kind                                   string     `json:"kind"`
	Type                                   string     `json:"type"` // PRE_SALE
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
	Performance                            string     `json:"performance"`
	AudienceSubCategoryID                  int64      `json:"audienceSubCategoryId"`
	AudienceSubCategory                    string     `json:"audienceSubCategory"`
	AudienceSubCategoryExternalDescription string     `json:"audienceSubCategoryExternalDescription"`
	Numbered                               bool       `json:"numbered"`
	Locations                              []Location `json:"locations"`
	// ComfortVariableValues: SecuTix's shape of them is not on record;
	// the sandbox sends "NAME=value" strings (walletpass also reads
	// objects with a name and a value).
	ComfortVariableValues []string `json:"comfortVariableValues,omitempty"`
}

// Location is where an operation's performance takes place.
type Location struct {
	SiteCode          string  `json:"siteCode"`
	SiteExternalName  Text    `json:"siteExternalName"`
	SpaceCode         string  `json:"spaceCode"`
	SpaceExternalName Text    `json:"spaceExternalName"`
	SiteAddress       Address `json:"siteAddress"`
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
// transfer adds a new one and invalidates the old). barCode, area and the
// beneficiary's names are the movement fields a commercial SecuTix
// connector maps; where tickets sit in an order is not documented: the
// sandbox lists them under "tickets", and barCode is the current one's.
type MovementData struct {
	MovementID           int64        `json:"movementId"`
	OperationID          int64        `json:"operationId"`
	Type                 string       `json:"type"` // SEAT
	SeatID               int64        `json:"seatId,omitempty"`
	SeatCategoryID       int64        `json:"seatCategoryId,omitempty"`
	SeatCategory         string       `json:"seatCategory,omitempty"`
	ContingentID         int64        `json:"contingentId,omitempty"`
	Contingent           string       `json:"contingent,omitempty"`
	AreaID               int64        `json:"areaId,omitempty"`
	Area                 string       `json:"area,omitempty"`
	BarCode              string       `json:"barCode,omitempty"`
	BeneficiaryFirstname string       `json:"beneficiaryFirstname,omitempty"`
	BeneficiaryLastname  string       `json:"beneficiaryLastname,omitempty"`
	Transferable         bool         `json:"transferable"`
	Tickets              []TicketData `json:"tickets,omitempty"`
}

// TicketData is one ticket of a movement, with the field names SecuTix
// uses for tickets elsewhere; the last one listed is the current one.
type TicketData struct {
	TicketID          int64  `json:"ticketId"`
	Barcode           string `json:"barcode"`
	TicketState       string `json:"ticketState"` // VALID | CONTROLLED | CANCELLED | INVALIDATED
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
