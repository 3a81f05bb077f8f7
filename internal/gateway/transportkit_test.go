package gateway_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

func TestTransportOptionsWithDefaults(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		name           string
		in             gateway.TransportOptions
		wantErr        string // substring; "" means no error
		wantMaxMessage int
		wantMaxBacklog int
		wantSameLogger bool // the Logger given is kept (otherwise only non-nil is checked)
	}{
		{name: "zero value", wantMaxMessage: wire.MaxFrameSize, wantMaxBacklog: gateway.DefaultMaxBacklog},
		{name: "set fields kept", in: gateway.TransportOptions{MaxMessageSize: 10, MaxBacklog: 20, Logger: logger},
			wantMaxMessage: 10, wantMaxBacklog: 20, wantSameLogger: true},
		{name: "only MaxBacklog set", in: gateway.TransportOptions{MaxBacklog: 4 << 20},
			wantMaxMessage: wire.MaxFrameSize, wantMaxBacklog: 4 << 20},
		{name: "negative MaxMessageSize", in: gateway.TransportOptions{MaxMessageSize: -1}, wantErr: "MaxMessageSize -1 is negative"},
		{name: "negative MaxBacklog", in: gateway.TransportOptions{MaxBacklog: -5}, wantErr: "MaxBacklog -5 is negative"},
		{name: "negative MaxBacklog with the rest valid", in: gateway.TransportOptions{MaxMessageSize: 10, MaxBacklog: -1}, wantErr: "MaxBacklog"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.WithDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if got.MaxMessageSize != tc.wantMaxMessage {
				t.Errorf("MaxMessageSize: got %d, want %d", got.MaxMessageSize, tc.wantMaxMessage)
			}
			if got.MaxBacklog != tc.wantMaxBacklog {
				t.Errorf("MaxBacklog: got %d, want %d", got.MaxBacklog, tc.wantMaxBacklog)
			}
			if got.Logger == nil {
				t.Error("Logger: got nil")
			}
			if tc.wantSameLogger && got.Logger != tc.in.Logger {
				t.Errorf("Logger: got %p, want the one given, %p", got.Logger, tc.in.Logger)
			}
		})
	}
}

func TestCutCloseReason(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"short", "unauthorized", "unauthorized"},
		{"exactly 123 bytes", strings.Repeat("a", 123), strings.Repeat("a", 123)},
		{"124 bytes", strings.Repeat("a", 124), strings.Repeat("a", 123)},
		{"long ASCII", strings.Repeat("a", 200), strings.Repeat("a", 123)},
		{"two-byte runes, not half a rune", strings.Repeat("é", 100), strings.Repeat("é", 61)},
		{"four-byte runes", strings.Repeat("😀", 40), strings.Repeat("😀", 30)},
		{"rune straddling the limit", strings.Repeat("a", 122) + "é", strings.Repeat("a", 122)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gateway.CutCloseReason(tc.in); got != tc.want {
				t.Errorf("CutCloseReason(%d bytes): got %d bytes %q, want %d bytes", len(tc.in), len(got), got, len(tc.want))
			}
		})
	}
}

func TestSendableCloseCode(t *testing.T) {
	tests := []struct {
		code int
		want bool
	}{
		{0, false},
		{999, false},
		{1000, true},
		{1001, true},
		{1003, true},
		{1004, false}, // reserved
		{1005, false}, // no status: never on the wire
		{1006, false}, // abnormal closure: never on the wire
		{1007, true},
		{1009, true},
		{1011, true},
		{1014, true},
		{1015, false}, // TLS failure: never on the wire
		{2999, false},
		{3000, true},
		{4001, true},
		{4999, true},
		{5000, false},
		{-1, false},
	}
	for _, tc := range tests {
		if got := gateway.SendableCloseCode(tc.code); got != tc.want {
			t.Errorf("SendableCloseCode(%d): got %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestRemoteIP(t *testing.T) {
	tests := []struct {
		name string
		addr net.Addr
		want string
	}{
		{"nil", nil, ""},
		{"TCP IPv4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, "127.0.0.1"},
		{"TCP IPv4 in IPv6", &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 5000}, "10.1.2.3"},
		{"TCP IPv6", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5000}, "2001:db8::1"},
		{"UDP host and port", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 53}, "192.0.2.7"},
		{"no port", &net.UnixAddr{Name: "/tmp/parley.sock", Net: "unix"}, "/tmp/parley.sock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gateway.RemoteIP(tc.addr); got != tc.want {
				t.Errorf("RemoteIP(%v): got %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}
