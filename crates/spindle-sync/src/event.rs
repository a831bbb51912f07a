//! [`Event`]: set once, wait many.
//!
//! # State
//!
//! - `set` (an `AtomicBool`) is written only under the lock, so a waiter
//!   that finds it clear under the lock and registers cannot miss a `set`;
//!   it is read lock-free by the fast paths (`Acquire`, pairing with the
//!   `Release` store in [`Event::set`]).
//! - `epoch` (under the lock) counts resets of a set event. A waiter
//!   registers with the current epoch; a `set` wakes the waiters of epochs
//!   up to its own. Waking a crowd takes several rounds with the lock
//!   released in between, and a `reset` followed by new waiters may come
//!   in between: those new waiters carry a later epoch, sit behind the old
//!   ones (FIFO), and are not woken by that `set`.
//!
//! [`WaitGroup`](crate::WaitGroup) reuses this machinery: its event is set
//! exactly while its count is zero.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use spindle_core::fault::{self, Site};
use spindle_core::{SpinLock, SpinLockGuard};

use crate::deadline;
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::thread;
use crate::wait::{Wait, WaitList, WakeBatch};

/// A flag that tasks wait for: once [`set`](Event::set), every waiter wakes
/// and every later wait returns at once, until an optional
/// [`reset`](Event::reset).
///
/// Works from fibers ([`wait`](Event::wait) suspends the fiber), plain
/// threads (it parks the thread) and async code
/// ([`wait_async`](Event::wait_async)). Checking a set event takes one
/// atomic load and no lock.
///
/// # Examples
///
/// ```
/// use spindle_sync::Event;
/// use std::sync::Arc;
///
/// let ready = Arc::new(Event::new());
/// let waiters: Vec<_> = (0..3)
///     .map(|_| {
///         let ready = Arc::clone(&ready);
///         std::thread::spawn(move || ready.wait())
///     })
///     .collect();
/// ready.set();
/// for waiter in waiters {
///     waiter.join().unwrap();
/// }
/// assert!(ready.is_set());
/// ready.wait(); // returns at once
/// ```
pub struct Event {
    set: AtomicBool,
    state: SpinLock<State>,
}

/// What the lock guards.
pub(crate) struct State {
    /// Resets of a set event so far (wrapping).
    epoch: usize,
    /// Waiters, each carrying the epoch it registered in.
    waiters: WaitList<AtomicUsize>,
}

/// Whether `epoch` is no later than `limit`, for counters that wrap.
pub(crate) fn not_after(epoch: usize, limit: usize) -> bool {
    limit.wrapping_sub(epoch) <= usize::MAX / 2
}

/// Calls the collected wakers (with the `WAKE` fault point first). Call it
/// with no lock held.
pub(crate) fn wake_batch(batch: &mut WakeBatch) {
    if fault::point(Site::WAKE) {
        thread::yield_now();
    }
    batch.wake_all();
}

impl Event {
    /// A clear event.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Event::with_flag(false)
    }

    /// A clear event.
    #[cfg(loom)]
    pub fn new() -> Self {
        Event::with_flag(false)
    }

    /// An event that is set or clear.
    #[cfg(not(loom))]
    pub(crate) const fn with_flag(set: bool) -> Self {
        Event {
            set: AtomicBool::new(set),
            state: SpinLock::new(State {
                epoch: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// An event that is set or clear.
    #[cfg(loom)]
    pub(crate) fn with_flag(set: bool) -> Self {
        Event {
            set: AtomicBool::new(set),
            state: SpinLock::new(State {
                epoch: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Sets the event: wakes every waiter, and makes every later wait
    /// return at once (until [`reset`](Event::reset)). Setting a set event
    /// does nothing.
    ///
    /// Everything the caller did before `set` is visible to every waiter
    /// after its wait returns.
    pub fn set(&self) {
        if self.set.load(Ordering::Acquire) {
            return;
        }
        self.open(self.state.lock());
    }

    /// Clears a set event, so later waits block until the next
    /// [`set`](Event::set). Resetting a clear event does nothing.
    ///
    /// A wait that was already waiting when the event was set still
    /// returns, even if `reset` follows before it runs: every wait returns
    /// exactly when the event was set at some moment after it began. (Go's
    /// and Python's events behave alike; Win32's `PulseEvent`, which can
    /// miss waiters, is the trap this avoids.)
    pub fn reset(&self) {
        let mut state = self.state.lock();
        self.close(&mut state);
    }

    /// Whether the event is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Like [`is_set`](Event::is_set), as the non-blocking form of
    /// [`wait`](Event::wait): `true` means a wait would return at once.
    pub fn try_wait(&self) -> bool {
        self.is_set() && !fault::point(Site::TRY)
    }

    /// Blocks the current fiber or thread until the event is set.
    pub fn wait(&self) {
        if !fault::point(Site::WAIT) && self.is_set() {
            return;
        }
        spindle_exec::wait(self.wait_async());
    }

    /// Like [`wait`](Event::wait), giving up after `timeout`. Returns
    /// whether the event was set.
    #[must_use = "tells whether the event was set or the wait timed out"]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(deadline::after(timeout))
    }

    /// Like [`wait`](Event::wait), giving up at `deadline`. Returns whether
    /// the event was set.
    #[must_use = "tells whether the event was set or the wait timed out"]
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        if !fault::point(Site::WAIT) && self.is_set() {
            return true;
        }
        // A `set` racing with the deadline counts as seen.
        deadline::wait_deadline(self.wait_async(), deadline).is_some() || self.is_set()
    }

    /// Waits for the event to be set, as a future.
    ///
    /// The future registers when first polled: a `set` before that is seen
    /// by its first poll, and a `set` after it wakes it.
    pub fn wait_async(&self) -> EventWaitFuture<'_> {
        EventWaitFuture {
            event: self,
            wait: Wait::new(AtomicUsize::new(0)),
        }
    }

    /// The lock, for [`WaitGroup`](crate::WaitGroup), which changes its
    /// count and the event together.
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, State> {
        self.state.lock()
    }

    /// Sets the event under the held lock and wakes the waiters of this
    /// epoch and before, in rounds, releasing the lock to call the wakers.
    pub(crate) fn open<'a>(&'a self, mut state: SpinLockGuard<'a, State>) {
        if self.set.load(Ordering::Relaxed) {
            return;
        }
        // `Release`: what the setter did before is visible to a waiter's
        // `Acquire` fast path.
        self.set.store(true, Ordering::Release);
        let epoch = state.epoch;
        let mut batch = WakeBatch::new();
        loop {
            let more = state
                .waiters
                .notify_all_if(|e| not_after(e.load(Ordering::Relaxed), epoch), &mut batch);
            drop(state);
            wake_batch(&mut batch);
            if !more {
                return;
            }
            state = self.state.lock();
        }
    }

    /// Clears the event under the held lock, starting a new epoch.
    pub(crate) fn close(&self, state: &mut State) {
        if self.set.load(Ordering::Relaxed) {
            self.set.store(false, Ordering::Relaxed);
            state.epoch = state.epoch.wrapping_add(1);
        }
    }

    /// Gives up `wait`; nothing is owed if it had been woken.
    fn cancel(&self, wait: &Wait<AtomicUsize>) {
        wait.cancel(|node| self.state.lock().waiters.remove(node));
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

/// The future of [`Event::wait_async`]: completes once the event is set.
///
/// # Cancel safety
///
/// Dropping it loses nothing: its place among the waiters is given up, and
/// an event is not consumed by waking a waiter.
///
/// # Examples
///
/// ```
/// use spindle_sync::Event;
///
/// let event = Event::new();
/// let waiter = std::thread::scope(|s| {
///     let waiter = s.spawn(|| spindle_exec::block_on(event.wait_async()));
///     event.set();
///     waiter.join()
/// });
/// assert!(waiter.is_ok());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct EventWaitFuture<'a> {
    event: &'a Event,
    wait: Wait<AtomicUsize>,
}

impl Future for EventWaitFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.into_ref();
        let event = this.event;
        // SAFETY: `wait` is structurally pinned: it is never moved out of
        // the future, and the future's `Drop` cancels it in place.
        let wait = unsafe { this.map_unchecked(|this| &this.wait) };
        if wait.take_woken() {
            return Poll::Ready(());
        }
        if !fault::point(Site::WAIT) && event.is_set() {
            event.cancel(&wait);
            return Poll::Ready(());
        }
        let mut state = event.state.lock();
        if event.set.load(Ordering::Relaxed) {
            drop(state);
            event.cancel(&wait);
            return Poll::Ready(());
        }
        if !wait.is_queued() {
            wait.data().store(state.epoch, Ordering::Relaxed);
        }
        wait.enqueue(&mut state.waiters, cx.waker());
        drop(state);
        if wait.take_woken() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for EventWaitFuture<'_> {
    fn drop(&mut self) {
        self.event.cancel(&self.wait);
    }
}

impl fmt::Debug for EventWaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWaitFuture")
            .field("event", self.event)
            .field("wait", &self.wait)
            .finish()
    }
}
