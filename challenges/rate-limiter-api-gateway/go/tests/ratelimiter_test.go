package ratelimiter

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) NowMillis() int64 { return c.now.Load() }
func (c *fakeClock) set(t int64)      { c.now.Store(t) }
func (c *fakeClock) advance(d int64)  { c.now.Add(d) }

func verdict(admitted bool) string {
	if admitted {
		return "admitted (true)"
	}
	return "rejected (false)"
}

type harness struct {
	t       *testing.T
	clock   *fakeClock
	limiter *RateLimiter
}

func newLimiter(t *testing.T, clock Clock, limit int, window int64) *RateLimiter {
	t.Helper()
	l, err := NewRateLimiter(clock, limit, window)
	if err != nil || l == nil {
		t.Fatalf("NewRateLimiter(clock, %d, %d): expected a limiter and no error, got %v and error %v", limit, window, l, err)
	}
	return l
}

// newHarness uses the default limits of most tests: 5 requests per 1000 ms unless given.
func newHarness(t *testing.T, limitAndWindow ...int) *harness {
	t.Helper()
	limit, window := 5, int64(1000)
	if len(limitAndWindow) == 2 {
		limit, window = limitAndWindow[0], int64(limitAndWindow[1])
	}
	clock := &fakeClock{}
	return &harness{t: t, clock: clock, limiter: newLimiter(t, clock, limit, window)}
}

// expect calls Allow(client) at time at once per expected verdict.
func (h *harness) expect(at int64, client string, want ...bool) {
	h.t.Helper()
	h.clock.set(at)
	for i, w := range want {
		if got := h.limiter.Allow(client); got != w {
			h.t.Fatalf("Allow(%q) call #%d at t=%d ms: expected %s, got %v", client, i+1, at, verdict(w), got)
		}
	}
}

func (h *harness) expectTracked(at int64, want int) {
	h.t.Helper()
	h.clock.set(at)
	if got := h.limiter.TrackedClients(); got != want {
		h.t.Fatalf("TrackedClients() at t=%d ms: expected %d, got %d", at, want, got)
	}
}

func (h *harness) setLimit(at int64, client string, limit int, window int64) {
	h.t.Helper()
	h.clock.set(at)
	if err := h.limiter.SetClientLimit(client, limit, window); err != nil {
		h.t.Fatalf("SetClientLimit(%q, %d, %d) at t=%d ms: expected no error, got %v", client, limit, window, at, err)
	}
}

func times(n int, v bool) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func fiveThenReject() []bool { return append(times(5, true), false) }

// ---- sliding window ----

func TestAdmitsRequestsUpToTheLimitThenRejects(t *testing.T) {
	h := newHarness(t)
	for at := int64(0); at < 5; at++ {
		h.expect(at, "a", true)
	}
	h.expect(5, "a", false)
	h.expect(999, "a", false)
}

func TestSeveralRequestsInTheSameMillisecondEachCount(t *testing.T) {
	h := newHarness(t)
	h.expect(100, "a", fiveThenReject()...)
	h.expect(1099, "a", false)
	h.expect(1100, "a", fiveThenReject()...)
}

func TestARequestExactlyOneWindowLaterIsAdmitted(t *testing.T) {
	h := newHarness(t, 1, 1000)
	h.expect(0, "a", true)
	h.expect(1000, "a", true)
	h.expect(2000, "a", true)
}

func TestARequestOneMillisecondBeforeTheWindowEndsIsRejected(t *testing.T) {
	h := newHarness(t, 1, 1000)
	h.expect(0, "a", true)
	h.expect(999, "a", false)
	h.expect(1000, "a", true)
	h.expect(1999, "a", false)
}

func TestTheWindowSlidesInsteadOfResettingAtFixedBoundaries(t *testing.T) {
	h := newHarness(t)
	h.expect(900, "a", times(5, true)...)
	h.expect(1000, "a", false)
	h.expect(1500, "a", false)
	h.expect(1899, "a", false)
	h.expect(1900, "a", fiveThenReject()...)
}

func TestOldRequestsLeaveTheWindowOneAtATime(t *testing.T) {
	h := newHarness(t, 3, 1000)
	h.expect(0, "a", true)
	h.expect(400, "a", true)
	h.expect(800, "a", true)
	h.expect(999, "a", false)
	h.expect(1000, "a", true)
	h.expect(1001, "a", false)
	h.expect(1399, "a", false)
	h.expect(1400, "a", true)
	h.expect(1799, "a", false)
	h.expect(1800, "a", true, false)
}

func TestRejectedRequestsDoNotCountAgainstTheLimit(t *testing.T) {
	h := newHarness(t, 2, 1000)
	h.expect(0, "a", true, true)
	h.expect(500, "a", false, false, false)
	h.expect(1000, "a", true, true, false)
	h.expect(1999, "a", false)
	h.expect(2000, "a", true)
}

// ---- per-client limits ----

func TestClientsAreLimitedIndependently(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "a", fiveThenReject()...)
	h.expect(0, "b", fiveThenReject()...)
	h.expect(10, "a", false)
	h.expect(10, "c", true)
}

func TestAnOverrideChangesTheLimitForThatClientOnly(t *testing.T) {
	h := newHarness(t)
	h.setLimit(0, "premium", 10, 1000)
	h.expect(0, "premium", append(times(10, true), false)...)
	h.expect(0, "basic", fiveThenReject()...)
	h.expect(1000, "premium", append(times(10, true), false)...)
}

func TestAnOverrideCanUseALongerWindow(t *testing.T) {
	h := newHarness(t)
	h.setLimit(0, "batch", 2, 60_000)
	h.expect(0, "batch", true, true, false)
	h.expect(0, "web", fiveThenReject()...)
	h.expect(1000, "web", fiveThenReject()...)
	h.expect(1000, "batch", false)
	h.expect(59_999, "batch", false)
	h.expect(60_000, "batch", true, true, false)
}

func TestChangingAnOverrideStartsTheClientInAFreshWindow(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "x", fiveThenReject()...)
	h.expect(0, "y", fiveThenReject()...)
	h.setLimit(10, "x", 3, 1000)
	h.expect(10, "x", true, true, true, false)
	h.expect(10, "y", false) // other clients keep their history
	h.setLimit(20, "x", 3, 1000)
	h.expect(20, "x", true, true, true, false)
	h.expect(1019, "x", false)
	h.expect(1020, "x", true, true, true, false)
}

func TestAnOverrideStillAppliesAfterTheClientWasIdle(t *testing.T) {
	h := newHarness(t)
	h.setLimit(0, "vip", 2, 1000)
	h.expect(0, "vip", true, true, false)
	h.expectTracked(5000, 0)
	h.expect(5000, "vip", true, true, false)
}

func TestInvalidLimitsAndWindowsAreRejected(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		limit  int
		window int64
	}{{0, 1000}, {-1, 1000}, {5, 0}, {5, -1000}} {
		if l, err := NewRateLimiter(h.clock, c.limit, c.window); err == nil || l != nil {
			t.Errorf("NewRateLimiter(clock, %d, %d): expected a nil limiter and an error, got %v and error %v", c.limit, c.window, l, err)
		}
	}
	for _, c := range []struct {
		limit  int
		window int64
	}{{0, 1000}, {3, 0}} {
		if err := h.limiter.SetClientLimit("a", c.limit, c.window); err == nil {
			t.Errorf("SetClientLimit(\"a\", %d, %d): expected an error, got nil", c.limit, c.window)
		}
	}
	// the rejected overrides changed nothing: "a" still has the default 5 per 1000 ms
	h.expect(0, "a", fiveThenReject()...)
}

// ---- releasing idle clients ----

func TestNoClientsAreTrackedBeforeAnyRequest(t *testing.T) {
	h := newHarness(t)
	h.expectTracked(0, 0)
	h.setLimit(0, "a", 3, 1000)
	h.expectTracked(0, 0)
}

func TestEachClientWithRequestsInItsWindowIsCountedOnce(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "a", true, true, true)
	h.expect(0, "b", true)
	h.expect(0, "c", true, true, true, true, true, false, false)
	h.expectTracked(0, 3)
}

func TestAClientIsReleasedExactlyWhenItsWindowBecomesEmpty(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "a", true)
	h.expect(500, "b", true)
	h.expectTracked(999, 2)
	h.expectTracked(1000, 1)
	h.expectTracked(1499, 1)
	h.expectTracked(1500, 0)
}

func TestARejectedRequestDoesNotKeepAClientTracked(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "c", times(5, true)...)
	h.expect(600, "c", false, false)
	h.expectTracked(999, 1)
	h.expectTracked(1000, 0)
}

func TestClientsWithDifferentWindowsAreReleasedIndependently(t *testing.T) {
	h := newHarness(t)
	h.setLimit(0, "long", 1, 10_000)
	h.expect(0, "long", true)
	h.expect(100, "short", true)
	h.expectTracked(1099, 2)
	h.expectTracked(1100, 1)
	h.expect(2000, "short", true)
	h.expectTracked(2999, 2)
	h.expectTracked(3000, 1)
	h.expectTracked(9999, 1)
	h.expectTracked(10_000, 0)
}

func TestAReturningClientGetsItsFullLimitAgain(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "a", fiveThenReject()...)
	h.expectTracked(1000, 0)
	h.expect(5000, "a", fiveThenReject()...)
	h.expectTracked(5000, 1)
}

func TestChangingAnOverrideReleasesTheClientsHistory(t *testing.T) {
	h := newHarness(t)
	h.expect(0, "a", true)
	h.expectTracked(0, 1)
	h.setLimit(0, "a", 2, 1000)
	h.expectTracked(0, 0)
}

func TestTenThousandIdleClientsAreAllReleased(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 10_000; i++ {
		h.expect(int64(i/10), fmt.Sprintf("client-%d", i), true) // ten clients per millisecond, t = 0 .. 999
	}
	h.expectTracked(999, 10_000)
	h.expectTracked(1000, 9990)
	h.expectTracked(1500, 4990)
	h.expectTracked(1998, 10)
	h.expectTracked(1999, 0)
	h.expect(2000, "client-0", true)
	h.expectTracked(2000, 1)
}

// ---- concurrency ----

// runGoroutines starts n goroutines together and waits for all of them.
func runGoroutines(n int, body func(g int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(n)
	for g := 0; g < n; g++ {
		go func(g int) {
			defer done.Done()
			start.Wait()
			body(g)
		}(g)
	}
	start.Done()
	done.Wait()
}

func TestConcurrentRequestsForOneClientNeverExceedTheLimit(t *testing.T) {
	limiter := newLimiter(t, &fakeClock{}, 99_000, 1000)
	const goroutines, calls = 8, 12_500
	var admitted atomic.Int64
	runGoroutines(goroutines, func(int) {
		for i := 0; i < calls; i++ {
			if limiter.Allow("hot") {
				admitted.Add(1)
			}
		}
	})
	if got := admitted.Load(); got != 99_000 {
		t.Fatalf("8 goroutines x 12500 calls with limit 99000: expected exactly 99000 admitted (no lost updates), got %d", got)
	}
	if limiter.Allow("hot") {
		t.Fatalf("expected the limit to be used up after the concurrent burst, but another request was admitted")
	}
}

func TestConcurrentFirstRequestsFromManyNewClientsLoseNoUpdates(t *testing.T) {
	limiter := newLimiter(t, &fakeClock{}, 1, 1000)
	const goroutines, clients = 8, 10_000
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%d", i)
	}
	admitted := make([][]bool, goroutines)
	runGoroutines(goroutines, func(g int) {
		mine := make([]bool, clients)
		for i, id := range ids { // every goroutine sends one request for each client, in the same order
			mine[i] = limiter.Allow(id)
		}
		admitted[g] = mine
	})
	wrong, example := 0, ""
	for i, id := range ids {
		n := 0
		for g := 0; g < goroutines; g++ {
			if admitted[g][i] {
				n++
			}
		}
		if n != 1 {
			if wrong == 0 {
				example = fmt.Sprintf("%s was admitted %d times", id, n)
			}
			wrong++
		}
	}
	if wrong > 0 {
		t.Fatalf("8 goroutines x 1 request for each of 10000 clients (limit 1): expected every client admitted exactly once, but %d were not (e.g. %s)", wrong, example)
	}
	if got := limiter.TrackedClients(); got != clients {
		t.Fatalf("expected %d tracked clients, got %d", clients, got)
	}
}

// ---- complexity: cost per call at size 10,000 vs size 10, measured in the same test ----

const (
	small, large = 10, 10_000
	maxRatio     = 10
	callsPerRun  = 1000
)

func costPerCall(run func(calls int)) time.Duration {
	start := time.Now()
	run(callsPerRun)
	return time.Since(start) / callsPerRun
}

func assertCostDoesNotGrow(t *testing.T, what string, makeRun func(n int) func(calls int)) {
	t.Helper()
	smallRun, largeRun := makeRun(small), makeRun(large)
	best := func(run func(int), trials int, stopBelow time.Duration) time.Duration {
		min := time.Duration(1 << 62)
		for i := 0; i < trials; i++ {
			if c := costPerCall(run); c < min {
				min = c
			}
			if min <= stopBelow {
				break
			}
		}
		return min
	}
	smallCost := best(smallRun, 7, 0)
	if smallCost <= 0 {
		smallCost = 1
	}
	largeCost := best(largeRun, 5, maxRatio*smallCost)
	t.Logf("%s: %v per call at size %d, %v at size %d", what, smallCost, small, largeCost, large)
	if largeCost > maxRatio*smallCost {
		t.Fatalf("%s: expected the cost per call at size %d to be at most %dx the cost at size %d, but it was %.0fx (%v vs %v) - is something scanned on every call?",
			what, large, maxRatio, small, float64(largeCost)/float64(smallCost), largeCost, smallCost)
	}
}

func TestAllowCostDoesNotGrowWithTheNumberOfClients(t *testing.T) {
	assertCostDoesNotGrow(t, "Allow() with many active clients", func(n int) func(int) {
		clock := &fakeClock{}
		limiter := newLimiter(t, clock, 1_000_000, 1_000_000_000)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("client-%d", i)
			limiter.Allow(ids[i])
		}
		next := 0
		return func(calls int) {
			for i := 0; i < calls; i++ {
				clock.advance(1)
				limiter.Allow(ids[next%n])
				next++
			}
		}
	})
}

func TestAllowCostDoesNotGrowWithRequestsInTheWindow(t *testing.T) {
	assertCostDoesNotGrow(t, "Allow() with many requests in the client's window", func(n int) func(int) {
		clock := &fakeClock{}
		limiter := newLimiter(t, clock, n, int64(n)) // one request per ms keeps exactly n requests in the window
		for at := 0; at < n; at++ {
			clock.set(int64(at))
			limiter.Allow("hot")
		}
		return func(calls int) {
			for i := 0; i < calls; i++ {
				clock.advance(1)
				if !limiter.Allow("hot") {
					t.Fatalf("expected a request at t=%d to be admitted: the one at t=%d just left the window (limit %d per %d ms)",
						clock.NowMillis(), clock.NowMillis()-int64(n), n, n)
				}
			}
		}
	})
}

func TestTrackedClientsCostDoesNotGrowWithTheNumberOfClients(t *testing.T) {
	assertCostDoesNotGrow(t, "TrackedClients() with many active clients", func(n int) func(int) {
		clock := &fakeClock{}
		limiter := newLimiter(t, clock, 5, 1_000_000_000)
		for i := 0; i < n; i++ {
			limiter.Allow(fmt.Sprintf("client-%d", i))
		}
		return func(calls int) {
			for i := 0; i < calls; i++ {
				clock.advance(1)
				limiter.TrackedClients()
			}
		}
	})
}

// ---- memory ----

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func TestMemoryStaysFlatWhileClientsComeAndGo(t *testing.T) {
	const clients = 10_000
	clock := &fakeClock{}
	limiter := newLimiter(t, clock, 5, 1000)
	serveRound := func(r int) {
		clock.set(int64(r) * 10_000) // every earlier round is idle by now
		for i := 0; i < clients; i++ {
			limiter.Allow(fmt.Sprintf("round-%d-client-%d", r, i))
		}
	}
	base := heapInUse()
	serveRound(1)
	oneRound := heapInUse() - base
	for r := 2; r <= 5; r++ {
		serveRound(r)
	}
	fiveRounds := heapInUse() - base
	t.Logf("heap held by the limiter: %d bytes after one round, %d bytes after five", oneRound, fiveRounds)
	if fiveRounds > oneRound*3/2 {
		t.Fatalf("after 5 rounds of %d clients that each go idle, expected the heap to stay near one round's (%d bytes), but it grew to %d bytes - idle clients are not released",
			clients, oneRound, fiveRounds)
	}
	if got := limiter.TrackedClients(); got != clients {
		t.Fatalf("expected only the last round's %d clients tracked, got %d", clients, got)
	}
}
