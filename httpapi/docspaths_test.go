package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsPaths: every API path the README and docs/ name (/api/…, with
// its method where a code span gives one) is one the route table serves,
// so that the docs cannot keep a route after it moved.
func TestDocsPaths(t *testing.T) {
	s := &Server{deps: Deps{Preview: PreviewDeps{Enabled: true}}, tenants: map[string]TenantInfo{}}
	type route struct {
		method string
		segs   []string
	}
	var routes []route
	for _, r := range s.routes().Routes() {
		routes = append(routes, route{r.Method, strings.Split(strings.Trim(r.Path, "/"), "/")})
	}
	files, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "README.md"))
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range docPath.FindAllStringSubmatch(line, -1) {
				method, path := m[1], m[2]
				segs, prefix := docSegments(path)
				found := false
				for _, r := range routes {
					if (method == "" || method == r.method) && segmentsMatch(segs, r.segs, prefix) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("%s:%d: %s %s: no such route", filepath.Base(f), i+1, method, path)
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Errorf("found %d API paths in the docs; the extraction is broken", checked)
	}
}

// docPath finds "/api/…" in a line, with the method just before it, or
// after a local address ("http://127.0.0.1:8080/api/…"); not in another
// service's address ("google.golang.org/api/…").
var docPath = regexp.MustCompile(`(?:^|[\s` + "`" + `'(}>]|https?://(?:127\.0\.0\.1|localhost)(?::\d+)?)(?:(GET|POST|PUT|PATCH|DELETE|HEAD) +)?(/api/[A-Za-z0-9_{}<>:.$\-/*…]+)`)

// docSegments splits a documented path into its segments, without a
// query string or a final "…", and says whether the path is only a
// prefix ("…" or "/..." at its end).
func docSegments(path string) (segs []string, prefix bool) {
	path, _, _ = strings.Cut(path, "?")
	for _, ellipsis := range []string{"/...", "/…", "…", "..."} {
		if p, ok := strings.CutSuffix(path, ellipsis); ok {
			path, prefix = p, true
		}
	}
	path = strings.TrimRight(path, ".:")
	segs = strings.Split(strings.Trim(path, "/"), "/")
	// A base URL: the Apple web service's, under which the phones call.
	prefix = prefix || segs[len(segs)-1] == "v1"
	return segs, prefix
}

// segmentsMatch: each documented segment is the route's literal, or any
// segment where the route has a parameter; a placeholder ({x}, <x>) only
// stands for a parameter, or a parameter with a suffix ({serial}.pkpass).
func segmentsMatch(doc, route []string, prefix bool) bool {
	if len(doc) > len(route) || (!prefix && len(doc) != len(route)) {
		return false
	}
	for i, d := range doc {
		r := route[i]
		if strings.HasPrefix(r, ":") || strings.HasPrefix(r, "*") {
			continue
		}
		if d != r {
			return false
		}
	}
	return true
}

// TestDocPathExtraction: what TestDocsPaths reads of a line, and how it
// matches, so that it cannot pass by reading nothing.
func TestDocPathExtraction(t *testing.T) {
	line := "`POST /api/{tenant}/scans` and `{publicBaseURL}/api/{tenant}/apple/v1/...`, curl 'http://127.0.0.1:8080/api/demo/preview/default?kind=concert', not google.golang.org/api/walletobjects/v1"
	var got []string
	for _, m := range docPath.FindAllStringSubmatch(line, -1) {
		got = append(got, strings.TrimSpace(m[1]+" "+m[2]))
	}
	if want := []string{"POST /api/{tenant}/scans", "/api/{tenant}/apple/v1/...", "/api/demo/preview/default"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("extracted %q, want %q", got, want)
	}
	route := strings.Split("api/:tenantId/passes/:file", "/")
	for _, c := range []struct {
		path string
		want bool
	}{{"/api/demo/passes/{serial}.pkpass?exp=&sig=", true}, {"/api/{t}/passes", false}, {"/api/{t}/pass/{serial}", false},
		{"/api/{t}/passes/{serial}/versions", false}, {"/api/{t}/…", true}} {
		segs, prefix := docSegments(c.path)
		if got := segmentsMatch(segs, route, prefix); got != c.want {
			t.Errorf("%s against /%s: %v, want %v", c.path, strings.Join(route, "/"), got, c.want)
		}
	}
}
