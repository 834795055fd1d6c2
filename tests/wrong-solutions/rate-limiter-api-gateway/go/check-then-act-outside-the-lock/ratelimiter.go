// Package ratelimiter: sliding-window log where the mutex only guards the
// client map ("keep the critical section short"). The per-client
// evict/check/append runs outside the lock, so two goroutines can both see
// room for one more request and both be admitted.
package ratelimiter

import (
	"errors"
	"sync"
)

type Clock interface {
	NowMillis() int64
}

type client struct {
	limit  int
	window int64
	times  []int64 // admitted times inside the window, oldest first
}

type RateLimiter struct {
	mu        sync.Mutex
	clock     Clock
	limit     int
	window    int64
	overrides map[string]client
	clients   map[string]*client
	order     map[int64][]string // window -> client ids in order of first admission
}

var errInvalid = errors.New("ratelimiter: limit and window must be positive")

func NewRateLimiter(clock Clock, defaultLimit int, defaultWindowMillis int64) (*RateLimiter, error) {
	if defaultLimit < 1 || defaultWindowMillis < 1 {
		return nil, errInvalid
	}
	return &RateLimiter{clock: clock, limit: defaultLimit, window: defaultWindowMillis,
		overrides: map[string]client{}, clients: map[string]*client{}}, nil
}

func (l *RateLimiter) SetClientLimit(clientID string, limit int, windowMillis int64) error {
	if limit < 1 || windowMillis < 1 {
		return errInvalid
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.overrides[clientID] = client{limit: limit, window: windowMillis}
	delete(l.clients, clientID)
	return nil
}

func (l *RateLimiter) lookup(clientID string) *client {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[clientID]
	if c == nil {
		c = &client{limit: l.limit, window: l.window}
		if o, ok := l.overrides[clientID]; ok {
			c.limit, c.window = o.limit, o.window
		}
		l.clients[clientID] = c
	}
	return c
}

func (l *RateLimiter) Allow(clientID string) bool {
	now := l.clock.NowMillis()
	c := l.lookup(clientID)
	for len(c.times) > 0 && c.times[0] <= now-c.window {
		c.times = c.times[1:]
	}
	if len(c.times) >= c.limit {
		return false
	}
	c.times = append(c.times, now)
	return true
}

// TrackedClients drops idle clients and counts the rest.
func (l *RateLimiter) TrackedClients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.NowMillis()
	for id, c := range l.clients {
		if len(c.times) == 0 || c.times[len(c.times)-1] <= now-c.window {
			delete(l.clients, id)
		}
	}
	return len(l.clients)
}
