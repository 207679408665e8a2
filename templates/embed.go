// Package templates holds the pass designs shipped with walletpass. Each
// folder is one template: template.json (a pass.json-shaped design whose
// string values are Go text/template expressions over the ticket), PNG
// images and xx.lproj/pass.strings translations.
package templates

import "embed"

// FS holds the built-in templates, one folder each.
//
//go:embed default
var FS embed.FS
