package nbiows

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
)

// awaitPollers returns once every poller of e has handled an event.
//
// It works around a race in nbio v1.6.12: a poller goroutine clears its
// shutdown flag when it first runs (poller.readWriteLoop), so if
// Engine.Stop comes before a poller has been scheduled at all, that poller
// never stops and Stop never returns. New calls awaitPollers so that no
// Close can come that early. It sends one byte through a socket pair
// placed on each poller (nbio picks the poller by fd modulo the number of
// pollers) and waits until each byte has been read.
func awaitPollers(e *nbhttp.Engine) error {
	n := e.NPoller
	arrived := make(chan struct{}, n)
	var held []io.Closer // closed on return, not before, so fd numbers keep moving on
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()

	covered := make([]bool, n)
	for left, tries := n, 0; left > 0; tries++ {
		if tries > 8*n+16 {
			return errors.New("nbiows: could not place a socket on every poller")
		}
		a, b, err := socketPair()
		if err != nil {
			return err
		}
		held = append(held, b)
		nc, err := nbio.NBConn(a) // duplicates the fd and closes a
		if err != nil {
			_ = a.Close()
			return fmt.Errorf("nbiows: %w", err)
		}
		held = append(held, nc)
		i := nc.Hash() % n
		if covered[i] {
			// Take one more fd, so that the next ones fall elsewhere:
			// the kernel hands out the lowest free number, and each try
			// otherwise takes the same count of them.
			f, err := os.Open(os.DevNull)
			if err != nil {
				return fmt.Errorf("nbiows: %w", err)
			}
			held = append(held, f)
			continue
		}
		covered[i] = true
		left--
		nc.OnData(func(*nbio.Conn, []byte) {
			select {
			case arrived <- struct{}{}:
			default:
			}
		})
		if _, err := e.AddConn(nc); err != nil {
			return fmt.Errorf("nbiows: %w", err)
		}
		if _, err := b.Write([]byte{0}); err != nil {
			return fmt.Errorf("nbiows: %w", err)
		}
	}
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-arrived:
		case <-timeout:
			return errors.New("nbiows: pollers did not start")
		}
	}
	return nil
}

// socketPair returns the two ends of a connected Unix stream socket pair.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("nbiows: socketpair: %w", err)
	}
	a, err := fileConn(fds[0])
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, err
	}
	b, err := fileConn(fds[1])
	if err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// fileConn turns fd into a net.Conn, taking ownership of it.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "socketpair")
	defer f.Close() // net.FileConn has its own copy
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("nbiows: %w", err)
	}
	return c, nil
}
