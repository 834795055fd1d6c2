// Package ratelimiter: exact sliding-window log, but idle clients are only
// skipped when counting, never deleted, so memory grows with every client ever
// seen and TrackedClients scans them all.
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
	times  []int64
}

type RateLimiter struct {
	mu            sync.Mutex
	clock         Clock
	defaultLimit  int
	defaultWindow int64
	overrides     map[string][2]int64
	clients       map[string]*client
}

var errInvalid = errors.New("ratelimiter: limit and window must be positive")

func NewRateLimiter(clock Clock, defaultLimit int, defaultWindowMillis int64) (*RateLimiter, error) {
	if defaultLimit < 1 || defaultWindowMillis < 1 {
		return nil, errInvalid
	}
	return &RateLimiter{clock: clock, defaultLimit: defaultLimit, defaultWindow: defaultWindowMillis,
		overrides: map[string][2]int64{}, clients: map[string]*client{}}, nil
}

func (l *RateLimiter) SetClientLimit(clientID string, limit int, windowMillis int64) error {
	if limit < 1 || windowMillis < 1 {
		return errInvalid
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.overrides[clientID] = [2]int64{int64(limit), windowMillis}
	delete(l.clients, clientID)
	return nil
}

func (l *RateLimiter) Allow(clientID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.NowMillis()
	c := l.clients[clientID]
	if c == nil {
		c = &client{limit: l.defaultLimit, window: l.defaultWindow}
		if o, ok := l.overrides[clientID]; ok {
			c.limit, c.window = int(o[0]), o[1]
		}
		l.clients[clientID] = c
	}
	for len(c.times) > 0 && c.times[0] <= now-c.window {
		c.times = c.times[1:]
	}
	if len(c.times) >= c.limit {
		return false
	}
	c.times = append(c.times, now)
	return true
}

func (l *RateLimiter) TrackedClients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.NowMillis()
	n := 0
	for _, c := range l.clients {
		if len(c.times) > 0 && c.times[len(c.times)-1] > now-c.window {
			n++
		}
	}
	return n
}
