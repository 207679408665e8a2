package apple_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/pass/apple"
)

// BenchmarkBuildSign renders, checks, signs and zips one pass, streaming
// the .pkpass into a reused buffer as a server streams it to a file or a
// response; run it with -cpu 1,2 for passes per CPU-second on one and two
// cores.
func BenchmarkBuildSign(b *testing.B) {
	bd := setup(b)
	tk := apple.SampleTicket(pass.EventConcert)
	in := apple.Input{Ticket: tk, SerialNumber: testSerial, AuthToken: testToken}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var out bytes.Buffer
		for pb.Next() {
			out.Reset()
			pj, err := bd.issuer.Render(bd.tpl, in)
			if err == nil {
				err = bd.issuer.WritePackage(&out, bd.tpl, pj)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBuildSignBytes is Build: the same work into a fresh byte slice
// per pass (the blob store's API today).
func BenchmarkBuildSignBytes(b *testing.B) {
	bd := setup(b)
	in := apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bd.issuer.Build(bd.tpl, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRSASign is the baseline: one bare RSA-2048 PKCS#1 v1.5 SHA-256
// signature with the same key, over a manifest-sized message.
func BenchmarkRSASign(b *testing.B) {
	bd := setup(b)
	id, err := certs.Load(certs.Source{CertFile: bd.dev.Cert, KeyFile: bd.dev.Key, WWDRFile: bd.dev.WWDRCert})
	if err != nil {
		b.Fatal(err)
	}
	key := id.Key.(*rsa.PrivateKey)
	msg := make([]byte, 1200)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sum := sha256.Sum256(msg)
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRender is pass.json alone: template, semantics and validation.
func BenchmarkRender(b *testing.B) {
	bd := setup(b)
	in := apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := bd.issuer.Render(bd.tpl, in); err != nil {
			b.Fatal(err)
		}
	}
}
