// Package lrucache implements a thread-safe LRU cache with per-entry TTLs.
package lrucache

import "time"

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

// Cache is an LRU cache whose entries may expire. It must be safe for
// concurrent use by multiple goroutines.
type Cache struct {
	// TODO: add your fields.
}

// New returns an empty cache holding at most capacity entries.
// It panics if capacity < 1.
func New(capacity int, clock Clock) *Cache {
	// TODO
	return &Cache{}
}

// Get returns the value stored under key; ok is false on a miss
// (absent or expired key).
func (c *Cache) Get(key string) (value string, ok bool) {
	// TODO
	return "", false
}

// Put stores value under key. A ttl of 0 means the entry never expires;
// a negative ttl panics.
func (c *Cache) Put(key, value string, ttl time.Duration) {
	// TODO
}

// Delete removes key and reports whether a live entry was removed.
func (c *Cache) Delete(key string) bool {
	// TODO
	return false
}

// Len returns the number of stored entries, including expired entries
// that have not been removed yet.
func (c *Cache) Len() int {
	// TODO
	return 0
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	// TODO
	return Stats{}
}
