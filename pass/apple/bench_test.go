package apple_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"

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
	key, msg := signingKey(b, bd)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := signOnce(key, msg); err != nil {
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

// BenchmarkPassVsSign interleaves one pass (render, sign, zip into a reused
// buffer) and one bare RSA signature per iteration, timing each, so that
// the noise of a shared machine hits both alike. It reports the pass rate
// as a fraction of the bare signature rate ("pass/sign-rate").
// scripts/bench-instructions.sh runs it under callgrind, counting the
// instructions of passOnce and signOnce.
func BenchmarkPassVsSign(b *testing.B) {
	bd := setup(b)
	key, msg := signingKey(b, bd)
	in := apple.Input{Ticket: apple.SampleTicket(pass.EventConcert), SerialNumber: testSerial, AuthToken: testToken}
	var out bytes.Buffer
	var passNS, signNS time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := passOnce(bd, in, &out); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := signOnce(key, msg); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		passNS += t1.Sub(t0)
		signNS += t2.Sub(t1)
	}
	b.ReportMetric(float64(passNS.Nanoseconds())/float64(b.N), "ns/pass")
	b.ReportMetric(float64(signNS.Nanoseconds())/float64(b.N), "ns/sign")
	b.ReportMetric(float64(signNS)/float64(passNS), "pass/sign-rate")
}

//go:noinline
func passOnce(bd bundle, in apple.Input, out *bytes.Buffer) error {
	out.Reset()
	pj, err := bd.issuer.Render(bd.tpl, in)
	if err != nil {
		return err
	}
	return bd.issuer.WritePackage(out, bd.tpl, pj)
}

//go:noinline
func signOnce(key *rsa.PrivateKey, msg []byte) error {
	sum := sha256.Sum256(msg)
	_, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	return err
}

// signingKey returns the pass certificate's RSA key and a manifest-sized
// message for the bare-signature baseline.
func signingKey(b *testing.B, bd bundle) (*rsa.PrivateKey, []byte) {
	b.Helper()
	id, err := certs.Load(certs.Source{CertFile: bd.dev.Cert, KeyFile: bd.dev.Key, WWDRFile: bd.dev.WWDRCert})
	if err != nil {
		b.Fatal(err)
	}
	return id.Key.(*rsa.PrivateKey), make([]byte, 1200)
}
