// Wrong: checks for a stored response under the lock, but runs the handler
// without recording that the key is in flight. Concurrent duplicates all see
// "no response yet" and all run the handler.
package idempotency

import (
	"errors"
	"sync"
)

type Clock interface {
	NowMillis() int64
}

var ErrConflict = errors.New("idempotency: key already used with a different payload")

type record struct {
	payload  string
	response string
	storedAt int64
}

type Store struct {
	clock   Clock
	ttl     int64
	mu      sync.Mutex
	records map[[2]string]*record
	order   [][2]string
}

func NewStore(clock Clock, ttlMillis int64) (*Store, error) {
	if ttlMillis <= 0 {
		return nil, errors.New("ttl must be positive")
	}
	return &Store{clock: clock, ttl: ttlMillis, records: map[[2]string]*record{}}, nil
}

func (s *Store) Execute(clientID, key, payload string, handler func() (string, error)) (string, error) {
	id := [2]string{clientID, key}
	s.mu.Lock()
	s.evict()
	if r, ok := s.records[id]; ok {
		s.mu.Unlock()
		if r.payload != payload {
			return "", ErrConflict
		}
		return r.response, nil
	}
	s.mu.Unlock()

	response, err := handler()
	if err != nil {
		return "", err
	}

	s.mu.Lock()
	s.records[id] = &record{payload: payload, response: response, storedAt: s.clock.NowMillis()}
	s.order = append(s.order, id)
	s.mu.Unlock()
	return response, nil
}

func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict()
	return len(s.records)
}

func (s *Store) evict() {
	now := s.clock.NowMillis()
	for len(s.order) > 0 {
		r, ok := s.records[s.order[0]]
		if ok && now < r.storedAt+s.ttl {
			return
		}
		delete(s.records, s.order[0])
		s.order = s.order[1:]
	}
}
