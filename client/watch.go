package client

import (
	"sync"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// liveWatch is a consultation thread this client watches live
// (WatchConsultLive): the connection the watch was asked on, and the
// highest seq of the thread the caller has had (in WatchConsultLive's
// answer or through OnConsultMsg). A watch ends with its session, so when
// the client is on another connection it watches again from there, and
// it skips the copies of what the caller has had.
type liveWatch struct {
	id   string // the consultation asked for
	conv string // its thread
	last uint64
	on   *conn // nil: not watched on any live connection yet
}

// liveWatches are a client's live watches, by thread. Application
// goroutines (WatchConsultLive, UnwatchConsult) and the deliverer share
// them.
type liveWatches struct {
	mu     sync.Mutex
	byConv map[string]*liveWatch
}

// add records a watch asked on cn (nil if unknown) whose answer ended at
// last.
func (w *liveWatches) add(id, conv string, last uint64, cn *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byConv == nil {
		w.byConv = make(map[string]*liveWatch)
	}
	if old := w.byConv[conv]; old != nil {
		last = max(last, old.last)
	}
	w.byConv[conv] = &liveWatch{id: id, conv: conv, last: last, on: cn}
}

// remove forgets the watch of consultation id.
func (w *liveWatches) remove(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for conv, lw := range w.byConv {
		if lw.id == id {
			delete(w.byConv, conv)
		}
	}
}

// drop forgets the watch of a thread.
func (w *liveWatches) drop(conv string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byConv, conv)
}

// saw records that the caller is handed seq of conv, and reports whether
// it is new to them: false for a copy of something already handed over.
// Threads not watched are always new.
func (w *liveWatches) saw(conv string, seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	lw := w.byConv[conv]
	if lw == nil {
		return true
	}
	if seq <= lw.last {
		return false
	}
	lw.last = seq
	return true
}

// stale returns copies of the watches not asked on cn.
func (w *liveWatches) stale(cn *conn) []liveWatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []liveWatch
	for _, lw := range w.byConv {
		if lw.on != cn {
			out = append(out, *lw)
		}
	}
	return out
}

// renewed records that conv's watch now holds on cn.
func (w *liveWatches) renewed(conv string, cn *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lw := w.byConv[conv]; lw != nil {
		lw.on = cn
	}
}

// rewatch asks again, on the live connection, for every live watch asked
// on an earlier one, from the last seq the caller had, and hands what was
// missed to OnConsultMsg. A watch the server refuses for good (the user
// is no longer a supervisor of the shop, the consultation is gone, a
// watch limit) is dropped and logged; any other error is returned, and
// the next resync tries again.
func (d *deliverer) rewatch() error {
	cn := d.c.current()
	if cn == nil {
		return nil
	}
	for _, lw := range d.c.watches.stale(cn) {
		after, live := lw.last, true
		for {
			var res wire.PullRes
			err := d.call(wire.In{Type: wire.TConsultWatch, After: after, Limit: wire.MaxLimit,
				ConsultFields: wire.ConsultFields{Consult: lw.id, Live: live}}, &res)
			if err != nil {
				switch parley.ErrorCode(err) {
				case parley.EForbidden, parley.ENotFound, parley.EConflict, parley.EInvalid:
					d.c.log.Warn("live consultation watch not renewed after reconnecting; dropped", "consult", lw.id, "err", err)
					d.c.watches.drop(lw.conv)
				default:
					return err
				}
				break
			}
			live = false // subscribed; the rest are pages
			for i := range res.Msgs {
				m := &res.Msgs[i]
				if d.c.watches.saw(lw.conv, m.Seq) && d.c.opts.OnConsultMsg != nil {
					d.c.opts.OnConsultMsg(wire.ConsultMsgPush{Type: wire.TConsultMsgRx, Conv: lw.conv, Msg: m})
				}
			}
			if !res.More || len(res.Msgs) == 0 {
				d.c.watches.renewed(lw.conv, cn)
				break
			}
			after = res.Msgs[len(res.Msgs)-1].Seq
		}
	}
	return nil
}
