package console

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzRolesClaim: whatever claims the identity provider's ID token holds
// and whatever claim the configuration names, claimAt and rolesOf do not
// panic; claimAt finds a top-level claim of the name first, else the one
// its dotted parts lead to; rolesOf grants admin only for an "admin" role
// and the tenants of the "operator:<tenant>" roles that are served, each
// once, in the claim's order. Run:
//
//	go test ./console/ -run '^$' -fuzz '^FuzzRolesClaim$' -fuzztime 20s
func FuzzRolesClaim(f *testing.F) {
	for _, s := range []struct{ claims, name string }{
		// Keycloak: realm and client roles, nested.
		{`{"realm_access":{"roles":["admin","offline_access"]},"resource_access":{"walletpass":{"roles":["operator:demo","uma_authorization"]}}}`,
			"realm_access.roles"},
		{`{"realm_access":{"roles":["admin"]},"resource_access":{"walletpass":{"roles":["operator:demo","operator:other"]}}}`,
			"resource_access.walletpass.roles"},
		// Auth0: a namespaced claim, dots and all.
		{`{"https://walletpass.example/roles":["operator:other","operator:demo","operator:other"],"sub":"auth0|1"}`,
			"https://walletpass.example/roles"},
		// Plain: a list, or a string of roles.
		{`{"roles":["operator:demo",7,null,{"x":"admin"},["admin"],"operator:nowhere"]}`, "roles"},
		{`{"roles":"admin,operator:demo operator:nowhere,,operator:  operator:demo"}`, "roles"},
		{`{"roles":"Admin\toperator:other administrator"}`, "roles"},
		{`{"a.b":"operator:demo","a":{"b":"admin"}}`, "a.b"},
		{`{"a":{"b":"admin"}}`, "a..b"},
		{`null`, ""},
	} {
		f.Add([]byte(s.claims), s.name)
	}
	c := newTest(f, "https://wallet.example")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		var claims map[string]any
		if json.Unmarshal(raw, &claims) != nil {
			return
		}
		claim := claimAt(claims, name)
		if v, ok := claims[name]; ok && !reflect.DeepEqual(claim, v) {
			t.Errorf("claimAt(%q) = %v, not the top-level claim %v", name, claim, v)
		}
		nested := claim
		parts := strings.Split(name, ".")
		for i := len(parts) - 1; i >= 0; i-- {
			nested = map[string]any{parts[i]: nested}
		}
		if got := claimAt(nested.(map[string]any), name); !reflect.DeepEqual(got, claim) {
			t.Errorf("claimAt(%q) in %v = %v, want %v", name, nested, got, claim)
		}

		// The roles as documented: a string's separated by spaces and
		// commas, a list's strings.
		var roles []string
		switch v := claim.(type) {
		case string:
			roles = strings.Split(strings.ReplaceAll(v, ",", " "), " ")
		case []any:
			for _, r := range v {
				if s, ok := r.(string); ok {
					roles = append(roles, s)
				}
			}
		}
		var want []string
		for _, r := range roles {
			id, ok := strings.CutPrefix(r, "operator:")
			if ok && !slices.Contains(want, id) && slices.ContainsFunc(c.cfg.Tenants, func(t Tenant) bool { return t.ID == id }) {
				want = append(want, id)
			}
		}
		admin, tenants := c.rolesOf(claim)
		if wantAdmin := slices.Contains(roles, "admin"); admin != wantAdmin || !slices.Equal(tenants, want) {
			t.Errorf("rolesOf(%#v) = admin %v, tenants %q; want %v, %q", claim, admin, tenants, wantAdmin, want)
		}
	})
}
