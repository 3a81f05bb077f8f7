package natsbus

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure a NATS server run inside the Parley process,
// for a single node in production and for tests. The zero value is a
// server reachable only in-process (see ConnectInProcess) without
// JetStream.
type EmbeddedOptions struct {
	// Host and Port are where the server accepts TCP clients. Port 0
	// means no TCP listener (in-process connections only); -1 picks a
	// free port. Host defaults to 127.0.0.1.
	Host string
	Port int
	// JetStream enables JetStream, storing in StoreDir (required then).
	JetStream bool
	StoreDir  string
	// Name names the server in logs and monitoring.
	Name string
	// ReadyTimeout bounds the wait for the server to accept clients;
	// 10 s when 0.
	ReadyTimeout time.Duration
	// Log receives the server's notices, warnings and errors (debug and
	// trace are off); nil discards them.
	Log *slog.Logger
}

// StartEmbedded starts a NATS server in this process and waits until it
// accepts clients. The caller owns it: Shutdown and WaitForShutdown stop
// it and wait for its goroutines.
func StartEmbedded(opts EmbeddedOptions) (*server.Server, error) {
	if opts.JetStream && opts.StoreDir == "" {
		return nil, errors.New("natsbus: an embedded server with JetStream needs a StoreDir")
	}
	so := &server.Options{
		ServerName: opts.Name,
		Host:       opts.Host,
		Port:       opts.Port,
		JetStream:  opts.JetStream,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		// The server reads Port 0 as its default port, 4222.
		DontListen: opts.Port == 0,
	}
	if so.Host == "" {
		so.Host = "127.0.0.1"
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	if opts.Log != nil {
		s.SetLoggerV2(serverLog{opts.Log}, false, false, false)
	}
	s.Start()
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if !s.ReadyForConnections(timeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: embedded server not ready after %v", timeout)
	}
	return s, nil
}

// ConnOptions are the nats.go options a bus connection should have, named
// name: reconnect forever, every ReconnectWait (250 ms) with jitter, and
// keep trying if the first connect fails; publish nothing into a
// reconnect buffer (a Send while disconnected fails at once rather than
// queueing behind an outage); notice a dead server within ~10 s without
// waiting for TCP to say so. Disconnections, reconnections and
// asynchronous errors (a slow consumer, a write that failed) go to log
// with the connection's name; nil discards them.
func ConnOptions(name string, log *slog.Logger) []nats.Option {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("nats_conn", name)
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // closed on purpose (shutdown), not lost
			}
			log.Warn("NATS disconnected; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("NATS error", "subject", sub.Subject, "err", err)
				return
			}
			log.Warn("NATS error", "err", err)
		}),
	}
}

// ConnectInProcess connects to an embedded server without TCP, with
// ConnOptions(name, log) followed by opts.
func ConnectInProcess(s *server.Server, name string, log *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	o := append(ConnOptions(name, log), nats.InProcessServer(s))
	nc, err := nats.Connect("", append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect in-process: %w", err)
	}
	return nc, nil
}

// serverLog adapts slog to the server's logger.
type serverLog struct{ l *slog.Logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
