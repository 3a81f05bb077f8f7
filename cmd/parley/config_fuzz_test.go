package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// FuzzConfigFile: any config file either loads into a configuration that
// validates or is refused with an error; it never panics.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"addr: 127.0.0.1:9000\nnode: n1\n",
		"heartbeat: 10s\nidle_timeout: 30s\nmax_retries: 5\n",
		"transport: gws\nlog_level: debug\nlog_format: json\n",
		"heartbeat: 90s\n", "max_retries: -1\n", "addr: [\n", "- a\n- b\n", ": :\n", "",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		fs := pflag.NewFlagSet("f", pflag.ContinueOnError)
		addFlags(fs)
		if err := fs.Parse([]string{"--config", path}); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(fs, func(string) string { return "" })
		if err != nil {
			return
		}
		sc := cfg.server()
		sc.Defaults()
		if err := sc.Validate(); err != nil {
			t.Fatalf("loadConfig accepted %q but it does not validate: %v", content, err)
		}
	})
}
