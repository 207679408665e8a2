// Package certs loads and checks the identity that signs Apple Wallet passes,
// and makes a development PKI that mimics Apple's.
//
// An identity is the Pass Type ID certificate (the leaf), its private key and
// the Apple Worldwide Developer Relations (WWDR) intermediate that issued the
// leaf. Production leaves made after 27 January 2022 are issued by WWDR G4;
// signing with another generation gives passes that Wallet rejects, so [Load]
// refuses a leaf that the given WWDR did not sign.
//
// [Load] reads the identity from a PKCS#12 file (legacy 3DES/RC2 or modern
// AES/SHA-256, as written by Keychain Access or OpenSSL 3) or from PEM files.
// [Identity.Check] then lists what is wrong for a tenant: expiry, a WWDR
// mismatch, and a pass type ID or team ID that differs from the certificate's
// UID and OU. Call it at startup and refuse to serve if [HasErrors] is true.
//
// [EnsureDev] creates, and later reuses, a self-signed stand-in WWDR and a
// pass certificate with Apple's subject shape and extensions, so signatures
// can be checked offline with
//
//	openssl cms -verify -binary -inform DER -in signature -content manifest.json \
//	    -CAfile wwdr.pem -purpose any -out /dev/null
//
// Errors are wrapped with the file they concern and never contain passwords
// or key material.
package certs
