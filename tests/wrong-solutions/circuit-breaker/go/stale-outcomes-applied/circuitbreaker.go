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

// Outcomes are applied to whatever state the breaker is in when fn returns.
type CircuitBreaker struct {
	cfg   Config
	clock Clock

	mu        sync.Mutex
	state     State
	failures  []time.Time
	openedAt  time.Time
	inFlight  int
	successes int
	stats     Stats
}

func New(cfg Config, clock Clock) (*CircuitBreaker, error) {
	if err := validate(cfg, clock); err != nil {
		return nil, err
	}
	return &CircuitBreaker{cfg: cfg, clock: clock}, nil
}

func (b *CircuitBreaker) Call(fn func() error) error {
	if !b.allow() {
		return ErrOpen
	}
	ok := false
	defer func() {
		if !ok {
			b.onResult(false)
		}
	}()
	err := fn()
	ok = true
	b.onResult(err == nil)
	return err
}

func (b *CircuitBreaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refresh(b.clock.Now())
	switch b.state {
	case Closed:
		return true
	case HalfOpen:
		if b.inFlight < b.cfg.HalfOpenMaxCalls {
			b.inFlight++
			return true
		}
	}
	b.stats.Rejections++
	return false
}

func (b *CircuitBreaker) onResult(success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if success {
		b.stats.Successes++
	} else {
		b.stats.Failures++
	}
	switch b.state {
	case Closed:
		if success {
			return
		}
		cutoff := now.Add(-b.cfg.Window)
		for len(b.failures) > 0 && !b.failures[0].After(cutoff) {
			b.failures = b.failures[1:]
		}
		b.failures = append(b.failures, now)
		if len(b.failures) >= b.cfg.FailureThreshold {
			b.open(now)
		}
	case HalfOpen:
		if b.inFlight > 0 {
			b.inFlight--
		}
		if !success {
			b.open(now)
			return
		}
		b.successes++
		if b.successes >= b.cfg.SuccessThreshold {
			b.state = Closed
			b.failures = nil
		}
	}
}

func (b *CircuitBreaker) refresh(now time.Time) {
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.Cooldown)) {
		b.state = HalfOpen
		b.inFlight = 0
		b.successes = 0
	}
}

func (b *CircuitBreaker) open(now time.Time) {
	b.state = Open
	b.openedAt = now
	b.failures = nil
	b.stats.TimesOpened++
}

func (b *CircuitBreaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refresh(b.clock.Now())
	return b.state
}

func (b *CircuitBreaker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}
