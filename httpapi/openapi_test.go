package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
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
