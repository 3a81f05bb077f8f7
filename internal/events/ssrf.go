package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/parley-im/parley"
)

// ErrPrivateAddress is why a webhook POST was refused: its host resolved
// to an address that is not public (WebhookConfig.AllowPrivate).
var ErrPrivateAddress = errors.New("webhook address is not public")

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), where
// some clouds put their metadata services.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether ip is a public unicast address: not
// loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, where
// cloud metadata services answer, and fe80::/10), carrier-grade NAT,
// multicast or unspecified.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

// publicOnly is a net.Dialer Control function that refuses to connect to
// an address that is not public. It runs after name resolution, on the
// address actually dialled, so a name that resolves to a private address
// (or starts to, DNS rebinding) is refused too.
func publicOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !publicAddr(ip) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ip)
	}
	return nil
}

// publicDialer returns a DialContext for an http.Transport that connects
// to public addresses only (the timeouts of http.DefaultTransport).
func publicDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: publicOnly}
	return d.DialContext
}

// checkPublicURL refuses, with EInvalid, a webhook URL whose host is
// plainly not public: an IP address that publicAddr refuses, or localhost.
// A name is only checked when it is dialled (publicOnly).
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // Webhook.Validate reports it
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	ip, err := netip.ParseAddr(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || (err == nil && !publicAddr(ip)) {
		return parley.Errorf(parley.EInvalid,
			"url points at %s, which is not a public address; a node started with --webhook-allow-private delivers there", host)
	}
	return nil
}
