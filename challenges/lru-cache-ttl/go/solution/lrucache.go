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

type entry struct {
	key        string
	value      string
	expires    bool
	expiresAt  time.Time
	prev, next *entry
}

// Cache is an LRU cache whose entries may expire. It is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	capacity int
	clock    Clock
	items    map[string]*entry
	// root is a sentinel of a circular doubly linked list:
	// root.next is the most recently used entry, root.prev the least.
	root  entry
	stats Stats
}

// New returns an empty cache holding at most capacity entries.
func New(capacity int, clock Clock) *Cache {
	if capacity < 1 {
		panic("lrucache: capacity must be at least 1")
	}
	if clock == nil {
		panic("lrucache: nil clock")
	}
	c := &Cache{capacity: capacity, clock: clock, items: make(map[string]*entry)}
	c.root.next = &c.root
	c.root.prev = &c.root
	return c
}

// Get returns the value stored under key and whether it was found live.
func (c *Cache) Get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return "", false
	}
	if c.expired(e, c.clock.Now()) {
		c.removeEntry(e)
		c.stats.Misses++
		c.stats.Expirations++
		return "", false
	}
	c.moveToFront(e)
	c.stats.Hits++
	return e.value, true
}

// Put stores value under key. A ttl of 0 means the entry never expires.
func (c *Cache) Put(key, value string, ttl time.Duration) {
	if ttl < 0 {
		panic("lrucache: negative ttl")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if e, ok := c.items[key]; ok {
		if c.expired(e, now) {
			c.stats.Expirations++
		}
		e.value = value
		c.setExpiry(e, now, ttl)
		c.moveToFront(e)
		return
	}
	if len(c.items) >= c.capacity {
		lru := c.root.prev
		if c.expired(lru, now) {
			c.stats.Expirations++
		} else {
			c.stats.Evictions++
		}
		c.removeEntry(lru)
	}
	e := &entry{key: key, value: value}
	c.setExpiry(e, now, ttl)
	c.items[key] = e
	c.pushFront(e)
}

// Delete removes key and reports whether a live entry was removed.
func (c *Cache) Delete(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return false
	}
	c.removeEntry(e)
	if c.expired(e, c.clock.Now()) {
		c.stats.Expirations++
		return false
	}
	return true
}

// Len returns the number of stored entries, including expired ones not yet removed.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Cache) expired(e *entry, now time.Time) bool {
	return e.expires && !now.Before(e.expiresAt)
}

func (c *Cache) setExpiry(e *entry, now time.Time, ttl time.Duration) {
	e.expires = ttl > 0
	if e.expires {
		e.expiresAt = now.Add(ttl)
	}
}

func (c *Cache) pushFront(e *entry) {
	e.prev = &c.root
	e.next = c.root.next
	c.root.next.prev = e
	c.root.next = e
}

func (c *Cache) unlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (c *Cache) moveToFront(e *entry) {
	if c.root.next == e {
		return
	}
	c.unlink(e)
	c.pushFront(e)
}

func (c *Cache) removeEntry(e *entry) {
	c.unlink(e)
	delete(c.items, e.key)
}
