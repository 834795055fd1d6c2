// Wrong: expired entries leave the map, but the expiry queue only moves a head index
// forward: the slice keeps every entry ever stored (payload, response and all), so
// memory grows forever although Len() is right.
package idempotency

import (
	"errors"
	"sync"
)

// Clock tells the store the current time in milliseconds. Tests inject a fake.
type Clock interface {
	NowMillis() int64
}

// ErrConflict is returned when a key is reused with a different payload,
// whether the first request is still in flight or already completed.
var ErrConflict = errors.New("idempotency: key already used with a different payload")

// scope identifies a key within one client; keys of different clients never collide.
type scope struct {
	client, key string
}

// entry is one key: in flight until done is closed, then either stored
// (err == nil) or already removed from the map (err != nil).
type entry struct {
	scope    scope
	payload  string
	done     chan struct{}
	response string
	err      error
	storedAt int64
}

// Store runs each (client, key) once per TTL and replays its response.
type Store struct {
	clock     Clock
	ttlMillis int64

	mu      sync.Mutex
	entries map[scope]*entry
	stored  []*entry // stored entries, oldest first (storedAt never decreases)
	head    int      // stored[head:] are the entries not yet expired
}

// NewStore returns a store that keeps a response for ttlMillis after it is stored.
func NewStore(clock Clock, ttlMillis int64) (*Store, error) {
	if clock == nil {
		return nil, errors.New("idempotency: clock is nil")
	}
	if ttlMillis <= 0 {
		return nil, errors.New("idempotency: ttlMillis must be positive")
	}
	return &Store{clock: clock, ttlMillis: ttlMillis, entries: make(map[scope]*entry)}, nil
}

// Execute runs handler at most once for (clientID, key) while the key is held
// and returns its response to every caller with the same payload.
func (s *Store) Execute(clientID, key, payload string, handler func() (string, error)) (string, error) {
	id := scope{clientID, key}

	s.mu.Lock()
	s.evictExpiredLocked()
	if e, ok := s.entries[id]; ok {
		s.mu.Unlock()
		if e.payload != payload {
			return "", ErrConflict
		}
		<-e.done // returns at once for a stored entry
		return e.response, e.err
	}
	e := &entry{scope: id, payload: payload, done: make(chan struct{})}
	s.entries[id] = e
	s.mu.Unlock()

	// The handler runs without the lock: other keys are never blocked by it.
	response, err := handler()

	s.mu.Lock()
	if err != nil {
		delete(s.entries, id) // nothing is stored: the next retry runs again
	} else {
		e.response = response
		e.storedAt = s.clock.NowMillis()
		s.stored = append(s.stored, e)
	}
	e.err = err
	s.mu.Unlock()
	close(e.done) // wakes the duplicates waiting for this execution
	return response, err
}

// Len returns how many keys the store holds: in flight or stored and not expired.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictExpiredLocked()
	return len(s.entries)
}

// evictExpiredLocked drops every stored entry whose TTL has run out. Entries
// are stored in time order, so only the front of the queue is ever examined:
// each entry is evicted once, O(1) amortized per call.
func (s *Store) evictExpiredLocked() {
	now := s.clock.NowMillis()
	for s.head < len(s.stored) {
		oldest := s.stored[s.head]
		if now < oldest.storedAt+s.ttlMillis {
			return
		}
		if s.entries[oldest.scope] == oldest {
			delete(s.entries, oldest.scope)
		}
		s.head++
	}
}
