// Package ratelimiter is a sliding-window rate limiter for an API gateway.
package ratelimiter

// Clock returns the current time in milliseconds. It never goes backwards.
type Clock interface {
	NowMillis() int64
}

// RateLimiter admits or rejects requests per client. It must be safe for
// concurrent use by many goroutines.
type RateLimiter struct {
	clock Clock
	// TODO: your state
}

// NewRateLimiter gives every client defaultLimit requests per
// defaultWindowMillis milliseconds unless it has an override. It returns an
// error if the limit or the window is < 1.
func NewRateLimiter(clock Clock, defaultLimit int, defaultWindowMillis int64) (*RateLimiter, error) {
	// TODO
	return &RateLimiter{clock: clock}, nil
}

// SetClientLimit overrides the limit and window of one client and clears its
// history. It returns an error if the limit or the window is < 1.
func (l *RateLimiter) SetClientLimit(clientID string, limit int, windowMillis int64) error {
	// TODO
	return nil
}

// Allow admits the request (true) if fewer than limit of the client's admitted
// requests lie in (now - window, now], recording it; otherwise it returns false.
func (l *RateLimiter) Allow(clientID string) bool {
	// TODO
	return false
}

// TrackedClients returns the number of clients with at least one admitted
// request inside their window.
func (l *RateLimiter) TrackedClients() int {
	// TODO
	return 0
}
