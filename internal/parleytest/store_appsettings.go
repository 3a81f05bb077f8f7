package parleytest

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

func settingPtr[T any](v T) *T { return &v }

// createApp stores the subtest's app.
func (e *storeEnv) createApp() {
	e.t.Helper()
	app := parley.App{ID: e.app, Name: "Shop", KeyHash: []byte{1}, TokenSecret: []byte{2}, CreatedAt: storeTime(1_700_000_000_000)}
	if err := e.s.CreateApp(e.ctx, &app); err != nil {
		e.t.Fatalf("CreateApp: got error %v, want nil", err)
	}
}

// testAppSettingsUpdateThenGet: an app starts with no settings of its
// own; an update sets, keeps and resets fields, every value round-trips
// (an empty file type list stays empty, not absent), and the next read
// returns what the update returned.
func (ss *storeSuite) testAppSettingsUpdateThenGet(t *testing.T) {
	e := ss.env(t)
	e.createApp()
	got, err := e.s.AppSettings(e.ctx, e.app)
	if err != nil {
		t.Fatalf("AppSettings of a new app: got error %v, want nil", err)
	}
	if d := cmp.Diff(parley.AppSettings{}, got); d != "" {
		t.Fatalf("AppSettings of a new app: want none set (-want +got):\n%s", d)
	}
	steps := []struct {
		name string
		p    parley.AppSettingsPatch
		want parley.AppSettings
	}{
		{"set every field", parley.AppSettingsPatch{Set: parley.AppSettings{
			Receipts: settingPtr(false), RecallSeconds: settingPtr(int64(0)), Edit: settingPtr(true), EditSeconds: settingPtr(int64(60)),
			Typing: settingPtr(false), GroupMaxMembers: settingPtr(25), FileMaxBytes: settingPtr(int64(1 << 20)),
			FileTypes: &[]string{"image/*", "application/pdf"},
		}}, parley.AppSettings{
			Receipts: settingPtr(false), RecallSeconds: settingPtr(int64(0)), Edit: settingPtr(true), EditSeconds: settingPtr(int64(60)),
			Typing: settingPtr(false), GroupMaxMembers: settingPtr(25), FileMaxBytes: settingPtr(int64(1 << 20)),
			FileTypes: &[]string{"image/*", "application/pdf"},
		}},
		{"set one, reset two, keep the rest", parley.AppSettingsPatch{
			Set:   parley.AppSettings{Typing: settingPtr(true), FileTypes: &[]string{}},
			Reset: []string{parley.SettingReceipts, parley.SettingGroupMaxMembers},
		}, parley.AppSettings{
			RecallSeconds: settingPtr(int64(0)), Edit: settingPtr(true), EditSeconds: settingPtr(int64(60)),
			Typing: settingPtr(true), FileMaxBytes: settingPtr(int64(1 << 20)), FileTypes: &[]string{},
		}},
	}
	for _, st := range steps {
		upd, err := e.s.UpdateAppSettings(e.ctx, e.app, st.p)
		if err != nil {
			t.Fatalf("%s: UpdateAppSettings: got error %v, want nil", st.name, err)
		}
		if d := cmp.Diff(st.want, upd); d != "" {
			t.Errorf("%s: UpdateAppSettings returned (-want +got):\n%s", st.name, d)
		}
		got, err := e.s.AppSettings(e.ctx, e.app)
		if err != nil {
			t.Fatalf("%s: AppSettings: got error %v, want nil", st.name, err)
		}
		if d := cmp.Diff(st.want, got); d != "" {
			t.Errorf("%s: AppSettings after the update (-want +got):\n%s", st.name, d)
		}
	}
	if got, err = e.s.AppSettings(e.ctx, e.app); err != nil || got.FileTypes == nil || *got.FileTypes == nil {
		t.Errorf("an empty file type list came back absent (nil), which means the node's list")
	}
}

// testAppSettingsConcurrent: concurrent updates of different fields all
// hold (each reads and writes in one transaction).
func (ss *storeSuite) testAppSettingsConcurrent(t *testing.T) {
	e := ss.env(t)
	e.createApp()
	patches := []parley.AppSettings{
		{Receipts: settingPtr(false)}, {Typing: settingPtr(false)}, {Edit: settingPtr(false)},
		{GroupMaxMembers: settingPtr(7)}, {FileMaxBytes: settingPtr(int64(9))}, {RecallSeconds: settingPtr(int64(5))},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(patches))
	for i, p := range patches {
		wg.Go(func() { _, errs[i] = e.s.UpdateAppSettings(e.ctx, e.app, parley.AppSettingsPatch{Set: p}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("UpdateAppSettings %d: got error %v, want nil", i, err)
		}
	}
	got, err := e.s.AppSettings(e.ctx, e.app)
	if err != nil {
		t.Fatalf("AppSettings: got error %v, want nil", err)
	}
	want := parley.AppSettings{Receipts: settingPtr(false), Typing: settingPtr(false), Edit: settingPtr(false),
		GroupMaxMembers: settingPtr(7), FileMaxBytes: settingPtr(int64(9)), RecallSeconds: settingPtr(int64(5))}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after concurrent updates of different fields, one was lost (-want +got):\n%s", d)
	}
}

// testAppSettingsMissingApp: both methods answer ENotFound for an app
// that does not exist, and the update stores nothing.
func (ss *storeSuite) testAppSettingsMissingApp(t *testing.T) {
	e := ss.env(t)
	_, err := e.s.AppSettings(e.ctx, e.app)
	wantStoreCode(t, "AppSettings of an unknown app", err, parley.ENotFound)
	_, err = e.s.UpdateAppSettings(e.ctx, e.app, parley.AppSettingsPatch{Set: parley.AppSettings{Typing: settingPtr(false)}})
	wantStoreCode(t, "UpdateAppSettings of an unknown app", err, parley.ENotFound)
	e.createApp()
	got, err := e.s.AppSettings(e.ctx, e.app)
	if err != nil || got.Typing != nil {
		t.Errorf("AppSettings of an app created after a refused update: got %+v, %v; want none set", got, err)
	}
}
