// Package idempotency makes request handlers safe to retry: the first request
// with an idempotency key runs the handler, later requests with the same key
// and payload get the stored response back.
package idempotency

import "errors"

// Clock tells the store the current time in milliseconds. Tests inject a fake.
type Clock interface {
	NowMillis() int64
}

// ErrConflict is returned when a key is reused with a different payload,
// whether the first request is still in flight or already completed.
var ErrConflict = errors.New("idempotency: key already used with a different payload")

// Store runs each (client, key) once per TTL and replays its response.
// It must be safe for concurrent use by many goroutines.
type Store struct {
	// TODO: your fields here.
}

// NewStore returns a store that keeps a response for ttlMillis after it is
// stored. It returns an error if ttlMillis <= 0.
func NewStore(clock Clock, ttlMillis int64) (*Store, error) {
	// TODO
	return &Store{}, nil
}

// Execute runs handler at most once for (clientID, key) while the key is held
// and returns its response to every caller with the same payload:
//   - stored response, same payload: return it without running handler;
//   - stored or in flight, different payload: return ErrConflict at once;
//   - in flight, same payload: wait for it and return its response or error;
//   - otherwise: run handler; store its response, or store nothing if it
//     returned an error (that error is returned unchanged).
func (s *Store) Execute(clientID, key, payload string, handler func() (string, error)) (string, error) {
	// TODO
	return "", errors.New("not implemented")
}

// Len returns how many keys the store holds: in flight, or stored and not
// yet expired at the clock's current time.
func (s *Store) Len() int {
	// TODO
	return 0
}
