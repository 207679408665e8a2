package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"walletpass/pass"
)

// copyTemplate copies the built-in default template to dir/name with
// another background colour, so that passes show which one made them.
func copyTemplate(t *testing.T, dir, name, colour string) {
	t.Helper()
	src := filepath.Join("..", "..", "templates", "default")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, name, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if d.Name() == "template.json" {
			data = []byte(strings.Replace(string(data), "rgb(27, 42, 74)", colour, 1))
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTemplateRules: a tenant with two more templates; the event's comfort
// variable WALLET=vip picks vip, a rule on the product code picks season,
// anything else the default; the order's timeline says which rule chose.
func TestTemplateRules(t *testing.T) {
	t.Parallel()
	tpls := t.TempDir()
	copyTemplate(t, tpls, "vip", "rgb(120, 20, 20)")
	copyTemplate(t, tpls, "season", "rgb(20, 100, 20)")
	s := startSystem(t, fmt.Sprintf(`server: {development: true}
templatesDir: %q
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    templateRules:
      - {template: season, productCode: DEMO_EV11}
`, tpls))
	defer s.stop()
	cases := []struct {
		name   string
		event  map[string]any
		want   string
		colour string
		why    string
	}{
		{"comfort variable", map[string]any{"name": "Gala Night", "comfortVariables": []string{"WALLET=vip"}}, "vip", "rgb(120, 20, 20)", "comfort variable WALLET=vip"},
		{"product code rule", map[string]any{"name": "Season Pass"}, "season", "rgb(20, 100, 20)", "rule 1: productCode=DEMO_EV11"},
		{"default", map[string]any{"name": "Matinee"}, "default", "rgb(27, 42, 74)", "the tenant's default"},
	}
	// One order of three tickets, one per event (one catalogue read).
	var tickets []any
	for _, c := range cases {
		tickets = append(tickets, map[string]any{"event": c.event})
	}
	o := s.createOrder(map[string]any{"tickets": tickets})
	ps := s.waitPasses(o.Secret, "3 passes", func(ps []pass.Pass) bool { return len(ps) == 3 })
	// The sync writes its timeline when it ends, after the passes.
	var tl string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(tl, "sync-finished") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		tl = strings.Join(timelineOf(t, s, o.Secret), "\n")
	}
	for i, c := range cases {
		p := byMovement(ps, o.Tickets[i].MovementID, 0)
		if p.Template != c.want {
			t.Errorf("%s: template %s, want %s", c.name, p.Template, c.want)
		}
		if pj := s.verify(*p); pj["backgroundColor"] != c.colour {
			t.Errorf("%s: backgroundColor %v, want %s", c.name, pj["backgroundColor"], c.colour)
		}
		if !strings.Contains(tl, "template "+c.want+", chosen by "+c.why) {
			t.Errorf("%s: the timeline does not say why:\n%s", c.name, tl)
		}
	}
}

// TestTemplateRuleNamesAKnownTemplate: start-up refuses a rule whose
// template does not exist, naming it.
func TestTemplateRuleNamesAKnownTemplate(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	p := filepath.Join(dataDir, "walletpass.yaml")
	os.WriteFile(p, []byte(`server: {development: true}
tenants:
  - id: demo
    name: Demo
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    templateRules: [{template: gold, performanceId: 5}]
`), 0o600)
	var stderr syncBuffer
	err := Run(context.Background(), []string{"serve", "-config", p}, &syncBuffer{}, &stderr, testEnv(dataDir, nil))
	if err == nil || !strings.Contains(err.Error(), "templateRules[0]") || !strings.Contains(err.Error(), "gold") {
		t.Errorf("serve = %v, want the unknown template of templateRules[0] named", err)
	}
}
