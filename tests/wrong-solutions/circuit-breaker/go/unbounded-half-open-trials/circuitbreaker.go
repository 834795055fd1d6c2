package circuitbreaker

import (
	"errors"
	"sync"
	"time"
)

type Clock interface {
	Now() time.Time
}

type State int

const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

var ErrOpen = errors.New("circuit breaker is open")

type Config struct {
	FailureThreshold int
	Window           time.Duration
	Cooldown         time.Duration
	HalfOpenMaxCalls int
	SuccessThreshold int
}

type Stats struct {
	Successes   uint64
	Failures    uint64
	Rejections  uint64
	TimesOpened uint64
}

func validate(cfg Config, clock Clock) error {
	if clock == nil || cfg.FailureThreshold < 1 || cfg.Window <= 0 || cfg.Cooldown <= 0 ||
		cfg.HalfOpenMaxCalls < 1 || cfg.SuccessThreshold < 1 {
		return errors.New("circuitbreaker: invalid config")
	}
	return nil
}

// Half-open lets every call through as a trial; it only counts successes.
type CircuitBreaker struct {
	cfg   Config
	clock Clock

	mu             sync.Mutex
	state          State
	gen            uint64
	failures       []time.Time
	openedAt       time.Time
	trialSuccesses int
	stats          Stats
}

func New(cfg Config, clock Clock) (*CircuitBreaker, error) {
	if err := validate(cfg, clock); err != nil {
		return nil, err
	}
	return &CircuitBreaker{cfg: cfg, clock: clock}, nil
}

func (b *CircuitBreaker) Call(fn func() error) error {
	b.mu.Lock()
	b.maybeHalfOpen(b.clock.Now())
	if b.state == Open {
		b.stats.Rejections++
		b.mu.Unlock()
		return ErrOpen
	}
	gen := b.gen
	b.mu.Unlock()

	ok := false
	defer func() {
		if !ok {
			b.record(gen, false)
		}
	}()
	err := fn()
	ok = true
	b.record(gen, err == nil)
	return err
}

func (b *CircuitBreaker) record(gen uint64, success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if success {
		b.stats.Successes++
	} else {
		b.stats.Failures++
	}
	if gen != b.gen {
		return
	}
	if b.state == HalfOpen {
		if !success {
			b.trip(now)
		} else if b.trialSuccesses++; b.trialSuccesses >= b.cfg.SuccessThreshold {
			b.moveTo(Closed)
		}
		return
	}
	if success {
		return
	}
	cutoff := now.Add(-b.cfg.Window)
	kept := b.failures[:0]
	for _, f := range b.failures {
		if f.After(cutoff) {
			kept = append(kept, f)
		}
	}
	b.failures = append(kept, now)
	if len(b.failures) >= b.cfg.FailureThreshold {
		b.trip(now)
	}
}

func (b *CircuitBreaker) maybeHalfOpen(now time.Time) {
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.Cooldown)) {
		b.moveTo(HalfOpen)
	}
}

func (b *CircuitBreaker) trip(now time.Time) {
	b.openedAt = now
	b.stats.TimesOpened++
	b.moveTo(Open)
}

func (b *CircuitBreaker) moveTo(s State) {
	b.state = s
	b.gen++
	b.failures = nil
	b.trialSuccesses = 0
}

func (b *CircuitBreaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeHalfOpen(b.clock.Now())
	return b.state
}

func (b *CircuitBreaker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}
