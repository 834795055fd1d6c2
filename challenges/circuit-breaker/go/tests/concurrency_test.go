package circuitbreaker

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentCallersNeverExceedTheTrialLimit(t *testing.T) {
	const callers, limit, rounds = 50, 3, 20
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, limit, limit), clock)
	failAt(t, clock, b, 0) // opens at 0

	for round := 1; round <= rounds; round++ {
		// The cooldown has just ended; 50 callers race for the 3 trial slots.
		clock.Set(int64(round) * 1000)
		last := round == rounds
		var entered int64
		arrived := make(chan string, callers)
		release := make(chan struct{})
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := b.Call(func() error {
					atomic.AddInt64(&entered, 1)
					arrived <- ""
					<-release
					if last {
						return nil
					}
					return errBoom
				})
				if err == nil || errors.Is(err, errBoom) {
					return // an admitted trial
				}
				if errors.Is(err, ErrOpen) {
					arrived <- ""
				} else {
					arrived <- fmt.Sprintf("unexpected error %v", err)
				}
			}()
		}
		close(start)
		timeout := time.After(guard)
		for n := 0; n < callers; n++ {
			select {
			case msg := <-arrived:
				if msg != "" {
					t.Fatalf("round %d: %s", round, msg)
				}
			case <-timeout:
				close(release)
				t.Fatalf("round %d: only %d of %d callers were admitted or rejected within %v", round, n, callers, guard)
			}
		}
		if got := atomic.LoadInt64(&entered); got != limit {
			close(release)
			t.Fatalf("round %d: expected exactly %d of %d racing callers to run as trials (HalfOpenMaxCalls %d), got %d", round, limit, callers, limit, got)
		}
		close(release) // all trials fail (the first re-opens the breaker), except in the last round
		wg.Wait()
	}
	expectState(t, b, Closed, fmt.Sprintf("after %d successful trials in the last round", limit))
	expectStats(t, b, Stats{
		Successes:   limit,
		Failures:    1 + (rounds-1)*limit,
		Rejections:  rounds * (callers - limit),
		TimesOpened: rounds,
	})
}

// hammer runs call perWorker times on each of workers goroutines, all released at once.
func hammer(workers, perWorker int, call func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < perWorker; i++ {
				call()
			}
		}()
	}
	close(start)
	wg.Wait()
}

func TestTrialsInFlightNeverExceedTheLimitUnderSustainedLoad(t *testing.T) {
	const workers, perWorker, limit = 8, 2000, 2
	clock := newClock()
	// Half-open forever: trials succeed but 10^9 successes are needed to close.
	b := newBreaker(t, config(1, 1000, 1000, limit, 1_000_000_000), clock)
	failAt(t, clock, b, 0)
	clock.Set(1000)
	var inFlight, maxInFlight, runs int64
	trial := func() error {
		n := atomic.AddInt64(&inFlight, 1)
		atomic.AddInt64(&runs, 1)
		for m := atomic.LoadInt64(&maxInFlight); n > m && !atomic.CompareAndSwapInt64(&maxInFlight, m, n); m = atomic.LoadInt64(&maxInFlight) {
		}
		runtime.Gosched() // let other callers run while this trial is in flight
		atomic.AddInt64(&inFlight, -1)
		return nil
	}
	hammer(workers, perWorker, func() {
		if err := b.Call(trial); err != nil && !errors.Is(err, ErrOpen) {
			t.Errorf("unexpected error %v", err)
		}
	})
	if maxInFlight > limit {
		t.Fatalf("expected at most %d trials in flight at once, saw %d", limit, maxInFlight)
	}
	expectState(t, b, HalfOpen, "trials keep succeeding but 10^9 successes are needed")
	expectStats(t, b, Stats{Successes: uint64(runs), Failures: 1, Rejections: workers*perWorker - uint64(runs), TimesOpened: 1})
}

func TestConcurrentCallsLoseNoCounterUpdates(t *testing.T) {
	const workers, perWorker = 8, 20000

	clock := newClock()
	closed := newBreaker(t, config(1, 1000, 1000, 1, 1), clock)
	hammer(workers, perWorker, func() { _ = closed.Call(succeed) })
	expectStats(t, closed, Stats{Successes: workers * perWorker})
	expectState(t, closed, Closed, "only successes")

	open := newBreaker(t, config(1, 1000, 1000, 1, 1), clock)
	failAt(t, clock, open, 0) // the clock stays at 0, so the breaker stays open
	hammer(workers, perWorker, func() { _ = open.Call(succeed) })
	expectStats(t, open, Stats{Failures: 1, Rejections: workers * perWorker, TimesOpened: 1})
}

func TestConcurrentFailuresTripTheBreakerExactlyOnce(t *testing.T) {
	const workers, perWorker, threshold = 8, 200, 100
	clock := newClock()
	b := newBreaker(t, config(threshold, 1000, 1000, 1, 1), clock)
	var ran int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < perWorker; i++ {
				_ = b.Call(func() error { atomic.AddInt64(&ran, 1); return errBoom })
			}
		}()
	}
	close(start)
	wg.Wait()
	s := b.Stats()
	if s.TimesOpened != 1 {
		t.Fatalf("expected the breaker to open exactly once, TimesOpened = %d", s.TimesOpened)
	}
	expectState(t, b, Open, "after the trip (the clock never moved)")
	if s.Failures != uint64(ran) {
		t.Fatalf("expected Failures to equal the %d runs of fn, got %d", ran, s.Failures)
	}
	if s.Failures < threshold || s.Failures+s.Rejections != workers*perWorker {
		t.Fatalf("expected at least %d failures and failures + rejections = %d, got %+v", threshold, workers*perWorker, s)
	}
}

// feeder feeds a breaker failures 10 ms apart: with a 10 ms window only 1 is
// ever inside it.
type feeder struct {
	clock *fakeClock
	b     *CircuitBreaker
	now   int64
}

func newFeeder(t *testing.T, history int) *feeder {
	clock := newClock()
	f := &feeder{clock: clock, b: newBreaker(t, config(3, 10, 1000, 1, 1), clock)}
	f.batch(history)
	return f
}

// batch makes n failing calls and returns the time they took.
func (f *feeder) batch(n int) time.Duration {
	began := time.Now()
	for i := 0; i < n; i++ {
		f.clock.Set(f.now)
		_ = f.b.Call(fail)
		f.now += 10
	}
	return time.Since(began)
}

func TestCallCostDoesNotGrowWithTheNumberOfPastFailures(t *testing.T) {
	newFeeder(t, 3000) // warm up
	small := newFeeder(t, 10)
	large := newFeeder(t, 10000)
	bestSmall, bestLarge := time.Duration(1<<62), time.Duration(1<<62)
	for round := 0; round < 15; round++ { // interleaved, so both see the same conditions
		if d := small.batch(200); d < bestSmall {
			bestSmall = d
		}
		if d := large.batch(200); d < bestLarge {
			bestLarge = d
		}
	}
	for _, f := range []*feeder{small, large} {
		if s := f.b.State(); s != Closed {
			t.Fatalf("expected the breaker to stay closed, got %v", s)
		}
	}
	perSmall, perLarge := bestSmall/200, bestLarge/200
	if perSmall <= 0 {
		perSmall = 1
	}
	if perLarge > 10*perSmall {
		t.Fatalf("expected a call after 10,000 expired failures to cost at most 10x a call after 10, got %v vs %v (%.1fx): are expired failures kept and scanned?",
			perLarge, perSmall, float64(perLarge)/float64(perSmall))
	}
}

func TestExpiredFailuresAreNotKeptInMemory(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(3, 10, 1000, 1, 1), clock)
	_ = b.Call(fail)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := int64(1); i <= 10000; i++ {
		clock.Set(i * 10)
		_ = b.Call(fail)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(b)
	if retained > 64<<10 {
		t.Fatalf("expected expired failures to be discarded (at most 2 failures are ever inside the window), but the heap grew by %d bytes after 10,000 failures", retained)
	}
}
