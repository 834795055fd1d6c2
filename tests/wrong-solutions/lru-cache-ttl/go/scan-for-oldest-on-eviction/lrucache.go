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
	lastUsed  uint64
}

// Cache stamps every entry with a use counter; on eviction it removes the
// entry with the smallest stamp.
type Cache struct {
	mu       sync.Mutex
	capacity int
	clock    Clock
	items    map[string]*item
	tick     uint64
	stats    Stats
}

func New(capacity int, clock Clock) *Cache {
	if capacity < 1 {
		panic("capacity must be >= 1")
	}
	return &Cache{capacity: capacity, clock: clock, items: make(map[string]*item)}
}

func expired(it *item, now time.Time) bool {
	return !it.expiresAt.IsZero() && !now.Before(it.expiresAt)
}

func (c *Cache) Get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return "", false
	}
	if expired(it, c.clock.Now()) {
		delete(c.items, key)
		c.stats.Misses++
		c.stats.Expirations++
		return "", false
	}
	c.tick++
	it.lastUsed = c.tick
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
	c.tick++
	if it, ok := c.items[key]; ok {
		if expired(it, now) {
			c.stats.Expirations++
		}
		it.value, it.expiresAt, it.lastUsed = value, expiresAt, c.tick
		return
	}
	if len(c.items) >= c.capacity {
		var oldestKey string
		var oldest *item
		for k, it := range c.items {
			if oldest == nil || it.lastUsed < oldest.lastUsed {
				oldestKey, oldest = k, it
			}
		}
		delete(c.items, oldestKey)
		if expired(oldest, now) {
			c.stats.Expirations++
		} else {
			c.stats.Evictions++
		}
	}
	c.items[key] = &item{value: value, expiresAt: expiresAt, lastUsed: c.tick}
}

func (c *Cache) Delete(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		return false
	}
	delete(c.items, key)
	if expired(it, c.clock.Now()) {
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
