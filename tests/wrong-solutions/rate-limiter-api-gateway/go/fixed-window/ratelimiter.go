// Package ratelimiter: fixed-window counter. Each client gets limit requests
// per aligned window [k*window, (k+1)*window). Cheap, but not a sliding window:
// a client can burst twice its limit across a window boundary.
package ratelimiter

import (
	"errors"
	"sync"
)

type Clock interface {
	NowMillis() int64
}

type config struct {
	limit  int
	window int64
}

type counter struct {
	start int64
	count int
}

type RateLimiter struct {
	mu        sync.Mutex
	clock     Clock
	defaults  config
	overrides map[string]config
	counters  map[string]*counter
}

var errInvalid = errors.New("ratelimiter: limit and window must be positive")

func NewRateLimiter(clock Clock, defaultLimit int, defaultWindowMillis int64) (*RateLimiter, error) {
	if defaultLimit < 1 || defaultWindowMillis < 1 {
		return nil, errInvalid
	}
	return &RateLimiter{
		clock:     clock,
		defaults:  config{defaultLimit, defaultWindowMillis},
		overrides: map[string]config{},
		counters:  map[string]*counter{},
	}, nil
}

func (l *RateLimiter) config(id string) config {
	if c, ok := l.overrides[id]; ok {
		return c
	}
	return l.defaults
}

func (l *RateLimiter) SetClientLimit(clientID string, limit int, windowMillis int64) error {
	if limit < 1 || windowMillis < 1 {
		return errInvalid
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.overrides[clientID] = config{limit, windowMillis}
	delete(l.counters, clientID)
	return nil
}

func (l *RateLimiter) Allow(clientID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.NowMillis()
	cfg := l.config(clientID)
	start := now - now%cfg.window
	c := l.counters[clientID]
	if c == nil || c.start != start {
		c = &counter{start: start}
		l.counters[clientID] = c
	}
	if c.count >= cfg.limit {
		return false
	}
	c.count++
	return true
}

func (l *RateLimiter) TrackedClients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.NowMillis()
	for id, c := range l.counters {
		if c.start+l.config(id).window <= now {
			delete(l.counters, id)
		}
	}
	return len(l.counters)
}
