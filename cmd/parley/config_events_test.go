package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestConfigEventRetention: 7 days unless the file, the environment or
// the flag says otherwise; 0 keeps every event (not the default), and
// under an hour is refused.
func TestConfigEventRetention(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		want  time.Duration
		isErr bool
	}{
		{name: "default", want: 7 * 24 * time.Hour},
		{name: "env", env: map[string]string{"PARLEY_EVENT_RETENTION": "24h"}, want: 24 * time.Hour},
		{name: "env 0 keeps every event", env: map[string]string{"PARLEY_EVENT_RETENTION": "0s"}, want: 0},
		{name: "flag over env", env: map[string]string{"PARLEY_EVENT_RETENTION": "24h"}, args: []string{"--event-retention", "720h"}, want: 720 * time.Hour},
		{name: "flag 0", args: []string{"--event-retention", "0"}, want: 0},
		{name: "too short", args: []string{"--event-retention", "30m"}, isErr: true},
		{name: "negative", args: []string{"--event-retention", "-1h"}, isErr: true},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		addFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(fs, func(k string) string { return tc.env[k] })
		if tc.isErr {
			if err == nil {
				t.Errorf("%s: got no error", tc.name)
			}
			continue
		}
		if err != nil || cfg.server().EventRetention != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.name, cfg.server().EventRetention, err, tc.want)
		}
	}
}

// TestConfigWebhookAllowPrivate: off unless the environment or the flag
// turns it on.
func TestConfigWebhookAllowPrivate(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want bool
	}{
		{name: "default"},
		{name: "env", env: map[string]string{"PARLEY_WEBHOOK_ALLOW_PRIVATE": "true"}, want: true},
		{name: "flag", args: []string{"--webhook-allow-private"}, want: true},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		addFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(fs, func(k string) string { return tc.env[k] })
		if err != nil || cfg.server().WebhookAllowPrivate != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.name, cfg.server().WebhookAllowPrivate, err, tc.want)
		}
	}
}

// TestConfigEnvironmentHasEveryKey: every setting a flag sets can be set
// as PARLEY_<KEY> too (the environment once missed the production
// settings: postgres, redis, nats, event_log and the rest).
func TestConfigEnvironmentHasEveryKey(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	addFlags(fs)
	keys := map[string]bool{}
	for _, k := range configKeys() {
		keys[k] = true
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if k := strings.ReplaceAll(f.Name, "-", "_"); f.Name != "config" && !keys[k] {
			t.Errorf("flag --%s has no config key %q, so no PARLEY_%s", f.Name, k, strings.ToUpper(k))
		}
	})
	env := map[string]string{
		"PARLEY_REDIS_PREFIX": "rp", "PARLEY_NATS_PREFIX": "np", "PARLEY_BALANCE": "least-connections",
		"PARLEY_POSTGRES_READ": "postgres://replica/db", "PARLEY_ADVERTISE_URL": "http://10.0.0.7:8080",
	}
	cfg, err := loadConfig(fs, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.RedisPrefix, cfg.NATSPrefix, cfg.Balance, cfg.PostgresRead, cfg.AdvertiseURL}
	want := []string{"rp", "np", "least-connections", "postgres://replica/db", "http://10.0.0.7:8080"}
	if !slices.Equal(got, want) {
		t.Fatalf("from the environment: got %q, want %q", got, want)
	}
}
