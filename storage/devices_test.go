package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

func TestRegistrations(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		d1 := pass.Device{LibraryID: "dev1", PushToken: "aa11"}
		d2 := pass.Device{LibraryID: "dev2", PushToken: "bb22"}
		for _, d := range []pass.Device{d1, d2} {
			if created, err := db.Register(ctx, "demo", d, p.PassTypeID, "s1", t0); err != nil || !created {
				t.Fatalf("register %s: %v %v", d.LibraryID, created, err)
			}
		}
		if created, _ := db.Register(ctx, "demo", pass.Device{LibraryID: "dev1", PushToken: "cc33"}, p.PassTypeID, "s1", t0); created {
			t.Errorf("a second registration was created")
		}
		ds, _ := db.DevicesForPass(ctx, "demo", p.PassTypeID, "s1")
		if len(ds) != 2 || ds[0].PushToken != "cc33" {
			t.Fatalf("devices = %+v, want 2 with dev1's refreshed token", ds)
		}
		serials, tag, err := db.UpdatedSerials(ctx, "demo", "dev1", p.PassTypeID, 0)
		if err != nil || len(serials) != 1 || tag != p.UpdateTag {
			t.Fatalf("serials = %v tag %d (%v)", serials, tag, err)
		}
		if s, _, _ := db.UpdatedSerials(ctx, "demo", "dev1", p.PassTypeID, tag); len(s) != 0 {
			t.Errorf("serials since the tag = %v", s)
		}
		if s, _, _ := db.UpdatedSerials(ctx, "other", "dev1", p.PassTypeID, 0); len(s) != 0 {
			t.Errorf("another tenant sees registrations: %v", s)
		}
		// APNs says the token went a second before t0: the registration
		// made at t0 is the device's new one and stays; at t0 (APNs's
		// whole second) it goes.
		if n, err := db.ForgetPushToken(ctx, "demo", "bb22", t0.Add(-time.Second)); err != nil || n != 0 {
			t.Errorf("forget a token gone when it registered: %d %v", n, err)
		}
		if ds, _ := db.DevicesForPass(ctx, "demo", p.PassTypeID, "s1"); len(ds) != 2 {
			t.Errorf("devices after forgetting nothing: %+v", ds)
		}
		// The device registers again later: APNs's older timestamp keeps it.
		if _, err := db.Register(ctx, "demo", d2, p.PassTypeID, "s1", t0.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := db.ForgetPushToken(ctx, "demo", "bb22", t0.Add(5*time.Second)); err != nil || n != 0 {
			t.Errorf("forget a token gone before the device registered again: %d %v", n, err)
		}
		if n, err := db.ForgetPushToken(ctx, "demo", "bb22", t0.Add(10*time.Second)); err != nil || n != 1 {
			t.Errorf("forget: %d %v", n, err)
		}
		if removed, err := db.Unregister(ctx, "demo", "dev1", p.PassTypeID, "s1"); err != nil || !removed {
			t.Fatal(removed, err)
		}
		// A pass takes MaxDevicesPerPass devices; the next is refused, one
		// already registered is not.
		for i := range pass.MaxDevicesPerPass {
			if _, err := db.Register(ctx, "demo", pass.Device{LibraryID: fmt.Sprintf("many%02d", i), PushToken: "dd44"}, p.PassTypeID, "s2", t0); err != nil {
				t.Fatalf("device %d: %v", i, err)
			}
		}
		if _, err := db.Register(ctx, "demo", pass.Device{LibraryID: "one-too-many", PushToken: "ee55"}, p.PassTypeID, "s2", t0); pass.KindOf(err) != pass.KindForbidden {
			t.Errorf("a device past the most a pass takes: %v, want forbidden", err)
		}
		if created, err := db.Register(ctx, "demo", pass.Device{LibraryID: "many00", PushToken: "ff66"}, p.PassTypeID, "s2", t0); err != nil || created {
			t.Errorf("a device registered already, again: %v %v", created, err)
		}
		if ds, _ := db.DevicesForPass(ctx, "demo", p.PassTypeID, "s1"); len(ds) != 0 {
			t.Errorf("devices left: %+v", ds)
		}
	})
}

func TestPushRounds(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.BulkRegister(ctx, "demo", p.PassTypeID, 3, []string{"s1"}, t0); err != nil {
			t.Fatal(err)
		}
		ds, tag, err := db.DevicesToPush(ctx, "demo", p.PassTypeID, "s1")
		if err != nil || len(ds) != 3 || tag != p.UpdateTag {
			t.Fatalf("to push: %v tag %d (%v)", ds, tag, err)
		}
		if err := db.MarkPushed(ctx, "demo", p.PassTypeID, "s1", []string{ds[0].LibraryID, ds[2].LibraryID}, tag); err != nil {
			t.Fatal(err)
		}
		left, _, err := db.DevicesToPush(ctx, "demo", p.PassTypeID, "s1")
		if err != nil || len(left) != 1 || left[0].LibraryID != ds[1].LibraryID {
			t.Errorf("left to push: %v (%v), want %s", left, err, ds[1].LibraryID)
		}
	})
}

// TestUnregisterBesideARegistration: a device unregistering one pass while
// the same device registers another (its transaction not yet committed)
// keeps its device row: the new registration is pushed to.
func TestUnregisterBesideARegistration(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		db, other := d.handle(t), d.handle(t)
		a, b := newPass("sa", 100), newPass("sb", 101)
		for _, p := range []*pass.Pass{a, b} {
			if err := db.CreatePass(ctx, p, nil); err != nil {
				t.Fatal(err)
			}
		}
		dev := pass.Device{LibraryID: "dev1", PushToken: "aa11"}
		if _, err := db.Register(ctx, "demo", dev, a.PassTypeID, "sa", t0); err != nil {
			t.Fatal(err)
		}
		unregistered := make(chan error, 1)
		err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
			// The device registers pass sb, as Register does; meanwhile
			// it unregisters sa through another handle.
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET updated_at = updated_at + 1 WHERE tenant = 'demo' AND device_library_id = 'dev1'`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO registrations (tenant, device_library_id, pass_type_id, serial_number, created_at)
				VALUES ('demo', 'dev1', $1, 'sb', $2)`, b.PassTypeID, t0.UnixMilli()); err != nil {
				return err
			}
			go func() {
				_, err := other.Unregister(ctx, "demo", "dev1", a.PassTypeID, "sa")
				unregistered <- err
			}()
			time.Sleep(300 * time.Millisecond) // the unregistration waits for this transaction
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-unregistered; err != nil {
			t.Fatal(err)
		}
		if ds, err := db.DevicesForPass(ctx, "demo", b.PassTypeID, "sb"); err != nil || len(ds) != 1 {
			t.Errorf("the device of the new registration: %+v %v", ds, err)
		}
	})
}

// TestRegistrationAnnouncements: a new registration and a removal write
// their announcement in their own transaction; registering again and
// removing what is not registered write none.
func TestRegistrationAnnouncements(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		dev := pass.Device{LibraryID: "dev1", PushToken: "aa11"}
		ann := func(typ string) pass.NewTask {
			return pass.TaskOf(pass.InstallEvent("demo", "s1", p.PassTypeID, typ, "apple", t0), "")
		}
		pending := func() int {
			t.Helper()
			tasks, err := db.ListTasks(ctx, pass.TaskPending, 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, tk := range tasks {
				if tk.Kind == pass.TaskEventFanout {
					n++
				}
			}
			return n
		}
		steps := []struct {
			name string
			do   func() error
			want int
		}{
			{"register", func() error {
				_, err := db.Register(ctx, "demo", dev, p.PassTypeID, "s1", t0, ann(pass.EventPassInstalled))
				return err
			}, 1},
			{"register again", func() error {
				_, err := db.Register(ctx, "demo", dev, p.PassTypeID, "s1", t0, ann(pass.EventPassInstalled))
				return err
			}, 1},
			{"unregister", func() error {
				_, err := db.Unregister(ctx, "demo", "dev1", p.PassTypeID, "s1", ann(pass.EventPassUninstalled))
				return err
			}, 2},
			{"unregister again", func() error {
				_, err := db.Unregister(ctx, "demo", "dev1", p.PassTypeID, "s1", ann(pass.EventPassUninstalled))
				return err
			}, 2},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if n := pending(); n != st.want {
				t.Errorf("after %s: %d announcements, want %d", st.name, n, st.want)
			}
		}
	})
}

// TestDevicesPerPassAtOnce: devices registering one pass at once through
// two handles (two instances) never take it past MaxDevicesPerPass.
func TestDevicesPerPassAtOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		handles := []*storage.DB{d.handle(t), d.handle(t)}
		p := newPass("crowd", 700)
		if err := handles[0].CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 * pass.MaxDevicesPerPass {
			wg.Go(func() {
				<-start
				_, err := handles[i%2].Register(ctx, "demo", pass.Device{LibraryID: fmt.Sprintf("crowd%02d", i), PushToken: "aa11"},
					p.PassTypeID, p.SerialNumber, t0)
				if err != nil && pass.KindOf(err) != pass.KindForbidden {
					t.Errorf("device %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		ds, err := handles[1].DevicesForPass(ctx, "demo", p.PassTypeID, p.SerialNumber)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != pass.MaxDevicesPerPass {
			t.Errorf("%d devices registered, want %d", len(ds), pass.MaxDevicesPerPass)
		}
	})
}
