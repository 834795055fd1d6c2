package circuitbreaker

import (
	"errors"
	"testing"
)

func TestNewBreakerIsClosedWithAllCountersAtZero(t *testing.T) {
	b := newBreaker(t, standard(), newClock())
	expectState(t, b, Closed, "new breaker")
	expectStats(t, b, Stats{})
}

func TestStateNamesAreClosedOpenAndHalfOpen(t *testing.T) {
	for state, want := range map[State]string{Closed: "closed", Open: "open", HalfOpen: "half-open"} {
		if got := state.String(); got != want {
			t.Errorf("expected State(%d).String() to be %q, got %q", int(state), want, got)
		}
	}
}

func TestSuccessfulCallRunsFnOnceAndCountsASuccess(t *testing.T) {
	b := newBreaker(t, standard(), newClock())
	runs := 0
	err := b.Call(func() error { runs++; return nil })
	if err != nil || runs != 1 {
		t.Fatalf("expected fn to run once and Call to return nil, got runs=%d err=%v", runs, err)
	}
	expectStats(t, b, Stats{Successes: 1})
	expectState(t, b, Closed, "after one success")
}

func TestFailingCallReturnsFnsOwnErrorAndCountsAFailure(t *testing.T) {
	b := newBreaker(t, standard(), newClock())
	err := b.Call(fail)
	if !errors.Is(err, errBoom) {
		t.Fatalf("expected Call to return fn's error %v, got %v", errBoom, err)
	}
	if errors.Is(err, ErrOpen) {
		t.Fatalf("a failure of fn must not be reported as ErrOpen")
	}
	expectStats(t, b, Stats{Failures: 1})
	expectState(t, b, Closed, "after one failure with threshold 3")
}

func TestInvalidConfigurationIsRejected(t *testing.T) {
	cases := map[string]Config{
		"FailureThreshold 0":  config(0, 1000, 5000, 2, 2),
		"Window 0":            config(3, 0, 5000, 2, 2),
		"Window negative":     config(3, -1000, 5000, 2, 2),
		"Cooldown 0":          config(3, 1000, 0, 2, 2),
		"HalfOpenMaxCalls 0":  config(3, 1000, 5000, 0, 2),
		"SuccessThreshold 0":  config(3, 1000, 5000, 2, 0),
		"SuccessThreshold -1": config(3, 1000, 5000, 2, -1),
	}
	for name, cfg := range cases {
		if _, err := New(cfg, newClock()); err == nil {
			t.Errorf("%s: expected New to return an error, got nil", name)
		}
	}
	if _, err := New(standard(), nil); err == nil {
		t.Errorf("nil clock: expected New to return an error, got nil")
	}
	if _, err := New(config(1, 1, 1, 1, 1), newClock()); err != nil {
		t.Errorf("all values 1: expected a valid breaker, got error %v", err)
	}
}

func TestBreakerTripsWhenFailuresInTheWindowReachTheThreshold(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 10)
	expectState(t, b, Closed, "after 2 of 3 failures")
	failAt(t, clock, b, 20)
	expectState(t, b, Open, "after 3 failures within 1000 ms (threshold 3)")
	expectStats(t, b, Stats{Failures: 3, TimesOpened: 1})
}

func TestFailureExactlyOneWindowOldNoLongerCounts(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 500)
	failAt(t, clock, b, 1000) // window is (0, 1000]: the failure at 0 is out
	expectState(t, b, Closed, "failures at 0, 500, 1000 with a 1000 ms window (only 2 inside (0, 1000])")
}

func TestFailureOneMillisecondInsideTheWindowStillCounts(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 500)
	failAt(t, clock, b, 999) // window is (-1, 999]: all three are in
	expectState(t, b, Open, "failures at 0, 500, 999 with a 1000 ms window (all 3 inside (-1, 999])")
}

func TestFailuresSpreadOutOverTimeNeverTripTheBreaker(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	for i := int64(0); i < 30; i++ {
		failAt(t, clock, b, i*600) // at most 2 failures in any 1000 ms window
	}
	expectState(t, b, Closed, "30 failures 600 ms apart (never 3 within 1000 ms)")
	expectStats(t, b, Stats{Failures: 30})
}

func TestWindowSlidesContinuouslyRatherThanResettingInBlocks(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 900)
	failAt(t, clock, b, 1000)
	expectState(t, b, Closed, "failures at 0, 900, 1000 (2 inside (0, 1000])")
	failAt(t, clock, b, 1100)
	expectState(t, b, Open, "failures at 900, 1000, 1100 are all inside (100, 1100]")
}

func TestSuccessesDoNotEraseEarlierFailures(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	succeedAt(t, clock, b, 100)
	failAt(t, clock, b, 200)
	succeedAt(t, clock, b, 300)
	succeedAt(t, clock, b, 400)
	failAt(t, clock, b, 500)
	expectState(t, b, Open, "3 failures within 1000 ms with successes in between (rolling window, not consecutive failures)")
	expectStats(t, b, Stats{Successes: 3, Failures: 3, TimesOpened: 1})
}

func TestFailureIsTimedWhenTheCallFinishesNotWhenItStarts(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(2, 1000, 5000, 1, 1), clock)
	failAt(t, clock, b, 0)
	clock.Set(500)
	err := b.Call(func() error {
		clock.Set(1000) // the call takes 500 ms and fails at t=1000
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("expected fn's error, got %v", err)
	}
	expectState(t, b, Closed, "failure finished at 1000: window (0, 1000] holds only 1 failure")
	failAt(t, clock, b, 1999)
	expectState(t, b, Open, "failures at 1000 and 1999 are inside (999, 1999]")
}

func TestOpenBreakerRejectsCallsWithoutRunningFn(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 1)
	failAt(t, clock, b, 2)
	for i := int64(0); i < 5; i++ {
		expectRejectedAt(t, clock, b, 10+i)
	}
	expectStats(t, b, Stats{Failures: 3, Rejections: 5, TimesOpened: 1})
	expectState(t, b, Open, "after rejected calls")
}

func TestBreakerStaysOpenUntilOneMillisecondBeforeTheCooldownEnds(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 50)
	failAt(t, clock, b, 100) // opens at 100, cooldown 5000 -> half-open at 5100
	expectRejectedAt(t, clock, b, 5099)
	expectState(t, b, Open, "at t=5099, opened at 100 with a 5000 ms cooldown")
}

func TestBreakerAdmitsATrialExactlyWhenTheCooldownEnds(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 50)
	failAt(t, clock, b, 100)
	succeedAt(t, clock, b, 5100)
	expectState(t, b, HalfOpen, "after 1 of 2 required trial successes")
}

func TestStateReportsHalfOpenOnceTheCooldownEndsEvenWithoutCalls(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 50)
	failAt(t, clock, b, 100)
	clock.Set(5099)
	expectState(t, b, Open, "at t=5099")
	clock.Set(5100)
	expectState(t, b, HalfOpen, "at t=5100 (opened at 100, cooldown 5000), no call made")
	expectStats(t, b, Stats{Failures: 3, TimesOpened: 1})
}

func TestRejectedCallsDoNotExtendTheCooldown(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 0) // opens at 0
	for at := int64(1000); at <= 5000-1; at += 1000 {
		expectRejectedAt(t, clock, b, at)
	}
	expectRejectedAt(t, clock, b, 4999)
	succeedAt(t, clock, b, 5000)
	expectState(t, b, HalfOpen, "at t=5000 after rejected calls during the cooldown")
}

func TestHalfOpenClosesAfterTheRequiredNumberOfSuccessfulTrials(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, 2, 3), clock)
	failAt(t, clock, b, 0) // opens at 0, half-open at 1000
	succeedAt(t, clock, b, 1000)
	expectState(t, b, HalfOpen, "after 1 of 3 trial successes")
	succeedAt(t, clock, b, 1001)
	expectState(t, b, HalfOpen, "after 2 of 3 trial successes")
	succeedAt(t, clock, b, 1002)
	expectState(t, b, Closed, "after 3 of 3 trial successes")
	expectStats(t, b, Stats{Successes: 3, Failures: 1, TimesOpened: 1})
}

func TestFailedTrialReopensTheBreakerAndRestartsTheCooldown(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 50)
	failAt(t, clock, b, 100) // opens at 100, half-open at 5100
	succeedAt(t, clock, b, 5100)
	failAt(t, clock, b, 5200) // re-opens at 5200, half-open at 10200
	expectState(t, b, Open, "right after a failed trial")
	expectRejectedAt(t, clock, b, 10199)
	clock.Set(10200)
	expectState(t, b, HalfOpen, "at t=10200 (re-opened at 5200, cooldown 5000)")
	expectStats(t, b, Stats{Successes: 1, Failures: 4, Rejections: 1, TimesOpened: 2})
}

func TestHalfOpenLimitsTrialsInFlightNotTheTotalNumberOfTrials(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, 1, 3), clock)
	failAt(t, clock, b, 0)
	// One trial at a time, but three trials one after another must all be admitted.
	succeedAt(t, clock, b, 1000)
	succeedAt(t, clock, b, 1000)
	succeedAt(t, clock, b, 1000)
	expectState(t, b, Closed, "after 3 sequential successful trials with HalfOpenMaxCalls 1")
}

func TestHalfOpenRejectsTrialsBeyondTheLimitWhileOthersAreInFlight(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, 2, 2), clock)
	failAt(t, clock, b, 0)
	clock.Set(1000)
	a := beginAdmitted(t, b, "first trial")
	c := beginAdmitted(t, b, "second trial")
	if third, err := begin(t, b); third != nil || !errors.Is(err, ErrOpen) {
		t.Fatalf("expected the third concurrent trial to be rejected with ErrOpen (limit 2), got admitted=%v err=%v", third != nil, err)
	}
	if err := a.finish(t, nil); err != nil {
		t.Fatalf("expected the trial to return nil, got %v", err)
	}
	expectState(t, b, HalfOpen, "after 1 of 2 trial successes")
	if err := c.finish(t, nil); err != nil {
		t.Fatalf("expected the trial to return nil, got %v", err)
	}
	expectState(t, b, Closed, "after 2 of 2 trial successes")
	expectStats(t, b, Stats{Successes: 2, Failures: 1, Rejections: 1, TimesOpened: 1})
}

func TestClosedBreakerStartsWithAFreshFailureWindow(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(3, 10000, 1000, 1, 1), clock)
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 1)
	failAt(t, clock, b, 2) // opens at 2
	succeedAt(t, clock, b, 1002)
	expectState(t, b, Closed, "after the successful trial")
	failAt(t, clock, b, 1003)
	failAt(t, clock, b, 1004)
	expectState(t, b, Closed, "2 failures since closing: the 3 failures before the trip were forgotten")
	failAt(t, clock, b, 1005)
	expectState(t, b, Open, "3 failures since closing")
}

func TestTrialFinishingAfterTheBreakerReopenedChangesNothing(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, 2, 1), clock)
	failAt(t, clock, b, 0)
	clock.Set(1000)
	a := beginAdmitted(t, b, "trial A")
	c := beginAdmitted(t, b, "trial B")
	clock.Set(1500)
	if err := c.finish(t, errBoom); !errors.Is(err, errBoom) {
		t.Fatalf("expected trial B to return fn's error, got %v", err)
	}
	if err := a.finish(t, nil); err != nil {
		t.Fatalf("expected trial A to return nil, got %v", err)
	}
	expectState(t, b, Open, "trial B re-opened the breaker; trial A's late success belongs to the old period")
	expectRejectedAt(t, clock, b, 2499)
	clock.Set(2500)
	expectState(t, b, HalfOpen, "at t=2500 (re-opened at 1500)")
	expectStats(t, b, Stats{Successes: 1, Failures: 2, Rejections: 1, TimesOpened: 2})
}

func TestStaleTrialDoesNotFreeASlotInTheNextHalfOpenPeriod(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, 2, 2), clock)
	failAt(t, clock, b, 0)
	clock.Set(1000)
	old := beginAdmitted(t, b, "trial A of the first half-open period")
	other := beginAdmitted(t, b, "trial B of the first half-open period")
	other.finish(t, errBoom) // re-opens at 1000
	clock.Set(2000)
	c := beginAdmitted(t, b, "trial C of the second half-open period")
	old.finish(t, nil) // stale: must not free one of the 2 slots of the new period
	d := beginAdmitted(t, b, "trial D of the second half-open period")
	if e, err := begin(t, b); e != nil || !errors.Is(err, ErrOpen) {
		t.Fatalf("expected trial E to be rejected: C and D are in flight (limit 2) and stale trial A must not free a slot; got admitted=%v err=%v", e != nil, err)
	}
	c.finish(t, nil)
	expectState(t, b, HalfOpen, "after 1 of 2 trial successes of the new period (A's late success does not count)")
	d.finish(t, nil)
	expectState(t, b, Closed, "after 2 of 2 trial successes")
}

func TestCallAdmittedBeforeTheTripDoesNotCountAsATrialSuccess(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(1, 1000, 1000, 1, 1), clock)
	slow := beginAdmitted(t, b, "slow call while closed")
	failAt(t, clock, b, 0) // trips at 0
	clock.Set(1000)
	expectState(t, b, HalfOpen, "at t=1000")
	if err := slow.finish(t, nil); err != nil {
		t.Fatalf("expected the slow call to return nil, got %v", err)
	}
	expectState(t, b, HalfOpen, "a call admitted while closed finished in the half-open period: it is not a trial")
	succeedAt(t, clock, b, 1000) // the one real trial slot is still free
	expectState(t, b, Closed, "after the real trial succeeded")
	expectStats(t, b, Stats{Successes: 2, Failures: 1, TimesOpened: 1})
}

func TestCallAdmittedBeforeTheTripFailingLaterDoesNotRestartTheCooldown(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(2, 1000, 1000, 1, 1), clock)
	slow := beginAdmitted(t, b, "slow call while closed")
	failAt(t, clock, b, 0)
	failAt(t, clock, b, 10) // trips at 10
	clock.Set(500)
	if err := slow.finish(t, errBoom); !errors.Is(err, errBoom) {
		t.Fatalf("expected the slow call to return fn's error, got %v", err)
	}
	expectState(t, b, Open, "at t=500")
	clock.Set(1009)
	expectState(t, b, Open, "at t=1009")
	clock.Set(1010)
	expectState(t, b, HalfOpen, "at t=1010: cooldown counts from the trip at 10, not from the late failure at 500")
	expectStats(t, b, Stats{Failures: 3, TimesOpened: 1})
}

func TestWorkedExampleFromTheStatement(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, standard(), clock)
	failAt(t, clock, b, 0)
	succeedAt(t, clock, b, 400)
	failAt(t, clock, b, 900)
	failAt(t, clock, b, 1000)
	expectState(t, b, Closed, "t=1000")
	failAt(t, clock, b, 1200)
	expectState(t, b, Open, "t=1200")
	expectRejectedAt(t, clock, b, 3000)
	clock.Set(6199)
	expectState(t, b, Open, "t=6199")
	succeedAt(t, clock, b, 6200)
	expectState(t, b, HalfOpen, "t=6200")
	succeedAt(t, clock, b, 6300)
	expectState(t, b, Closed, "t=6300")
	expectStats(t, b, Stats{Successes: 3, Failures: 4, Rejections: 1, TimesOpened: 1})
}

func TestBreakersDoNotShareState(t *testing.T) {
	clock := newClock()
	first := newBreaker(t, standard(), clock)
	second := newBreaker(t, standard(), clock)
	failAt(t, clock, first, 0)
	failAt(t, clock, first, 1)
	failAt(t, clock, second, 2)
	failAt(t, clock, first, 3)
	expectState(t, first, Open, "first breaker after 3 failures")
	expectState(t, second, Closed, "second breaker after 1 failure (the first breaker's failures are not its own)")
	succeedAt(t, clock, second, 4)
	expectStats(t, second, Stats{Successes: 1, Failures: 1})
}

func TestPanickingFnCountsAsAFailureAndFreesItsTrialSlot(t *testing.T) {
	clock := newClock()
	b := newBreaker(t, config(2, 1000, 1000, 1, 1), clock)
	callPanicking := func() (recovered interface{}) {
		defer func() { recovered = recover() }()
		_ = b.Call(func() error { panic("kaboom") })
		return nil
	}
	if r := callPanicking(); r != "kaboom" {
		t.Fatalf("expected the panic to reach the caller, recovered %v", r)
	}
	expectStats(t, b, Stats{Failures: 1})
	failAt(t, clock, b, 0)
	expectState(t, b, Open, "a panic and a failure make 2 failures (threshold 2)")
	clock.Set(1000)
	if r := callPanicking(); r != "kaboom" {
		t.Fatalf("expected the panic to reach the caller, recovered %v", r)
	}
	expectState(t, b, Open, "a panicking trial is a failed trial")
	succeedAt(t, clock, b, 2000) // the only trial slot must be free again
	expectState(t, b, Closed, "after a successful trial")
}
