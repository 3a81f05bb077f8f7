package chat

import "sync"

// knownConvs remembers conversations that are known to exist, so that the
// send path does not ask the store on every message. It is bounded: when
// full it forgets everything and refills (an existing conversation is
// simply ensured again, which is idempotent).
type knownConvs struct {
	mu  sync.RWMutex
	max int
	m   map[string]struct{}
}

func (k *knownConvs) init(max int) {
	k.max = max
	k.m = make(map[string]struct{})
}

func (k *knownConvs) has(key string) bool {
	k.mu.RLock()
	_, ok := k.m[key]
	k.mu.RUnlock()
	return ok
}

func (k *knownConvs) add(key string) {
	k.mu.Lock()
	if len(k.m) >= k.max {
		k.m = make(map[string]struct{})
	}
	k.m[key] = struct{}{}
	k.mu.Unlock()
}
