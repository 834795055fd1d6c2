// Wrong: one mutex held for the whole request, handler included. Duplicates
// are handled correctly, but a slow handler for one key blocks every other key
// (and every Len call) until it finishes.
package idempotency

import (
	"container/list"
	"errors"
	"sync"
)

type Clock interface {
	NowMillis() int64
}

var ErrConflict = errors.New("idempotency: key already used with a different payload")

type scope struct{ client, key string }

type stored struct {
	scope    scope
	payload  string
	response string
	storedAt int64
}

type Store struct {
	clock   Clock
	ttl     int64
	mu      sync.Mutex
	byScope map[scope]*list.Element
	byAge   *list.List
}

func NewStore(clock Clock, ttlMillis int64) (*Store, error) {
	if ttlMillis <= 0 {
		return nil, errors.New("ttl must be positive")
	}
	return &Store{clock: clock, ttl: ttlMillis, byScope: map[scope]*list.Element{}, byAge: list.New()}, nil
}

func (s *Store) Execute(clientID, key, payload string, handler func() (string, error)) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict()
	id := scope{clientID, key}
	if el, ok := s.byScope[id]; ok {
		st := el.Value.(*stored)
		if st.payload != payload {
			return "", ErrConflict
		}
		return st.response, nil
	}
	response, err := handler()
	if err != nil {
		return "", err
	}
	s.byScope[id] = s.byAge.PushBack(&stored{id, payload, response, s.clock.NowMillis()})
	return response, nil
}

func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict()
	return len(s.byScope)
}

func (s *Store) evict() {
	now := s.clock.NowMillis()
	for el := s.byAge.Front(); el != nil; el = s.byAge.Front() {
		st := el.Value.(*stored)
		if now < st.storedAt+s.ttl {
			return
		}
		s.byAge.Remove(el)
		delete(s.byScope, st.scope)
	}
}
