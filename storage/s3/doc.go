// Package s3 stores signed pass files in an S3-compatible object store
// (Amazon S3, MinIO, versitygw, …) through minio-go. Store implements
// pass.BlobStore, so it replaces the local blob.Dir when several instances
// of the service must see the same files.
//
// Every object key is Config.Prefix followed by the key the domain gives
// (for example "walletpass/prod/" + "demo/passes/<serial>/v3.pkpass"), so
// one bucket can hold several deployments. A Put is a single PUT request,
// never a multipart upload, so a reader sees the old or the new content,
// never a mix. Objects keep the content type given to Put.
//
// Errors carry a pass.Kind: KindNotFound (wrapping pass.ErrNotFound) for a
// missing key, KindInvalid for an unsafe key or bad argument, KindTooLarge
// for an object over the size limits, KindUnavailable when the object store
// cannot be reached, times out or answers with a 5xx or throttling error.
// Refused credentials wrap ErrAccessDenied and a missing bucket wraps
// ErrBucketNotFound. No error, and no Config printed with %v, contains the
// secret key.
//
// Configuration comes as a Config or as an s3:// URL (ParseURL), the form
// used in environment variables and by the tests (WALLETPASS_TEST_S3,
// which scripts/ci-s3.sh prints).
package s3
