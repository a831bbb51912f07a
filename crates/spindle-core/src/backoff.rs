//! Exponential backoff for spin loops.

use crate::sync::{hint, thread};

/// Steps during which [`Backoff`] only spins: step `k` emits `2^k` spin
/// hints, so the longest burst is 64 hints (a few hundred nanoseconds to a
/// few microseconds, depending on the core).
const SPIN_LIMIT: u32 = 6;

/// Steps after which [`Backoff::is_completed`] advises blocking instead.
/// Steps `SPIN_LIMIT + 1 ..= YIELD_LIMIT` of [`Backoff::snooze`] yield the
/// thread.
const YIELD_LIMIT: u32 = 10;

/// Exponential backoff for spin loops.
///
/// A thread that waits for another one to make progress (a CAS lost under
/// contention, a flag not yet set) calls [`spin`](Backoff::spin) or
/// [`snooze`](Backoff::snooze) between attempts. Each call waits about twice
/// as long as the one before, which takes pressure off the contended cache
/// line; `snooze` gives the CPU away with [`std::thread::yield_now`] once
/// spinning has gone on long enough. When [`is_completed`] turns true, the
/// waiter should stop spinning and block (park, or suspend its fiber).
///
/// `Backoff` is a small counter; create one per wait, on the stack.
///
/// [`is_completed`]: Backoff::is_completed
///
/// # Examples
///
/// Retrying a compare-and-swap under contention:
///
/// ```
/// use spindle_core::Backoff;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// fn fetch_mul(a: &AtomicUsize, b: usize) -> usize {
///     let mut backoff = Backoff::new();
///     let mut current = a.load(Ordering::Relaxed);
///     loop {
///         match a.compare_exchange_weak(current, current * b, Ordering::AcqRel, Ordering::Relaxed) {
///             Ok(previous) => return previous,
///             Err(now) => {
///                 current = now;
///                 backoff.spin();
///             }
///         }
///     }
/// }
///
/// let a = AtomicUsize::new(6);
/// assert_eq!(fetch_mul(&a, 7), 6);
/// assert_eq!(a.load(Ordering::Relaxed), 42);
/// ```
///
/// Waiting for a flag, then falling back to blocking:
///
/// ```
/// use spindle_core::Backoff;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::thread;
///
/// let ready = AtomicBool::new(false);
/// thread::scope(|s| {
///     s.spawn(|| ready.store(true, Ordering::Release));
///     let mut backoff = Backoff::new();
///     while !ready.load(Ordering::Acquire) {
///         if backoff.is_completed() {
///             thread::yield_now(); // a real waiter would park here
///         } else {
///             backoff.snooze();
///         }
///     }
/// });
/// ```
#[derive(Debug, Default)]
pub struct Backoff {
    /// Number of completed steps, at most `YIELD_LIMIT + 1`.
    step: u32,
}

impl Backoff {
    /// Creates a backoff at its first, shortest step.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self { step: 0 }
    }

    /// Goes back to the first, shortest step.
    ///
    /// ```
    /// use spindle_core::Backoff;
    ///
    /// let mut backoff = Backoff::new();
    /// while !backoff.is_completed() {
    ///     backoff.snooze();
    /// }
    /// backoff.reset();
    /// assert!(!backoff.is_completed());
    /// ```
    #[inline]
    pub fn reset(&mut self) {
        self.step = 0;
    }

    /// Spins for a while, twice as long as the previous call, up to a limit.
    ///
    /// Use it between retries of an operation that failed because another
    /// thread made progress (a lost compare-and-swap): the other thread is
    /// running, so giving the CPU away would not help. `spin` never yields the
    /// thread and never makes [`is_completed`](Backoff::is_completed) true.
    #[inline]
    pub fn spin(&mut self) {
        hint::spin_burst(1 << self.step.min(SPIN_LIMIT));
        if self.step <= SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Waits for a while: spins like [`spin`](Backoff::spin) at first, then
    /// yields the thread to the OS scheduler.
    ///
    /// Use it while waiting for another thread to do something (release a
    /// lock, set a flag): that thread may need this CPU. After enough calls
    /// [`is_completed`](Backoff::is_completed) turns true; further calls keep
    /// yielding.
    #[inline]
    pub fn snooze(&mut self) {
        if self.step <= SPIN_LIMIT {
            hint::spin_burst(1 << self.step);
        } else {
            thread::yield_now();
        }
        if self.step <= YIELD_LIMIT {
            self.step += 1;
        }
    }

    /// Returns `true` once waiting has gone on long enough that the caller
    /// should block (park the thread, suspend the fiber) instead of spinning.
    ///
    /// Only [`snooze`](Backoff::snooze) advances a backoff this far.
    #[inline]
    #[must_use]
    pub fn is_completed(&self) -> bool {
        self.step > YIELD_LIMIT
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Backoff, SPIN_LIMIT, YIELD_LIMIT};

    #[test]
    fn snooze_completes_after_exactly_the_yield_limit() {
        let mut backoff = Backoff::new();
        for _ in 0..=YIELD_LIMIT {
            assert!(!backoff.is_completed());
            backoff.snooze();
        }
        assert!(backoff.is_completed());
    }

    #[test]
    fn spin_alone_never_completes_and_step_stays_bounded() {
        let mut backoff = Backoff::new();
        for _ in 0..100 {
            backoff.spin();
        }
        assert!(!backoff.is_completed());
        assert_eq!(backoff.step, SPIN_LIMIT + 1);
    }

    #[test]
    fn snooze_step_stays_bounded_after_completion() {
        let mut backoff = Backoff::new();
        for _ in 0..(YIELD_LIMIT + 20) {
            backoff.snooze();
        }
        assert_eq!(backoff.step, YIELD_LIMIT + 1);
    }

    #[test]
    fn reset_returns_to_first_step() {
        let mut backoff = Backoff::new();
        for _ in 0..(YIELD_LIMIT + 1) {
            backoff.snooze();
        }
        backoff.reset();
        assert_eq!(backoff.step, 0);
        assert!(!backoff.is_completed());
    }

    #[test]
    fn default_equals_new() {
        assert_eq!(Backoff::default().step, Backoff::new().step);
    }
}
