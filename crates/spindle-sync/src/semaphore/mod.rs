//! [`Semaphore`]: a fair counting semaphore.
//!
//! # State
//!
//! `state` packs the available permits and two flags:
//! `permits << SHIFT | WAITERS | CLOSED`.
//!
//! - `WAITERS` is set, under the lock, when an acquirer queues, and cleared,
//!   under the lock, when the queue is empty. While it is set, `state`
//!   changes only under the lock: lock-free acquires fail (fairness: a
//!   queued request comes first) and releases take the lock to hand their
//!   permits to the queue.
//! - While it is clear, acquires and releases are one CAS each, no lock.
//!   Code under the lock that may run while it is clear changes `state`
//!   only by CAS or read-modify-write, never by plain stores.
//! - `CLOSED` is set once, under the lock; a closed semaphore grants
//!   nothing more.
//!
//! `total` counts permits available or held (not forgotten); it never
//! exceeds `MAX_PERMITS`, so returning held permits cannot overflow.
//!
//! # Granting (ownership transfer)
//!
//! A releaser under the lock adds its permits, then, while the head request
//! fits (`WaitList::notify_one_if`), takes its permits out of `state` and
//! marks the request granted before waking it: the woken task owns its
//! permits without touching `state` again, and no one can overtake it.
//! A request that does not fit blocks those behind it (FIFO).

mod acquire;
mod error;

use core::fmt;
use std::time::{Duration, Instant};

use spindle_core::fault::{self, Site};
use spindle_core::{SpinLock, SpinLockGuard};

use crate::deadline;
use crate::event::wake_batch;
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::wait::{WaitList, WakeBatch};

pub use acquire::{AcquireFuture, SemaphorePermit};
pub use error::{AcquireError, AcquireTimeoutError, AddPermitsError, TryAcquireError};

const CLOSED: usize = 1;
const WAITERS: usize = 2;
const SHIFT: u32 = 2;
const ONE: usize = 1 << SHIFT;
const MAX_PERMITS: usize = usize::MAX >> SHIFT;

/// What a queued acquire carries.
#[derive(Debug)]
struct Request {
    /// Permits asked for.
    wanted: usize,
    /// Set by the releaser that granted them (before the wake); clear if
    /// the wake came from `close`.
    granted: AtomicBool,
}

/// A counting semaphore: [`acquire`](Semaphore::acquire) takes permits
/// (waiting until there are enough), dropping the returned
/// [`SemaphorePermit`] gives them back.
///
/// # Fairness
///
/// Requests are served in FIFO order, whatever their size: a request for
/// many permits at the head of the queue is not overtaken by smaller ones
/// behind it, and [`try_acquire`](Semaphore::try_acquire) fails while
/// anyone waits. Permits are handed to the head request by whoever releases
/// them, so a woken task never has to race for them.
///
/// # Limits
///
/// A semaphore holds at most [`MAX_PERMITS`](Semaphore::MAX_PERMITS)
/// permits. Asking for more fails at once with `TooMany` (it could never
/// succeed); asking for more than there are now, but no more than that,
/// waits (a later [`add_permits`](Semaphore::add_permits) may provide
/// them). Asking for 0 permits succeeds at once unless the semaphore is
/// closed.
///
/// # Examples
///
/// ```
/// use spindle_sync::Semaphore;
///
/// let semaphore = Semaphore::new(3);
/// let two = semaphore.acquire(2).unwrap();
/// assert_eq!(semaphore.available_permits(), 1);
/// assert!(semaphore.try_acquire(2).is_err());
/// drop(two);
/// assert_eq!(semaphore.available_permits(), 3);
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    total: AtomicUsize,
    waiters: SpinLock<WaitList<Request>>,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= MAX_PERMITS,
            "Semaphore::new: more than MAX_PERMITS permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits << SHIFT),
            total: AtomicUsize::new(permits),
            waiters: SpinLock::new(WaitList::new()),
        }
    }

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
    #[cfg(loom)]
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        assert!(
            permits <= MAX_PERMITS,
            "Semaphore::new: more than MAX_PERMITS permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits << SHIFT),
            total: AtomicUsize::new(permits),
            waiters: SpinLock::new(WaitList::new()),
        }
    }

    /// Permits available now (a snapshot; some may be promised to the
    /// waiter at the head of the queue, which needs more).
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) >> SHIFT
    }

    /// Whether [`close`](Semaphore::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Closes the semaphore: every waiting acquire and every later one
    /// fails with `Closed`. Permits already held stay valid, and are given
    /// back as usual when dropped.
    pub fn close(&self) {
        let mut waiters = self.waiters.lock();
        self.state.fetch_or(CLOSED, Ordering::Release);
        let mut batch = WakeBatch::new();
        loop {
            // The wake delivers nothing: `granted` stays clear.
            let more = waiters.notify_all(&mut batch);
            drop(waiters);
            wake_batch(&mut batch);
            if !more {
                return;
            }
            waiters = self.waiters.lock();
        }
    }

    /// Adds `n` new permits, waking waiters they satisfy.
    ///
    /// # Errors
    ///
    /// [`AddPermitsError`] if the semaphore would then hold more than
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS) permits, counting those held
    /// by [`SemaphorePermit`]s. Nothing is added.
    pub fn add_permits(&self, n: usize) -> Result<(), AddPermitsError> {
        self.total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(n).filter(|&t| t <= MAX_PERMITS)
            })
            .map_err(|_| AddPermitsError)?;
        self.release(n);
        Ok(())
    }

    /// Takes `n` permits if they are available now and nobody is waiting.
    ///
    /// # Errors
    ///
    /// `NoPermits` if it would have to wait, `Closed` if the semaphore is
    /// closed, `TooMany` if `n` exceeds
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
    pub fn try_acquire(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.take(n)?;
        let permit = SemaphorePermit::new(self, n);
        if fault::point(Site::TRY) {
            return Err(TryAcquireError::NoPermits); // dropping it gives them back
        }
        Ok(permit)
    }

    /// Takes `n` permits, blocking the current fiber or thread until they
    /// are available and every earlier request was served.
    ///
    /// # Errors
    ///
    /// `Closed` if the semaphore is or gets closed, `TooMany` if `n`
    /// exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
    pub fn acquire(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        spindle_exec::wait(self.acquire_async(n))
    }

    /// Like [`acquire`](Semaphore::acquire), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`acquire_deadline`](Semaphore::acquire_deadline).
    pub fn acquire_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        self.acquire_deadline(n, deadline::after(timeout))
    }

    /// Like [`acquire`](Semaphore::acquire), giving up at `deadline`.
    /// Permits granted just as the deadline passed are given back, not
    /// lost.
    ///
    /// # Errors
    ///
    /// `TimedOut` if the deadline passed first; otherwise as
    /// [`acquire`](Semaphore::acquire).
    pub fn acquire_deadline(
        &self,
        n: usize,
        deadline: Instant,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        match deadline::wait_deadline(self.acquire_async(n), deadline) {
            Some(result) => result.map_err(AcquireTimeoutError::from),
            None => Err(AcquireTimeoutError::TimedOut),
        }
    }

    /// Takes `n` permits, as a future; see [`AcquireFuture`] and
    /// [`acquire`](Semaphore::acquire).
    pub fn acquire_async(&self, n: usize) -> AcquireFuture<'_> {
        AcquireFuture::new(self, n)
    }

    /// Lock-free attempt: takes `n` permits if nobody waits and there are
    /// enough.
    fn take(&self, n: usize) -> Result<(), TryAcquireError> {
        if n > MAX_PERMITS {
            return Err(TryAcquireError::TooMany);
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if n == 0 {
                return Ok(());
            }
            if state & WAITERS != 0 || state >> SHIFT < n {
                return Err(TryAcquireError::NoPermits);
            }
            // `AcquireFuture`: what the releaser did before giving the permits
            // back is visible to the new holder.
            match self.state.compare_exchange_weak(
                state,
                state - n * ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => state = now,
            }
        }
    }

    /// Under the lock: takes `n` permits if the queue is empty and there
    /// are enough (`Ok(true)`), or marks the queue non-empty for the caller
    /// to queue (`Ok(false)`).
    fn take_or_mark(&self, waiters: &WaitList<Request>, n: usize) -> Result<bool, AcquireError> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(AcquireError::Closed);
            }
            let new = if !waiters.is_empty() {
                return Ok(false); // `WAITERS` is set already
            } else if state >> SHIFT >= n {
                state - n * ONE
            } else {
                state | WAITERS
            };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(new & WAITERS == 0),
                Err(now) => state = now,
            }
        }
    }

    /// Gives `n` permits back, handing them to waiters they satisfy.
    fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        while state & WAITERS == 0 {
            // `Release`: the holder's work is visible to the next holder.
            match self.state.compare_exchange_weak(
                state,
                state + n * ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        let waiters = self.waiters.lock();
        self.state.fetch_add(n * ONE, Ordering::Release);
        self.grant(waiters);
    }

    /// Under the lock: grants permits to the head requests while they fit,
    /// clears `WAITERS` once the queue is empty, releases the lock and
    /// wakes the granted.
    fn grant<'a>(&'a self, mut waiters: SpinLockGuard<'a, WaitList<Request>>) {
        let mut batch = WakeBatch::new();
        loop {
            while !batch.is_full() && self.state.load(Ordering::Relaxed) & CLOSED == 0 {
                let mut granted = false;
                let waker = waiters.notify_one_if(
                    |request| request.wanted <= self.available_permits(),
                    |request| {
                        // `AcquireFuture`: pairs with the releases' `Release`; the
                        // signal's `Release` passes it on to the woken.
                        self.state
                            .fetch_sub(request.wanted * ONE, Ordering::Acquire);
                        request.granted.store(true, Ordering::Relaxed);
                        granted = true;
                    },
                );
                if !granted {
                    break;
                }
                batch.push(waker);
            }
            if waiters.is_empty() {
                self.state.fetch_and(!WAITERS, Ordering::Relaxed);
            }
            let more = batch.is_full();
            drop(waiters);
            wake_batch(&mut batch);
            if !more {
                return;
            }
            waiters = self.waiters.lock();
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Semaphore")
            .field("available_permits", &(state >> SHIFT))
            .field("waiters", &(state & WAITERS != 0))
            .field("closed", &(state & CLOSED != 0))
            .finish()
    }
}
