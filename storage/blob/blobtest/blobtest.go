package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"walletpass/pass"
)

// ContentTyper is implemented by stores that keep the content type given
// to Put. ContentType returns it, or an error wrapping pass.ErrNotFound for
// a missing key. The suite checks content types only on such stores.
type ContentTyper interface {
	ContentType(ctx context.Context, key string) (string, error)
}

// Run runs the conformance suite as subtests of t, in parallel. newStore
// is called once from t, to learn whether the store is a ContentTyper
// (the ContentType subtest is there only for those), then once per
// subtest, from that subtest and possibly concurrently with other calls;
// it may return the same store every time (keys are unique per subtest)
// or a fresh one of the same type, and registers any cleanup on the t it
// is given.
func Run(t *testing.T, newStore func(t *testing.T) pass.BlobStore) {
	t.Helper()
	type subtest struct {
		name string
		fn   func(t *testing.T, s pass.BlobStore)
	}
	tests := []subtest{
		{"RoundTrip", testRoundTrip},
		{"Replace", testReplace},
		{"MissingKey", testMissingKey},
		{"BinaryData", testBinaryData},
		{"EmptyData", testEmptyData},
		{"LargeValue", testLargeValue},
		{"CallerOwnsSlices", testCallerOwnsSlices},
		{"ConcurrentPutsOfDifferentKeys", testConcurrentPuts},
		{"ConcurrentPutGetSameKey", testConcurrentPutGet},
		{"InvalidKeys", testInvalidKeys},
	}
	if s := newStore(t); isContentTyper(s) {
		tests = append(tests, subtest{"ContentType", testContentType})
	} else {
		t.Logf("%T does not report content types: no ContentType subtest", s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// newKey returns a key shaped like the service's, unique to this call.
func newKey(name string) string {
	return "demo/passes/" + pass.NewSerialNumber() + "/" + name
}

func put(t *testing.T, s pass.BlobStore, key string, data []byte, contentType string) {
	t.Helper()
	if err := s.Put(t.Context(), key, data, contentType); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

// wantContent fails the test unless key holds exactly want.
func wantContent(t *testing.T, s pass.BlobStore, key string, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", key, describe(got), describe(want))
	}
}

// describe summarises data for a failure message.
func describe(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes starting %q", len(b), b[:32])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func testRoundTrip(t *testing.T, s pass.BlobStore) {
	key := newKey("v1.pkpass")
	data := []byte("a signed pass")
	put(t, s, key, data, pass.ContentTypePkpass)
	wantContent(t, s, key, data)
	// A sibling key is a different object.
	other := key[:len(key)-len("v1.pkpass")] + "v2.pkpass"
	put(t, s, other, []byte("another version"), pass.ContentTypePkpass)
	wantContent(t, s, key, data)
	wantContent(t, s, other, []byte("another version"))
}

func testReplace(t *testing.T, s pass.BlobStore) {
	key := newKey("v1.pkpass")
	put(t, s, key, []byte("first, and longer than the second"), pass.ContentTypePkpass)
	put(t, s, key, []byte("second"), pass.ContentTypePkpass)
	wantContent(t, s, key, []byte("second"))
	put(t, s, key, []byte("third, longer again than the second"), pass.ContentTypePkpass)
	wantContent(t, s, key, []byte("third, longer again than the second"))
}

func testMissingKey(t *testing.T, s pass.BlobStore) {
	present := newKey("v1.pkpass")
	put(t, s, present, []byte("x"), pass.ContentTypePkpass)
	for _, key := range []string{
		newKey("v1.pkpass"), // nothing under this serial
		present[:len(present)-len("v1.pkpass")] + "v9.pkpass", // a sibling of a present key
		present[:len(present)-len("/v1.pkpass")],              // the start of a present key
	} {
		got, err := s.Get(t.Context(), key)
		if !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("Get(%q) = %s, %v; want an error wrapping pass.ErrNotFound", key, describe(got), err)
		}
		if k := pass.KindOf(err); k != pass.KindNotFound {
			t.Errorf("Get(%q): kind %v, want %v", key, k, pass.KindNotFound)
		}
	}
}

func isContentTyper(s pass.BlobStore) bool {
	_, ok := s.(ContentTyper)
	return ok
}

func testContentType(t *testing.T, s pass.BlobStore) {
	ct, ok := s.(ContentTyper)
	if !ok {
		t.Fatalf("%T does not report content types, unlike the first store newStore returned", s)
	}
	ctx := t.Context()
	key := newKey("v1.pkpass")
	for _, want := range []string{pass.ContentTypePkpass, pass.ContentTypePkpasses} {
		put(t, s, key, []byte("content"), want)
		got, err := ct.ContentType(ctx, key)
		if err != nil {
			t.Fatalf("ContentType(%q): %v", key, err)
		}
		if got != want {
			t.Errorf("ContentType(%q) = %q, want %q", key, got, want)
		}
	}
	if _, err := ct.ContentType(ctx, newKey("none.pkpass")); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("ContentType(missing key): err = %v, want an error wrapping pass.ErrNotFound", err)
	}
}

func testBinaryData(t *testing.T, s pass.BlobStore) {
	data := make([]byte, 0, 256*2+4096)
	for i := range 256 {
		data = append(data, byte(i))
	}
	for i := range 256 {
		data = append(data, byte(255-i))
	}
	data = append(data, "\r\n\x00PK\x03\x04"...)
	data = append(data, randomBytes(4096)...)
	key := newKey("v1.pkpass")
	put(t, s, key, data, pass.ContentTypePkpass)
	wantContent(t, s, key, data)
}

func testEmptyData(t *testing.T, s pass.BlobStore) {
	key := newKey("empty")
	put(t, s, key, []byte{}, "")
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if len(got) != 0 {
		t.Errorf("Get(%q) = %s, want empty", key, describe(got))
	}
	put(t, s, key, []byte("no longer empty"), "")
	wantContent(t, s, key, []byte("no longer empty"))
}

func testLargeValue(t *testing.T, s pass.BlobStore) {
	data := randomBytes(5 << 20)
	key := newKey("large.pkpasses")
	put(t, s, key, data, pass.ContentTypePkpasses)
	wantContent(t, s, key, data)
}

// testCallerOwnsSlices checks that a store neither keeps the slice given
// to Put nor hands out one it still uses.
func testCallerOwnsSlices(t *testing.T, s pass.BlobStore) {
	key := newKey("v1.pkpass")
	data := []byte("original")
	put(t, s, key, data, pass.ContentTypePkpass)
	copy(data, "XXXXXXXX")
	wantContent(t, s, key, []byte("original"))
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	copy(got, "YYYYYYYY")
	wantContent(t, s, key, []byte("original"))
}

func testConcurrentPuts(t *testing.T, s pass.BlobStore) {
	const n = 16
	keys := make([]string, n)
	values := make([][]byte, n)
	for i := range n {
		keys[i] = newKey(fmt.Sprintf("v%d.pkpass", i))
		values[i] = append([]byte(fmt.Sprintf("value %d: ", i)), randomBytes(1000+i*100)...)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.Put(t.Context(), keys[i], values[i], pass.ContentTypePkpass); err != nil {
				t.Errorf("Put(%q): %v", keys[i], err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range n {
		wantContent(t, s, keys[i], values[i])
	}
}

// testConcurrentPutGet replaces one key over and over while other
// goroutines read it: every read must return exactly one of the versions
// written (of different sizes), never a mix, a truncation or an error.
func testConcurrentPutGet(t *testing.T, s pass.BlobStore) {
	const (
		nVersions = 6
		writers   = 3
		readers   = 3
		rounds    = 16
	)
	versions := make([][]byte, nVersions)
	for i := range versions {
		// Version i: its index, then 64 KiB + i*4 KiB of the byte 'a'+i.
		v := make([]byte, 8+64*1024+i*4096)
		binary.BigEndian.PutUint64(v, uint64(i))
		for j := 8; j < len(v); j++ {
			v[j] = byte('a' + i)
		}
		versions[i] = v
	}
	key := newKey("v1.pkpass")
	put(t, s, key, versions[0], pass.ContentTypePkpass)

	ctx := t.Context()
	var done atomic.Bool
	var reads, torn atomic.Int64
	var rg, wg sync.WaitGroup
	for range readers {
		rg.Go(func() {
			for !done.Load() && torn.Load() < 3 {
				got, err := s.Get(ctx, key)
				if err != nil {
					t.Errorf("Get(%q) while another goroutine replaces it: %v", key, err)
					return
				}
				reads.Add(1)
				if !isVersion(got, versions) {
					torn.Add(1)
					t.Errorf("Get(%q) = %s: not one of the versions written", key, describe(got))
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				v := versions[(w+r)%nVersions]
				if err := s.Put(ctx, key, v, pass.ContentTypePkpass); err != nil {
					t.Errorf("Put(%q): %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rg.Wait()
	if reads.Load() == 0 {
		t.Errorf("no read finished while the writers ran")
	}
	t.Logf("%d reads during %d writes", reads.Load(), writers*rounds)
}

func isVersion(got []byte, versions [][]byte) bool {
	if len(got) < 8 {
		return false
	}
	i := binary.BigEndian.Uint64(got)
	return i < uint64(len(versions)) && bytes.Equal(got, versions[i])
}

func testInvalidKeys(t *testing.T, s pass.BlobStore) {
	ctx := t.Context()
	for _, key := range []string{
		"",
		"/demo/passes/abs.pkpass",
		"../escape.pkpass",
		"demo/../../escape.pkpass",
		"demo/./passes/x.pkpass",
		"demo//passes/x.pkpass",
		"demo/passes/",
		`demo\passes\x.pkpass`,
		"demo/passes/x\x00.pkpass",
	} {
		if err := s.Put(ctx, key, []byte("x"), pass.ContentTypePkpass); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("Put(%q): err = %v, want kind %v", key, err, pass.KindInvalid)
		}
		if _, err := s.Get(ctx, key); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("Get(%q): err = %v, want kind %v", key, err, pass.KindInvalid)
		}
	}
}
