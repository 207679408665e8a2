package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"walletpass/pass"
	"walletpass/storage/blob/blobtest"
)

// envS3 names the environment variable with the s3:// URL (as ParseURL
// reads it) of the server the tests use; scripts/ci-s3.sh prints one. The
// tests create its bucket if needed and work under a prefix of their own,
// removed at their end.
const envS3 = "WALLETPASS_TEST_S3"

// serverConfig returns the configuration of WALLETPASS_TEST_S3. Without
// it, the test is skipped, except in CI (CI=true), where a suite that
// needs the S3 server must fail if it is missing.
func serverConfig(t *testing.T) Config {
	t.Helper()
	raw := os.Getenv(envS3)
	if raw == "" {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s is not set: the S3 tests need an S3 server in CI (scripts/ci-s3.sh starts one and prints the URL)", envS3)
		}
		t.Skipf("%s is not set: S3 server tests skipped (scripts/ci-s3.sh starts a server and prints the URL)", envS3)
	}
	cfg, err := ParseURL(raw)
	if err != nil {
		t.Fatalf("%s: %v", envS3, err)
	}
	return cfg
}

// randomName returns n random bytes in hex.
func randomName(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setup returns a store on the test server, under a prefix of its own
// whose objects are removed when the test ends, creating the bucket if
// needed.
func setup(t *testing.T) *Store {
	t.Helper()
	cfg := serverConfig(t)
	cfg.Prefix += "test-" + randomName(8) + "/"
	cfg.CreateBucket = true
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg, err)
	}
	t.Cleanup(func() { removeAll(t, s.client, s.cfg.Bucket, s.cfg.Prefix) })
	return s
}

// removeAll removes every object under prefix.
func removeAll(t *testing.T, c *minio.Client, bucket, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Errorf("cleanup: list %s/%s: %v", bucket, prefix, obj.Err)
			return
		}
		if err := c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Errorf("cleanup: remove %s/%s: %v", bucket, obj.Key, err)
		}
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	serverConfig(t)
	blobtest.Run(t, func(t *testing.T) pass.BlobStore { return setup(t) })
}

func TestPrefixApplied(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	key := "demo/passes/" + pass.NewSerialNumber() + "/v3.pkpass"
	data := []byte("prefixed")
	if err := s.Put(ctx, key, data, "application/vnd.apple.pkpass"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for obj := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list: %v", obj.Err)
		}
		got = append(got, fmt.Sprintf("%s (%d bytes)", obj.Key, obj.Size))
	}
	want := []string{fmt.Sprintf("%s%s (%d bytes)", s.cfg.Prefix, key, len(data))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects under %q (-want +got):\n%s", s.cfg.Prefix, diff)
	}
	// Nothing at the bare key.
	if _, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		t.Errorf("stat of the unprefixed key: err = %v, want NoSuchKey", err)
	}
}

func TestNewRefusedCredentials(t *testing.T) {
	t.Parallel()
	base := serverConfig(t)
	// Make sure the bucket exists, so that only the credentials are wrong.
	setup(t)
	tests := []struct {
		name   string
		modify func(c *Config)
	}{
		{"wrong secret key", func(c *Config) { c.SecretKey = "wrong-secret-" + randomName(8) }},
		{"unknown access key", func(c *Config) { c.AccessKey = "nobody" + randomName(4) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			tt.modify(&cfg)
			s, err := New(t.Context(), cfg)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", s)
			}
			if !errors.Is(err, ErrAccessDenied) {
				t.Errorf("err = %v, want one wrapping ErrAccessDenied", err)
			}
			if !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), cfg.Bucket) {
				t.Errorf("err = %q, want it to say access denied to bucket %q", err, cfg.Bucket)
			}
			if strings.Contains(err.Error(), cfg.SecretKey) {
				t.Errorf("err = %q contains the secret key", err)
			}
			// CreateBucket does not hide the refusal either.
			cfg.CreateBucket = true
			if _, err := New(t.Context(), cfg); !errors.Is(err, ErrAccessDenied) {
				t.Errorf("with CreateBucket: err = %v, want one wrapping ErrAccessDenied", err)
			}
		})
	}
}

func TestNewMissingBucket(t *testing.T) {
	t.Parallel()
	cfg := serverConfig(t)
	cfg.Bucket = "walletpass-missing-" + randomName(6)
	s, err := New(t.Context(), cfg)
	if err == nil {
		t.Fatalf("New = %v, nil; want an error", s)
	}
	if !errors.Is(err, ErrBucketNotFound) {
		t.Errorf("err = %v, want one wrapping ErrBucketNotFound", err)
	}
	if !strings.Contains(err.Error(), strconv.Quote(cfg.Bucket)) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("err = %q, want it to name the bucket and say it does not exist", err)
	}
}

func TestEnsureBucket(t *testing.T) {
	t.Parallel()
	cfg := serverConfig(t)
	cfg.Bucket = "walletpass-new-" + randomName(6)
	cfg.CreateBucket = true
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New with CreateBucket: %v", err)
	}
	t.Cleanup(func() {
		removeAll(t, s.client, cfg.Bucket, "")
		if err := s.client.RemoveBucket(context.Background(), cfg.Bucket); err != nil {
			t.Errorf("cleanup: remove bucket %s: %v", cfg.Bucket, err)
		}
	})
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Errorf("EnsureBucket on an existing bucket: %v", err)
	}
	cfg.CreateBucket = false
	s2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New after the bucket was created: %v", err)
	}
	if err := s2.Put(t.Context(), "demo/x.pkpass", []byte("x"), ""); err != nil {
		t.Errorf("Put in the new bucket: %v", err)
	}
}

func TestSizeLimits(t *testing.T) {
	t.Parallel()
	s := setup(t)
	// 50 MB through the S3 server while the other suites run: the limits
	// are tested here, not the speed.
	s.cfg.Timeout = 5 * time.Minute
	ctx := t.Context()
	key := "demo/passes/" + pass.NewSerialNumber() + "/big.pkpasses"
	if err := s.Put(ctx, key, make([]byte, MaxPutSize+1), ""); pass.KindOf(err) != pass.KindTooLarge {
		t.Errorf("Put of %d bytes: err = %v, want kind %v", MaxPutSize+1, err, pass.KindTooLarge)
	}
	if err := s.Put(ctx, key, make([]byte, MaxPutSize), ""); err != nil {
		t.Errorf("Put of exactly MaxPutSize bytes: %v", err)
	}
	// An object over MaxGetSize, written past the store.
	size := int64(MaxGetSize + 1)
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, s.cfg.Prefix+key, io.LimitReader(zeros{}, size), size, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put %d bytes directly: %v", size, err)
	}
	if _, err := s.Get(ctx, key); pass.KindOf(err) != pass.KindTooLarge {
		t.Errorf("Get of %d bytes: err = %v, want kind %v", size, err, pass.KindTooLarge)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// unreachableStore returns a store whose endpoint refuses connections,
// built without New (which would fail).
func unreachableStore(t *testing.T) *Store {
	t.Helper()
	cfg := Config{
		Endpoint: closedAddr(t), Region: "us-east-1", Bucket: "walletpass", PathStyle: new(true),
		AccessKey: "key", SecretKey: "unreachable-secret", Timeout: 3 * time.Second,
	}.normalize()
	c, err := minio.New(cfg.Endpoint, cfg.minioOptions())
	if err != nil {
		t.Fatal(err)
	}
	return &Store{cfg: cfg, client: c}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Endpoint: closedAddr(t), Region: "us-east-1", Bucket: "walletpass", PathStyle: new(true),
		AccessKey: "key", SecretKey: "unreachable-secret", Timeout: 3 * time.Second,
	}
	_, err := New(t.Context(), cfg)
	if k := pass.KindOf(err); k != pass.KindUnavailable {
		t.Errorf("New: err = %v (kind %v), want kind %v", err, k, pass.KindUnavailable)
	}
	s := unreachableStore(t)
	if err := s.Put(t.Context(), "demo/a.pkpass", []byte("x"), ""); pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("Put: err = %v, want kind %v", err, pass.KindUnavailable)
	}
	if _, err := s.Get(t.Context(), "demo/a.pkpass"); pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("Get: err = %v, want kind %v", err, pass.KindUnavailable)
	}
}

// TestServerAnswers checks how answers of an S3 server become error kinds,
// with an httptest server speaking S3's XML errors.
func TestServerAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		code       string
		wantKind   pass.Kind
		wantIs     error
		wantTries  int64
		bucketOnly bool
	}{
		{name: "503", status: 503, code: "ServiceUnavailable", wantKind: pass.KindUnavailable, wantTries: maxRetries},
		{name: "500", status: 500, code: "InternalError", wantKind: pass.KindUnavailable, wantTries: maxRetries},
		{name: "slow down", status: 503, code: "SlowDown", wantKind: pass.KindUnavailable, wantTries: maxRetries},
		{name: "403", status: 403, code: "SignatureDoesNotMatch", wantKind: pass.KindInternal, wantIs: ErrAccessDenied, wantTries: 1},
		{name: "no such key", status: 404, code: "NoSuchKey", wantKind: pass.KindNotFound, wantIs: pass.ErrNotFound, wantTries: 1},
		{name: "no such bucket", status: 404, code: "NoSuchBucket", wantKind: pass.KindInternal, wantIs: ErrBucketNotFound, wantTries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tries atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tries.Add(1)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test answer</Message></Error>`, tt.code)
			}))
			t.Cleanup(srv.Close)
			cfg := Config{
				Endpoint: strings.TrimPrefix(srv.URL, "http://"), Region: "us-east-1", Bucket: "walletpass",
				PathStyle: new(true), AccessKey: "key", SecretKey: "the-secret-key", Timeout: 5 * time.Second,
			}.normalize()
			c, err := minio.New(cfg.Endpoint, cfg.minioOptions())
			if err != nil {
				t.Fatal(err)
			}
			s := &Store{cfg: cfg, client: c}
			_, err = s.Get(t.Context(), "demo/a.pkpass")
			if k := pass.KindOf(err); k != tt.wantKind {
				t.Errorf("Get: err = %v (kind %v), want kind %v", err, k, tt.wantKind)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Get: err = %v, want one wrapping %v", err, tt.wantIs)
			}
			if err != nil && strings.Contains(err.Error(), cfg.SecretKey) {
				t.Errorf("Get: err = %q contains the secret key", err)
			}
			if got := tries.Load(); got != tt.wantTries {
				t.Errorf("Get made %d requests, want %d", got, tt.wantTries)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cfg := Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Region: "us-east-1", Bucket: "walletpass",
		PathStyle: new(true), AccessKey: "key", SecretKey: "the-secret-key", Timeout: 300 * time.Millisecond,
	}
	// The server never answers: only the timeout ends New. (The guard
	// only keeps a broken timeout from hanging the suite.)
	done := make(chan error, 1)
	go func() {
		_, err := New(t.Context(), cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if k := pass.KindOf(err); k != pass.KindUnavailable || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("New against a silent server: err = %v (kind %v), want kind %v after its deadline", err, k, pass.KindUnavailable)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("New against a silent server did not give up (timeout %s)", cfg.Timeout)
	}
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	s := unreachableStore(t) // keys are checked before any request
	long := strings.Repeat("a", maxKeyLen+1)
	for _, key := range []string{"", "/abs", "..", "../x", "a/../b", "a/./b", "a//b", "a/", `a\b`, "a\nb", "a\x7fb", "\xff", long} {
		for name, err := range map[string]error{
			"Put": s.Put(t.Context(), key, []byte("x"), ""),
			"Get": func() error { _, err := s.Get(t.Context(), key); return err }(),
			"ContentType": func() error {
				_, err := s.ContentType(t.Context(), key)
				return err
			}(),
		} {
			if k := pass.KindOf(err); k != pass.KindInvalid {
				t.Errorf("%s(%.20q): err = %v (kind %v), want kind %v", name, key, err, k, pass.KindInvalid)
			}
		}
	}
	if err := s.Put(t.Context(), "demo/a.pkpass", []byte("x"), "not a type;;"); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("Put with a malformed content type: err = %v, want kind %v", err, pass.KindInvalid)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		want    Config
		wantErr string // a part of the error; "" means no error
	}{
		{
			name: "versitygw of ci-s3.sh",
			url:  "s3://testkey:testsecret123@127.0.0.1:7070/walletpass-test?region=us-east-1&secure=false&style=path",
			want: Config{Endpoint: "127.0.0.1:7070", Region: "us-east-1", Bucket: "walletpass-test",
				AccessKey: "testkey", SecretKey: "testsecret123", PathStyle: new(true)},
		},
		{
			name: "aws with prefix and defaults",
			url:  "s3://AKIAEXAMPLE:wJalr%2FK7MDENG%2BbPx@s3.eu-central-1.amazonaws.com/tickets/walletpass/prod?region=eu-central-1",
			want: Config{Endpoint: "s3.eu-central-1.amazonaws.com", Secure: true, Region: "eu-central-1", Bucket: "tickets",
				Prefix: "walletpass/prod/", AccessKey: "AKIAEXAMPLE", SecretKey: "wJalr/K7MDENG+bPx"},
		},
		{
			name: "prefix with trailing slash, virtual style, timeout, create",
			url:  "s3://k:s@minio.internal:9000/bkt/p/?style=virtual&timeout=3s&create=true&secure=true",
			want: Config{Endpoint: "minio.internal:9000", Secure: true, Bucket: "bkt", Prefix: "p/",
				AccessKey: "k", SecretKey: "s", PathStyle: new(false), Timeout: 3 * time.Second, CreateBucket: true},
		},
		{
			name: "style auto",
			url:  "s3://k:s@h/bkt?style=auto",
			want: Config{Endpoint: "h", Secure: true, Bucket: "bkt", AccessKey: "k", SecretKey: "s"},
		},
		{name: "http scheme", url: "http://k:s@h/b", wantErr: `scheme "http"`},
		{name: "no bucket", url: "s3://k:s@h/", wantErr: "bucket is required"},
		{name: "no credentials", url: "s3://h/b", wantErr: "access key is required"},
		{name: "no secret", url: "s3://k@h/b", wantErr: "secret key is required"},
		{name: "no host", url: "s3:///b", wantErr: "endpoint is required"},
		{name: "bad bucket", url: "s3://k:s@h/Bad_Bucket", wantErr: "Bad_Bucket"},
		{name: "dot-dot prefix", url: "s3://k:s@h/b/../x", wantErr: "prefix"},
		{name: "unknown parameter", url: "s3://k:s@h/b?regoin=x", wantErr: `unknown parameter "regoin"`},
		{name: "bad secure", url: "s3://k:s@h/b?secure=maybe", wantErr: "secure="},
		{name: "bad style", url: "s3://k:s@h/b?style=sideways", wantErr: "style="},
		{name: "bad timeout", url: "s3://k:s@h/b?timeout=soon", wantErr: "timeout="},
		{name: "negative timeout", url: "s3://k:s@h/b?timeout=-1s", wantErr: "timeout="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL: got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseURL (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseURLErrorsHideSecret feeds URLs whose secret breaks the parse.
func TestParseURLErrorsHideSecret(t *testing.T) {
	t.Parallel()
	const secret = "S3CR3T"
	for _, u := range []string{
		"s3://key:" + secret + "/x@host/bucket", // unescaped "/" in the secret
		"s3://key:" + secret + "#x@host/bucket", // unescaped "#"
		"s3://key:" + secret + "%zz@host/bucket",
		"s3://key:/" + secret + "@host/bucket",    // a secret that starts with "/"
		"s3://key:123/" + secret + "@host/bucket", // digits, then "/": a valid port
		"s3://key:1?" + secret + "@host/bucket",
		"s3://key:" + secret + "@host:port/bucket",
		"s3://key:" + secret + "@host/Bad_Bucket",
		"s3\x00://key:" + secret + "@host/bucket",
	} {
		_, err := ParseURL(u)
		if err == nil {
			t.Errorf("ParseURL(%q): no error", u)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL(%q): error %q contains the secret", u, err)
		}
	}
}

func TestMinioOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pathStyle *bool
		want      minio.BucketLookupType
	}{
		{"auto", nil, minio.BucketLookupAuto},
		{"path", new(true), minio.BucketLookupPath},
		{"virtual", new(false), minio.BucketLookupDNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{
				Endpoint: "s3.eu-central-1.amazonaws.com", Secure: true, Region: "eu-central-1", Bucket: "b",
				AccessKey: "AKIAEXAMPLE", SecretKey: "secret", PathStyle: tt.pathStyle,
			}.normalize()
			opts := cfg.minioOptions()
			if opts.BucketLookup != tt.want {
				t.Errorf("BucketLookup = %v, want %v", opts.BucketLookup, tt.want)
			}
			if !opts.Secure || opts.Region != "eu-central-1" || opts.MaxRetries != maxRetries {
				t.Errorf("Secure, Region, MaxRetries = %t, %q, %d; want true, eu-central-1, %d", opts.Secure, opts.Region, opts.MaxRetries, maxRetries)
			}
			v, err := opts.Creds.GetWithContext(&credentials.CredContext{})
			if err != nil {
				t.Fatal(err)
			}
			if v.AccessKeyID != "AKIAEXAMPLE" || v.SecretAccessKey != "secret" || v.SessionToken != "" {
				t.Errorf("credentials = %q, %q, %q; want the static keys", v.AccessKeyID, v.SecretAccessKey, v.SessionToken)
			}
			if _, err := minio.New(cfg.Endpoint, opts); err != nil {
				t.Errorf("minio.New: %v", err)
			}
		})
	}
}

func TestConfigHidesSecret(t *testing.T) {
	t.Parallel()
	cfg := Config{Endpoint: "h:1", Bucket: "b", AccessKey: "k", SecretKey: "very-secret", PathStyle: new(true)}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, cfg); strings.Contains(got, "very-secret") || !strings.Contains(got, "REDACTED") {
			t.Errorf("Sprintf(%q, cfg) = %s, want the secret redacted", format, got)
		}
		if got := fmt.Sprintf(format, &cfg); strings.Contains(got, "very-secret") {
			t.Errorf("Sprintf(%q, &cfg) = %s, want the secret redacted", format, got)
		}
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := New(t.Context(), Config{Endpoint: "https://s3.example.com", Bucket: "B!", Prefix: "/abs", Timeout: -time.Second})
	if err == nil {
		t.Fatal("New with an invalid config: no error")
	}
	for _, want := range []string{"without a scheme", `bucket "B!"`, `prefix "/abs/"`, "access key is required", "secret key is required", "timeout -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to mention %q", err, want)
		}
	}
}
