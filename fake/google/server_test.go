package google_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/walletobjects/v1"

	fakegoogle "walletpass/fake/google"
)

const issuer = fakegoogle.DefaultIssuerID

var (
	classID  = issuer + ".event-1"
	objectID = issuer + ".ticket-1"
)

// service returns a walletobjects client for srv without authentication.
func service(t *testing.T, srv *fakegoogle.Server) *walletobjects.Service {
	t.Helper()
	svc, err := walletobjects.NewService(context.Background(),
		option.WithEndpoint(srv.URL+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// newFake starts a fake with a client and, unless noClass, the class
// classID already inserted.
func newFake(t *testing.T, opts fakegoogle.Options, noClass bool) (*fakegoogle.Server, *walletobjects.Service) {
	t.Helper()
	srv := fakegoogle.NewServer(opts)
	t.Cleanup(srv.Close)
	svc := service(t, srv)
	if !noClass {
		if _, err := svc.Eventticketclass.Insert(validClass(classID)).Do(); err != nil {
			t.Fatalf("insert class: %v", err)
		}
	}
	return srv, svc
}

func ls(v string) *walletobjects.LocalizedString {
	return &walletobjects.LocalizedString{DefaultValue: &walletobjects.TranslatedString{Language: "en", Value: v}}
}

func validClass(id string) *walletobjects.EventTicketClass {
	return &walletobjects.EventTicketClass{
		Id:           id,
		IssuerName:   "Theatre",
		EventName:    ls("Hamlet"),
		ReviewStatus: "UNDER_REVIEW",
		EventId:      id,
		Venue:        &walletobjects.EventVenue{Name: ls("Main hall"), Address: ls("1 Road\nTown")},
		DateTime: &walletobjects.EventDateTime{
			Start:     "2026-05-01T19:00:00+02:00",
			End:       "2026-05-01T22:00:00.5+02:00",
			DoorsOpen: "2026-05-01T18:00:00",
		},
		Logo:               &walletobjects.Image{SourceUri: &walletobjects.ImageUri{Uri: "https://example.com/logo.png"}},
		HexBackgroundColor: "#1a2b3c",
	}
}

func validObject(id string) *walletobjects.EventTicketObject {
	return &walletobjects.EventTicketObject{
		Id:               id,
		ClassId:          classID,
		State:            "ACTIVE",
		TicketHolderName: "Ann Example",
		TicketNumber:     "T-1",
		SeatInfo:         &walletobjects.EventSeat{Seat: ls("12"), Row: ls("C")},
		ReservationInfo:  &walletobjects.EventReservationInfo{ConfirmationCode: "ORDER-9"},
		FaceValue:        &walletobjects.Money{CurrencyCode: "EUR", Micros: 25_000_000},
		Barcode:          &walletobjects.Barcode{Type: "QR_CODE", Value: "ABC123", AlternateText: "ABC 123"},
		ValidTimeInterval: &walletobjects.TimeInterval{
			Start: &walletobjects.DateTime{Date: "2026-05-01T00:00:00+02:00"},
			End:   &walletobjects.DateTime{Date: "2026-05-02T04:00:00+02:00"},
		},
		GroupingInfo: &walletobjects.GroupingInfo{GroupingId: "ORDER-9", SortIndex: 1},
		TextModulesData: []*walletobjects.TextModuleData{
			{Id: "a", Header: "A", Body: "first"}, {Id: "b", Header: "B", Body: "second"},
		},
		HeroImage: &walletobjects.Image{SourceUri: &walletobjects.ImageUri{Uri: "http://example.com/hero.png"}},
	}
}

// apiErr asserts that err is a *googleapi.Error with the given code and
// returns it.
func apiErr(t *testing.T, err error, code int) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("got error %v (%T), want a *googleapi.Error %d", err, err, code)
	}
	if ge.Code != code {
		t.Fatalf("got code %d (%s), want %d", ge.Code, ge.Message, code)
	}
	if ge.Message == "" {
		t.Errorf("error %d has no message; body %s", code, ge.Body)
	}
	return ge
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// do sends a raw request to the fake and returns status and body.
func do(t *testing.T, method, url, body string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func TestInsertAndGet(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, true)

	cls, err := svc.Eventticketclass.Insert(validClass(classID)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if cls.ReviewStatus != "APPROVED" || cls.Kind != "walletobjects#eventTicketClass" || cls.EventName.DefaultValue.Value != "Hamlet" {
		t.Errorf("inserted class = %+v", cls)
	}
	obj, err := svc.Eventticketobject.Insert(validObject(objectID)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if obj.State != "ACTIVE" || obj.FaceValue.Micros != 25_000_000 || obj.Barcode.Value != "ABC123" {
		t.Errorf("inserted object = %+v", obj)
	}

	got, err := svc.Eventticketobject.Get(objectID).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.TicketHolderName != "Ann Example" || got.SeatInfo.Row.DefaultValue.Value != "C" || got.GroupingInfo.SortIndex != 1 {
		t.Errorf("got object %+v", got)
	}
	gc, err := svc.Eventticketclass.Get(classID).Do()
	if err != nil || gc.Venue.Address.DefaultValue.Value != "1 Road\nTown" {
		t.Errorf("get class = %+v, %v", gc, err)
	}

	if o, ok := srv.EventTicketObject(objectID); !ok || o.ReservationInfo.ConfirmationCode != "ORDER-9" {
		t.Errorf("EventTicketObject = %+v, %v", o, ok)
	}
	if c, ok := srv.EventTicketClass(classID); !ok || c.ReviewStatus != "APPROVED" {
		t.Errorf("EventTicketClass = %+v, %v", c, ok)
	}
	if _, ok := srv.Object(issuer + ".nope"); ok {
		t.Error("Object of an unknown ID reported ok")
	}
	if ids := srv.ObjectIDs(); len(ids) != 1 || ids[0] != objectID {
		t.Errorf("ObjectIDs = %v", ids)
	}
}

func TestDuplicateInsert(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, false)
	_, err := svc.Eventticketclass.Insert(validClass(classID)).Do()
	ge := apiErr(t, err, http.StatusConflict)
	if !strings.Contains(ge.Body, `"ALREADY_EXISTS"`) || len(ge.Errors) != 1 || ge.Errors[0].Reason != "alreadyExists" {
		t.Errorf("409 body %s, errors %+v", ge.Body, ge.Errors)
	}
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Eventticketobject.Insert(validObject(objectID)).Do()
	apiErr(t, err, http.StatusConflict)
}

func TestGetUnknown(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, true)
	_, err := svc.Eventticketclass.Get(issuer + ".missing").Do()
	ge := apiErr(t, err, http.StatusNotFound)
	if !strings.Contains(ge.Message, "IssuerClassNotFound") || ge.Errors[0].Reason != "classNotFound" {
		t.Errorf("class 404 = %q %+v", ge.Message, ge.Errors)
	}
	_, err = svc.Eventticketobject.Get(issuer + ".missing").Do()
	apiErr(t, err, http.StatusNotFound)
	_, err = svc.Eventticketobject.Patch(issuer+".missing", &walletobjects.EventTicketObject{State: "EXPIRED"}).Do()
	apiErr(t, err, http.StatusNotFound)
	_, err = svc.Eventticketobject.Update(issuer+".missing", validObject(issuer+".missing")).Do()
	apiErr(t, err, http.StatusNotFound)
	_, err = svc.Eventticketobject.Addmessage(issuer+".missing", &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Header: "h"}}).Do()
	apiErr(t, err, http.StatusNotFound)
}

// TestDeleteObject: a deleted object answers 404 to every call and is
// inserted anew, without the messages and notifications it had.
func TestDeleteObject(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	if srv.DeleteObject(objectID) {
		t.Error("DeleteObject of a missing object reported true")
	}
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Header: "h", Body: "b", MessageType: "TEXT_AND_NOTIFY"}}).Do(); err != nil {
		t.Fatal(err)
	}
	if !srv.DeleteObject(objectID) {
		t.Fatal("DeleteObject of a stored object reported false")
	}
	if _, ok := srv.Object(objectID); ok || len(srv.ObjectIDs()) != 0 || len(srv.ObjectNotifications(objectID)) != 0 {
		t.Errorf("after DeleteObject: stored %v, ids %v, notifications %v", ok, srv.ObjectIDs(), srv.ObjectNotifications(objectID))
	}
	_, err := svc.Eventticketobject.Get(objectID).Do()
	apiErr(t, err, http.StatusNotFound)
	_, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{State: "EXPIRED"}).Do()
	apiErr(t, err, http.StatusNotFound)
	_, err = svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Header: "h"}}).Do()
	apiErr(t, err, http.StatusNotFound)
	o, err := svc.Eventticketobject.Insert(validObject(objectID)).Do()
	if err != nil {
		t.Fatalf("insert after DeleteObject: %v", err)
	}
	if len(o.Messages) != 0 {
		t.Errorf("the new object has the old one's messages: %+v", o.Messages)
	}
	if _, ok := srv.Class(classID); !ok {
		t.Error("DeleteObject removed the class")
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}

	// Unsent fields are kept.
	got, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{State: "COMPLETED"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "COMPLETED" || got.TicketHolderName != "Ann Example" || got.Barcode == nil || len(got.TextModulesData) != 2 {
		t.Errorf("after patching state: %+v", got)
	}

	// A list sent replaces the stored list; a nested object is merged
	// into the stored one: what it leaves out (alternateText, the seat's
	// row, the seat's language) is kept.
	got, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{
		TextModulesData: []*walletobjects.TextModuleData{{Id: "c", Header: "C", Body: "only"}},
		Barcode:         &walletobjects.Barcode{Type: "CODE_128", Value: "XYZ"},
		SeatInfo:        &walletobjects.EventSeat{Seat: &walletobjects.LocalizedString{DefaultValue: &walletobjects.TranslatedString{Value: "14"}}},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TextModulesData) != 1 || got.TextModulesData[0].Id != "c" {
		t.Errorf("textModulesData = %+v, want only c", got.TextModulesData)
	}
	if b := got.Barcode; b.Type != "CODE_128" || b.Value != "XYZ" || b.AlternateText != "ABC 123" {
		t.Errorf("barcode = %+v, want CODE_128 XYZ with the stored alternateText ABC 123", b)
	}
	if si := got.SeatInfo; si.Row == nil || si.Row.DefaultValue.Value != "C" ||
		si.Seat.DefaultValue.Value != "14" || si.Seat.DefaultValue.Language != "en" {
		t.Errorf("seatInfo = row %+v, seat %+v; want row C kept and seat 14 in en", si.Row, si.Seat.DefaultValue)
	}

	// A null inside a nested object removes that field alone, and nothing
	// stored holds a null.
	got, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{
		Barcode:  &walletobjects.Barcode{NullFields: []string{"AlternateText"}},
		SeatInfo: &walletobjects.EventSeat{NullFields: []string{"Row"}},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Barcode; b.AlternateText != "" || b.Value != "XYZ" {
		t.Errorf("barcode = %+v, want XYZ without alternateText", b)
	}
	if si := got.SeatInfo; si.Row != nil || si.Seat == nil || si.Seat.DefaultValue.Value != "14" {
		t.Errorf("seatInfo = row %+v, seat %+v; want no row and seat 14", si.Row, si.Seat)
	}
	if raw, _ := srv.Object(objectID); bytes.Contains(raw, []byte("null")) {
		t.Errorf("the stored object holds a null: %s", raw)
	}

	// A refused patch leaves the stored nested object as it was.
	_, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{
		Barcode: &walletobjects.Barcode{Type: "NO_SUCH_TYPE", AlternateText: "new"},
	}).Do()
	apiErr(t, err, http.StatusBadRequest)
	if o, _ := srv.EventTicketObject(objectID); o.Barcode.Type != "CODE_128" || o.Barcode.AlternateText != "" {
		t.Errorf("barcode after a refused patch = %+v", o.Barcode)
	}

	// NullFields clears a field.
	got, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{NullFields: []string{"GroupingInfo"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.GroupingInfo != nil {
		t.Errorf("groupingInfo = %+v after null", got.GroupingInfo)
	}

	// The body id must match the path.
	_, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{Id: issuer + ".other"}).Do()
	apiErr(t, err, http.StatusBadRequest)

	// A patch that breaks a rule is refused and changes nothing.
	_, err = svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{State: "GONE"}).Do()
	apiErr(t, err, http.StatusBadRequest)
	if o, _ := srv.EventTicketObject(objectID); o.State != "COMPLETED" {
		t.Errorf("state after a refused patch = %q", o.State)
	}

	// Class patch: reviewStatus may be left out and stays APPROVED.
	c, err := svc.Eventticketclass.Patch(classID, &walletobjects.EventTicketClass{HexBackgroundColor: "#fc0"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if c.ReviewStatus != "APPROVED" || c.HexBackgroundColor != "#fc0" || c.IssuerName != "Theatre" {
		t.Errorf("class after patch = %+v", c)
	}
}

func TestUpdateReplaces(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, false)
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Eventticketobject.Update(objectID, &walletobjects.EventTicketObject{ClassId: classID, State: "INACTIVE"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.Id != objectID || got.State != "INACTIVE" || got.TicketHolderName != "" || got.Barcode != nil {
		t.Errorf("after update: %+v", got)
	}
	// Update without reviewStatus is refused for a class; APPROVED too.
	c := validClass(classID)
	c.ReviewStatus = ""
	_, err = svc.Eventticketclass.Update(classID, c).Do()
	apiErr(t, err, http.StatusBadRequest)
	c.ReviewStatus = "APPROVED"
	_, err = svc.Eventticketclass.Update(classID, c).Do()
	apiErr(t, err, http.StatusBadRequest)
	c.ReviewStatus = "DRAFT"
	_, err = svc.Eventticketclass.Update(classID, c).Do()
	apiErr(t, err, http.StatusBadRequest)
	c.ReviewStatus = "UNDER_REVIEW"
	if _, err = svc.Eventticketclass.Update(classID, c).Do(); err != nil {
		t.Fatal(err)
	}
}

func TestAddMessage(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	for i := range fakegoogle.MaxMessages {
		res, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
			Message: &walletobjects.Message{Id: fmt.Sprint(i), Header: "Note", Body: fmt.Sprint("body ", i)},
		}).Do()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if n := len(res.Resource.Messages); n != i+1 || res.Resource.Messages[i].Body != fmt.Sprint("body ", i) {
			t.Fatalf("after message %d: %d messages, last %+v", i, n, res.Resource.Messages[n-1])
		}
		if res.Resource.TicketHolderName != "Ann Example" {
			t.Fatal("addMessage lost other fields")
		}
	}
	_, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Header: "one too many"},
	}).Do()
	apiErr(t, err, http.StatusBadRequest)
	if o, _ := srv.EventTicketObject(objectID); len(o.Messages) != fakegoogle.MaxMessages {
		t.Errorf("%d messages stored", len(o.Messages))
	}

	// Class messages work the same way; an empty message is refused.
	res, err := svc.Eventticketclass.Addmessage(classID, &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Body: "Doors open late", MessageType: "text"},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resource.Messages) != 1 || res.Resource.Messages[0].MessageType != "TEXT" {
		t.Errorf("class messages = %+v", res.Resource.Messages)
	}
	_, err = svc.Eventticketclass.Addmessage(classID, &walletobjects.AddMessageRequest{Message: &walletobjects.Message{}}).Do()
	apiErr(t, err, http.StatusBadRequest)
	_, err = svc.Eventticketclass.Addmessage(classID, &walletobjects.AddMessageRequest{}).Do()
	apiErr(t, err, http.StatusBadRequest)
}

// TestPatchReplacesMessages: Google has no call that removes a message;
// a PATCH that carries messages replaces the list (how a client makes
// room in a full one), within the same cap, and counts as no
// notification; addMessage then appends at the end.
func TestPatchReplacesMessages(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	for i := range fakegoogle.MaxMessages {
		kind := "TEXT"
		if i < 2 {
			kind = "TEXT_AND_NOTIFY"
		}
		if _, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
			Message: &walletobjects.Message{Id: fmt.Sprint("m", i), Body: "b", MessageType: kind},
		}).Do(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	ids := func() []string {
		o, _ := srv.EventTicketObject(objectID)
		var out []string
		for _, m := range o.Messages {
			out = append(out, m.Id)
		}
		return out
	}
	o, _ := srv.EventTicketObject(objectID)

	// Eleven in a PATCH are refused like an eleventh addMessage.
	eleven := append(slices.Clone(o.Messages), &walletobjects.Message{Id: "m10", Body: "b"})
	_, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{Messages: eleven}).Do()
	apiErr(t, err, http.StatusBadRequest)
	if got := ids(); len(got) != fakegoogle.MaxMessages || got[0] != "m0" {
		t.Errorf("after the refused patch: %v", got)
	}

	// Nine replace the ten; the next addMessage comes last.
	if _, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{Messages: o.Messages[1:]}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Id: "m10", Body: "b"},
	}).Do(); err != nil {
		t.Fatal(err)
	}
	want := []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"}
	if got := ids(); !slices.Equal(got, want) {
		t.Errorf("messages %v, want %v", got, want)
	}
	if n := len(srv.ObjectNotifications(objectID)); n != 2 {
		t.Errorf("%d notifications, want the 2 of addMessage (a patched list notifies nobody)", n)
	}

	// The same for a class.
	for i := range fakegoogle.MaxMessages {
		if _, err := svc.Eventticketclass.Addmessage(classID, &walletobjects.AddMessageRequest{
			Message: &walletobjects.Message{Id: fmt.Sprint("c", i), Body: "b"},
		}).Do(); err != nil {
			t.Fatalf("class message %d: %v", i, err)
		}
	}
	c, _ := srv.EventTicketClass(classID)
	if _, err := svc.Eventticketclass.Patch(classID, &walletobjects.EventTicketClass{Messages: c.Messages[1:]}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Eventticketclass.Patch(classID, &walletobjects.EventTicketClass{
		Messages: append(slices.Clone(c.Messages), &walletobjects.Message{Id: "c10", Body: "b"}),
	}).Do()
	apiErr(t, err, http.StatusBadRequest)
	if c, _ := srv.EventTicketClass(classID); len(c.Messages) != fakegoogle.MaxMessages-1 || c.Messages[0].Id != "c1" || c.IssuerName == "" {
		t.Errorf("class after the patches: %d messages, first %s, issuer %q", len(c.Messages), c.Messages[0].Id, c.IssuerName)
	}
}

func TestObjectNeedsApprovedClass(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, true)
	_, err := svc.Eventticketobject.Insert(validObject(objectID)).Do()
	ge := apiErr(t, err, http.StatusNotFound)
	if ge.Errors[0].Reason != "classNotFound" || !strings.Contains(ge.Message, "IssuerClassNotFound") {
		t.Errorf("404 = %q %+v", ge.Message, ge.Errors)
	}

	draft := validClass(classID)
	draft.ReviewStatus = "DRAFT"
	if c, err := svc.Eventticketclass.Insert(draft).Do(); err != nil || c.ReviewStatus != "DRAFT" {
		t.Fatalf("insert draft: %+v, %v", c, err)
	}
	_, err = svc.Eventticketobject.Insert(validObject(objectID)).Do()
	ge = apiErr(t, err, http.StatusBadRequest)
	if !strings.Contains(ge.Body, "FAILED_PRECONDITION") {
		t.Errorf("draft class body %s", ge.Body)
	}

	if _, err := svc.Eventticketclass.Patch(classID, &walletobjects.EventTicketClass{ReviewStatus: "UNDER_REVIEW"}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	// Once approved, a class cannot go back to DRAFT.
	_, err = svc.Eventticketclass.Patch(classID, &walletobjects.EventTicketClass{ReviewStatus: "DRAFT"}).Do()
	apiErr(t, err, http.StatusBadRequest)
}

func TestInvalidObjects(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, false)
	tests := []struct {
		name  string
		edit  func(o *walletobjects.EventTicketObject)
		code  int
		field string // the error message names it
	}{
		{"no id", func(o *walletobjects.EventTicketObject) { o.Id = "" }, 400, "id"},
		{"id without issuer", func(o *walletobjects.EventTicketObject) { o.Id = "ticket-1" }, 400, "Invalid resource ID"},
		{"id bad suffix", func(o *walletobjects.EventTicketObject) { o.Id = issuer + ".a b" }, 400, "Invalid resource ID"},
		{"id bad issuer", func(o *walletobjects.EventTicketObject) { o.Id = "12x.a" }, 400, "Invalid resource ID"},
		{"foreign issuer", func(o *walletobjects.EventTicketObject) { o.Id = "1234.ticket" }, 403, "1234"},
		{"foreign class", func(o *walletobjects.EventTicketObject) { o.ClassId = "1234.event" }, 403, "1234"},
		{"no class", func(o *walletobjects.EventTicketObject) { o.ClassId = "" }, 400, "classId"},
		{"no state", func(o *walletobjects.EventTicketObject) { o.State = "" }, 400, "state"},
		{"bad state", func(o *walletobjects.EventTicketObject) { o.State = "VALID" }, 400, "state"},
		{"bad barcode type", func(o *walletobjects.EventTicketObject) { o.Barcode.Type = "QR" }, 400, "barcode.type"},
		{"no barcode type", func(o *walletobjects.EventTicketObject) { o.Barcode.Type = "" }, 400, "barcode.type"},
		{"no barcode value", func(o *walletobjects.EventTicketObject) { o.Barcode.Value = "" }, 400, "barcode.value"},
		{"text only with alternate text", func(o *walletobjects.EventTicketObject) { o.Barcode.Type = "TEXT_ONLY" }, 400, "barcode.alternateText"},
		{"rotating aztec", func(o *walletobjects.EventTicketObject) {
			o.RotatingBarcode = &walletobjects.RotatingBarcode{Type: "AZTEC", ValuePattern: "{totp_value_0}"}
		}, 400, "rotatingBarcode.type"},
		{"rotating without totp details", func(o *walletobjects.EventTicketObject) {
			o.RotatingBarcode = &walletobjects.RotatingBarcode{Type: "QR_CODE", ValuePattern: "T-{totp_value_0}"}
		}, 400, "rotatingBarcode.totpDetails"},
		{"rotating SHA-256", func(o *walletobjects.EventTicketObject) {
			o.RotatingBarcode = rotating("TOTP_SHA256", 3000, "00ff", "")
		}, 400, "rotatingBarcode.totpDetails.algorithm"},
		{"rotating key not hex", func(o *walletobjects.EventTicketObject) {
			o.RotatingBarcode = rotating("TOTP_SHA1", 3000, "c2VjcmV0", "")
		}, 400, "rotatingBarcode.totpDetails.parameters[0].key"},
		{"rotating value without its parameter", func(o *walletobjects.EventTicketObject) {
			o.RotatingBarcode = rotating("TOTP_SHA1", 3000, "00ff", "")
			o.RotatingBarcode.ValuePattern += "{totp_value_1}"
		}, 400, "rotatingBarcode.valuePattern"},
		{"rotating PDF417 in UTF-8", func(o *walletobjects.EventTicketObject) {
			o.RotatingBarcode = rotating("TOTP_SHA1", 3000, "00ff", "UTF_8")
			o.RotatingBarcode.Type = "PDF_417"
		}, 400, "rotatingBarcode.renderEncoding"},
		{"interval offset on one end", func(o *walletobjects.EventTicketObject) {
			o.ValidTimeInterval.End.Date = "2026-05-02T04:00:00"
		}, 400, "validTimeInterval"},
		{"interval end before start", func(o *walletobjects.EventTicketObject) {
			o.ValidTimeInterval.End.Date = "2026-04-30T04:00:00Z"
		}, 400, "validTimeInterval"},
		{"interval bad date", func(o *walletobjects.EventTicketObject) {
			o.ValidTimeInterval.Start.Date = "1 May 2026"
		}, 400, "validTimeInterval.start.date"},
		{"interval date only", func(o *walletobjects.EventTicketObject) {
			o.ValidTimeInterval.Start.Date = "2026-05-01"
		}, 400, "validTimeInterval.start.date"},
		{"bad colour", func(o *walletobjects.EventTicketObject) { o.HexBackgroundColor = "red" }, 400, "hexBackgroundColor"},
		{"long grouping id", func(o *walletobjects.EventTicketObject) { o.GroupingInfo.GroupingId = strings.Repeat("g", 65) }, 400, "groupingInfo.groupingId"},
		{"bad currency", func(o *walletobjects.EventTicketObject) { o.FaceValue.CurrencyCode = "euro" }, 400, "faceValue.currencyCode"},
		{"seat without language", func(o *walletobjects.EventTicketObject) { o.SeatInfo.Seat.DefaultValue.Language = "" }, 400, "seatInfo.seat.defaultValue.language"},
		{"relative image", func(o *walletobjects.EventTicketObject) { o.HeroImage.SourceUri.Uri = "/hero.png" }, 400, "heroImage.sourceUri.uri"},
		{"ftp image", func(o *walletobjects.EventTicketObject) { o.HeroImage.SourceUri.Uri = "ftp://example.com/x.png" }, 400, "heroImage.sourceUri.uri"},
		{"image without uri", func(o *walletobjects.EventTicketObject) { o.HeroImage.SourceUri.Uri = "" }, 400, "heroImage.sourceUri.uri"},
		{"module image", func(o *walletobjects.EventTicketObject) {
			o.ImageModulesData = []*walletobjects.ImageModuleData{{MainImage: &walletobjects.Image{SourceUri: &walletobjects.ImageUri{Uri: "x"}}}}
		}, 400, "imageModulesData[0].mainImage.sourceUri.uri"},
		{"two image modules", func(o *walletobjects.EventTicketObject) {
			img := &walletobjects.Image{SourceUri: &walletobjects.ImageUri{Uri: "https://example.com/i.png"}}
			o.ImageModulesData = []*walletobjects.ImageModuleData{{MainImage: img}, {MainImage: img}}
		}, 400, "imageModulesData"},
		{"eleven merchant locations", func(o *walletobjects.EventTicketObject) {
			for range 11 {
				o.MerchantLocations = append(o.MerchantLocations, &walletobjects.MerchantLocation{Latitude: 1, Longitude: 2})
			}
		}, 400, "merchantLocations"},
		{"eleven text modules", func(o *walletobjects.EventTicketObject) {
			for range 9 {
				o.TextModulesData = append(o.TextModulesData, &walletobjects.TextModuleData{Body: "x"})
			}
		}, 400, "textModulesData"},
		{"eleven links", func(o *walletobjects.EventTicketObject) {
			o.LinksModuleData = &walletobjects.LinksModuleData{}
			for range 11 {
				o.LinksModuleData.Uris = append(o.LinksModuleData.Uris, &walletobjects.Uri{Uri: "https://example.com"})
			}
		}, 400, "linksModuleData.uris"},
		{"eleven messages", func(o *walletobjects.EventTicketObject) {
			for range 11 {
				o.Messages = append(o.Messages, &walletobjects.Message{Body: "x"})
			}
		}, 400, "messages"},
		{"bad message type", func(o *walletobjects.EventTicketObject) {
			o.Messages = []*walletobjects.Message{{Body: "x", MessageType: "PUSH"}}
		}, 400, "messages[0].messageType"},
		{"empty message", func(o *walletobjects.EventTicketObject) {
			o.Messages = []*walletobjects.Message{{Id: "m"}}
		}, 400, "messages[0]"},
		{"bad notify preference", func(o *walletobjects.EventTicketObject) { o.NotifyPreference = "LOUD" }, 400, "notifyPreference"},
		{"non-ASCII smart tap", func(o *walletobjects.EventTicketObject) { o.SmartTapRedemptionValue = "café" }, 400, "smartTapRedemptionValue"},
		{"foreign linked object", func(o *walletobjects.EventTicketObject) { o.LinkedObjectIds = []string{"99.x"} }, 403, "99"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := validObject(fmt.Sprintf("%s.bad-%d", issuer, i))
			tc.edit(o)
			_, err := svc.Eventticketobject.Insert(o).Do()
			ge := apiErr(t, err, tc.code)
			if !strings.Contains(ge.Message, tc.field) {
				t.Errorf("message %q does not name %q", ge.Message, tc.field)
			}
		})
	}
}

func TestInvalidClasses(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, true)
	tests := []struct {
		name  string
		edit  func(c *walletobjects.EventTicketClass)
		code  int
		field string
	}{
		{"no issuer name", func(c *walletobjects.EventTicketClass) { c.IssuerName = "" }, 400, "issuerName"},
		{"no event name", func(c *walletobjects.EventTicketClass) { c.EventName = nil }, 400, "eventName"},
		{"event name without value", func(c *walletobjects.EventTicketClass) { c.EventName.DefaultValue.Value = "" }, 400, "eventName.defaultValue.value"},
		{"event name bad language", func(c *walletobjects.EventTicketClass) { c.EventName.DefaultValue.Language = "english!" }, 400, "eventName.defaultValue.language"},
		{"no review status", func(c *walletobjects.EventTicketClass) { c.ReviewStatus = "" }, 400, "reviewStatus"},
		{"approved on insert", func(c *walletobjects.EventTicketClass) { c.ReviewStatus = "APPROVED" }, 400, "reviewStatus"},
		{"rejected on insert", func(c *walletobjects.EventTicketClass) { c.ReviewStatus = "REJECTED" }, 400, "reviewStatus"},
		{"bad review status", func(c *walletobjects.EventTicketClass) { c.ReviewStatus = "LIVE" }, 400, "reviewStatus"},
		{"long event id", func(c *walletobjects.EventTicketClass) { c.EventId = strings.Repeat("e", 65) }, 400, "eventId"},
		{"relative callback url", func(c *walletobjects.EventTicketClass) {
			c.CallbackOptions = &walletobjects.CallbackOptions{Url: "/api/demo/google/callback"}
		}, 400, "callbackOptions.url"},
		{"ftp callback url", func(c *walletobjects.EventTicketClass) {
			c.CallbackOptions = &walletobjects.CallbackOptions{Url: "ftp://example.com/cb"}
		}, 400, "callbackOptions.url"},
		{"venue without address", func(c *walletobjects.EventTicketClass) { c.Venue.Address = nil }, 400, "venue.address"},
		{"venue without name", func(c *walletobjects.EventTicketClass) { c.Venue.Name = nil }, 400, "venue.name"},
		{"bad start", func(c *walletobjects.EventTicketClass) { c.DateTime.Start = "2026-05-01 19:00" }, 400, "dateTime.start"},
		{"bad doors open", func(c *walletobjects.EventTicketClass) { c.DateTime.DoorsOpen = "19:00" }, 400, "dateTime.doorsOpen"},
		{"bad colour", func(c *walletobjects.EventTicketClass) { c.HexBackgroundColor = "#12345" }, 400, "hexBackgroundColor"},
		{"bad logo", func(c *walletobjects.EventTicketClass) { c.Logo.SourceUri.Uri = "logo.png" }, 400, "logo.sourceUri.uri"},
		{"foreign issuer", func(c *walletobjects.EventTicketClass) { c.Id = "777.event" }, 403, "777"},
		{"bad id", func(c *walletobjects.EventTicketClass) { c.Id = issuer + "." }, 400, "Invalid resource ID"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validClass(fmt.Sprintf("%s.bad-%d", issuer, i))
			tc.edit(c)
			_, err := svc.Eventticketclass.Insert(c).Do()
			ge := apiErr(t, err, tc.code)
			if !strings.Contains(ge.Message, tc.field) {
				t.Errorf("message %q does not name %q", ge.Message, tc.field)
			}
		})
	}
}

func TestAcceptedVariants(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	tests := []struct {
		name string
		edit func(o *walletobjects.EventTicketObject)
		want func(o *walletobjects.EventTicketObject) bool
	}{
		{"legacy state alias", func(o *walletobjects.EventTicketObject) { o.State = "active" },
			func(o *walletobjects.EventTicketObject) bool { return o.State == "ACTIVE" }},
		{"legacy barcode alias", func(o *walletobjects.EventTicketObject) { o.Barcode.Type = "qrCode" },
			func(o *walletobjects.EventTicketObject) bool { return o.Barcode.Type == "QR_CODE" }},
		{"text only without alternate text", func(o *walletobjects.EventTicketObject) {
			o.Barcode = &walletobjects.Barcode{Type: "TEXT_ONLY", Value: "SEAT 12"}
		}, func(o *walletobjects.EventTicketObject) bool { return o.Barcode.Type == "TEXT_ONLY" }},
		{"local interval", func(o *walletobjects.EventTicketObject) {
			o.ValidTimeInterval.Start.Date = "2026-05-01T00:00:00"
			o.ValidTimeInterval.End.Date = "2026-05-01T23:59:59.999"
		}, func(o *walletobjects.EventTicketObject) bool {
			return o.ValidTimeInterval.End.Date == "2026-05-01T23:59:59.999"
		}},
		{"open interval", func(o *walletobjects.EventTicketObject) { o.ValidTimeInterval.Start = nil },
			func(o *walletobjects.EventTicketObject) bool { return o.ValidTimeInterval.Start == nil }},
		{"ten messages", func(o *walletobjects.EventTicketObject) {
			for range 10 {
				o.Messages = append(o.Messages, &walletobjects.Message{Header: "x"})
			}
		}, func(o *walletobjects.EventTicketObject) bool { return len(o.Messages) == 10 }},
		{"notify preference not stored", func(o *walletobjects.EventTicketObject) { o.NotifyPreference = "NOTIFY_ON_UPDATE" },
			func(o *walletobjects.EventTicketObject) bool { return o.NotifyPreference == "" }},
		{"read-only fields ignored", func(o *walletobjects.EventTicketObject) { o.HasUsers = true },
			func(o *walletobjects.EventTicketObject) bool { return !o.HasUsers }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("%s.ok-%d", issuer, i)
			o := validObject(id)
			tc.edit(o)
			if _, err := svc.Eventticketobject.Insert(o).Do(); err != nil {
				t.Fatal(err)
			}
			got, _ := srv.EventTicketObject(id)
			if !tc.want(got) {
				t.Errorf("stored %+v", got)
			}
		})
	}

	// hasUsers is set by Google (here SetHasUsers) and survives writes.
	if srv.SetHasUsers(objectID, true) {
		t.Error("SetHasUsers of a missing object reported true")
	}
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	if !srv.SetHasUsers(objectID, true) {
		t.Fatal("SetHasUsers failed")
	}
	got, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{State: "EXPIRED"}).Do()
	if err != nil || !got.HasUsers {
		t.Errorf("hasUsers after patch = %v, %v", got.HasUsers, err)
	}
}

func TestUnknownFieldsSurvive(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	body := `{"id":"` + objectID + `","classId":"` + classID + `","state":"ACTIVE",
		"futureField":{"a":[1,2.5,"x"],"b":null},"faceValue":{"currencyCode":"EUR","micros":"1500000"}}`
	code, b := do(t, "POST", srv.URL+"/walletobjects/v1/eventTicketObject?strict=true", body, nil)
	if code != 200 {
		t.Fatalf("insert: %d %s", code, b)
	}
	if _, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{State: "COMPLETED"}).Do(); err != nil {
		t.Fatal(err)
	}
	raw, _ := srv.Object(objectID)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if ff, _ := json.Marshal(got["futureField"]); string(ff) != `{"a":[1,2.5,"x"]}` {
		t.Errorf("futureField = %s", ff)
	}
	if got["state"] != "COMPLETED" || got["kind"] != "walletobjects#eventTicketObject" {
		t.Errorf("stored %s", raw)
	}
}

func TestRawRequests(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t, fakegoogle.Options{}, false)
	tests := []struct {
		name, method, path, body string
		code                     int
		status                   string
	}{
		{"malformed json", "POST", "/walletobjects/v1/eventTicketObject", `{"id":`, 400, "INVALID_ARGUMENT"},
		{"array body", "POST", "/walletobjects/v1/eventTicketObject", `[]`, 400, "INVALID_ARGUMENT"},
		{"empty body", "POST", "/walletobjects/v1/eventTicketClass", ``, 400, "INVALID_ARGUMENT"},
		{"trailing data", "POST", "/walletobjects/v1/eventTicketClass", `{} {}`, 400, "INVALID_ARGUMENT"},
		{"wrong type", "POST", "/walletobjects/v1/eventTicketObject",
			`{"id":"` + issuer + `.x","classId":"` + classID + `","state":5}`, 400, "INVALID_ARGUMENT"},
		{"wrong-case name", "POST", "/walletobjects/v1/eventTicketObject",
			`{"id":"` + issuer + `.x","ClassId":"` + classID + `","state":"ACTIVE"}`, 400, "INVALID_ARGUMENT"},
		{"wrong-case nested name", "POST", "/walletobjects/v1/eventTicketObject",
			`{"id":"` + issuer + `.x","classId":"` + classID + `","state":"ACTIVE","barcode":{"Type":"QR_CODE","value":"v"}}`, 400, "INVALID_ARGUMENT"},
		{"unknown kind", "GET", "/walletobjects/v1/flightObject/" + issuer + ".x", ``, 404, "NOT_FOUND"},
		{"delete", "DELETE", "/walletobjects/v1/eventTicketClass/" + classID, ``, 404, "NOT_FOUND"},
		{"root", "GET", "/", ``, 404, "NOT_FOUND"},
		{"escaped slash in id", "GET", "/walletobjects/v1/eventTicketClass/" + issuer + ".a%2Fb", ``, 400, "INVALID_ARGUMENT"},
		{"list without issuer", "GET", "/walletobjects/v1/eventTicketClass", ``, 400, "INVALID_ARGUMENT"},
		{"list foreign issuer", "GET", "/walletobjects/v1/eventTicketClass?issuerId=42", ``, 403, "PERMISSION_DENIED"},
		{"list unknown class", "GET", "/walletobjects/v1/eventTicketObject?classId=" + issuer + ".none", ``, 404, "NOT_FOUND"},
		{"oversized", "POST", "/walletobjects/v1/eventTicketClass",
			`{"id":"` + strings.Repeat("x", fakegoogle.MaxBodyBytes) + `"}`, 413, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, b := do(t, tc.method, srv.URL+tc.path, tc.body, nil)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, b)
			}
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
					Status  string `json:"status"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("body %s is not a Google error (%v)", b, err)
			}
			if tc.status != "" && e.Error.Status != tc.status {
				t.Errorf("status %q, want %q", e.Error.Status, tc.status)
			}
		})
	}
}

func TestOversizedBodyWithClient(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, true)
	c := validClass(classID)
	c.IssuerName = strings.Repeat("n", fakegoogle.MaxBodyBytes)
	_, err := svc.Eventticketclass.Insert(c).Do()
	apiErr(t, err, http.StatusRequestEntityTooLarge)
}

func TestList(t *testing.T) {
	t.Parallel()
	_, svc := newFake(t, fakegoogle.Options{}, false)
	other := issuer + ".event-2"
	if _, err := svc.Eventticketclass.Insert(validClass(other)).Do(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		o := validObject(fmt.Sprintf("%s.t%d", issuer, i))
		if i == 2 {
			o.ClassId = other
		}
		if _, err := svc.Eventticketobject.Insert(o).Do(); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := svc.Eventticketclass.List().IssuerId(3388000000022222222).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Resources) != 2 || cl.Resources[0].Id != classID || cl.Resources[1].Id != other {
		t.Errorf("classes = %+v", cl.Resources)
	}
	ol, err := svc.Eventticketobject.List().ClassId(classID).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(ol.Resources) != 2 || ol.Resources[0].Id != issuer+".t0" || ol.Resources[1].Id != issuer+".t1" {
		t.Errorf("objects = %+v", ol.Resources)
	}
	// Paging.
	p1, err := svc.Eventticketclass.List().IssuerId(3388000000022222222).MaxResults(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Resources) != 1 || p1.Pagination.NextPageToken == "" {
		t.Fatalf("page 1 = %+v %+v", p1.Resources, p1.Pagination)
	}
	p2, err := svc.Eventticketclass.List().IssuerId(3388000000022222222).MaxResults(1).Token(p1.Pagination.NextPageToken).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Resources) != 1 || p2.Resources[0].Id != other || p2.Pagination.NextPageToken != "" {
		t.Errorf("page 2 = %+v %+v", p2.Resources, p2.Pagination)
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	srv.Fail(fakegoogle.Failure{Method: "POST", PathPrefix: "/walletobjects/v1/eventTicketObject", Status: 429, RetryAfter: 1500 * time.Millisecond})
	srv.FailNext("", "/walletobjects/v1/eventTicketObject", http.StatusServiceUnavailable, 2)

	_, err := svc.Eventticketobject.Insert(validObject(objectID)).Do()
	ge := apiErr(t, err, http.StatusTooManyRequests)
	if ge.Header.Get("Retry-After") != "2" || !strings.Contains(ge.Body, "RESOURCE_EXHAUSTED") {
		t.Errorf("429: Retry-After %q, body %s", ge.Header.Get("Retry-After"), ge.Body)
	}
	// Other paths are not affected.
	if _, err := svc.Eventticketclass.Get(classID).Do(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err = svc.Eventticketobject.Insert(validObject(objectID)).Do()
		ge = apiErr(t, err, http.StatusServiceUnavailable)
		if !strings.Contains(ge.Body, "UNAVAILABLE") {
			t.Errorf("503 body %s", ge.Body)
		}
	}
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatalf("after the failures: %v", err)
	}

	var statuses []int
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "/walletobjects/v1/eventTicketObject" {
			statuses = append(statuses, r.Status)
		}
	}
	if fmt.Sprint(statuses) != "[429 503 503 200]" {
		t.Errorf("recorded statuses %v", statuses)
	}
}

func TestNotificationQuota(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	srv, svc := newFake(t, fakegoogle.Options{Now: clk.Now}, false)
	if _, err := svc.Eventticketobject.Insert(validObject(objectID)).Do(); err != nil {
		t.Fatal(err)
	}
	notify := func() error {
		_, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
			Message: &walletobjects.Message{Header: "Changed", Body: "New time", MessageType: "TEXT_AND_NOTIFY"},
		}).Do()
		return err
	}
	for i := range fakegoogle.NotifyLimit {
		if err := notify(); err != nil {
			t.Fatalf("notification %d: %v", i+1, err)
		}
		clk.Advance(time.Hour)
	}
	ge := apiErr(t, notify(), http.StatusTooManyRequests)
	if !strings.Contains(ge.Message, "QuotaExceededException") || ge.Errors[0].Reason != "quotaExceeded" {
		t.Errorf("quota error %q %+v", ge.Message, ge.Errors)
	}
	// A NOTIFY_ON_UPDATE patch counts too; a silent TEXT message does not.
	_, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{
		TicketHolderName: "Bob", NotifyPreference: "NOTIFY_ON_UPDATE"}).Do()
	apiErr(t, err, http.StatusTooManyRequests)
	if _, err := svc.Eventticketobject.Addmessage(objectID, &walletobjects.AddMessageRequest{
		Message: &walletobjects.Message{Body: "silent", MessageType: "TEXT"}}).Do(); err != nil {
		t.Fatal(err)
	}
	if o, _ := srv.EventTicketObject(objectID); len(o.Messages) != 4 || o.TicketHolderName != "Ann Example" {
		t.Errorf("after refusals: %d messages, holder %q", len(o.Messages), o.TicketHolderName)
	}

	// 24 h after the first notification, one slot is free again.
	clk.Advance(21 * time.Hour)
	if err := notify(); err != nil {
		t.Fatalf("24 h after the first: %v", err)
	}
	apiErr(t, notify(), http.StatusTooManyRequests)
	clk.Advance(time.Hour)
	if _, err := svc.Eventticketobject.Patch(objectID, &walletobjects.EventTicketObject{
		TicketHolderName: "Bob", NotifyPreference: "NOTIFY_ON_UPDATE"}).Do(); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.ObjectNotifications(objectID)); n != 5 {
		t.Errorf("%d notifications recorded, want 5", n)
	}
	if n := len(srv.ClassNotifications(classID)); n != 0 {
		t.Errorf("%d class notifications", n)
	}
}

// TestClassNotificationsCountPerPass: Google's limit is per pass, and a
// class's notifying message reaches every object of the class: it counts
// for each of them, and is refused when one of them is at the limit.
func TestClassNotificationsCountPerPass(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	srv, svc := newFake(t, fakegoogle.Options{Now: clk.Now}, false)
	second := issuer + ".ticket-2"
	for _, id := range []string{objectID, second} {
		if _, err := svc.Eventticketobject.Insert(validObject(id)).Do(); err != nil {
			t.Fatal(err)
		}
	}
	classMsg := func() error {
		_, err := svc.Eventticketclass.Addmessage(classID, &walletobjects.AddMessageRequest{
			Message: &walletobjects.Message{Header: "Doors", Body: "Doors at 19:00", MessageType: "TEXT_AND_NOTIFY"}}).Do()
		return err
	}
	objectMsg := func(id string) error {
		_, err := svc.Eventticketobject.Addmessage(id, &walletobjects.AddMessageRequest{
			Message: &walletobjects.Message{Header: "Seat", Body: "Row 2", MessageType: "TEXT_AND_NOTIFY"}}).Do()
		return err
	}
	// The first object had two of its own; one class message takes it to three.
	for range 2 {
		if err := objectMsg(objectID); err != nil {
			t.Fatal(err)
		}
	}
	if err := classMsg(); err != nil {
		t.Fatal(err)
	}
	// Now neither the class nor that object may notify; the second object,
	// with one (the class's), still may, twice.
	ge := apiErr(t, classMsg(), http.StatusTooManyRequests)
	if !strings.Contains(ge.Message, objectID) {
		t.Errorf("the refusal does not name the pass at its limit: %s", ge.Message)
	}
	apiErr(t, objectMsg(objectID), http.StatusTooManyRequests)
	for range 2 {
		if err := objectMsg(second); err != nil {
			t.Fatal(err)
		}
	}
	apiErr(t, objectMsg(second), http.StatusTooManyRequests)
	if n := len(srv.ClassNotifications(classID)); n != 1 {
		t.Errorf("%d class notifications, want 1", n)
	}
}

// newKey returns a fresh RSA key (2048 bits: Go refuses shorter ones).
func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const saEmail = "wallet@walletpass-test.iam.gserviceaccount.com"

func TestServiceAccountAuth(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	clk := &clock{t: time.Now()}
	srv := fakegoogle.NewServer(fakegoogle.Options{
		RequireAuth: true, ServiceAccountEmail: saEmail, ServiceAccountPublicKey: &key.PublicKey, Now: clk.Now,
	})
	t.Cleanup(srv.Close)
	keyJSON, err := fakegoogle.ServiceAccountKeyJSON(key, saEmail, srv.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc, err := walletobjects.NewService(ctx,
		option.WithEndpoint(srv.URL+"/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, keyJSON),
		option.WithScopes(walletobjects.WalletObjectIssuerScope))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Eventticketclass.Insert(validClass(classID)).Context(ctx).Do(); err != nil {
		t.Fatalf("insert with service account: %v", err)
	}
	if _, err := svc.Eventticketclass.Get(classID).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	var tokens, authed int
	for _, r := range srv.Requests() {
		switch {
		case r.Path == "/token" && r.Status == 200:
			tokens++
			if r.Body == nil || !bytes.Contains(r.Body, []byte("assertion=")) {
				t.Errorf("token request body %q", r.Body)
			}
		case strings.HasPrefix(r.Path, "/walletobjects/") && r.AuthOK && r.Status == 200:
			authed++
		}
	}
	if tokens != 1 || authed != 2 {
		t.Errorf("%d token grants and %d authenticated API calls, want 1 and 2", tokens, authed)
	}

	// Without a token: 401.
	_, err = service(t, srv).Eventticketclass.Get(classID).Do()
	ge := apiErr(t, err, http.StatusUnauthorized)
	if !strings.Contains(ge.Body, "UNAUTHENTICATED") {
		t.Errorf("401 body %s", ge.Body)
	}
	// A made-up token: 401.
	code, _ := do(t, "GET", srv.URL+"/walletobjects/v1/eventTicketClass/"+classID, "",
		http.Header{"Authorization": {"Bearer ya29.made-up"}})
	if code != 401 {
		t.Errorf("made-up token: %d", code)
	}
	// The client still holds its token, which expires on the fake's clock.
	clk.Advance(fakegoogle.TokenLifetime + time.Minute)
	_, err = svc.Eventticketclass.Get(classID).Context(ctx).Do()
	apiErr(t, err, http.StatusUnauthorized)
}

// signJWT builds a compact RS256 JWS.
func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	key, other := newKey(t), newKey(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := fakegoogle.NewServer(fakegoogle.Options{
		ServiceAccountEmail: saEmail, ServiceAccountPublicKey: &key.PublicKey, Now: func() time.Time { return now },
	})
	t.Cleanup(srv.Close)
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": saEmail, "scope": "openid " + fakegoogle.Scope, "aud": srv.TokenURL(),
			"iat": now.Unix() - 10, "exp": now.Unix() + 3590,
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	tests := []struct {
		name  string
		form  url.Values
		code  int
		error string
	}{
		{"ok", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(nil))}}, 200, ""},
		{"grant type", url.Values{"grant_type": {"client_credentials"}, "assertion": {signJWT(t, key, "RS256", claims(nil))}}, 400, "unsupported_grant_type"},
		{"no assertion", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}}, 400, "invalid_request"},
		{"garbage", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {"a.b.c"}}, 400, "invalid_grant"},
		{"other key", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, other, "RS256", claims(nil))}}, 400, "invalid_grant"},
		{"alg", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS384", claims(nil))}}, 400, "invalid_grant"},
		{"iss", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) { c["iss"] = "x@y" }))}}, 400, "invalid_grant"},
		{"aud", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" }))}}, 400, "invalid_grant"},
		{"expired", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Unix()-7200, now.Unix()-3600
		}))}}, 400, "invalid_grant"},
		{"future", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Unix()+3600, now.Unix()+7200
		}))}}, 400, "invalid_grant"},
		{"long lived", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) {
			c["exp"] = now.Unix() + 7200
		}))}}, 400, "invalid_grant"},
		{"no exp", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) { delete(c, "exp") }))}}, 400, "invalid_grant"},
		{"scope", url.Values{"grant_type": {fakegoogle.GrantTypeJWTBearer}, "assertion": {signJWT(t, key, "RS256", claims(func(c map[string]any) {
			c["scope"] = "https://www.googleapis.com/auth/cloud-platform"
		}))}}, 400, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, b := do(t, "POST", srv.TokenURL(), tc.form.Encode(),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
			var res struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			if code != tc.code || res.Error != tc.error {
				t.Fatalf("got %d %q, want %d %q: %s", code, res.Error, tc.code, tc.error, b)
			}
			if code == 200 {
				if res.AccessToken == "" || res.TokenType != "Bearer" || res.ExpiresIn != 3600 {
					t.Errorf("token answer %s", b)
				}
				c, _ := do(t, "GET", srv.URL+"/walletobjects/v1/eventTicketClass?issuerId="+issuer, "",
					http.Header{"Authorization": {"Bearer " + res.AccessToken}})
				if c != 200 {
					t.Errorf("list with the token: %d", c)
				}
			} else if res.Description == "" {
				t.Errorf("no error_description: %s", b)
			}
		})
	}
}

func TestRequestsAndReset(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	srv, svc := newFake(t, fakegoogle.Options{Now: clk.Now}, false)
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/walletobjects/v1/eventTicketClass" || r.Query.Get("alt") != "json" ||
		!r.At.Equal(clk.Now()) || r.AuthOK || r.Status != 200 || !bytes.Contains(r.Body, []byte(`"issuerName":"Theatre"`)) {
		t.Errorf("request %+v", r)
	}
	reqs[0].Body[0] = 'X' // a copy
	if srv.Requests()[0].Body[0] != '{' {
		t.Error("Requests does not copy bodies")
	}
	srv.ClearRequests()
	if len(srv.Requests()) != 0 {
		t.Error("ClearRequests kept requests")
	}
	srv.FailNext("GET", "/", 500, 5)
	srv.Reset()
	if len(srv.Requests()) != 0 || len(srv.ClassIDs()) != 0 {
		t.Error("Reset kept state")
	}
	_, err := svc.Eventticketclass.Get(classID).Do()
	apiErr(t, err, http.StatusNotFound) // not 500: failures were reset too
}

func TestHandlerWithoutListener(t *testing.T) {
	t.Parallel()
	h := fakegoogle.New(fakegoogle.Options{IssuerID: "42"}).Handler()
	body, _ := json.Marshal(validClass("42.mounted"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/walletobjects/v1/eventTicketClass", bytes.NewReader(body)))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"APPROVED"`) {
		t.Errorf("insert: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/walletobjects/v1/eventTicketClass/42.mounted", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Errorf("get: %d %v", rec.Code, rec.Header())
	}

	// Mounted under a prefix.
	mux := http.NewServeMux()
	mux.Handle("/google/", http.StripPrefix("/google", h))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/google/walletobjects/v1/eventTicketClass/42.mounted", nil))
	if rec.Code != 200 {
		t.Errorf("prefixed get: %d %s", rec.Code, rec.Body)
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	for _, opts := range []fakegoogle.Options{{IssuerID: "abc"}, {RequireAuth: true}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", opts)
				}
			}()
			fakegoogle.New(opts)
		}()
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv, svc := newFake(t, fakegoogle.Options{}, false)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := fmt.Sprintf("%s.c%d", issuer, i)
			if _, err := svc.Eventticketobject.Insert(validObject(id)).Do(); err != nil {
				t.Error(err)
				return
			}
			for j := range 3 {
				if _, err := svc.Eventticketobject.Addmessage(id, &walletobjects.AddMessageRequest{
					Message: &walletobjects.Message{Body: fmt.Sprint(j)}}).Do(); err != nil {
					t.Error(err)
				}
				_ = srv.Requests()
				_, _ = srv.EventTicketObject(id)
			}
		})
	}
	wg.Wait()
	if n := len(srv.ObjectIDs()); n != 8 {
		t.Errorf("%d objects", n)
	}
}

func FuzzInsert(f *testing.F) {
	srv := fakegoogle.New(fakegoogle.Options{})
	cb, _ := json.Marshal(validClass(classID))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/walletobjects/v1/eventTicketClass", bytes.NewReader(cb)))
	if rec.Code != 200 {
		f.Fatalf("seed class: %d %s", rec.Code, rec.Body)
	}
	ob, _ := json.Marshal(validObject(objectID))
	f.Add(true, cb)
	f.Add(false, ob)
	f.Add(false, []byte(`{"id":"`+issuer+`.x","classId":"`+classID+`","state":"ACTIVE","barcode":{"type":"TEXT_ONLY","value":"v","alternateText":"a"}}`))
	f.Add(false, []byte(`{"id":"`+issuer+`.y","classId":"`+classID+`","state":"active","messages":[null,{"body":1}],"heroImage":{"sourceUri":"x"}}`))
	f.Add(true, []byte(`{"id":"`+issuer+`.z","issuerName":"x","eventName":{"defaultValue":null},"reviewStatus":"draft","dateTime":[]}`))
	f.Add(false, []byte(`{"id":"`+issuer+`.w","classId":"`+classID+`","state":"ACTIVE","validTimeInterval":{"start":{"date":"2026-01-01T00:00:00Z"},"end":{}}}`))
	f.Add(false, []byte(`{"id":"`+issuer+`.v","ClassId":"`+classID+`","State":"ACTIVE"}`))
	f.Add(true, []byte(`{"id":"`+issuer+`.u","issuerName":"x","eventName":{"defaultValue":{"language":"en","value":"e"}},"ReviewStatus":"UNDER_REVIEW"}`))
	f.Add(true, []byte(`[1,2,{"a":`))
	f.Add(false, []byte(`null`))
	f.Fuzz(func(t *testing.T, class bool, body []byte) {
		path := "/walletobjects/v1/eventTicketObject"
		if class {
			path = "/walletobjects/v1/eventTicketClass"
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		if rec.Code >= 500 || (rec.Code != 200 && rec.Code/100 != 4) {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
		if rec.Code == 200 {
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["id"] == nil {
				t.Fatalf("stored answer %s", rec.Body)
			}
		}
		srv.ClearRequests() // keep memory flat
	})
}

// rotating is a rotating barcode as walletpass sends one, with the given
// TOTP algorithm, period, key and render encoding.
func rotating(algorithm string, periodMillis int64, key, encoding string) *walletobjects.RotatingBarcode {
	return &walletobjects.RotatingBarcode{Type: "QR_CODE", ValuePattern: "T-{totp_timestamp_seconds}-{totp_value_0}", RenderEncoding: encoding,
		TotpDetails: &walletobjects.RotatingBarcodeTotpDetails{Algorithm: algorithm, PeriodMillis: periodMillis,
			Parameters: []*walletobjects.RotatingBarcodeTotpDetailsTotpParameters{{Key: key, ValueLength: 8}}}}
}

// TestRotatingBarcodeJSON: the fake reads a rotating barcode's fields as
// proto3 JSON allows them: periodMillis as a string, a number or null, an
// unspecified render encoding; a negative or fractional period is refused.
func TestRotatingBarcodeJSON(t *testing.T) {
	t.Parallel()
	srv := fakegoogle.New(fakegoogle.Options{})
	post := func(path string, body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		return rec
	}
	cb, _ := json.Marshal(validClass(classID))
	if rec := post("/walletobjects/v1/eventTicketClass", cb); rec.Code != 200 {
		t.Fatalf("class: %d %s", rec.Code, rec.Body)
	}
	for i, c := range []struct {
		period, encoding string
		code             int
	}{{`"3000"`, "", 200}, {`3000`, "", 200}, {`null`, "", 200}, {`"3000"`, `"RENDER_ENCODING_UNSPECIFIED"`, 200},
		{`"3000"`, `"UTF_8"`, 200}, {`-5`, "", 400}, {`"1.5"`, "", 400}, {`"3000"`, `"LATIN_1"`, 400}} {
		enc := ""
		if c.encoding != "" {
			enc = `,"renderEncoding":` + c.encoding
		}
		body := fmt.Sprintf(`{"id":"%s.r%d","classId":"%s","state":"ACTIVE","rotatingBarcode":{"type":"QR_CODE","valuePattern":"T-{totp_value_0}"%s,`+
			`"totpDetails":{"algorithm":"TOTP_SHA1","periodMillis":%s,"parameters":[{"key":"00ff","valueLength":8}]}}}`, issuer, i, classID, enc, c.period)
		if rec := post("/walletobjects/v1/eventTicketObject", []byte(body)); rec.Code != c.code {
			t.Errorf("periodMillis %s, renderEncoding %s: %d, want %d (%s)", c.period, c.encoding, rec.Code, c.code, rec.Body)
		}
	}
}
