package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"walletpass/config"
)

// TestClockAdvice: an instance warns when its clock is surely more than
// half the instances' tolerance off the database server's; not when the
// measurement cannot tell, nor when the clock could not be read.
func TestClockAdvice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		offset, uncertainty time.Duration
		err                 error
		warn                bool
	}{
		{"the same clock", 0, time.Millisecond, nil, false},
		{"within the tolerance", 90 * time.Millisecond, time.Millisecond, nil, false},
		{"ahead", 300 * time.Millisecond, 2 * time.Millisecond, nil, true},
		{"behind", -2 * time.Second, 2 * time.Millisecond, nil, true},
		{"a slow measurement", 150 * time.Millisecond, 100 * time.Millisecond, nil, false},
		{"no answer", time.Hour, 0, errors.New("down"), false},
	} {
		got := clockAdvice(tc.offset, tc.uncertainty, tc.err)
		if (got != "") != tc.warn {
			t.Errorf("%s: advice %q, want a warning %v", tc.name, got, tc.warn)
		}
		if tc.warn && !strings.Contains(got, tc.offset.String()) {
			t.Errorf("%s: advice %q does not say the offset %s", tc.name, got, tc.offset)
		}
	}
}

// TestOtherAudiences: a tenant's verifier knows the audiences the other
// tenants of its issuer trust (a token for one of them as well must name
// its tenant), not its own, nor those of another issuer.
func TestOtherAudiences(t *testing.T) {
	t.Parallel()
	tenant := func(id, issuer, audience string) config.Tenant {
		var tn config.Tenant
		tn.ID, tn.API.OAuth.Issuer, tn.API.OAuth.Audience = id, issuer, audience
		return tn
	}
	cfg := &config.Config{Tenants: []config.Tenant{
		tenant("a", "https://idp", "a-api"), tenant("b", "https://idp", "b-api"), tenant("c", "https://idp", "a-api"),
		tenant("d", "https://other-idp", "d-api"), tenant("e", "", ""), tenant("f", "https://idp", "b-api"),
	}}
	for _, tc := range []struct {
		tenant string
		want   []string
	}{{"a", []string{"b-api"}}, {"b", []string{"a-api"}}, {"d", nil}} {
		var tn config.Tenant
		for _, x := range cfg.Tenants {
			if x.ID == tc.tenant {
				tn = x
			}
		}
		if got := otherAudiences(cfg, tn); !slices.Equal(got, tc.want) {
			t.Errorf("tenant %s: %q, want %q", tc.tenant, got, tc.want)
		}
	}
}
