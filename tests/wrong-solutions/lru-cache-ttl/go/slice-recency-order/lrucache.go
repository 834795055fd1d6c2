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
}

// Cache keeps values in a map and the recency order in a slice
// (order[0] is the least recently used key).
type Cache struct {
	mu       sync.Mutex
	capacity int
	clock    Clock
	items    map[string]item
	order    []string
	stats    Stats
}

func New(capacity int, clock Clock) *Cache {
	if capacity < 1 {
		panic("capacity must be >= 1")
	}
	return &Cache{capacity: capacity, clock: clock, items: map[string]item{}}
}

func (c *Cache) isExpired(it item, now time.Time) bool {
	return !it.expiresAt.IsZero() && !now.Before(it.expiresAt)
}

func (c *Cache) removeFromOrder(key string) {
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			return
		}
	}
}

func (c *Cache) touch(key string) {
	c.removeFromOrder(key)
	c.order = append(c.order, key)
}

func (c *Cache) Get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return "", false
	}
	if c.isExpired(it, c.clock.Now()) {
		delete(c.items, key)
		c.removeFromOrder(key)
		c.stats.Misses++
		c.stats.Expirations++
		return "", false
	}
	c.touch(key)
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
	it := item{value: value}
	if ttl > 0 {
		it.expiresAt = now.Add(ttl)
	}
	if old, ok := c.items[key]; ok {
		if c.isExpired(old, now) {
			c.stats.Expirations++
		}
		c.items[key] = it
		c.touch(key)
		return
	}
	if len(c.items) >= c.capacity {
		victim := c.order[0]
		c.order = c.order[1:]
		if c.isExpired(c.items[victim], now) {
			c.stats.Expirations++
		} else {
			c.stats.Evictions++
		}
		delete(c.items, victim)
	}
	c.items[key] = it
	c.order = append(c.order, key)
}

func (c *Cache) Delete(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok {
		return false
	}
	delete(c.items, key)
	c.removeFromOrder(key)
	if c.isExpired(it, c.clock.Now()) {
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
