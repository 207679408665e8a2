package pass

import (
	"strconv"
	"strings"
)

// TemplateRule chooses a template for the tickets it matches: by exactly
// one of a product code, a product family ("PASS", or "PASS/OPEN_PASS"
// with the sub type), an event id or a performance id.
type TemplateRule struct {
	Template      string
	ProductCode   string
	ProductFamily string
	EventID       int64
	PerformanceID int64
}

// matches reports whether the rule picks t, and says by what.
func (r TemplateRule) matches(t Ticket) (string, bool) {
	p := t.Product
	switch {
	case r.ProductCode != "":
		return "productCode=" + r.ProductCode, strings.EqualFold(p.Code, r.ProductCode)
	case r.ProductFamily != "":
		typ, sub, hasSub := strings.Cut(r.ProductFamily, "/")
		ok := strings.EqualFold(p.FamilyType, typ) && (!hasSub || strings.EqualFold(p.FamilySubType, sub))
		return "productFamily=" + r.ProductFamily, ok
	case r.EventID != 0:
		return "eventId=" + strconv.FormatInt(r.EventID, 10), p.EventID == r.EventID
	case r.PerformanceID != 0:
		return "performanceId=" + strconv.FormatInt(r.PerformanceID, 10), t.Event.PerformanceID == r.PerformanceID
	}
	return "", false
}

// TemplateChoice is how a tenant's tickets get their template, first
// match wins: the event's comfort variable Variable ("WALLET=vip" picks
// vip, when such a template exists), then Rules in order, then Default.
type TemplateChoice struct {
	Variable string // "" : no comfort variable
	Rules    []TemplateRule
	Default  string
	// Exists says whether a template of that name exists (a comfort
	// variable naming none is passed over).
	Exists func(name string) bool
}

// Choose returns t's template and the rule that chose it, for the
// order's timeline.
func (c TemplateChoice) Choose(t Ticket) (template, why string) {
	if c.Variable != "" {
		for _, kv := range t.Product.Comfort {
			name, value, ok := strings.Cut(kv, "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), c.Variable) {
				value = strings.TrimSpace(value)
				if value != "" && c.Exists != nil && c.Exists(value) {
					return value, "comfort variable " + c.Variable + "=" + value
				}
			}
		}
	}
	for i, r := range c.Rules {
		if what, ok := r.matches(t); ok {
			return r.Template, "rule " + strconv.Itoa(i+1) + ": " + what
		}
	}
	return c.Default, "the tenant's default"
}
