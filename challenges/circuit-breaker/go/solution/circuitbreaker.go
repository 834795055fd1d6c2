// Package circuitbreaker implements a thread-safe circuit breaker with a
// rolling failure window, a cooldown and a bounded half-open trial phase.
package circuitbreaker

import (
	"errors"
	"sync"
	"time"
)

// Clock tells the breaker the current time. Keep this declaration.
type Clock interface {
	Now() time.Time
}

// State is the breaker's state.
type State int

const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	default:
		return "unknown"
	}
}

// ErrOpen is returned by Call, without running fn, when the call is rejected.
var ErrOpen = errors.New("circuit breaker is open")

// Config holds the breaker's parameters. Every field must be positive.
type Config struct {
	FailureThreshold int
	Window           time.Duration
	Cooldown         time.Duration
	HalfOpenMaxCalls int
	SuccessThreshold int
}

// Stats is a snapshot of the breaker's counters.
type Stats struct {
	Successes   uint64
	Failures    uint64
	Rejections  uint64
	TimesOpened uint64
}

// CircuitBreaker protects calls to a dependency. It is safe for concurrent use.
type CircuitBreaker struct {
	cfg   Config
	clock Clock

	mu             sync.Mutex
	state          State
	period         uint64      // incremented on every state change
	failures       []time.Time // failure times inside the window, oldest first
	openedAt       time.Time
	inFlight       int // half-open trials in flight in the current period
	trialSuccesses int
	stats          Stats
}

// New returns a closed breaker, or an error if cfg or clock is invalid.
func New(cfg Config, clock Clock) (*CircuitBreaker, error) {
	switch {
	case clock == nil:
		return nil, errors.New("circuitbreaker: clock is nil")
	case cfg.FailureThreshold < 1:
		return nil, errors.New("circuitbreaker: FailureThreshold must be at least 1")
	case cfg.Window <= 0:
		return nil, errors.New("circuitbreaker: Window must be positive")
	case cfg.Cooldown <= 0:
		return nil, errors.New("circuitbreaker: Cooldown must be positive")
	case cfg.HalfOpenMaxCalls < 1:
		return nil, errors.New("circuitbreaker: HalfOpenMaxCalls must be at least 1")
	case cfg.SuccessThreshold < 1:
		return nil, errors.New("circuitbreaker: SuccessThreshold must be at least 1")
	}
	return &CircuitBreaker{cfg: cfg, clock: clock, state: Closed}, nil
}

// Call runs fn if the breaker admits it and records the outcome. It returns
// ErrOpen without running fn when the call is rejected, otherwise fn's error.
// If fn panics, the call counts as a failure and the panic continues.
func (b *CircuitBreaker) Call(fn func() error) (err error) {
	period, ok := b.admit()
	if !ok {
		return ErrOpen
	}
	finished := false
	defer func() {
		if !finished { // fn panicked
			b.complete(period, false)
		}
	}()
	err = fn()
	finished = true
	b.complete(period, err == nil)
	return err
}

// State returns the current state, half-opening first if the cooldown is over.
func (b *CircuitBreaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refresh(b.clock.Now())
	return b.state
}

// Stats returns a snapshot of the counters.
func (b *CircuitBreaker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

func (b *CircuitBreaker) admit() (period uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refresh(b.clock.Now())
	switch b.state {
	case Closed:
		return b.period, true
	case HalfOpen:
		if b.inFlight < b.cfg.HalfOpenMaxCalls {
			b.inFlight++
			return b.period, true
		}
	}
	b.stats.Rejections++
	return 0, false
}

func (b *CircuitBreaker) complete(period uint64, success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if success {
		b.stats.Successes++
	} else {
		b.stats.Failures++
	}
	if period != b.period {
		return // admitted in an earlier period: counted, otherwise ignored
	}
	switch b.state {
	case Closed:
		if success {
			return
		}
		cutoff := now.Add(-b.cfg.Window)
		for len(b.failures) > 0 && !b.failures[0].After(cutoff) {
			b.failures[0] = time.Time{}
			b.failures = b.failures[1:]
		}
		b.failures = append(b.failures, now)
		if len(b.failures) >= b.cfg.FailureThreshold {
			b.open(now)
		}
	case HalfOpen:
		b.inFlight--
		if !success {
			b.open(now)
			return
		}
		b.trialSuccesses++
		if b.trialSuccesses >= b.cfg.SuccessThreshold {
			b.setState(Closed)
		}
	}
}

// refresh half-opens an open breaker whose cooldown has elapsed.
func (b *CircuitBreaker) refresh(now time.Time) {
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.Cooldown)) {
		b.setState(HalfOpen)
	}
}

func (b *CircuitBreaker) open(now time.Time) {
	b.openedAt = now
	b.stats.TimesOpened++
	b.setState(Open)
}

func (b *CircuitBreaker) setState(s State) {
	b.state = s
	b.period++
	b.failures = nil
	b.inFlight = 0
	b.trialSuccesses = 0
}
