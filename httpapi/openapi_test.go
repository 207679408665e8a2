package httpapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"walletpass/pass"
)

// loadOpenAPI loads the served document with a maintained OpenAPI library
// and validates it as OpenAPI 3.1.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("the OpenAPI document does not load: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	loadOpenAPI(t)
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z]+)`)

// TestOpenAPICoversTheRouteTable: every public route of the table is in
// the document with its method, and the document has nothing the table
// does not serve. The development-only routes (/sandbox, /dev) are left
// out of both.
func TestOpenAPICoversTheRouteTable(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	// Every feature on: the table as a production server with previews
	// (the development routes stay off: no Dev handlers).
	s := &Server{deps: Deps{Preview: PreviewDeps{Enabled: true}}, tenants: map[string]TenantInfo{}}
	served := map[string]bool{}
	for _, r := range s.routes().Routes() {
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		served[r.Method+" "+path] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("served but not in httpapi/openapi.json:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("in httpapi/openapi.json but not served:\n  %s", strings.Join(extra, "\n  "))
	}
	if len(served) < 20 {
		t.Errorf("only %d routes: the table looks wrong", len(served))
	}
	_ = http.MethodGet
}

// outboundCapture is the store of a pass.Fanout: one subscription to
// every event, and the messages made for it.
type outboundCapture struct {
	pass.OutboundStore
	msgs []pass.OutboundMessage
}

func (o *outboundCapture) Subscriptions(context.Context, string) ([]pass.Subscription, error) {
	return []pass.Subscription{{Tenant: "demo", ID: "sub", Events: []string{"*"}, Enabled: true}}, nil
}

func (o *outboundCapture) ActiveFanouts(context.Context, string, string, string) ([]pass.ActiveFanout, error) {
	return nil, nil
}

func (o *outboundCapture) StoredMessages(context.Context, string, []string, []string) (map[string]bool, error) {
	return map[string]bool{}, nil
}

func (o *outboundCapture) AddMessages(_ context.Context, msgs []pass.OutboundMessage, _ []pass.NewTask) error {
	o.msgs = append(o.msgs, msgs...)
	return nil
}

// TestOpenAPIWebhooksCoverEveryEvent: the document's webhooks section has
// one entry per event a subscription can take (pass.OutboundEvents), and
// no other: a POST with the Standard Webhooks headers and the answers
// that decide a delivery (2XX delivered, 410 disables, the rest retried),
// whose body schema takes the body the fan-out really sends for that
// event (with every optional field, and without them), names every field
// of its data, and refuses another event's body.
func TestOpenAPIWebhooksCoverEveryEvent(t *testing.T) {
	doc := loadOpenAPI(t)
	if got, want := slices.Sorted(maps.Keys(doc.Webhooks)), slices.Sorted(slices.Values(pass.OutboundEvents)); !slices.Equal(got, want) {
		t.Fatalf("webhooks in httpapi/openapi.json: %q, want pass.OutboundEvents %q", got, want)
	}
	full := &pass.Pass{Tenant: "demo", SerialNumber: "0a1b2c", PassTypeID: "pass.com.example.tickets", MovementID: 4, HolderGeneration: 1,
		FileID: 10075001001, OrderID: 2, TicketID: 3, Version: 2, Status: pass.StatusUsed}
	full.Ticket.Event.PerformanceID = 5
	bare := *full
	bare.Ticket.Event.PerformanceID = 0
	at := time.Date(2026, 11, 29, 19, 30, 0, 0, time.UTC)
	// bodies are the real bodies of each event: the first with every field.
	bodies := map[string][]pass.EventArgs{}
	for _, typ := range []string{pass.EventPassCreated, pass.EventPassUpdated, pass.EventPassVoided} {
		bodies[typ] = []pass.EventArgs{pass.PassEvent(full, typ, at, ""), pass.PassEvent(&bare, typ, at, "")}
	}
	bodies[pass.EventTicketScanned] = []pass.EventArgs{pass.PassEvent(full, pass.EventTicketScanned, at, "gate-7/42"),
		pass.PassEvent(&bare, pass.EventTicketScanned, at, "")}
	for _, typ := range []string{pass.EventPassInstalled, pass.EventPassUninstalled} {
		bodies[typ] = []pass.EventArgs{pass.InstallEvent("demo", "0a1b2c", "pass.com.example.tickets", typ, "apple", at),
			pass.InstallEvent("demo", "0a1b2c", "pass.com.example.tickets", typ, "google", at)}
	}
	decode := func(t *testing.T, ev pass.EventArgs) map[string]any {
		t.Helper()
		store := &outboundCapture{}
		if err := (&pass.Fanout{Store: store}).Work(context.Background(), ev, ""); err != nil || len(store.msgs) != 1 {
			t.Fatalf("fan-out of %s: %d messages, %v", ev.Type, len(store.msgs), err)
		}
		var body map[string]any
		if err := json.Unmarshal(store.msgs[0].Payload, &body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	for _, typ := range pass.OutboundEvents {
		t.Run(typ, func(t *testing.T) {
			op := doc.Webhooks[typ].Post
			if op == nil {
				t.Fatalf("webhook %s: no POST", typ)
			}
			var headers []string
			for _, p := range op.Parameters {
				if p.Value.In == openapi3.ParameterInHeader && p.Value.Required {
					headers = append(headers, p.Value.Name)
				}
			}
			if want := []string{"webhook-id", "webhook-signature", "webhook-timestamp"}; !slices.Equal(slices.Sorted(slices.Values(headers)), want) {
				t.Errorf("required headers %q, want %q", headers, want)
			}
			for _, code := range []string{"2XX", "410", "default"} {
				if op.Responses.Value(code) == nil {
					t.Errorf("no %s answer", code)
				}
			}
			media := op.RequestBody.Value.Content.Get("application/json")
			if media == nil {
				t.Fatal("no application/json body")
			}
			schema := media.Schema.Value
			if len(bodies[typ]) == 0 {
				t.Fatalf("no sample body of %s to check against the document", typ)
			}
			for i, ev := range bodies[typ] {
				body := decode(t, ev)
				if err := schema.VisitJSON(body); err != nil {
					t.Errorf("body %d, %v: %v", i, body, err)
				}
				if i == 0 {
					data, _ := body["data"].(map[string]any)
					got := slices.Sorted(maps.Keys(data))
					if want := schemaFields(schema.Properties["data"].Value); !slices.Equal(got, want) {
						t.Errorf("the real data's fields %q, the document's %q", got, want)
					}
				}
			}
			other := pass.EventPassVoided
			if typ == other {
				other = pass.EventPassCreated
			}
			if body := decode(t, bodies[other][0]); schema.VisitJSON(body) == nil {
				t.Errorf("a %s body passes for %s", other, typ)
			}
		})
	}
}

// schemaFields are the names of the properties s and the schemas of its
// allOf describe, sorted.
func schemaFields(s *openapi3.Schema) []string {
	names := slices.Collect(maps.Keys(s.Properties))
	for _, sub := range s.AllOf {
		names = append(names, schemaFields(sub.Value)...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestOpenAPISubscriptionCreatedHasSecret: the document says the
// creation's 201 answer always carries the signing secret (the one time
// it is shown).
func TestOpenAPISubscriptionCreatedHasSecret(t *testing.T) {
	doc := loadOpenAPI(t)
	created := doc.Paths.Find("/api/{tenantId}/webhooks").Post.Responses.Status(http.StatusCreated).Value.
		Content.Get("application/json").Schema.Value
	sub := map[string]any{"id": "sub_1", "endpoint": "https://crm.example.com/hooks", "events": []any{"*"}, "enabled": true,
		"description": "", "createdAt": "2026-11-29T10:00:00Z", "updatedAt": "2026-11-29T10:00:00Z"}
	if err := created.VisitJSON(sub); err == nil {
		t.Error("the 201 answer passes without its secret")
	}
	sub["secret"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if err := created.VisitJSON(sub); err != nil {
		t.Errorf("the 201 answer with its secret: %v", err)
	}
}
