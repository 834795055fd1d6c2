package idempotency

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	ttl   int64 = 60_000    // one minute, in milliseconds
	start int64 = 1_000_000 // the fake clock's first reading
)

// watchdog bounds how long a test waits for something that a correct store
// does at once; it only expires when the store under test is broken.
const watchdog = 2 * time.Second

type fakeClock struct{ now int64 }

func newFakeClock() *fakeClock              { return &fakeClock{now: start} }
func (c *fakeClock) NowMillis() int64       { return atomic.LoadInt64(&c.now) }
func (c *fakeClock) Advance(millis int64)   { atomic.AddInt64(&c.now, millis) }
func (c *fakeClock) elapsed() int64         { return c.NowMillis() - start }
func (c *fakeClock) describe() string       { return fmt.Sprintf("t=+%dms", c.elapsed()) }
func newStore(t *testing.T, c Clock) *Store { t.Helper(); return newStoreTTL(t, c, ttl) }
func newStoreTTL(t *testing.T, c Clock, ttlMillis int64) *Store {
	t.Helper()
	s, err := NewStore(c, ttlMillis)
	if err != nil || s == nil {
		t.Fatalf("NewStore(clock, %d): expected a store and no error, got store=%v err=%v", ttlMillis, s, err)
	}
	return s
}

// charges is a handler that counts its executions and answers "charge-<n>".
type charges struct{ n int64 }

func (c *charges) handler() func() (string, error) {
	return func() (string, error) {
		return fmt.Sprintf("charge-%d", atomic.AddInt64(&c.n, 1)), nil
	}
}
func (c *charges) count() int64 { return atomic.LoadInt64(&c.n) }

func mustNotRun(t *testing.T, why string) func() (string, error) {
	return func() (string, error) {
		t.Errorf("the handler ran, but it must not: %s", why)
		return "handler-ran", nil
	}
}

func expectResponse(t *testing.T, s *Store, client, key, payload string, h func() (string, error), want, why string) {
	t.Helper()
	got, err := s.Execute(client, key, payload, h)
	if err != nil {
		t.Fatalf("%s: Execute(%q, %q, %q) expected response %q, got error %v", why, client, key, payload, want, err)
	}
	if got != want {
		t.Fatalf("%s: Execute(%q, %q, %q) expected response %q, got %q", why, client, key, payload, want, got)
	}
}

func expectConflict(t *testing.T, s *Store, client, key, payload string, why string) {
	t.Helper()
	got, err := s.Execute(client, key, payload, mustNotRun(t, why))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("%s: Execute(%q, %q, %q) expected ErrConflict, got response %q and error %v", why, client, key, payload, got, err)
	}
}

func expectCount(t *testing.T, c *charges, want int64, why string) {
	t.Helper()
	if got := c.count(); got != want {
		t.Fatalf("%s: expected the handler to have run %d time(s), but it ran %d time(s)", why, want, got)
	}
}

func expectLen(t *testing.T, s *Store, want int, why string) {
	t.Helper()
	var got int
	if !within(func() { got = s.Len() }) {
		t.Fatalf("%s: expected Len() = %d, but Len() was still blocked after 2s", why, want)
	}
	if got != want {
		t.Fatalf("%s: expected Len() = %d, got %d", why, want, got)
	}
}

// within runs fn in a goroutine and reports whether it returned within the watchdog.
func within(fn func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
		return true
	case <-time.After(watchdog):
		return false
	}
}

func waitGroupWithin(wg *sync.WaitGroup) bool { return within(wg.Wait) }

// spinUntil yields until cond holds or the watchdog expires.
func spinUntil(cond func() bool) bool {
	deadline := time.Now().Add(watchdog)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
	return true
}

type outcome struct {
	response string
	err      error
}

// ---------------------------------------------------------------- basics

func TestNewStoreRejectsANonPositiveTTL(t *testing.T) {
	for _, bad := range []int64{0, -1} {
		if s, err := NewStore(newFakeClock(), bad); err == nil {
			t.Fatalf("NewStore(clock, %d): expected an error for a non-positive TTL, got store %v and no error", bad, s)
		}
	}
}

func TestTheFirstRequestRunsTheHandlerAndReturnsItsResponse(t *testing.T) {
	s := newStore(t, newFakeClock())
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", `{"amount":100}`, c.handler(), "charge-1", "first request")
	expectCount(t, c, 1, "after the first request")
}

func TestARetryWithTheSameKeyAndPayloadReplaysTheStoredResponseWithoutRunningTheHandler(t *testing.T) {
	s := newStore(t, newFakeClock())
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", `{"amount":100}`, c.handler(), "charge-1", "first request")
	for i := 0; i < 3; i++ {
		expectResponse(t, s, "client-1", "key-1", `{"amount":100}`, c.handler(), "charge-1", fmt.Sprintf("retry %d", i+1))
	}
	expectCount(t, c, 1, "after three retries of the same request")
}

func TestTheSameKeyWithADifferentPayloadIsAConflict(t *testing.T) {
	s := newStore(t, newFakeClock())
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", `{"amount":100}`, c.handler(), "charge-1", "first request")
	// Same length as the first payload, only one digit differs.
	expectConflict(t, s, "client-1", "key-1", `{"amount":900}`, "same key, different payload")
	expectCount(t, c, 1, "after a conflicting request")
}

func TestAConflictDoesNotReplaceTheStoredResponse(t *testing.T) {
	s := newStore(t, newFakeClock())
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "first request")
	expectConflict(t, s, "client-1", "key-1", "amount=999", "same key, different payload")
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "retry with the original payload after a conflict")
	expectConflict(t, s, "client-1", "key-1", "amount=999", "the conflicting payload again")
	expectCount(t, c, 1, "after conflicts and a replay")
}

func TestDifferentKeysAreExecutedIndependently(t *testing.T) {
	s := newStore(t, newFakeClock())
	c := &charges{}
	expectResponse(t, s, "client-1", "key-A", "amount=100", c.handler(), "charge-1", "key-A first request")
	expectResponse(t, s, "client-1", "key-B", "amount=100", c.handler(), "charge-2", "key-B first request (same payload, other key)")
	expectResponse(t, s, "client-1", "key-C", "amount=555", c.handler(), "charge-3", "key-C first request")
	expectResponse(t, s, "client-1", "key-A", "amount=100", c.handler(), "charge-1", "key-A replay")
	expectResponse(t, s, "client-1", "key-B", "amount=100", c.handler(), "charge-2", "key-B replay")
	expectCount(t, c, 3, "three distinct keys")
	expectLen(t, s, 3, "three distinct keys stored")
}

func TestTheSameKeyFromDifferentClientsIsExecutedIndependently(t *testing.T) {
	s := newStore(t, newFakeClock())
	c := &charges{}
	expectResponse(t, s, "alice", "order-1", "amount=100", c.handler(), "charge-1", "alice's first request")
	// Bob may use the same key string with another payload: it is his own key.
	expectResponse(t, s, "bob", "order-1", "amount=700", c.handler(), "charge-2", "bob's first request with the same key")
	expectResponse(t, s, "alice", "order-1", "amount=100", c.handler(), "charge-1", "alice's replay")
	expectResponse(t, s, "bob", "order-1", "amount=700", c.handler(), "charge-2", "bob's replay")
	expectConflict(t, s, "alice", "order-1", "amount=700", "alice reusing her key with bob's payload")
	expectCount(t, c, 2, "two clients, one key each")
	expectLen(t, s, 2, "two clients, one key each")
}

func TestClientAndKeyAreNeverConfusedEvenWhenTheyContainSeparators(t *testing.T) {
	for _, sep := range []string{":", "|", "/", "-", "_", ".", "#", ",", ";", " ", "\x00", "\n", "::", "\t"} {
		s := newStore(t, newFakeClock())
		c := &charges{}
		expectResponse(t, s, "a"+sep+"b", "c", "p1", c.handler(), "charge-1",
			fmt.Sprintf("client %q key %q", "a"+sep+"b", "c"))
		expectResponse(t, s, "a", "b"+sep+"c", "p2", c.handler(), "charge-2",
			fmt.Sprintf("client %q key %q is a different (client, key) pair", "a", "b"+sep+"c"))
		expectResponse(t, s, "a"+sep, "b"+sep+"c", "p3", c.handler(), "charge-3",
			fmt.Sprintf("client %q key %q is a different (client, key) pair", "a"+sep, "b"+sep+"c"))
		expectResponse(t, s, "a", sep+"b"+sep+"c", "p4", c.handler(), "charge-4",
			fmt.Sprintf("client %q key %q is a different (client, key) pair", "a", sep+"b"+sep+"c"))
		expectLen(t, s, 4, fmt.Sprintf("four distinct (client, key) pairs built with separator %q", sep))
	}
}

// --------------------------------------------------------------- failures

func TestAFailedHandlerStoresNothingSoTheNextRetryRunsAgain(t *testing.T) {
	s := newStore(t, newFakeClock())
	boom := errors.New("payment provider unavailable")
	var runs int64
	handler := func() (string, error) {
		if atomic.AddInt64(&runs, 1) == 1 {
			return "", boom
		}
		return fmt.Sprintf("charge-%d", atomic.LoadInt64(&runs)), nil
	}
	if got, err := s.Execute("client-1", "key-1", "amount=100", handler); !errors.Is(err, boom) {
		t.Fatalf("first attempt: expected the handler's error %v, got response %q and error %v", boom, got, err)
	}
	expectLen(t, s, 0, "after a failed attempt nothing is stored")
	expectResponse(t, s, "client-1", "key-1", "amount=100", handler, "charge-2", "the retry after a failure runs the handler again")
	expectResponse(t, s, "client-1", "key-1", "amount=100", handler, "charge-2", "once a retry succeeded its response is replayed")
	if got := atomic.LoadInt64(&runs); got != 2 {
		t.Fatalf("expected the handler to run twice (failed, then succeeded), ran %d times", got)
	}
}

func TestTheHandlersErrorIsReturnedToTheCallerUnchanged(t *testing.T) {
	s := newStore(t, newFakeClock())
	boom := errors.New("card declined")
	got, err := s.Execute("client-1", "key-1", "amount=100", func() (string, error) { return "", boom })
	if err != boom {
		t.Fatalf("expected exactly the handler's error %v, got response %q and error %v", boom, got, err)
	}
	if errors.Is(err, ErrConflict) {
		t.Fatalf("a handler failure must not be reported as ErrConflict")
	}
}

func TestAFailedAttemptDoesNotReserveItsPayload(t *testing.T) {
	s := newStore(t, newFakeClock())
	boom := errors.New("timeout")
	if _, err := s.Execute("client-1", "key-1", "amount=100", func() (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("first attempt: expected the handler's error %v, got %v", boom, err)
	}
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", "amount=200", c.handler(), "charge-1",
		"after a failed attempt the key is free, so a different payload runs (no conflict)")
	expectConflict(t, s, "client-1", "key-1", "amount=100", "now the key is bound to the successful payload")
}

// -------------------------------------------------------------------- TTL

func TestAStoredResponseIsReplayedUntilOneMillisecondBeforeTheTTL(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "first request at t=+0")
	clock.Advance(ttl - 1)
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "replay at "+clock.describe()+" (TTL is 60000ms)")
	expectConflict(t, s, "client-1", "key-1", "amount=999", "different payload at "+clock.describe())
	expectCount(t, c, 1, "replays before the TTL")
}

func TestAtExactlyTheTTLTheKeyHasExpiredAndTheHandlerRunsAgain(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "first request at t=+0")
	clock.Advance(ttl)
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-2", "request at "+clock.describe()+" after the 60000ms TTL")
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-2", "the new response is stored again")
	expectCount(t, c, 2, "one run before and one after expiry")
}

func TestAnExpiredKeyCanBeReusedWithADifferentPayload(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "first request")
	clock.Advance(ttl + 5_000)
	expectResponse(t, s, "client-1", "key-1", "amount=999", c.handler(), "charge-2", "different payload after expiry is a new request, not a conflict")
	expectConflict(t, s, "client-1", "key-1", "amount=100", "the old payload now conflicts with the new one")
}

func TestTheTTLIsMeasuredFromWhenTheResponseWasStored(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	var runs int64
	slow := func() (string, error) {
		n := atomic.AddInt64(&runs, 1)
		clock.Advance(10_000) // the handler takes 10 seconds
		return fmt.Sprintf("charge-%d", n), nil
	}
	expectResponse(t, s, "client-1", "key-1", "amount=100", slow, "charge-1", "request started at t=+0, stored at t=+10000ms")
	clock.Advance(ttl - 10_000) // now start+TTL, but only 50s after the response was stored
	expectResponse(t, s, "client-1", "key-1", "amount=100", slow, "charge-1", "replay at "+clock.describe()+": 50s after the response was stored")
	clock.Advance(10_000 - 1)
	expectResponse(t, s, "client-1", "key-1", "amount=100", slow, "charge-1", "replay at "+clock.describe()+": 1ms before stored time + TTL")
	clock.Advance(1)
	expectResponse(t, s, "client-1", "key-1", "amount=100", slow, "charge-2", "request at "+clock.describe()+": exactly stored time + TTL, so expired")
}

func TestEachKeyExpiresOnItsOwnSchedule(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	c := &charges{}
	expectResponse(t, s, "client-1", "early", "p", c.handler(), "charge-1", "key 'early' stored at t=+0")
	clock.Advance(30_000)
	expectResponse(t, s, "client-1", "late", "p", c.handler(), "charge-2", "key 'late' stored at t=+30000ms")
	clock.Advance(30_000)
	expectLen(t, s, 1, "at t=+60000ms only 'late' is held")
	expectResponse(t, s, "client-1", "late", "p", c.handler(), "charge-2", "key 'late' at t=+60000ms is still stored")
	expectResponse(t, s, "client-1", "early", "p", c.handler(), "charge-3", "key 'early' at t=+60000ms has expired")
	clock.Advance(30_000)
	expectResponse(t, s, "client-1", "late", "p", c.handler(), "charge-4", "key 'late' at t=+90000ms has expired")
	expectResponse(t, s, "client-1", "early", "p", c.handler(), "charge-3", "key 'early' (stored again at t=+60000ms) is still stored at t=+90000ms")
}

func TestAKeyInFlightNeverExpires(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan outcome, 1)
	go func() {
		r, err := s.Execute("client-1", "key-1", "amount=100", func() (string, error) {
			close(started)
			<-release
			return "charge-1", nil
		})
		first <- outcome{r, err}
	}()
	if !within(func() { <-started }) {
		t.Fatal("expected the handler of the first request to start, it did not")
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	clock.Advance(2 * ttl)
	expectLen(t, s, 1, "a key in flight for twice the TTL is still held")
	var got outcome
	if !within(func() {
		r, err := s.Execute("client-1", "key-1", "amount=999", mustNotRun(t, "the key is in flight"))
		got = outcome{r, err}
	}) {
		t.Fatal("a conflicting request for a key in flight must fail at once, but it was still blocked after 2s")
	}
	if !errors.Is(got.err, ErrConflict) {
		t.Fatalf("a different payload for a key in flight for twice the TTL: expected ErrConflict, got response %q error %v", got.response, got.err)
	}
	close(release)
	r := <-first
	if r.err != nil || r.response != "charge-1" {
		t.Fatalf("the first request: expected response \"charge-1\", got %q error %v", r.response, r.err)
	}
	// Stored at t=+120000ms: kept until t=+180000ms.
	clock.Advance(ttl - 1)
	expectResponse(t, s, "client-1", "key-1", "amount=100", mustNotRun(t, "response stored 59999ms ago"), "charge-1",
		"replay at "+clock.describe()+", 1ms before the response (stored when the handler finished at t=+120000ms) expires")
}

// ----------------------------------------------------------- Len / memory

func TestLenCountsKeysInFlightAndStoredResponses(t *testing.T) {
	s := newStore(t, newFakeClock())
	expectLen(t, s, 0, "a new store")
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Execute("client-1", "in-flight", "p", func() (string, error) { close(started); <-release; return "ok", nil })
	}()
	if !within(func() { <-started }) {
		t.Fatal("expected the handler to start, it did not")
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	expectLen(t, s, 1, "one key in flight")
	var other outcome
	if !within(func() { r, err := s.Execute("client-1", "stored", "p", okHandler); other = outcome{r, err} }) {
		t.Fatal("a request for another key was blocked for 2s while the first key was in flight")
	}
	if other.err != nil || other.response != "ok" {
		t.Fatalf("another key while the first is in flight: expected \"ok\", got %q error %v", other.response, other.err)
	}
	expectLen(t, s, 2, "one key in flight and one stored")
	close(release)
	<-done
	expectLen(t, s, 2, "two stored keys")
	s.Execute("client-1", "failing", "p", func() (string, error) { return "", errors.New("boom") })
	expectLen(t, s, 2, "a failed request is not held")
}

func TestExpiredKeysAreDroppedFromTheStore(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	c := &charges{}
	for i := 0; i < 1000; i++ {
		s.Execute("client-1", fmt.Sprintf("key-%d", i), "p", c.handler())
	}
	expectLen(t, s, 1000, "1000 keys stored at t=+0")
	clock.Advance(ttl - 1)
	expectLen(t, s, 1000, "at t=+59999ms no key has expired")
	clock.Advance(1)
	expectLen(t, s, 0, "at t=+60000ms every key has expired, even with no request in between")
	expectResponse(t, s, "client-1", "new", "p", c.handler(), "charge-1001", "a new key after expiry")
	expectLen(t, s, 1, "only the new key is held")
}

func TestMemoryStaysBoundedUnderARollingWorkload(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, clock)
	c := &charges{}
	// One new key per second, each kept 60 seconds: at most 60 are ever held.
	for i := 0; i < 3000; i++ {
		if i > 0 {
			clock.Advance(1_000)
		}
		s.Execute("client-1", fmt.Sprintf("key-%d", i), "p", c.handler())
		want := i + 1
		if want > 60 {
			want = 60
		}
		if got := s.Len(); got != want {
			t.Fatalf("after %d requests one second apart with a 60s TTL: expected Len() = %d, got %d", i+1, want, got)
		}
	}
}

func heapAllocAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestMemoryHeldByTheStoreDoesNotGrowWhileKeysKeepExpiring(t *testing.T) {
	const windows, perWindow = 10, 2000
	clock := newFakeClock()
	s := newStore(t, clock)
	var baseline uint64
	for w := 0; w < windows; w++ {
		for i := 0; i < perWindow; i++ {
			key := fmt.Sprintf("w%d-key-%d", w, i)
			s.Execute("client-1", key, "amount=100", func() (string, error) { return "response-for-" + key + strings.Repeat("r", 80), nil })
		}
		if n := s.Len(); n != perWindow {
			t.Fatalf("window %d: expected Len() = %d after storing %d new keys, got %d", w, perWindow, perWindow, n)
		}
		clock.Advance(ttl) // every key of this window expires
		if n := s.Len(); n != 0 {
			t.Fatalf("window %d: expected Len() = 0 once all its keys expired, got %d", w, n)
		}
		if w == 1 {
			baseline = heapAllocAfterGC()
		}
	}
	grown := int64(heapAllocAfterGC()) - int64(baseline)
	runtime.KeepAlive(s) // the store must still be alive when the heap is measured
	if grown > 1<<20 {
		t.Fatalf("expected the memory held by the store to stay flat while keys keep expiring, but it grew by %d KB "+
			"over %d more windows of %d expired keys: are expired entries still referenced somewhere (a queue, a map of locks)?",
			grown>>10, windows-2, perWindow)
	}
}

// --------------------------------------------------------------- complexity

// costRatio runs the same work on small stores (10 keys) and on a big store
// (10,000 keys) a few times and returns the ratio of their best times: noise only
// ever slows a run down, so the fastest run of each is the closest to its true cost.
// work may stop once it has spent more than budget: the big store gets 50x the small
// store's time, far beyond the 10x allowed, and two rounds over that budget end the
// measurement, so a hopelessly slow store fails quickly.
func costRatio(work func(target func(batch int) *Store, round int, budget time.Duration) time.Duration,
	newSmall func(round int) func(batch int) *Store, big *Store) (float64, time.Duration, time.Duration) {
	bestSmall, bestBig := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	overBudget := 0
	for round := 0; round < 7; round++ {
		if ds := work(newSmall(round), round, time.Duration(math.MaxInt64)); ds < bestSmall {
			bestSmall = ds
		}
		if bestSmall <= 0 {
			bestSmall = 1
		}
		db := work(func(int) *Store { return big }, round, 50*bestSmall)
		if db < bestBig {
			bestBig = db
		}
		if db > 50*bestSmall {
			overBudget++
		}
		if float64(bestBig)/float64(bestSmall) <= 3 || overBudget == 2 {
			break
		}
	}
	return float64(bestBig) / float64(bestSmall), bestSmall, bestBig
}

func okHandler() (string, error) { return "ok", nil }

func filledStore(t *testing.T, keys int) *Store {
	t.Helper()
	s := newStore(t, newFakeClock())
	for i := 0; i < keys; i++ {
		s.Execute("client-1", fmt.Sprintf("key-%d", i), "p", okHandler)
	}
	return s
}

func TestExecuteCostDoesNotGrowWithTheNumberOfStoredKeys(t *testing.T) {
	const batches, perBatch, rounds = 40, 50, 7
	big := filledStore(t, 10_000)
	newKeys := make([]string, rounds*batches*perBatch)
	for i := range newKeys {
		newKeys[i] = fmt.Sprintf("new-%d", i)
	}
	oldKeys := make([]string, 10)
	for i := range oldKeys {
		oldKeys[i] = fmt.Sprintf("key-%d", i)
	}
	// Each batch: 50 replays of stored keys and 50 requests with new keys.
	work := func(target func(batch int) *Store, round int, budget time.Duration) time.Duration {
		var total time.Duration
		for b := 0; b < batches && total <= budget; b++ {
			s := target(b)
			base := (round*batches + b) * perBatch
			t0 := time.Now()
			for i := 0; i < perBatch; i++ {
				s.Execute("client-1", oldKeys[i%10], "p", okHandler)
				s.Execute("client-1", newKeys[base+i], "p", okHandler)
			}
			total += time.Since(t0)
		}
		return total
	}
	// A fresh 10-key store for every batch, so a small store never exceeds 60 keys.
	newSmall := func(int) func(batch int) *Store {
		stores := make([]*Store, batches)
		for b := range stores {
			stores[b] = filledStore(t, 10)
		}
		return func(batch int) *Store { return stores[batch] }
	}
	ratio, ds, db := costRatio(work, newSmall, big)
	t.Logf("Execute: %v with 10,000 keys vs %v with 10 keys (%.2fx)", db, ds, ratio)
	expectResponse(t, big, "client-1", "key-9999", "p", mustNotRun(t, "key-9999 is stored"), "ok", "a replay on the big store")
	if n := big.Len(); n <= 10_000 {
		t.Fatalf("the big store should hold more than 10,000 keys after the measurements, holds %d", n)
	}
	if ratio > 10 {
		t.Fatalf("expected Execute to cost about the same with 10,000 stored keys as with 10 (at most 10x), "+
			"but it was %.1fx slower (%v vs %v for %d calls): is every call scanning all keys?", ratio, db, ds, 2*batches*perBatch)
	}
}

func TestLenCostDoesNotGrowWithTheNumberOfStoredKeys(t *testing.T) {
	const calls = 5000
	big := filledStore(t, 10_000)
	sink := 0
	work := func(target func(int) *Store, _ int, budget time.Duration) time.Duration {
		s := target(0)
		var total time.Duration
		for b := 0; b < calls/500 && total <= budget; b++ {
			t0 := time.Now()
			for i := 0; i < 500; i++ {
				sink += s.Len()
			}
			total += time.Since(t0)
		}
		return total
	}
	small := filledStore(t, 10)
	ratio, ds, db := costRatio(work, func(int) func(int) *Store { return func(int) *Store { return small } }, big)
	t.Logf("Len: %v with 10,000 keys vs %v with 10 keys (%.2fx)", db, ds, ratio)
	if ratio > 10 {
		t.Fatalf("expected Len() to cost about the same with 10,000 stored keys as with 10 (at most 10x), "+
			"but it was %.1fx slower (%v vs %v for %d calls): is it counting keys one by one?", ratio, db, ds, calls)
	}
	if sink == 0 {
		t.Fatal("Len() returned 0 for non-empty stores")
	}
}

// -------------------------------------------------------------- concurrency

func TestConcurrentDuplicatesRunTheHandlerExactlyOnceAndAllGetTheSameResponse(t *testing.T) {
	const callers, rounds = 64, 20
	s := newStore(t, newFakeClock())
	for round := 0; round < rounds; round++ {
		key := fmt.Sprintf("order-%d", round)
		var runs, arrived int32
		handler := func() (string, error) {
			n := atomic.AddInt32(&runs, 1)
			// Stay in flight until every caller has called Execute.
			spinUntil(func() bool { return atomic.LoadInt32(&arrived) == callers })
			for i := 0; i < 50; i++ {
				runtime.Gosched()
			}
			return fmt.Sprintf("%s-charge-%d", key, n), nil
		}
		gate := make(chan struct{})
		results := make([]outcome, callers)
		var wg sync.WaitGroup
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-gate
				atomic.AddInt32(&arrived, 1)
				r, err := s.Execute("client-1", key, "amount=100", handler)
				results[i] = outcome{r, err}
			}(i)
		}
		close(gate)
		if !waitGroupWithin(&wg) {
			t.Fatalf("round %d: %d concurrent duplicates did not all return within 2s (deadlock?)", round, callers)
		}
		if got := atomic.LoadInt32(&runs); got != 1 {
			t.Fatalf("round %d: expected the handler to run exactly once for %d concurrent duplicates, but it ran %d times", round, callers, got)
		}
		want := key + "-charge-1"
		for i, r := range results {
			if r.err != nil || r.response != want {
				t.Fatalf("round %d: caller %d expected response %q, got %q error %v", round, i, want, r.response, r.err)
			}
		}
	}
	expectLen(t, s, rounds, "one stored key per round")
}

func TestConcurrentRequestsForManyKeysRunEachHandlerExactlyOnce(t *testing.T) {
	const keys, perKey = 16, 4
	s := newStore(t, newFakeClock())
	var runs [keys]int32
	var arrived int32
	gate := make(chan struct{})
	results := make([]outcome, keys*perKey)
	var wg sync.WaitGroup
	for i := 0; i < keys*perKey; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := i % keys
			client := fmt.Sprintf("client-%d", k%4)
			key := fmt.Sprintf("key-%d", k)
			<-gate
			atomic.AddInt32(&arrived, 1)
			r, err := s.Execute(client, key, fmt.Sprintf("amount=%d", k), func() (string, error) {
				n := atomic.AddInt32(&runs[k], 1)
				spinUntil(func() bool { return atomic.LoadInt32(&arrived) == keys*perKey })
				runtime.Gosched()
				return fmt.Sprintf("%s/%s-run-%d", client, key, n), nil
			})
			results[i] = outcome{r, err}
		}(i)
	}
	close(gate)
	if !waitGroupWithin(&wg) {
		t.Fatalf("%d concurrent requests did not all return within 2s (deadlock?)", keys*perKey)
	}
	for k := 0; k < keys; k++ {
		if got := atomic.LoadInt32(&runs[k]); got != 1 {
			t.Fatalf("key-%d: expected its handler to run exactly once for %d concurrent duplicates, ran %d times", k, perKey, got)
		}
	}
	for i, r := range results {
		k := i % keys
		want := fmt.Sprintf("client-%d/key-%d-run-1", k%4, k)
		if r.err != nil || r.response != want {
			t.Fatalf("caller %d (key-%d): expected response %q, got %q error %v", i, k, want, r.response, r.err)
		}
	}
	expectLen(t, s, keys, "16 keys stored")
}

func TestADuplicateWithADifferentPayloadWhileInFlightIsAConflictNotAWait(t *testing.T) {
	s := newStore(t, newFakeClock())
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan outcome, 1)
	go func() {
		r, err := s.Execute("client-1", "key-1", "amount=100", func() (string, error) { close(started); <-release; return "charge-1", nil })
		first <- outcome{r, err}
	}()
	if !within(func() { <-started }) {
		t.Fatal("expected the handler of the first request to start, it did not")
	}
	var got outcome
	finished := within(func() {
		r, err := s.Execute("client-1", "key-1", "amount=999", mustNotRun(t, "the key is in flight with another payload"))
		got = outcome{r, err}
	})
	close(release)
	if !finished {
		t.Fatal("a different payload for a key in flight must be rejected at once, but the call was still blocked after 2s")
	}
	if !errors.Is(got.err, ErrConflict) {
		t.Fatalf("a different payload for a key in flight: expected ErrConflict, got response %q error %v", got.response, got.err)
	}
	if r := <-first; r.err != nil || r.response != "charge-1" {
		t.Fatalf("the first request: expected \"charge-1\", got %q error %v", r.response, r.err)
	}
}

func TestADuplicateWithTheSamePayloadWhileInFlightWaitsAndGetsTheSameResponse(t *testing.T) {
	const dups = 8
	s := newStore(t, newFakeClock())
	started, release := make(chan struct{}), make(chan struct{})
	var runs, arrived int32
	handler := func() (string, error) {
		n := atomic.AddInt32(&runs, 1)
		if n == 1 {
			close(started)
			<-release
		}
		return fmt.Sprintf("charge-%d", n), nil
	}
	results := make([]outcome, dups+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r, err := s.Execute("client-1", "key-1", "amount=100", handler)
		results[0] = outcome{r, err}
	}()
	if !within(func() { <-started }) {
		close(release)
		t.Fatal("expected the handler of the first request to start, it did not")
	}
	for i := 1; i <= dups; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			atomic.AddInt32(&arrived, 1)
			r, err := s.Execute("client-1", "key-1", "amount=100", handler)
			results[i] = outcome{r, err}
		}(i)
	}
	spinUntil(func() bool { return atomic.LoadInt32(&arrived) == dups })
	for i := 0; i < 200; i++ {
		runtime.Gosched()
	}
	close(release)
	if !waitGroupWithin(&wg) {
		t.Fatal("the duplicates did not return within 2s after the first request finished")
	}
	if got := atomic.LoadInt32(&runs); got != 1 {
		t.Fatalf("expected the handler to run once for a request and %d duplicates sent while it was in flight, ran %d times", dups, got)
	}
	for i, r := range results {
		if r.err != nil || r.response != "charge-1" {
			t.Fatalf("caller %d: expected \"charge-1\", got %q error %v", i, r.response, r.err)
		}
	}
}

func TestASlowHandlerForOneKeyDoesNotBlockOtherKeys(t *testing.T) {
	s := newStore(t, newFakeClock())
	slowStarted, fastRan := make(chan struct{}), make(chan struct{})
	slowResult := make(chan outcome, 1)
	go func() {
		r, err := s.Execute("client-1", "slow", "p", func() (string, error) {
			close(slowStarted)
			select {
			case <-fastRan:
				return "slow-done", nil
			case <-time.After(watchdog):
				return "", errors.New("the handler for key 'fast' never ran while 'slow' was in flight")
			}
		})
		slowResult <- outcome{r, err}
	}()
	if !within(func() { <-slowStarted }) {
		t.Fatal("expected the slow handler to start, it did not")
	}
	fastResult := make(chan outcome, 1)
	go func() {
		r, err := s.Execute("client-1", "fast", "p", func() (string, error) { close(fastRan); return "fast-done", nil })
		fastResult <- outcome{r, err}
	}()
	r := <-slowResult
	if r.err != nil || r.response != "slow-done" {
		t.Fatalf("expected the handler of key 'fast' to run while the handler of key 'slow' was in flight, "+
			"but it was blocked (slow request got %q, error %v): do not hold a lock while a handler runs", r.response, r.err)
	}
	if r := <-fastResult; r.err != nil || r.response != "fast-done" {
		t.Fatalf("key 'fast': expected \"fast-done\", got %q error %v", r.response, r.err)
	}
}

func TestWhenAnInFlightHandlerFailsEveryDuplicateGetsTheErrorAndTheNextRetryRunsAgain(t *testing.T) {
	const callers = 32
	s := newStore(t, newFakeClock())
	boom := errors.New("upstream timeout")
	var runs, arrived int32
	failing := func() (string, error) {
		atomic.AddInt32(&runs, 1)
		spinUntil(func() bool { return atomic.LoadInt32(&arrived) == callers })
		for i := 0; i < 50; i++ {
			runtime.Gosched()
		}
		return "", boom
	}
	gate := make(chan struct{})
	results := make([]outcome, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			atomic.AddInt32(&arrived, 1)
			r, err := s.Execute("client-1", "key-1", "amount=100", failing)
			results[i] = outcome{r, err}
		}(i)
	}
	close(gate)
	if !waitGroupWithin(&wg) {
		t.Fatal("when the in-flight handler failed, its waiting duplicates did not return within 2s: waiters must be woken on failure too")
	}
	for i, r := range results {
		if !errors.Is(r.err, boom) {
			t.Fatalf("caller %d: expected the handler's error %v, got response %q error %v", i, boom, r.response, r.err)
		}
	}
	before := atomic.LoadInt32(&runs)
	expectLen(t, s, 0, "after the failed burst nothing is held")
	c := &charges{}
	expectResponse(t, s, "client-1", "key-1", "amount=100", c.handler(), "charge-1", "the retry after the failed burst runs the handler again")
	expectCount(t, c, 1, "the retry after the failed burst")
	if after := atomic.LoadInt32(&runs); after != before {
		t.Fatalf("the failing handler ran again after the burst: %d -> %d", before, after)
	}
}
