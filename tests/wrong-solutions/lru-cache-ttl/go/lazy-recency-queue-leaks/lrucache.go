// Package lrucache implements a thread-safe LRU cache with per-entry TTLs.
package lrucache

import (
	"sync"
	"time"
)

// Clock tells the cache the current time. Keep this declaration.
type Clock interface {
	Now() time.Time
}

// Stats is a snapshot of the cache counters.
type Stats struct {
	Hits        uint64
	Misses      uint64
	Evictions   uint64
	Expirations uint64
}

type item struct {
	value     string
	expiresAt time.Time // zero: never expires
	stamp     uint64    // stamp of the item's latest record in the queue
}

type record struct {
	key   string
	stamp uint64
}

// Cache records every use in a queue and skips stale records when it
// evicts ("lazy deletion"), so every operation is amortised O(1).
type Cache struct {
	mu       sync.Mutex
	capacity int
	clock    Clock
	items    map[string]*item
	queue    []record
	next     uint64
	stats    Stats
}

func New(capacity int, clock Clock) *Cache {
	if capacity < 1 {
		panic("capacity must be >= 1")
	}
	return &Cache{capacity: capacity, clock: clock, items: map[string]*item{}}
}

func (c *Cache) expired(it *item, now time.Time) bool {
	return !it.expiresAt.IsZero() && !now.Before(it.expiresAt)
}

func (c *Cache) touch(key string, it *item) {
	c.next++
	it.stamp = c.next
	c.queue = append(c.queue, record{key, c.next})
}

// oldest pops stale records and returns the least recently used key.
func (c *Cache) oldest() string {
	for {
		r := c.queue[0]
		c.queue = c.queue[1:]
		if it, ok := c.items[r.key]; ok && it.stamp == r.stamp {
			return r.key
		}
	}
}

func (c *Cache) Get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return "", false
	}
	if c.expired(it, c.clock.Now()) {
		delete(c.items, key)
		c.stats.Misses++
		c.stats.Expirations++
		return "", false
	}
	c.touch(key, it)
	c.stats.Hits++
	return it.value, true
}

func (c *Cache) Put(key, value string, ttl time.Duration) {
	if ttl < 0 {
		panic("negative ttl")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	var expiresAt time.Time
	if ttl > 0 {
		expiresAt = now.Add(ttl)
	}
	if it, ok := c.items[key]; ok {
		if c.expired(it, now) {
			c.stats.Expirations++
		}
		it.value, it.expiresAt = value, expiresAt
		c.touch(key, it)
		return
	}
	if len(c.items) >= c.capacity {
		victim := c.oldest()
		if c.expired(c.items[victim], now) {
			c.stats.Expirations++
		} else {
			c.stats.Evictions++
		}
		delete(c.items, victim)
	}
	it := &item{value: value, expiresAt: expiresAt}
	c.items[key] = it
	c.touch(key, it)
}

func (c *Cache) Delete(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		return false
	}
	delete(c.items, key)
	if c.expired(it, c.clock.Now()) {
		c.stats.Expirations++
		return false
	}
	return true
}

func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
