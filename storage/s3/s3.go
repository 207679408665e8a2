package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"

	"walletpass/pass"
)

// Size limits. A signed pass is well under a megabyte; the limits only keep
// a mistake from filling memory.
const (
	// MaxPutSize is the largest content Put accepts.
	MaxPutSize = 50 << 20
	// MaxGetSize is the largest object Get reads.
	MaxGetSize = 64 << 20
)

// maxKeyLen bounds a key as blob.Dir does; with the prefix, an object name
// must stay within S3's 1024 bytes.
const (
	maxKeyLen    = 512
	maxObjectLen = 1024
)

var (
	// ErrBucketNotFound is wrapped by New (without Config.CreateBucket) when
	// the bucket does not exist.
	ErrBucketNotFound = errors.New("bucket does not exist")
	// ErrAccessDenied is wrapped by every call that the object store
	// refuses: 403 (a wrong secret key, credentials without the right to
	// the bucket), InvalidAccessKeyId, or versitygw's 404
	// XAdminUserNotFound for an unknown access key.
	ErrAccessDenied = errors.New("access denied: check the access key, the secret key and the bucket's policy")
)

// Store is a blob store in an S3 bucket. It implements pass.BlobStore and
// is safe for concurrent use.
type Store struct {
	cfg    Config
	client *minio.Client
}

var _ pass.BlobStore = (*Store)(nil)

// New returns a store for cfg after checking that the bucket exists (or
// creating it, with cfg.CreateBucket). It returns an error listing every
// problem of an invalid cfg; an error wrapping ErrAccessDenied when the
// server refuses the credentials; one wrapping ErrBucketNotFound when the
// bucket does not exist; one of kind pass.KindUnavailable when the server
// cannot be reached within cfg.Timeout.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.normalize()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, cfg.minioOptions())
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &Store{cfg: cfg, client: client}
	if cfg.CreateBucket {
		if err := s.EnsureBucket(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	ok, err := s.bucketExists(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %q at %s: %w (create it, or set CreateBucket)", cfg.Bucket, cfg.Endpoint, ErrBucketNotFound)
	}
	return s, nil
}

// bucketExists asks whether the bucket exists with HEAD (what the
// permission to list it allows). A HEAD error has no body, so a 404 says
// nothing more than "not found": versitygw answers 404 to an unknown access
// key, for one. A GET of an object under the prefix, whose error carries a
// code, tells a missing bucket (NoSuchBucket) from refused credentials.
func (s *Store) bucketExists(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return false, s.classify(ctx, "bucket "+s.cfg.Bucket, err)
	}
	if ok {
		return true, nil
	}
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.cfg.Bucket, s.cfg.Prefix+probeObject, minio.GetObjectOptions{})
	switch code := minio.ToErrorResponse(err).Code; {
	case err == nil:
		body.Close()
		return true, nil
	case code == minio.NoSuchBucket:
		return false, nil
	case code == minio.NoSuchKey:
		return true, nil
	}
	return false, s.classify(ctx, "bucket "+s.cfg.Bucket, err)
}

// Ping reports whether the bucket answers (readiness): one HEAD request,
// with the store's timeout.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.bucketExists(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return pass.Errorf(pass.KindUnavailable, "s3: bucket %s does not exist", s.cfg.Bucket)
	}
	return nil
}

// probeObject is the name under the prefix that bucketExists reads when
// HEAD says the bucket is not found; it need not exist.
const probeObject = ".walletpass-bucket-probe"

// EnsureBucket creates the bucket, in cfg.Region, if it does not exist. It
// is meant for tests and local runs; production buckets are made by their
// owners. Errors are as for New.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.bucketExists(ctx)
	if err != nil || ok {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err = s.client.MakeBucket(cctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	if err == nil {
		return nil
	}
	// Another process may have created it meanwhile: fine if we can see it.
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		if ok, err2 := s.bucketExists(ctx); err2 == nil && ok {
			return nil
		}
	}
	return s.classify(cctx, "create bucket "+s.cfg.Bucket, err)
}

// Put stores data under key with the given content type
// ("application/octet-stream" when empty), replacing any previous object:
// one PUT request, so readers see the old or the new content, never a mix.
// It returns an error of kind pass.KindInvalid for an unsafe key or a
// malformed content type, pass.KindTooLarge when data is over MaxPutSize,
// pass.KindUnavailable when the object store is unreachable, slow or
// failing, and one wrapping ErrAccessDenied when it refuses the request.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	name, err := s.objectName(key)
	if err != nil {
		return err
	}
	if len(data) > MaxPutSize {
		return pass.Errorf(pass.KindTooLarge, "s3: put %s: %d bytes, the limit is %d", key, len(data), MaxPutSize)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	} else if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return pass.Errorf(pass.KindInvalid, "s3: put %s: content type %q: %v", key, contentType, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err = s.client.PutObject(ctx, s.cfg.Bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:      contentType,
		DisableMultipart: true, // atomic replace, and nothing left behind by a failed upload
		SendContentMd5:   true, // the server rejects a body damaged on the way
	})
	if err != nil {
		return s.classify(ctx, "put "+key, err)
	}
	return nil
}

// Get returns the content under key. It returns an error wrapping
// pass.ErrNotFound when there is no such object, of kind pass.KindInvalid
// for an unsafe key, pass.KindTooLarge for an object over MaxGetSize,
// pass.KindUnavailable when the object store is unreachable, slow or
// failing (a body cut short included), and one wrapping ErrAccessDenied
// when it refuses the request.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	name, err := s.objectName(key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	// Core.GetObject makes exactly one GET: one version of the object, and
	// the error (NoSuchKey) before any byte is read.
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.cfg.Bucket, name, minio.GetObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, fmt.Errorf("s3: %s: %w", key, pass.ErrNotFound)
		}
		return nil, s.classify(ctx, "get "+key, err)
	}
	defer body.Close()
	if info.Size > MaxGetSize {
		return nil, pass.Errorf(pass.KindTooLarge, "s3: get %s: %d bytes, the limit is %d", key, info.Size, MaxGetSize)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxGetSize+1))
	if err != nil {
		return nil, s.classify(ctx, "get "+key, err)
	}
	if len(data) > MaxGetSize {
		return nil, pass.Errorf(pass.KindTooLarge, "s3: get %s: over the limit of %d bytes", key, MaxGetSize)
	}
	if info.Size >= 0 && int64(len(data)) != info.Size {
		return nil, pass.Errorf(pass.KindUnavailable, "s3: get %s: read %d of %d bytes", key, len(data), info.Size)
	}
	return data, nil
}

// Delete removes the object under key; a missing object is not an error
// (S3 answers a DELETE of one with success). Errors are as for Put.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.objectName(key)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return s.classify(ctx, "delete "+key, err)
	}
	return nil
}

// ContentType returns the content type stored with the object under key.
// Errors are as for Get.
func (s *Store) ContentType(ctx context.Context, key string) (string, error) {
	name, err := s.objectName(key)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, name, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return "", fmt.Errorf("s3: %s: %w", key, pass.ErrNotFound)
		}
		return "", s.classify(ctx, "stat "+key, err)
	}
	return info.ContentType, nil
}

// objectName checks key and returns the object's name in the bucket.
func (s *Store) objectName(key string) (string, error) {
	if len(key) > maxKeyLen {
		return "", pass.Errorf(pass.KindInvalid, "s3: invalid key %.40q…: longer than %d bytes", key, maxKeyLen)
	}
	if err := checkPath(key); err != nil {
		return "", pass.Errorf(pass.KindInvalid, "s3: invalid key %q: %v", key, err)
	}
	name := s.cfg.Prefix + key
	if len(name) > maxObjectLen {
		return "", pass.Errorf(pass.KindInvalid, "s3: invalid key %q: with the prefix, longer than %d bytes", key, maxObjectLen)
	}
	return name, nil
}

// checkPath accepts slash-separated, non-empty segments other than "." and
// "..", in valid UTF-8 without control characters or backslashes.
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case strings.HasPrefix(p, "/"):
		return errors.New(`starts with "/"`)
	case !utf8.ValidString(p):
		return errors.New("not valid UTF-8")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		return errors.New("has a control character or a backslash")
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return errors.New("has an empty segment")
		case ".", "..":
			return fmt.Errorf("has a %q segment", seg)
		}
	}
	return nil
}

// classify wraps an error of minio-go for op with its kind: 5xx, throttling,
// timeouts and network errors are pass.KindUnavailable; 403 wraps
// ErrAccessDenied. ctx is the call's context (with its timeout).
func (s *Store) classify(ctx context.Context, op string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code != "" {
		msg := fmt.Sprintf("s3: %s: %s (%s)", op, resp.Code, firstLine(resp.Message))
		switch {
		case resp.StatusCode == http.StatusForbidden || resp.Code == minio.AccessDenied ||
			resp.Code == minio.SignatureDoesNotMatch || resp.Code == minio.InvalidAccessKeyID ||
			resp.Code == "XAdminUserNotFound": // versitygw's 404 for an unknown access key
			return fmt.Errorf("s3: %s at %s: %w (%s)", op, s.cfg.Endpoint, ErrAccessDenied, resp.Code)
		case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
			resp.StatusCode == http.StatusRequestTimeout, resp.Code == "SlowDown", resp.Code == "RequestTimeout":
			return pass.Wrap(pass.KindUnavailable, err, msg)
		case resp.StatusCode == http.StatusNotFound && resp.Code == minio.NoSuchBucket:
			return fmt.Errorf("s3: %s: bucket %q: %w", op, s.cfg.Bucket, ErrBucketNotFound)
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return fmt.Errorf("s3: %s: %w", op, err) // the caller gave up
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return pass.Wrap(pass.KindUnavailable, err, fmt.Sprintf("s3: %s at %s", op, s.cfg.Endpoint))
	}
	return fmt.Errorf("s3: %s: %w", op, err)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
