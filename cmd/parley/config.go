package main

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/server"
)

// config is every setting of the parley command. Keys (in the YAML file,
// as PARLEY_<KEY> in the environment, and as --<key-with-dashes> flags)
// are the koanf tags.
type config struct {
	Addr          string        `koanf:"addr"`
	Data          string        `koanf:"data"`
	Node          string        `koanf:"node"`
	Transport     string        `koanf:"transport"`
	Heartbeat     time.Duration `koanf:"heartbeat"`
	IdleTimeout   time.Duration `koanf:"idle_timeout"`
	AuthTimeout   time.Duration `koanf:"auth_timeout"`
	RetryInterval time.Duration `koanf:"retry_interval"`
	MaxRetries    int           `koanf:"max_retries"`
	// GroupPushWindow: see server.Config.
	GroupPushWindow time.Duration `koanf:"group_push_window"`
	LogLevel        string        `koanf:"log_level"`
	LogFormat       string        `koanf:"log_format"`
	DebugAddr       string        `koanf:"debug_addr"`
	// Interest and PresenceDebounce: see server.Config.
	Interest         string        `koanf:"interest"`
	PresenceDebounce time.Duration `koanf:"presence_debounce"`
	// GroupMaxMembers and ReceiptsList: see server.Config.
	GroupMaxMembers int `koanf:"group_max_members"`
	ReceiptsList    int `koanf:"receipts_list"`
	// AdvertiseURL and Balance: see server.Config.
	AdvertiseURL string `koanf:"advertise_url"`
	Balance      string `koanf:"balance"`
	// Roles: see server.Config.
	Roles string `koanf:"roles"`
	// Postgres and PostgresRead: see server.Config.
	Postgres     string `koanf:"postgres"`
	PostgresRead string `koanf:"postgres_read"`
	// Redis, RedisPrefix, NATS and NATSPort: see server.Config.
	Redis       string `koanf:"redis"`
	RedisPrefix string `koanf:"redis_prefix"`
	NATS        string `koanf:"nats"`
	NATSPort    int    `koanf:"nats_port"`
	EventLog    string `koanf:"event_log"`
	NATSPrefix  string `koanf:"nats_prefix"`
	// EventRetention: see server.Config; 0 keeps every event.
	EventRetention time.Duration `koanf:"event_retention"`
	// WebhookAllowPrivate: see server.Config.
	WebhookAllowPrivate bool `koanf:"webhook_allow_private"`
}

// interest parses the interest setting: both, contacts or peers.
func interest(s string) (parley.Interest, bool) {
	switch s {
	case "both":
		return parley.InterestDefault, true
	case "contacts":
		return parley.InterestContacts, true
	case "peers":
		return parley.InterestPeers, true
	}
	return 0, false
}

func defaultConfig() config {
	return config{
		Addr: "127.0.0.1:8080", Data: "parley-data", Node: "local", Transport: "nbio",
		Heartbeat: 25 * time.Second, IdleTimeout: 75 * time.Second, AuthTimeout: 10 * time.Second,
		RetryInterval: 18 * time.Second, MaxRetries: 3, GroupPushWindow: 150 * time.Millisecond, LogLevel: "info", LogFormat: "text",
		Interest: "both", PresenceDebounce: 5 * time.Second,
		GroupMaxMembers: parley.DefaultMaxGroupMembers, ReceiptsList: 500,
		Balance: "round-robin", EventRetention: 7 * 24 * time.Hour,
	}
}

// addFlags declares the flags of every setting on fs.
func addFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("config", "", "YAML config file")
	fs.String("addr", d.Addr, "listen address")
	fs.String("data", d.Data, "data directory (SQLite database, demo key)")
	fs.String("node", d.Node, "node id")
	fs.String("transport", d.Transport, "WebSocket transport: nbio or gws")
	fs.Duration("heartbeat", d.Heartbeat, "interval at which clients should ping")
	fs.Duration("idle-timeout", d.IdleTimeout, "close sessions silent for this long")
	fs.Duration("auth-timeout", d.AuthTimeout, "close WebSockets not authenticated within this")
	fs.Duration("retry-interval", d.RetryInterval, "resend an unacknowledged push after this")
	fs.Int("max-retries", d.MaxRetries, "resends before a device is told to resync")
	fs.Duration("group-push-window", d.GroupPushWindow, "the messages of a group with 100 or more members online on the node that come less than this apart are written to each device a few at a time, none held longer than this (0: each at once; at most 1s)")
	fs.String("log-level", d.LogLevel, "debug, info, warn or error")
	fs.String("log-format", d.LogFormat, "text or json")
	fs.String("interest", d.Interest, "whose presence and profile changes users are told of: both, contacts or peers (direct conversations)")
	fs.Duration("presence-debounce", d.PresenceDebounce, "tell a user offline only after this long without a connection")
	fs.Int("group-max-members", d.GroupMaxMembers, "a new group's member limit unless the business backend sets one (at most 100000)")
	fs.Int("receipts-list", d.ReceiptsList, "the largest conversation whose read receipts name the readers, not only count them")
	fs.String("advertise-url", "", "base URL clients reach this node at, handed out by GET /v1/gateway (default http://<addr>)")
	fs.String("balance", d.Balance, "how GET /v1/gateway picks a node: round-robin, ip-hash or least-connections")
	fs.String("roles", "gateway,logic,worker", "what this node does: gateway (client connections), logic (sends, server API), worker (background work); a node without logic needs --nats")
	fs.String("postgres", "", "PostgreSQL connection string of the store every node shares (postgres://user@host:5432/db); empty: SQLite in --data, one node")
	fs.String("postgres-read", "", "PostgreSQL connection string of a read replica for history and search")
	fs.String("redis", "", "Redis URL for the connection table shared by every node (redis://host:port/db); empty: in memory, one node")
	fs.String("redis-prefix", "parley:", "prefix of every Redis key")
	fs.String("nats", "", `NATS URL(s) carrying deliveries between nodes, or "embedded" to run a NATS server in this node; empty: in process, one node`)
	fs.Int("nats-port", 0, "with --nats embedded: the port other nodes reach it on (0: none, -1: any free port)")
	fs.String("nats-prefix", "parley", "starts every NATS subject and JetStream stream of this deployment; deployments sharing a NATS each need their own")
	fs.String("event-log", "", "where the event stream is kept: jetstream (default with --nats) or store (the database)")
	fs.Duration("event-retention", d.EventRetention, "drop events older than this from the event log, except each app's newest (0: keep every event)")
	fs.Bool("webhook-allow-private", false, "let webhooks reach loopback, private and link-local addresses (off: an app's webhook cannot make the node POST into its own network)")
	fs.String("debug-addr", "", "serve Go's pprof profiles (/debug/pprof/) and Prometheus metrics (/metrics) on this address (off when empty; keep it on loopback)")
}

// loadConfig merges defaults, the file, the environment and the flags that
// were set, in that order, and validates the result.
func loadConfig(fs *pflag.FlagSet, getenv func(string) string) (config, error) {
	k := koanf.New(".")
	cfg := defaultConfig()
	if path, _ := fs.GetString("config"); path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return cfg, fmt.Errorf("config file: %w", err)
		}
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix: "PARLEY_",
		TransformFunc: func(k, v string) (string, any) {
			return strings.ToLower(strings.TrimPrefix(k, "PARLEY_")), v
		},
		EnvironFunc: func() []string { return environ(getenv) },
	})
	if err := k.Load(envProvider, nil); err != nil {
		return cfg, fmt.Errorf("environment: %w", err)
	}
	flags := posflag.ProviderWithFlag(fs, ".", k, func(f *pflag.Flag) (string, any) {
		if f.Name == "config" || !f.Changed {
			return "", nil
		}
		return strings.ReplaceAll(f.Name, "-", "_"), posflag.FlagVal(fs, f)
	})
	if err := k.Load(flags, nil); err != nil {
		return cfg, fmt.Errorf("flags: %w", err)
	}
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if _, err := cfg.logLevel(); err != nil {
		return cfg, err
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return cfg, fmt.Errorf("log_format must be text or json")
	}
	if _, ok := interest(cfg.Interest); !ok {
		return cfg, fmt.Errorf("interest must be both, contacts or peers")
	}
	sc := cfg.server()
	sc.Defaults()
	return cfg, sc.Validate()
}

// environ lists the PARLEY_* variables visible through getenv. getenv
// cannot enumerate, so every key of config (its koanf tags) is probed.
func environ(getenv func(string) string) []string {
	var out []string
	for _, key := range configKeys() {
		name := "PARLEY_" + strings.ToUpper(key)
		if v := getenv(name); v != "" {
			out = append(out, name+"="+v)
		}
	}
	return out
}

// configKeys returns the koanf tag of every field of config.
func configKeys() []string {
	t := reflect.TypeFor[config]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("koanf"); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func (c config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("log_level must be debug, info, warn or error")
	}
	return l, nil
}

func (c config) logger() *slog.Logger {
	l, _ := c.logLevel()
	opts := &slog.HandlerOptions{Level: l}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func (c config) server() server.Config {
	in, _ := interest(c.Interest) // checked by loadConfig; 0 is the default
	return server.Config{
		Addr: c.Addr, DataDir: c.Data, Node: c.Node, Transport: c.Transport,
		Heartbeat: c.Heartbeat, IdleTimeout: c.IdleTimeout, AuthTimeout: c.AuthTimeout,
		RetryInterval: c.RetryInterval, MaxRetries: c.MaxRetries, GroupPushWindow: c.GroupPushWindow,
		Interest: in, PresenceDebounce: c.PresenceDebounce,
		GroupMaxMembers: c.GroupMaxMembers, ReceiptsList: c.ReceiptsList,
		AdvertiseURL: c.AdvertiseURL, Balance: c.Balance,
		Roles: c.Roles, Postgres: c.Postgres, PostgresRead: c.PostgresRead,
		Redis: c.Redis, RedisPrefix: c.RedisPrefix, NATS: c.NATS, NATSPort: c.NATSPort, EventLog: c.EventLog, NATSPrefix: c.NATSPrefix,
		EventRetention: c.EventRetention, WebhookAllowPrivate: c.WebhookAllowPrivate,
	}
}
