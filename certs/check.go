package certs

import (
	"encoding/asn1"
	"fmt"
	"slices"
	"time"
)

// Severity says how bad a [Problem] is.
type Severity int

const (
	// Warning marks a problem that does not stop passes from working yet.
	Warning Severity = iota + 1
	// Error marks a problem that makes Wallet reject the passes.
	Error
)

// String returns "warning" or "error", or "severity(N)" for other values.
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	default:
		return fmt.Sprintf("severity(%d)", int(s))
	}
}

// Problem is one finding of [Identity.Check].
type Problem struct {
	Severity Severity
	Message  string
}

// expiryWarning is how long before the end of its validity a certificate is
// reported (by Check) or replaced (by EnsureDev).
const expiryWarning = 30 * 24 * time.Hour

var (
	// oidUID is the LDAP userId attribute that holds the pass type ID.
	oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	// oidPassSigningEKU is Apple's extended key usage for pass signing.
	oidPassSigningEKU = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 4, 14}
	// oidPassTypeIDExt is Apple's extension holding the pass type ID.
	oidPassTypeIDExt = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 1, 16}
)

// Check reports everything wrong with id for a tenant configured with
// passTypeID and teamID, as seen at time now. It never fails: a nil identity,
// leaf, key or WWDR is itself reported as an Error. The problems are:
//
//   - Error: the leaf is not yet valid or has expired.
//   - Warning: the leaf expires in under 30 days (the message gives the days).
//   - Error: the key does not match the leaf.
//   - Error: the leaf is not signed by the WWDR.
//   - Error: the WWDR is not yet valid or has expired.
//   - Error: passTypeID differs from [PassTypeID] of the leaf.
//   - Error: teamID differs from [TeamID] of the leaf.
//   - Warning: the leaf lacks Apple's pass-signing extended key usage
//     1.2.840.113635.100.4.14.
//
// The result is empty if all is well; use [HasErrors] to decide whether to
// refuse to sign.
func (id *Identity) Check(passTypeID, teamID string, now time.Time) []Problem {
	var ps []Problem
	add := func(s Severity, format string, args ...any) {
		ps = append(ps, Problem{Severity: s, Message: fmt.Sprintf(format, args...)})
	}
	if id == nil || id.Leaf == nil {
		add(Error, "no pass certificate loaded")
		return ps
	}
	leaf := id.Leaf

	switch {
	case now.Before(leaf.NotBefore):
		add(Error, "pass certificate is not valid until %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		add(Error, "pass certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case leaf.NotAfter.Sub(now) < expiryWarning:
		days := int(leaf.NotAfter.Sub(now) / (24 * time.Hour))
		add(Warning, "pass certificate expires in %d days, on %s; renew it", days, leaf.NotAfter.UTC().Format(time.RFC3339))
	}

	if !keyMatches(id.Key, leaf) {
		add(Error, "private key does not match the pass certificate")
	}

	if id.WWDR == nil {
		add(Error, "no WWDR intermediate certificate loaded")
	} else {
		if err := leaf.CheckSignatureFrom(id.WWDR); err != nil {
			add(Error, "pass certificate is not signed by the given WWDR %q (wrong WWDR generation?): %v", id.WWDR.Subject.String(), err)
		}
		switch {
		case now.Before(id.WWDR.NotBefore):
			add(Error, "WWDR certificate is not valid until %s", id.WWDR.NotBefore.UTC().Format(time.RFC3339))
		case now.After(id.WWDR.NotAfter):
			add(Error, "WWDR certificate expired on %s", id.WWDR.NotAfter.UTC().Format(time.RFC3339))
		}
	}

	if got := PassTypeID(leaf); got != passTypeID {
		add(Error, "pass type ID is %q in the certificate but %q in the configuration", got, passTypeID)
	}
	if got := TeamID(leaf); got != teamID {
		add(Error, "team ID is %q in the certificate but %q in the configuration", got, teamID)
	}

	if !slices.ContainsFunc(leaf.UnknownExtKeyUsage, oidPassSigningEKU.Equal) {
		add(Warning, "pass certificate lacks Apple's pass-signing extended key usage %s", oidPassSigningEKU)
	}
	return ps
}

// HasErrors reports whether any of ps has Severity Error.
func HasErrors(ps []Problem) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Severity == Error })
}
