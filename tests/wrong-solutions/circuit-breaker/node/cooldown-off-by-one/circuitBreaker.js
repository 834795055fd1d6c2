'use strict';

/**
 * A circuit breaker with a rolling failure window, a cooldown and a bounded
 * half-open trial phase. Correct under interleaved async calls: every
 * admission decision and every outcome is handled synchronously, so no other
 * caller can slip in between checking the state and taking a trial slot.
 */

const State = Object.freeze({ CLOSED: 'closed', OPEN: 'open', HALF_OPEN: 'half-open' });

class CircuitOpenError extends Error {
  constructor(message = 'circuit breaker is open') {
    super(message);
    this.name = 'CircuitOpenError';
  }
}

function requirePositiveInteger(name, value) {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  }
}

class CircuitBreaker {
  #clock;
  #failureThreshold;
  #windowMs;
  #cooldownMs;
  #halfOpenMaxCalls;
  #successThreshold;

  #state = State.CLOSED;
  #period = 0; // incremented on every state change
  #failureTimes = []; // failure times inside the window, oldest first, from #head on
  #head = 0;
  #openedAt = 0;
  #inFlight = 0; // half-open trials in flight
  #trialSuccesses = 0;
  #stats = { successes: 0, failures: 0, rejections: 0, timesOpened: 0 };

  constructor(clock, { failureThreshold, windowMs, cooldownMs, halfOpenMaxCalls, successThreshold } = {}) {
    if (!clock || typeof clock.now !== 'function') {
      throw new TypeError('clock must have a now() method');
    }
    requirePositiveInteger('failureThreshold', failureThreshold);
    requirePositiveInteger('windowMs', windowMs);
    requirePositiveInteger('cooldownMs', cooldownMs);
    requirePositiveInteger('halfOpenMaxCalls', halfOpenMaxCalls);
    requirePositiveInteger('successThreshold', successThreshold);
    this.#clock = clock;
    this.#failureThreshold = failureThreshold;
    this.#windowMs = windowMs;
    this.#cooldownMs = cooldownMs;
    this.#halfOpenMaxCalls = halfOpenMaxCalls;
    this.#successThreshold = successThreshold;
  }

  /**
   * Runs fn if the breaker admits the call and records the outcome.
   * Resolves with fn's result; rejects with fn's error, or with
   * CircuitOpenError (without running fn) when the call is rejected.
   */
  async call(fn) {
    const period = this.#admit(); // synchronous: nothing can interleave
    let value;
    try {
      value = await fn();
    } catch (error) {
      this.#complete(period, false);
      throw error;
    }
    this.#complete(period, true);
    return value;
  }

  get state() {
    this.#refresh(this.#clock.now());
    return this.#state;
  }

  stats() {
    return { ...this.#stats };
  }

  #admit() {
    this.#refresh(this.#clock.now());
    if (this.#state === State.CLOSED) {
      return this.#period;
    }
    if (this.#state === State.HALF_OPEN && this.#inFlight < this.#halfOpenMaxCalls) {
      this.#inFlight++;
      return this.#period;
    }
    this.#stats.rejections++;
    throw new CircuitOpenError();
  }

  #complete(period, success) {
    const now = this.#clock.now();
    if (success) {
      this.#stats.successes++;
    } else {
      this.#stats.failures++;
    }
    if (period !== this.#period) {
      return; // admitted in an earlier period: counted, otherwise ignored
    }
    if (this.#state === State.CLOSED) {
      if (!success) {
        this.#recordFailure(now);
      }
    } else if (this.#state === State.HALF_OPEN) {
      this.#inFlight--;
      if (!success) {
        this.#open(now);
      } else if (++this.#trialSuccesses >= this.#successThreshold) {
        this.#moveTo(State.CLOSED);
      }
    }
  }

  #recordFailure(now) {
    const times = this.#failureTimes;
    const cutoff = now - this.#windowMs;
    while (this.#head < times.length && times[this.#head] <= cutoff) {
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > times.length) {
      times.splice(0, this.#head); // compact: amortized O(1) per failure
      this.#head = 0;
    }
    times.push(now);
    if (times.length - this.#head >= this.#failureThreshold) {
      this.#open(now);
    }
  }

  #refresh(now) {
    if (this.#state === State.OPEN && now - this.#openedAt > this.#cooldownMs) {
      this.#moveTo(State.HALF_OPEN);
    }
  }

  #open(now) {
    this.#openedAt = now;
    this.#stats.timesOpened++;
    this.#moveTo(State.OPEN);
  }

  #moveTo(state) {
    this.#state = state;
    this.#period++;
    this.#failureTimes = [];
    this.#head = 0;
    this.#inFlight = 0;
    this.#trialSuccesses = 0;
  }
}

module.exports = { CircuitBreaker, CircuitOpenError, State };
