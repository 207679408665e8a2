// Package blobtest is a conformance suite for pass.BlobStore
// implementations: every blob store (the local blob.Dir, the S3 store)
// runs Run in its tests, so they all keep the contract the domain relies
// on: round trips, atomic replacement, not-found errors, binary and empty
// content, concurrent use, large values and key validation.
package blobtest
