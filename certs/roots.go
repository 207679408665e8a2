package certs

import (
	"crypto/x509"
	_ "embed"
	"fmt"
	"time"
)

// Apple's public certificates, shipped with the binary: the root every
// real pass certificate leads to, and the WWDR G4 intermediate that
// issues pass certificates made since 2022 (for operators who need the
// file: walletpass certs apple-wwdr).
var (
	//go:embed apple/AppleRootCA.pem
	appleRootPEM []byte
	//go:embed apple/AppleWWDRCAG4.pem
	appleWWDRG4PEM []byte
)

// AppleRoots returns a pool holding Apple Root CA, the anchor a
// production tenant's WWDR must chain to.
func AppleRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(appleRootPEM) {
		panic("certs: the embedded Apple Root CA does not parse")
	}
	return pool
}

// AppleWWDRG4 returns Apple's WWDR G4 certificate as PEM.
func AppleWWDRG4() []byte { return append([]byte(nil), appleWWDRG4PEM...) }

// CheckChain reports, as an Error, a WWDR that does not lead to one of
// roots: a self-made or foreign intermediate that Check alone (the leaf is
// signed by the WWDR given) would accept. Expiry is Check's business: the
// chain is verified at a time within the WWDR's validity.
func (id *Identity) CheckChain(roots *x509.CertPool, now time.Time) []Problem {
	if id == nil || id.WWDR == nil {
		return nil // Check reports the missing WWDR
	}
	at := now
	if at.Before(id.WWDR.NotBefore) || at.After(id.WWDR.NotAfter) {
		at = id.WWDR.NotBefore.Add(time.Second)
	}
	_, err := id.WWDR.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return []Problem{{Severity: Error, Message: fmt.Sprintf(
			"the WWDR certificate %q does not lead to Apple's root (use Apple's WWDR G4; walletpass certs apple-wwdr prints it): %v",
			id.WWDR.Subject.String(), err)}}
	}
	return nil
}
