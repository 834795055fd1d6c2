package lrucache

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------- helpers

// fakeClock is a Clock the tests move forward by hand. It starts at an
// arbitrary non-zero time (1,000,000 ms after the Unix epoch).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

const startMillis = 1_000_000

func newClock() *fakeClock { return &fakeClock{now: time.UnixMilli(startMillis)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(millis int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Duration(millis) * time.Millisecond)
}

func (f *fakeClock) Millis() int64 { return f.Now().UnixMilli() }

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func expectHit(t *testing.T, c *Cache, key, want string) {
	t.Helper()
	got, ok := c.Get(key)
	if !ok {
		t.Fatalf("Get(%q): expected a hit with value %q, got a miss", key, want)
	}
	if got != want {
		t.Fatalf("Get(%q): expected value %q, got %q", key, want, got)
	}
}

func expectMiss(t *testing.T, c *Cache, key string) {
	t.Helper()
	if got, ok := c.Get(key); ok {
		t.Fatalf("Get(%q): expected a miss, got a hit with value %q", key, got)
	}
}

func expectLen(t *testing.T, c *Cache, want int) {
	t.Helper()
	if got := c.Len(); got != want {
		t.Fatalf("Len(): expected %d stored entries, got %d", want, got)
	}
}

func expectStats(t *testing.T, c *Cache, want Stats) {
	t.Helper()
	if got := c.Stats(); got != want {
		t.Fatalf("Stats(): expected %+v, got %+v", want, got)
	}
}

func expectPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s: expected a panic, but it returned normally", what)
		}
	}()
	f()
}

// ---------------------------------------------------------------- basics

func TestGetOnAnEmptyCacheIsAMiss(t *testing.T) {
	c := New(3, newClock())
	expectMiss(t, c, "a")
	expectStats(t, c, Stats{Misses: 1})
	expectLen(t, c, 0)
}

func TestPutThenGetReturnsTheValue(t *testing.T) {
	c := New(3, newClock())
	c.Put("a", "1", 0)
	expectLen(t, c, 1)
	expectHit(t, c, "a", "1")
	expectStats(t, c, Stats{Hits: 1})
}

func TestPutOnAnExistingKeyReplacesTheValueWithoutGrowing(t *testing.T) {
	c := New(3, newClock())
	c.Put("a", "1", 0)
	c.Put("a", "2", 0)
	expectLen(t, c, 1)
	expectHit(t, c, "a", "2")
	expectStats(t, c, Stats{Hits: 1})
}

func TestKeysAreIsolatedFromEachOther(t *testing.T) {
	c := New(5, newClock())
	c.Put("a", "1", 0)
	c.Put("b", "2", 0)
	c.Put("ab", "3", 0)
	c.Put("", "empty", 0)
	expectHit(t, c, "a", "1")
	expectHit(t, c, "b", "2")
	expectHit(t, c, "ab", "3")
	expectHit(t, c, "", "empty")
	if !c.Delete("a") {
		t.Fatalf(`Delete("a"): expected true for a live entry, got false`)
	}
	expectMiss(t, c, "a")
	expectHit(t, c, "b", "2")
	expectHit(t, c, "ab", "3")
	expectLen(t, c, 3)
}

func TestNewPanicsWhenCapacityIsBelowOne(t *testing.T) {
	expectPanic(t, "New(0, clock)", func() { New(0, newClock()) })
	expectPanic(t, "New(-1, clock)", func() { New(-1, newClock()) })
}

func TestPutPanicsOnANegativeTTLAndChangesNothing(t *testing.T) {
	c := New(1, newClock())
	c.Put("a", "1", 0)
	expectPanic(t, `Put("a", "2", -1ms)`, func() { c.Put("a", "2", ms(-1)) })
	expectPanic(t, `Put("b", "2", -1ms)`, func() { c.Put("b", "2", ms(-1)) })
	expectLen(t, c, 1)
	expectHit(t, c, "a", "1")
	expectMiss(t, c, "b")
	expectStats(t, c, Stats{Hits: 1, Misses: 1})
}

// ---------------------------------------------------------------- LRU order

func TestInsertingBeyondCapacityEvictsTheLeastRecentlyUsedEntry(t *testing.T) {
	c := New(3, newClock())
	c.Put("a", "1", 0)
	c.Put("b", "2", 0)
	c.Put("c", "3", 0)
	c.Put("d", "4", 0)
	expectLen(t, c, 3)
	expectStats(t, c, Stats{Evictions: 1})
	expectMiss(t, c, "a")
	expectHit(t, c, "b", "2")
	expectHit(t, c, "c", "3")
	expectHit(t, c, "d", "4")
}

func TestGetMakesAnEntryTheMostRecentlyUsed(t *testing.T) {
	c := New(3, newClock())
	c.Put("a", "1", 0)
	c.Put("b", "2", 0)
	c.Put("c", "3", 0)
	expectHit(t, c, "a", "1") // order (LRU first): b c a
	c.Put("d", "4", 0)        // evicts b
	expectMiss(t, c, "b")
	expectHit(t, c, "a", "1")
	expectHit(t, c, "c", "3")
	expectHit(t, c, "d", "4")
	expectStats(t, c, Stats{Hits: 4, Misses: 1, Evictions: 1})
}

func TestPutOnAnExistingKeyMakesItTheMostRecentlyUsed(t *testing.T) {
	c := New(3, newClock())
	c.Put("a", "1", 0)
	c.Put("b", "2", 0)
	c.Put("c", "3", 0)
	c.Put("a", "1b", 0) // order: b c a
	c.Put("d", "4", 0)  // evicts b
	expectMiss(t, c, "b")
	expectHit(t, c, "a", "1b")
	expectStats(t, c, Stats{Hits: 1, Misses: 1, Evictions: 1})
}

func TestAMissDoesNotChangeTheRecencyOrder(t *testing.T) {
	c := New(2, newClock())
	c.Put("a", "1", 0)
	c.Put("b", "2", 0)
	expectMiss(t, c, "zzz")
	c.Put("c", "3", 0) // still evicts a
	expectMiss(t, c, "a")
	expectHit(t, c, "b", "2")
	expectHit(t, c, "c", "3")
	expectStats(t, c, Stats{Hits: 2, Misses: 2, Evictions: 1})
}

func TestCapacityOneKeepsOnlyTheNewestEntry(t *testing.T) {
	c := New(1, newClock())
	for i := 0; i < 5; i++ {
		c.Put(fmt.Sprint("k", i), fmt.Sprint("v", i), 0)
		expectLen(t, c, 1)
	}
	expectHit(t, c, "k4", "v4")
	expectMiss(t, c, "k3")
	expectStats(t, c, Stats{Hits: 1, Misses: 1, Evictions: 4})
}

func TestEvictionOrderFollowsRecencyOverALongerSequence(t *testing.T) {
	c := New(4, newClock())
	for _, k := range []string{"a", "b", "c", "d"} {
		c.Put(k, k, 0)
	}
	// order (LRU first): a b c d
	expectHit(t, c, "b", "b") // a c d b
	expectHit(t, c, "a", "a") // c d b a
	c.Put("c", "c2", 0)       // d b a c
	c.Put("e", "e", 0)        // evicts d -> b a c e
	c.Put("f", "f", 0)        // evicts b -> a c e f
	expectHit(t, c, "a", "a") // c e f a
	c.Put("g", "g", 0)        // evicts c -> e f a g
	for _, k := range []string{"b", "c", "d"} {
		expectMiss(t, c, k)
	}
	expectHit(t, c, "e", "e")
	expectHit(t, c, "f", "f")
	expectHit(t, c, "a", "a")
	expectHit(t, c, "g", "g")
	expectStats(t, c, Stats{Hits: 7, Misses: 3, Evictions: 3})
}

// ---------------------------------------------------------------- TTL

func TestEntryIsLiveOneMillisecondBeforeExpiryAndExpiredExactlyAtExpiry(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", ms(100)) // expires at start+100
	clock.Advance(99)
	expectHit(t, c, "a", "1")
	clock.Advance(1) // now == expiresAt: expired
	expectMiss(t, c, "a")
	expectLen(t, c, 0)
	expectStats(t, c, Stats{Hits: 1, Misses: 1, Expirations: 1})
}

func TestTTLOfOneMillisecondExpiresOnTheNextMillisecond(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", ms(1))
	expectHit(t, c, "a", "1")
	clock.Advance(1)
	expectMiss(t, c, "a")
	expectStats(t, c, Stats{Hits: 1, Misses: 1, Expirations: 1})
}

func TestZeroTTLNeverExpires(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", 0)
	clock.Advance(1_000_000_000_000)
	expectHit(t, c, "a", "1")
	expectStats(t, c, Stats{Hits: 1})
}

func TestExpiryIsCountedFromThePutNotFromCacheCreation(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	clock.Advance(500)
	c.Put("a", "1", ms(100)) // expires at start+600
	clock.Advance(99)
	expectHit(t, c, "a", "1")
	clock.Advance(1)
	expectMiss(t, c, "a")
}

func TestGetDoesNotExtendTheTTL(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", ms(100))
	for i := 0; i < 9; i++ {
		clock.Advance(10)
		expectHit(t, c, "a", "1") // at +10 .. +90
	}
	clock.Advance(10) // +100
	expectMiss(t, c, "a")
	expectStats(t, c, Stats{Hits: 9, Misses: 1, Expirations: 1})
}

func TestPutOnAnExistingKeyResetsItsTTL(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", ms(100))
	clock.Advance(50)
	c.Put("a", "2", ms(100)) // now expires at +150
	clock.Advance(99)        // +149
	expectHit(t, c, "a", "2")
	clock.Advance(1) // +150
	expectMiss(t, c, "a")

	c.Put("b", "1", ms(10))
	c.Put("b", "2", 0) // ttl 0 removes the expiry
	clock.Advance(1_000_000)
	expectHit(t, c, "b", "2")

	c.Put("c", "1", 0)
	c.Put("c", "2", ms(5)) // and a ttl can be added later
	clock.Advance(5)
	expectMiss(t, c, "c")
	expectStats(t, c, Stats{Hits: 2, Misses: 2, Expirations: 2})
}

func TestEachEntryHasItsOwnTTL(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("short", "s", ms(50))
	c.Put("long", "l", ms(200))
	c.Put("forever", "f", 0)
	clock.Advance(100)
	expectMiss(t, c, "short")
	expectHit(t, c, "long", "l")
	expectHit(t, c, "forever", "f")
	clock.Advance(100)
	expectMiss(t, c, "long")
	expectHit(t, c, "forever", "f")
	expectStats(t, c, Stats{Hits: 3, Misses: 2, Expirations: 2})
}

func TestAnExpiredGetCountsAsAMissAndAnExpirationButNotAnEviction(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", ms(10))
	clock.Advance(10)
	expectMiss(t, c, "a")
	expectStats(t, c, Stats{Misses: 1, Expirations: 1})
	expectMiss(t, c, "a") // already removed: a plain miss, no second expiration
	expectStats(t, c, Stats{Misses: 2, Expirations: 1})
}

func TestExpiredEntriesStayStoredUntilSomethingTouchesThem(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	c.Put("a", "1", ms(10))
	c.Put("b", "2", ms(10))
	clock.Advance(50)
	expectLen(t, c, 2)
	expectStats(t, c, Stats{})
	expectMiss(t, c, "a")
	expectLen(t, c, 1)
	expectStats(t, c, Stats{Misses: 1, Expirations: 1})
}

func TestAFullCacheRemovesAnExpiredLeastRecentlyUsedEntryAsAnExpiration(t *testing.T) {
	clock := newClock()
	c := New(2, clock)
	c.Put("x", "1", ms(10))
	c.Put("y", "2", 0)
	clock.Advance(50)
	expectLen(t, c, 2)
	c.Put("z", "3", 0) // x is the LRU and expired
	expectStats(t, c, Stats{Expirations: 1})
	expectLen(t, c, 2)
	expectHit(t, c, "y", "2")
	expectHit(t, c, "z", "3")
}

func TestOnlyTheLeastRecentlyUsedEntryIsEvictedEvenIfAnotherHasExpired(t *testing.T) {
	clock := newClock()
	c := New(2, clock)
	c.Put("a", "1", 0)
	c.Put("b", "2", ms(10))
	clock.Advance(50)
	c.Put("c", "3", 0) // LRU is a (live): evicted; b stays stored although expired
	expectStats(t, c, Stats{Evictions: 1})
	expectLen(t, c, 2)
	expectMiss(t, c, "b")
	expectStats(t, c, Stats{Misses: 1, Evictions: 1, Expirations: 1})
	expectMiss(t, c, "a")
	expectHit(t, c, "c", "3")
}

func TestPutOverAnExpiredKeyCountsOneExpirationAndStoresAFreshEntry(t *testing.T) {
	clock := newClock()
	c := New(2, clock)
	c.Put("a", "1", ms(10))
	c.Put("b", "2", 0)
	clock.Advance(20)
	c.Put("a", "new", ms(10)) // a: expired -> replaced, now most recently used
	expectStats(t, c, Stats{Expirations: 1})
	expectLen(t, c, 2)
	c.Put("c", "3", 0) // evicts b, not a
	expectStats(t, c, Stats{Evictions: 1, Expirations: 1})
	expectHit(t, c, "a", "new")
	expectMiss(t, c, "b")
	clock.Advance(10)
	expectMiss(t, c, "a")
	expectStats(t, c, Stats{Hits: 1, Misses: 2, Evictions: 1, Expirations: 2})
}

// ---------------------------------------------------------------- delete

func TestDeleteRemovesALiveEntryAndFreesItsSlot(t *testing.T) {
	c := New(2, newClock())
	c.Put("a", "1", 0)
	c.Put("b", "2", 0)
	if !c.Delete("a") {
		t.Fatalf(`Delete("a"): expected true for a live entry, got false`)
	}
	expectLen(t, c, 1)
	c.Put("c", "3", 0) // there is room: nothing evicted
	expectStats(t, c, Stats{})
	expectHit(t, c, "b", "2")
	expectHit(t, c, "c", "3")
	expectMiss(t, c, "a")
}

func TestDeleteOfAnAbsentOrExpiredKeyReturnsFalse(t *testing.T) {
	clock := newClock()
	c := New(3, clock)
	if c.Delete("nope") {
		t.Fatalf(`Delete("nope") on an absent key: expected false, got true`)
	}
	c.Put("a", "1", ms(10))
	clock.Advance(10)
	if c.Delete("a") {
		t.Fatalf(`Delete("a") on an expired entry: expected false, got true`)
	}
	expectLen(t, c, 0)
	expectStats(t, c, Stats{Expirations: 1})
	if c.Delete("a") {
		t.Fatalf(`second Delete("a"): expected false, got true`)
	}
	expectStats(t, c, Stats{Expirations: 1})
}

// ---------------------------------------------------------------- stats

func TestStatsStartAtZeroAndPutsNeverCountAsHitsOrMisses(t *testing.T) {
	c := New(2, newClock())
	expectStats(t, c, Stats{})
	c.Put("a", "1", 0)
	c.Put("a", "2", 0)
	c.Put("b", "1", 0)
	expectStats(t, c, Stats{})
}

func TestReadmeExamples(t *testing.T) {
	clock := newClock()
	c := New(2, clock)
	c.Put("a", "1", ms(100))
	c.Put("b", "2", 0)
	expectHit(t, c, "a", "1")
	c.Put("c", "3", 0)
	expectStats(t, c, Stats{Hits: 1, Evictions: 1})
	expectMiss(t, c, "b")
	clock.Advance(99)
	expectHit(t, c, "a", "1")
	clock.Advance(1)
	expectMiss(t, c, "a")
	expectLen(t, c, 1)
	expectStats(t, c, Stats{Hits: 2, Misses: 2, Evictions: 1, Expirations: 1})

	clock2 := newClock()
	c2 := New(2, clock2)
	c2.Put("x", "1", ms(10))
	c2.Put("y", "2", 0)
	clock2.Advance(50)
	expectLen(t, c2, 2)
	c2.Put("z", "3", 0)
	expectStats(t, c2, Stats{Expirations: 1})
}

// ---------------------------------------------------------------- model check

// model is a deliberately simple (slow) cache that follows the README rules.
type modelEntry struct {
	key, value string
	expiresAt  int64 // 0: never
}

type model struct {
	capacity int
	entries  []modelEntry // least recently used first
	stats    Stats
}

func (m *model) find(key string) int {
	for i, e := range m.entries {
		if e.key == key {
			return i
		}
	}
	return -1
}

func (m *model) remove(i int) { m.entries = append(m.entries[:i], m.entries[i+1:]...) }

func isExpired(e modelEntry, now int64) bool { return e.expiresAt != 0 && now >= e.expiresAt }

func (m *model) get(key string, now int64) (string, bool) {
	i := m.find(key)
	if i < 0 {
		m.stats.Misses++
		return "", false
	}
	e := m.entries[i]
	m.remove(i)
	if isExpired(e, now) {
		m.stats.Misses++
		m.stats.Expirations++
		return "", false
	}
	m.stats.Hits++
	m.entries = append(m.entries, e)
	return e.value, true
}

func (m *model) put(key, value string, ttl int64, now int64) {
	e := modelEntry{key: key, value: value}
	if ttl > 0 {
		e.expiresAt = now + ttl
	}
	if i := m.find(key); i >= 0 {
		if isExpired(m.entries[i], now) {
			m.stats.Expirations++
		}
		m.remove(i)
	} else if len(m.entries) == m.capacity {
		if isExpired(m.entries[0], now) {
			m.stats.Expirations++
		} else {
			m.stats.Evictions++
		}
		m.remove(0)
	}
	m.entries = append(m.entries, e)
}

func (m *model) del(key string, now int64) bool {
	i := m.find(key)
	if i < 0 {
		return false
	}
	e := m.entries[i]
	m.remove(i)
	if isExpired(e, now) {
		m.stats.Expirations++
		return false
	}
	return true
}

func TestRandomOperationsMatchASimpleReferenceModel(t *testing.T) {
	rng := rand.New(rand.NewSource(20240611))
	for round := 0; round < 4; round++ {
		capacity := []int{1, 2, 4, 7}[round]
		clock := newClock()
		c := New(capacity, clock)
		m := &model{capacity: capacity}
		var history []string
		fail := func(format string, args ...any) {
			t.Helper()
			start := len(history) - 12
			if start < 0 {
				start = 0
			}
			t.Fatalf("capacity %d, after these operations (most recent last):\n  %s\n%s",
				capacity, strings.Join(history[start:], "\n  "), fmt.Sprintf(format, args...))
		}
		for op := 0; op < 1500; op++ {
			key := fmt.Sprint("k", rng.Intn(capacity+3))
			now := clock.Millis() - startMillis
			switch r := rng.Intn(100); {
			case r < 35:
				history = append(history, fmt.Sprintf("t=%d Get(%q)", now, key))
				wantV, wantOK := m.get(key, now)
				gotV, gotOK := c.Get(key)
				if gotV != wantV || gotOK != wantOK {
					fail("Get(%q): expected (%q, %v), got (%q, %v)", key, wantV, wantOK, gotV, gotOK)
				}
			case r < 70:
				ttl := int64(0)
				if rng.Intn(10) >= 3 {
					ttl = 1 + rng.Int63n(25)
				}
				value := fmt.Sprint("v", op)
				history = append(history, fmt.Sprintf("t=%d Put(%q, %q, %dms)", now, key, value, ttl))
				m.put(key, value, ttl, now)
				c.Put(key, value, ms(ttl))
			case r < 80:
				history = append(history, fmt.Sprintf("t=%d Delete(%q)", now, key))
				want := m.del(key, now)
				if got := c.Delete(key); got != want {
					fail("Delete(%q): expected %v, got %v", key, want, got)
				}
			default:
				step := rng.Int63n(12)
				history = append(history, fmt.Sprintf("advance clock by %dms", step))
				clock.Advance(step)
			}
			if got := c.Len(); got != len(m.entries) {
				fail("Len(): expected %d, got %d", len(m.entries), got)
			}
			if got := c.Stats(); got != m.stats {
				fail("Stats(): expected %+v, got %+v", m.stats, got)
			}
		}
	}
}

// ---------------------------------------------------------------- concurrency

const workers = 8

// yieldingClock is a fake clock whose Now lets other goroutines run first.
// A cache that reads the clock in the middle of an operation without holding
// its lock is then interrupted exactly there, even on a single CPU.
type yieldingClock struct{ *fakeClock }

func (y yieldingClock) Now() time.Time {
	runtime.Gosched()
	return y.fakeClock.Now()
}

// runWorkers starts n goroutines together and waits for all of them. A
// panic inside a worker fails the test instead of crashing the test binary.
func runWorkers(t *testing.T, n int, body func(w int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for w := 0; w < n; w++ {
		go func(w int) {
			defer done.Done()
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("worker %d panicked while %d goroutines shared the cache "+
						"(is every operation protected by a lock?): %v", w, n, p)
				}
			}()
			ready.Done()
			<-start
			body(w)
		}(w)
	}
	ready.Wait()
	close(start)
	done.Wait()
}

func keyNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprint(prefix, i)
	}
	return names
}

// expectConsistentAfterConcurrency checks that the cache still behaves as an
// LRU cache of the given capacity: filling it with fresh keys must evict
// every older entry exactly once and keep all the fresh ones.
func expectConsistentAfterConcurrency(t *testing.T, c *Cache, capacity int) {
	t.Helper()
	before := c.Stats()
	if n := c.Len(); n > capacity {
		t.Fatalf("Len(): expected at most %d entries after concurrent use, got %d", capacity, n)
	}
	stored := uint64(c.Len())
	fresh := keyNames("fresh-", capacity)
	for _, k := range fresh {
		c.Put(k, "f", 0)
	}
	after := c.Stats()
	removed := (after.Evictions - before.Evictions) + (after.Expirations - before.Expirations)
	if removed != stored {
		t.Fatalf("after concurrent use the cache held %d entries; putting %d fresh keys should remove exactly those %d, "+
			"but it counted %d evictions+expirations", stored, capacity, stored, removed)
	}
	expectLen(t, c, capacity)
	for _, k := range fresh {
		if _, ok := c.Get(k); !ok {
			t.Fatalf("Get(%q): expected the freshly put key to be cached after concurrent use, got a miss", k)
		}
	}
}

func TestConcurrentGetsCountEveryHit(t *testing.T) {
	const keys, perWorker = 16, 20000
	c := New(keys, newClock())
	names := keyNames("k", keys)
	for _, k := range names {
		c.Put(k, "v-"+k, 0)
	}
	runWorkers(t, workers, func(w int) {
		for i := 0; i < perWorker; i++ {
			k := names[(i+w)%keys]
			if v, ok := c.Get(k); !ok || v != "v-"+k {
				t.Errorf("worker %d: Get(%q): expected a hit with %q, got (%q, %v)", w, k, "v-"+k, v, ok)
				return
			}
		}
	})
	expectStats(t, c, Stats{Hits: workers * perWorker})
	expectConsistentAfterConcurrency(t, c, keys)
}

func TestConcurrentPutsNeverExceedCapacityAndCountEveryEviction(t *testing.T) {
	const capacity, perWorker = 100, 4000
	c := New(capacity, newClock())
	runWorkers(t, workers, func(w int) {
		for i := 0; i < perWorker; i++ {
			c.Put(fmt.Sprintf("w%d-%d", w, i), "v", 0)
		}
	})
	expectLen(t, c, capacity)
	expectStats(t, c, Stats{Evictions: workers*perWorker - capacity})
	live := 0
	for w := 0; w < workers; w++ {
		for i := 0; i < perWorker; i++ {
			if _, ok := c.Get(fmt.Sprintf("w%d-%d", w, i)); ok {
				live++
			}
		}
	}
	if live != capacity {
		t.Fatalf("expected exactly %d of the %d keys to be retrievable, got %d", capacity, workers*perWorker, live)
	}
}

func TestConcurrentWorkersOnSeparateKeysSeeOnlyTheirOwnValuesAndExactCounts(t *testing.T) {
	const keysPerWorker, rounds = 50, 40
	clock := newClock()
	c := New(workers*keysPerWorker, yieldingClock{clock})
	runWorkers(t, workers, func(w int) {
		names := keyNames(fmt.Sprintf("w%d-k", w), keysPerWorker)
		for r := 0; r < rounds; r++ {
			want := fmt.Sprintf("w%d-r%d", w, r)
			for _, k := range names {
				c.Put(k, want, time.Hour)
			}
			for _, k := range names {
				if v, ok := c.Get(k); !ok || v != want {
					t.Errorf("worker %d: Get(%q): expected %q, got (%q, %v)", w, k, want, v, ok)
					return
				}
			}
			for i := 0; i < keysPerWorker; i += 5 {
				if !c.Delete(names[i]) {
					t.Errorf("worker %d: Delete(%q): expected true, got false", w, names[i])
					return
				}
				if v, ok := c.Get(names[i]); ok {
					t.Errorf("worker %d: Get(%q) after Delete: expected a miss, got %q", w, names[i], v)
					return
				}
			}
		}
	})
	expectStats(t, c, Stats{
		Hits:   workers * rounds * keysPerWorker,
		Misses: workers * rounds * keysPerWorker / 5,
	})
	expectLen(t, c, workers*keysPerWorker*4/5)
}

func TestConcurrentReadersCountEachExpiredEntryExactlyOnce(t *testing.T) {
	const keys = 300
	clock := newClock()
	c := New(keys, yieldingClock{clock})
	names := keyNames("k", keys)
	for _, k := range names {
		c.Put(k, "v", ms(10))
	}
	clock.Advance(10)
	runWorkers(t, workers, func(w int) {
		for _, k := range names { // every worker reads the same keys in the same order
			if v, ok := c.Get(k); ok {
				t.Errorf("worker %d: Get(%q): expected a miss for an expired key, got %q", w, k, v)
				return
			}
		}
	})
	expectStats(t, c, Stats{Misses: workers * keys, Expirations: keys})
	expectLen(t, c, 0)
	expectConsistentAfterConcurrency(t, c, keys)
}

func TestConcurrentGetsAndEvictingPutsKeepExactHitAndMissCounts(t *testing.T) {
	const capacity, universe, perWorker = 8, 24, 1500
	clock := newClock()
	c := New(capacity, yieldingClock{clock})
	names := keyNames("k", universe)
	var hits, misses [workers]uint64
	runWorkers(t, workers, func(w int) {
		rng := rand.New(rand.NewSource(int64(w)))
		for i := 0; i < perWorker; i++ {
			k := names[rng.Intn(universe)]
			if v, ok := c.Get(k); ok {
				hits[w]++
				if v != "v-"+k {
					t.Errorf("worker %d: Get(%q): expected %q, got %q", w, k, "v-"+k, v)
					return
				}
			} else {
				misses[w]++
				c.Put(k, "v-"+k, ms(int64(1+rng.Intn(50))))
			}
			if i%100 == 0 && w == 0 {
				clock.Advance(1)
			}
		}
	})
	var wantHits, wantMisses uint64
	for w := 0; w < workers; w++ {
		wantHits += hits[w]
		wantMisses += misses[w]
	}
	got := c.Stats()
	if got.Hits != wantHits || got.Misses != wantMisses {
		t.Fatalf("Stats(): the workers saw %d hits and %d misses, the cache counted %d hits and %d misses",
			wantHits, wantMisses, got.Hits, got.Misses)
	}
	expectConsistentAfterConcurrency(t, c, capacity)
}

// ---------------------------------------------------------------- complexity and memory

// costPerOp returns the nanoseconds per step on a full cache of n entries.
// Each step puts a new key (which evicts the least recently used entry) and
// gets three keys put up to n/4 steps earlier (hits spread over the recency
// order). It measures for at least 5 ms or 20,000 steps.
func costPerOp(n int) float64 {
	const warmup, chunk, maxOps = 200, 200, 20000
	keys := keyNames("key-", n+warmup+maxOps)
	rng := rand.New(rand.NewSource(int64(n)))
	back := make([]int, 3*(warmup+maxOps))
	for i := range back {
		back[i] = rng.Intn((n-3)/4 + 1)
	}
	c := New(n, newClock())
	for i := 0; i < n; i++ {
		c.Put(keys[i], "v", 0)
	}
	pos, b := n, 0
	run := func(count int) {
		for i := 0; i < count; i++ {
			c.Put(keys[pos], "v", 0)
			for g := 0; g < 3; g++ {
				c.Get(keys[pos-back[b]])
				b++
			}
			pos++
		}
	}
	run(warmup)
	done := 0
	start := time.Now()
	for done < maxOps {
		run(chunk)
		done += chunk
		if time.Since(start) >= 5*time.Millisecond {
			break
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(done)
}

func TestOperationsStayConstantTimeAsTheCacheGrows(t *testing.T) {
	const limit = 10.0
	small, large := math.Inf(1), math.Inf(1)
	for trial := 0; trial < 5; trial++ {
		small = math.Min(small, costPerOp(10))
		large = math.Min(large, costPerOp(10_000))
		if large <= limit*small {
			return
		}
		if trial >= 1 && large > 4*limit*small {
			break // far over the limit twice: not noise
		}
	}
	t.Fatalf("expected one put + three gets with 10,000 entries to cost at most %.0fx the cost with 10 entries, "+
		"got %.0f ns vs %.0f ns (%.1fx): some operation scans the entries", limit, large, small, large/small)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapAlloc
}

func TestMemoryStaysBoundedUnderChurnAndRepeatedHits(t *testing.T) {
	const capacity = 100
	clock := newClock()
	c := New(capacity, clock)
	buf := make([]byte, 1024)
	before := heapInUse()
	for i := 0; i < 30000; i++ { // churn: every put evicts or expires an older entry
		buf[0] = byte(i)
		c.Put(fmt.Sprint("churn-", i), string(buf), ms(int64(1+i%3)))
		if i%7 == 0 {
			clock.Advance(1)
		}
		if i%3 == 0 {
			c.Get(fmt.Sprint("churn-", i-1))
		}
	}
	hot := make([]string, 10)
	for i := range hot {
		hot[i] = fmt.Sprint("hot-", i)
		c.Put(hot[i], "v", 0)
	}
	for i := 0; i < 250000; i++ { // many hits on a few keys
		if _, ok := c.Get(hot[i%len(hot)]); !ok {
			t.Fatalf("Get(%q): expected a hit, got a miss", hot[i%len(hot)])
		}
	}
	after := heapInUse()
	runtime.KeepAlive(c)
	expectLen(t, c, capacity)
	const allowed = 2 << 20
	if after > before && after-before > allowed {
		t.Fatalf("expected the heap to grow by at most %d KiB for a cache of %d small entries, "+
			"it grew by %d KiB: removed entries or recency bookkeeping stay reachable",
			allowed>>10, capacity, (after-before)>>10)
	}
}
