package circuitbreaker

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the tests move by hand. Times are milliseconds after
// epoch. It is lock-free so that it never serializes concurrent callers.
type fakeClock struct {
	offset atomic.Int64 // nanoseconds after epoch
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func newClock() *fakeClock { return &fakeClock{} }

func (c *fakeClock) Now() time.Time { return epoch.Add(time.Duration(c.offset.Load())) }

// Set moves the clock to ms milliseconds after epoch.
func (c *fakeClock) Set(ms int64) { c.offset.Store(int64(time.Duration(ms) * time.Millisecond)) }

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func config(failureThreshold int, windowMs, cooldownMs int64, halfOpenMaxCalls, successThreshold int) Config {
	return Config{
		FailureThreshold: failureThreshold,
		Window:           ms(windowMs),
		Cooldown:         ms(cooldownMs),
		HalfOpenMaxCalls: halfOpenMaxCalls,
		SuccessThreshold: successThreshold,
	}
}

// standard: threshold 3, window 1000 ms, cooldown 5000 ms, 2 trials, 2 successes.
func standard() Config { return config(3, 1000, 5000, 2, 2) }

func newBreaker(t *testing.T, cfg Config, clock Clock) *CircuitBreaker {
	t.Helper()
	b, err := New(cfg, clock)
	if err != nil {
		t.Fatalf("New(%+v) returned error %v, expected a breaker", cfg, err)
	}
	if b == nil {
		t.Fatalf("New(%+v) returned a nil breaker and no error", cfg)
	}
	return b
}

var errBoom = errors.New("boom: dependency failed")

func succeed() error { return nil }
func fail() error    { return errBoom }

// succeedAt sets the clock to atMs and makes a call that succeeds; the call must be admitted.
func succeedAt(t *testing.T, clock *fakeClock, b *CircuitBreaker, atMs int64) {
	t.Helper()
	clock.Set(atMs)
	ran := false
	err := b.Call(func() error { ran = true; return nil })
	if !ran || err != nil {
		t.Fatalf("at t=%d: expected a successful call to be admitted and return nil, got ran=%v err=%v", atMs, ran, err)
	}
}

// failAt sets the clock to atMs and makes a call that fails; the call must be admitted.
func failAt(t *testing.T, clock *fakeClock, b *CircuitBreaker, atMs int64) {
	t.Helper()
	clock.Set(atMs)
	ran := false
	err := b.Call(func() error { ran = true; return errBoom })
	if !ran || !errors.Is(err, errBoom) {
		t.Fatalf("at t=%d: expected a failing call to be admitted and return fn's error, got ran=%v err=%v", atMs, ran, err)
	}
}

// expectRejectedAt sets the clock to atMs and expects the call to be rejected without running fn.
func expectRejectedAt(t *testing.T, clock *fakeClock, b *CircuitBreaker, atMs int64) {
	t.Helper()
	clock.Set(atMs)
	ran := false
	err := b.Call(func() error { ran = true; return nil })
	if ran {
		t.Fatalf("at t=%d: expected the call to be rejected without running fn, but fn ran (state %v)", atMs, b.State())
	}
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("at t=%d: expected rejected call to return ErrOpen, got %v", atMs, err)
	}
}

func expectState(t *testing.T, b *CircuitBreaker, want State, when string) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("%s: expected state %v, got %v", when, want, got)
	}
}

func expectStats(t *testing.T, b *CircuitBreaker, want Stats) {
	t.Helper()
	if got := b.Stats(); got != want {
		t.Fatalf("expected stats %+v, got %+v", want, got)
	}
}

const guard = 2 * time.Second

// inflight is a call whose fn blocks until the test finishes it.
type inflight struct {
	release chan error
	done    chan error
}

// begin starts a call on another goroutine whose fn blocks. It returns the
// call if fn started (the call was admitted), or nil and Call's result if the
// call returned without running fn.
func begin(t *testing.T, b *CircuitBreaker) (*inflight, error) {
	t.Helper()
	c := &inflight{release: make(chan error, 1), done: make(chan error, 1)}
	entered := make(chan struct{})
	go func() {
		c.done <- b.Call(func() error {
			close(entered)
			return <-c.release
		})
	}()
	select {
	case <-entered:
		return c, nil
	case err := <-c.done:
		return nil, err
	case <-time.After(guard):
		t.Fatalf("a call neither ran fn nor returned within %v (is a lock held while fn runs?)", guard)
		return nil, nil
	}
}

// beginAdmitted starts a blocking call that must be admitted.
func beginAdmitted(t *testing.T, b *CircuitBreaker, what string) *inflight {
	t.Helper()
	c, err := begin(t, b)
	if c == nil {
		t.Fatalf("%s: expected the call to be admitted (fn to run), but it returned %v without running fn", what, err)
	}
	return c
}

// finish lets fn return result and waits for Call to return.
func (c *inflight) finish(t *testing.T, result error) error {
	t.Helper()
	c.release <- result
	select {
	case err := <-c.done:
		return err
	case <-time.After(guard):
		t.Fatalf("Call did not return within %v after fn returned", guard)
		return nil
	}
}
