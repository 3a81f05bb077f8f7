package main

import (
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
