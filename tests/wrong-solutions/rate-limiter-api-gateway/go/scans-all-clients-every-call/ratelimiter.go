// Package ratelimiter: exact sliding-window log that releases idle clients by
// scanning every tracked client on every call. Correct results, but Allow and
// TrackedClients cost O(number of clients).
package ratelimiter

import (
	"container/list"
	"fmt"
	"sync"
)

// Clock returns the current time in milliseconds. It never goes backwards.
type Clock interface {
	NowMillis() int64
}

type config struct {
	limit  int
	window int64
}

func newConfig(limit int, windowMillis int64) (config, error) {
	if limit < 1 {
		return config{}, fmt.Errorf("ratelimiter: limit must be at least 1, got %d", limit)
	}
	if windowMillis < 1 {
		return config{}, fmt.Errorf("ratelimiter: window must be at least 1 ms, got %d", windowMillis)
	}
	return config{limit: limit, window: windowMillis}, nil
}

// timeQueue is a growable ring buffer of request times, oldest first.
type timeQueue struct {
	buf        []int64
	head, size int
}

func (q *timeQueue) push(t int64) {
	if q.size == len(q.buf) {
		grown := make([]int64, max(4, 2*len(q.buf)))
		for i := 0; i < q.size; i++ {
			grown[i] = q.at(i)
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = t
	q.size++
}

func (q *timeQueue) at(i int) int64 { return q.buf[(q.head+i)%len(q.buf)] }
func (q *timeQueue) front() int64   { return q.at(0) }
func (q *timeQueue) back() int64    { return q.at(q.size - 1) }

func (q *timeQueue) popFront() {
	q.head = (q.head + 1) % len(q.buf)
	q.size--
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

type clientState struct {
	id    string
	cfg   config
	times timeQueue
	elem  *list.Element // this client's place in groups[cfg.window]
}

// RateLimiter admits or rejects requests per client. It is safe for concurrent use.
type RateLimiter struct {
	mu        sync.Mutex
	clock     Clock
	defaults  config
	overrides map[string]config
	clients   map[string]*clientState // tracked clients only
	groups    map[int64]*list.List    // window -> *clientState, least recently admitted first
}

// NewRateLimiter gives every client defaultLimit requests per defaultWindowMillis
// milliseconds unless it has an override.
func NewRateLimiter(clock Clock, defaultLimit int, defaultWindowMillis int64) (*RateLimiter, error) {
	defaults, err := newConfig(defaultLimit, defaultWindowMillis)
	if err != nil {
		return nil, err
	}
	return &RateLimiter{
		clock:     clock,
		defaults:  defaults,
		overrides: make(map[string]config),
		clients:   make(map[string]*clientState),
		groups:    make(map[int64]*list.List),
	}, nil
}

// SetClientLimit overrides the limit and window of one client and clears its history.
func (l *RateLimiter) SetClientLimit(clientID string, limit int, windowMillis int64) error {
	cfg, err := newConfig(limit, windowMillis)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.overrides[clientID] = cfg
	if c, ok := l.clients[clientID]; ok {
		l.release(c)
	}
	return nil
}

// Allow reports whether the client may make a request now, and records it if so.
func (l *RateLimiter) Allow(clientID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Read the clock under the lock so recorded times never go backwards.
	now := l.clock.NowMillis()
	l.releaseIdle(now)

	c, ok := l.clients[clientID]
	if !ok {
		cfg, overridden := l.overrides[clientID]
		if !overridden {
			cfg = l.defaults
		}
		c = &clientState{id: clientID, cfg: cfg}
		l.clients[clientID] = c
	}
	for c.times.size > 0 && c.times.front() <= now-c.cfg.window {
		c.times.popFront()
	}
	if c.times.size >= c.cfg.limit {
		return false
	}
	c.times.push(now)

	group := l.groups[c.cfg.window]
	if group == nil {
		group = list.New()
		l.groups[c.cfg.window] = group
	}
	if c.elem == nil {
		c.elem = group.PushBack(c)
	} else {
		group.MoveToBack(c.elem)
	}
	return true
}

// TrackedClients returns the number of clients with an admitted request inside their window.
func (l *RateLimiter) TrackedClients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseIdle(l.clock.NowMillis())
	return len(l.clients)
}

// releaseIdle drops every client whose last admitted request is at or before now-window.
func (l *RateLimiter) releaseIdle(now int64) {
	for _, c := range l.clients {
		if c.times.back()+c.cfg.window <= now {
			l.release(c)
		}
	}
}

func (l *RateLimiter) release(c *clientState) {
	delete(l.clients, c.id)
	group := l.groups[c.cfg.window]
	group.Remove(c.elem)
	if group.Len() == 0 {
		delete(l.groups, c.cfg.window)
	}
}
