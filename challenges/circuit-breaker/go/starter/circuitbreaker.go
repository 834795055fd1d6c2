// Package circuitbreaker implements a thread-safe circuit breaker.
// See the statement for the exact rules.
package circuitbreaker

import (
	"errors"
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
	FailureThreshold int           // failures within Window that trip the breaker
	Window           time.Duration // length of the rolling failure window
	Cooldown         time.Duration // how long the breaker stays open
	HalfOpenMaxCalls int           // trials in flight at the same time while half-open
	SuccessThreshold int           // successful trials that close the breaker
}

// Stats is a snapshot of the breaker's counters.
type Stats struct {
	Successes   uint64
	Failures    uint64
	Rejections  uint64
	TimesOpened uint64
}

// CircuitBreaker protects calls to a dependency. It must be safe for concurrent use.
type CircuitBreaker struct {
	// TODO: your fields
}

// New returns a closed breaker, or an error if a field of cfg is not
// positive or clock is nil.
func New(cfg Config, clock Clock) (*CircuitBreaker, error) {
	// TODO
	return &CircuitBreaker{}, nil
}

// Call runs fn if the breaker admits it and records the outcome. It returns
// ErrOpen without running fn when the call is rejected, otherwise fn's error.
// If fn panics, the call counts as a failure and the panic continues.
func (b *CircuitBreaker) Call(fn func() error) error {
	// TODO
	return errors.New("not implemented")
}

// State returns the current state, half-opening first if the cooldown is over.
func (b *CircuitBreaker) State() State {
	// TODO
	return Closed
}

// Stats returns a snapshot of the counters.
func (b *CircuitBreaker) Stats() Stats {
	// TODO
	return Stats{}
}
