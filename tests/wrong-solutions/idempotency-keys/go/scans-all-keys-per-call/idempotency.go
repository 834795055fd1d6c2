// Wrong: correct behaviour, but every call walks the whole map to drop
// expired keys, so each request costs O(number of keys held).
package idempotency

import (
	"errors"
	"sync"
)

type Clock interface {
	NowMillis() int64
}

var ErrConflict = errors.New("idempotency: key already used with a different payload")

type scope struct{ client, key string }

type entry struct {
	payload  string
	done     chan struct{}
	response string
	err      error
	stored   bool
	storedAt int64
}

type Store struct {
	clock   Clock
	ttl     int64
	mu      sync.Mutex
	entries map[scope]*entry
}

func NewStore(clock Clock, ttlMillis int64) (*Store, error) {
	if ttlMillis <= 0 {
		return nil, errors.New("ttl must be positive")
	}
	return &Store{clock: clock, ttl: ttlMillis, entries: map[scope]*entry{}}, nil
}

func (s *Store) cleanup() {
	now := s.clock.NowMillis()
	for id, e := range s.entries {
		if e.stored && now >= e.storedAt+s.ttl {
			delete(s.entries, id)
		}
	}
}

func (s *Store) Execute(clientID, key, payload string, handler func() (string, error)) (string, error) {
	id := scope{clientID, key}
	s.mu.Lock()
	s.cleanup()
	if e, ok := s.entries[id]; ok {
		s.mu.Unlock()
		if e.payload != payload {
			return "", ErrConflict
		}
		<-e.done
		return e.response, e.err
	}
	e := &entry{payload: payload, done: make(chan struct{})}
	s.entries[id] = e
	s.mu.Unlock()

	response, err := handler()

	s.mu.Lock()
	if err != nil {
		delete(s.entries, id)
	} else {
		e.response, e.stored, e.storedAt = response, true, s.clock.NowMillis()
	}
	e.err = err
	s.mu.Unlock()
	close(e.done)
	return response, err
}

func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanup()
	return len(s.entries)
}
