package s3

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// DefaultTimeout bounds each call to the object store when Config.Timeout
// is zero.
const DefaultTimeout = 10 * time.Second

// maxRetries is how many times minio-go tries a request that failed with a
// network error, a 5xx or a throttling answer (minio-go's default is 10,
// which makes an outage take the whole timeout to surface).
const maxRetries = 3

// Config says where the bucket is and how to reach it. The zero value is
// not valid: Endpoint, Bucket, AccessKey and SecretKey are required.
type Config struct {
	// Endpoint is host:port or host, without a scheme, for example
	// "127.0.0.1:7070" or "s3.eu-central-1.amazonaws.com".
	Endpoint string
	// Secure selects https.
	Secure bool
	// Region is the bucket's region, for example "us-east-1". When empty,
	// minio-go asks the server for it (one more request per bucket).
	Region string
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is put before every key, so that deployments can share a
	// bucket, for example "walletpass/prod/". When set, it is normalised to
	// end in "/".
	Prefix string
	// AccessKey and SecretKey are the static credentials. The secret key is
	// never printed: not by String, not in errors.
	AccessKey, SecretKey string
	// PathStyle selects how the bucket is addressed: nil lets minio-go
	// decide (BucketLookupAuto: virtual-host for Amazon and a few known
	// clouds, path-style otherwise), true forces path-style
	// (host/bucket/key; MinIO, versitygw), false forces virtual-host style
	// (bucket.host/key; Amazon S3).
	PathStyle *bool
	// Timeout bounds each call, the transfer included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// CreateBucket makes New create the bucket when it does not exist
	// (tests, a local `make run`), instead of failing with
	// ErrBucketNotFound.
	CreateBucket bool
}

// String returns the configuration with the secret key redacted; fmt uses
// it for %v and %+v.
func (c Config) String() string {
	style := "auto"
	if c.PathStyle != nil {
		style = map[bool]string{true: "path", false: "virtual"}[*c.PathStyle]
	}
	secret := ""
	if c.SecretKey != "" {
		secret = "REDACTED"
	}
	return fmt.Sprintf("s3.Config{Endpoint:%q Secure:%t Region:%q Bucket:%q Prefix:%q AccessKey:%q SecretKey:%s PathStyle:%s Timeout:%s CreateBucket:%t}",
		c.Endpoint, c.Secure, c.Region, c.Bucket, c.Prefix, c.AccessKey, secret, style, c.Timeout, c.CreateBucket)
}

// GoString is String, so that %#v does not print the secret key either.
func (c Config) GoString() string { return c.String() }

// normalize returns c with defaults applied and the prefix ending in "/".
func (c Config) normalize() Config {
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// validate lists every problem of a normalised configuration at once.
func (c Config) validate() error {
	var errs []error
	switch {
	case c.Endpoint == "":
		errs = append(errs, errors.New("endpoint is required"))
	case strings.Contains(c.Endpoint, "://"):
		errs = append(errs, fmt.Errorf("endpoint %q must be host:port without a scheme (use Secure for https)", c.Endpoint))
	case strings.ContainsAny(c.Endpoint, "/?#@ "):
		errs = append(errs, fmt.Errorf("endpoint %q must be host:port without a path", c.Endpoint))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	} else if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket %q: %v", c.Bucket, err))
	}
	if c.Prefix != "" {
		if err := checkPath(strings.TrimSuffix(c.Prefix, "/")); err != nil {
			errs = append(errs, fmt.Errorf("prefix %q: %v", c.Prefix, err))
		}
	}
	if c.AccessKey == "" {
		errs = append(errs, errors.New("access key is required"))
	}
	if c.SecretKey == "" {
		errs = append(errs, errors.New("secret key is required"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", c.Timeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("s3: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// minioOptions returns the client options for a normalised configuration.
func (c Config) minioOptions() *minio.Options {
	lookup := minio.BucketLookupAuto
	if c.PathStyle != nil {
		if *c.PathStyle {
			lookup = minio.BucketLookupPath
		} else {
			lookup = minio.BucketLookupDNS
		}
	}
	return &minio.Options{
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       c.Secure,
		Region:       c.Region,
		BucketLookup: lookup,
		MaxRetries:   maxRetries,
	}
}

// ParseURL reads a configuration from an s3:// URL:
//
//	s3://ACCESS_KEY:SECRET_KEY@HOST[:PORT]/BUCKET[/PREFIX/…][?PARAMS]
//
// The access and secret keys are percent-encoded (a "/" or "+" in an AWS
// secret key is %2F or %2B). The path's first segment is the bucket; the
// rest, if any, is Prefix ("walletpass/prod" becomes "walletpass/prod/").
// A parameter given twice counts once, with its first value.
// Parameters, all optional:
//
//	region=us-east-1         Region (default: empty, asked from the server)
//	secure=true|false        https or http (default: true)
//	style=auto|path|virtual  PathStyle nil, true or false (default: auto)
//	timeout=10s              Timeout, a Go duration (default: 0, DefaultTimeout)
//	create=true|false        CreateBucket (default: false)
//
// For example, the versitygw of scripts/ci-s3.sh:
//
//	s3://testkey:testsecret123@127.0.0.1:7070/walletpass-test?region=us-east-1&secure=false&style=path
//
// It returns an error for any other scheme, a missing host, bucket or key,
// or an unknown parameter. Errors never repeat the URL, which holds the
// secret key. The result is not checked against a server; New does that.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's message quotes the URL, secret key included.
		return Config{}, errors.New("s3: URL does not parse (is the secret key percent-encoded?)")
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("s3: URL scheme %q, want s3://", u.Scheme)
	}
	if u.Opaque != "" {
		return Config{}, errors.New("s3: URL must be s3://KEY:SECRET@host/bucket")
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// A "/", "?" or "#" in a key ended the host early: what follows
		// (the rest of the secret) would show up in messages as a path.
		return Config{}, errors.New(`s3: URL has an "@" after the host: percent-encode "/", "?", "#" and "@" in the keys (%2F, %3F, %23, %40)`)
	}
	var cfg Config
	cfg.Endpoint = u.Host
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	cfg.Bucket, cfg.Prefix, _ = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if u.Fragment != "" {
		return Config{}, errors.New("s3: URL has a fragment (#…): percent-encode '#' in the secret key as %23")
	}
	cfg.Secure = true
	var errs []error
	q := u.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		v := q.Get(name)
		switch name {
		case "region":
			cfg.Region = v
		case "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("secure=%q: want true or false", v))
			}
			cfg.Secure = b
		case "style":
			switch v {
			case "", "auto":
				cfg.PathStyle = nil
			case "path":
				cfg.PathStyle = new(true)
			case "virtual", "virtual-host", "dns":
				cfg.PathStyle = new(false)
			default:
				errs = append(errs, fmt.Errorf("style=%q: want auto, path or virtual", v))
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("timeout=%q: want a duration such as 10s", v))
			}
			cfg.Timeout = d
		case "create":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("create=%q: want true or false", v))
			}
			cfg.CreateBucket = b
		default:
			errs = append(errs, fmt.Errorf("unknown parameter %q (known: region, secure, style, timeout, create)", name))
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("s3: URL: %w", errors.Join(errs...))
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if err := cfg.normalize().validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
