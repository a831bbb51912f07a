//! [`WaitGroup`]: wait until a count of outstanding tasks drops to zero.
//!
//! # State
//!
//! - `count` (an `AtomicUsize`): moves between two non-zero values
//!   lock-free (a CAS), but to or from zero only under the lock of `zero`.
//! - `zero`: an [`Event`] that is set exactly while `count` is zero at
//!   every release of its lock: a `done` that reaches zero sets it in the
//!   same critical section, an `add` from zero resets it. So waiting is
//!   waiting for the event, with its lock-free fast path and its epochs
//!   (a waiter woken by a zero wakes even if an `add` follows at once; one
//!   that registered after that `add` is not woken by the old zero).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::event::{Event, EventWaitFuture};
use crate::loom::atomic::{AtomicUsize, Ordering};

/// Waits for a group of tasks to finish, like Go's `sync.WaitGroup`: the
/// count goes up by [`add`](WaitGroup::add) or [`enter`](WaitGroup::enter),
/// down by [`done`](WaitGroup::done) or dropping the
/// [`WaitGroupGuard`], and [`wait`](WaitGroup::wait) returns once it is
/// zero.
///
/// # Two ways to count
///
/// - **[`enter`](WaitGroup::enter)** returns a guard that counts one task
///   until it is dropped. It cannot be misused: every increment has exactly
///   one decrement, also when the task panics. It borrows the group, so it
///   fits scoped tasks (`std::thread::scope`, fibers joined in scope).
/// - **[`add`](WaitGroup::add) / [`done`](WaitGroup::done)**, Go's pair,
///   for tasks that outlive a borrow (the group in an `Arc`). A `done`
///   without its `add` is a bug in the caller, and is reported the way Go
///   and `RefCell` report such bugs: by a panic at the faulty call (see
///   `# Panics`). Returning a `Result` from `done` instead would put an
///   `.unwrap()` on every correct call and still not make the bug
///   recoverable.
///
/// A `WaitGroup` is shared by reference (or `Arc`), not cloned: a clone
/// that counted as a task, as in crossbeam, would hide the count in drops.
///
/// The group can be reused: once it has reached zero, `add` starts a new
/// round. A waiter woken by a zero returns even if a new round starts
/// before it runs.
///
/// # Examples
///
/// ```
/// use spindle_sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let group = WaitGroup::new();
/// let finished = AtomicUsize::new(0);
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         let task = group.enter();
///         let finished = &finished;
///         s.spawn(move || {
///             finished.fetch_add(1, Ordering::Relaxed);
///             drop(task); // or let it go out of scope
///         });
///     }
///     group.wait();
///     assert_eq!(finished.load(Ordering::Relaxed), 4);
/// });
/// ```
///
/// Go's style, with the group in an `Arc`:
///
/// ```
/// use spindle_sync::WaitGroup;
/// use std::sync::Arc;
///
/// let group = Arc::new(WaitGroup::new());
/// group.add(2);
/// for _ in 0..2 {
///     let group = Arc::clone(&group);
///     std::thread::spawn(move || group.done());
/// }
/// group.wait();
/// assert_eq!(group.count(), 0);
/// ```
pub struct WaitGroup {
    count: AtomicUsize,
    zero: Event,
}

impl WaitGroup {
    /// A group with a count of zero.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        WaitGroup {
            count: AtomicUsize::new(0),
            zero: Event::with_flag(true),
        }
    }

    /// A group with a count of zero.
    #[cfg(loom)]
    pub fn new() -> Self {
        WaitGroup {
            count: AtomicUsize::new(0),
            zero: Event::with_flag(true),
        }
    }

    /// Adds `n` to the count.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize` (only a runaway `add` gets
    /// there). The count is then unchanged.
    #[track_caller]
    pub fn add(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Fast path: non-zero to non-zero, no lock.
        let mut count = self.count.load(Ordering::Relaxed);
        while count != 0 {
            let new = count.checked_add(n).unwrap_or_else(|| overflow());
            match self
                .count
                .compare_exchange_weak(count, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => count = now,
            }
        }
        let mut state = self.zero.lock();
        // Under the lock nobody else leaves zero, but lock-free `add`s and
        // `done`s may move a non-zero count meanwhile.
        match self
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(n))
        {
            Ok(0) => self.zero.close(&mut state),
            Ok(_) => {}
            Err(_) => {
                drop(state);
                overflow()
            }
        }
    }

    /// Subtracts one from the count; at zero, wakes every waiter.
    ///
    /// Everything the caller did before `done` is visible to a waiter after
    /// its wait returns.
    ///
    /// # Panics
    ///
    /// If the count is zero: a `done` without a matching `add` (Go panics
    /// alike). The count stays zero.
    #[track_caller]
    pub fn done(&self) {
        // Fast path: above one, no lock. `Release`: publishes the caller's
        // work to the `done` that reaches zero (it acquires the chain).
        let mut count = self.count.load(Ordering::Relaxed);
        while count > 1 {
            match self.count.compare_exchange_weak(
                count,
                count - 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => count = now,
            }
        }
        let state = self.zero.lock();
        // `AcqRel`: the `done` that reaches zero acquires every earlier
        // `done`'s work, and the event's `Release` store passes it on.
        match self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| c.checked_sub(1))
        {
            Ok(1) => self.zero.open(state),
            Ok(_) => {}
            Err(_) => {
                drop(state);
                underflow()
            }
        }
    }

    /// Adds one to the count, and returns a guard that calls
    /// [`done`](WaitGroup::done) when dropped.
    ///
    /// # Panics
    ///
    /// As [`add`](WaitGroup::add), if the count would overflow.
    #[track_caller]
    pub fn enter(&self) -> WaitGroupGuard<'_> {
        self.add(1);
        WaitGroupGuard { group: self }
    }

    /// The current count (a snapshot).
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether the count is zero, as the non-blocking form of
    /// [`wait`](WaitGroup::wait): `true` means a wait would return at once.
    pub fn try_wait(&self) -> bool {
        self.zero.try_wait()
    }

    /// Blocks the current fiber or thread until the count is zero.
    pub fn wait(&self) {
        self.zero.wait();
    }

    /// Like [`wait`](WaitGroup::wait), giving up after `timeout`. Returns
    /// whether the count reached zero.
    #[must_use = "tells whether the count reached zero or the wait timed out"]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.zero.wait_timeout(timeout)
    }

    /// Like [`wait`](WaitGroup::wait), giving up at `deadline`. Returns
    /// whether the count reached zero.
    #[must_use = "tells whether the count reached zero or the wait timed out"]
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.zero.wait_deadline(deadline)
    }

    /// Waits for the count to be zero, as a future (registered when first
    /// polled).
    pub fn wait_async(&self) -> WaitGroupWaitFuture<'_> {
        WaitGroupWaitFuture {
            inner: self.zero.wait_async(),
        }
    }
}

#[cold]
#[track_caller]
fn overflow() -> ! {
    panic!("WaitGroup::add: the count would overflow")
}

#[cold]
#[track_caller]
fn underflow() -> ! {
    panic!("WaitGroup::done: the count is already zero (a `done` without its `add`)")
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// One task counted in a [`WaitGroup`]: made by
/// [`WaitGroup::enter`], it calls [`WaitGroup::done`] when dropped.
///
/// # Examples
///
/// ```
/// use spindle_sync::WaitGroup;
///
/// let group = WaitGroup::new();
/// let task = group.enter();
/// assert_eq!(group.count(), 1);
/// drop(task);
/// assert!(group.try_wait());
/// ```
#[must_use = "the task is counted done as soon as the guard is dropped"]
pub struct WaitGroupGuard<'a> {
    group: &'a WaitGroup,
}

impl Drop for WaitGroupGuard<'_> {
    fn drop(&mut self) {
        // Cannot underflow: this guard's `add(1)` is still counted.
        self.group.done();
    }
}

impl fmt::Debug for WaitGroupGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupGuard")
            .field("group", self.group)
            .finish()
    }
}

/// The future of [`WaitGroup::wait_async`]: completes once the count is
/// zero.
///
/// # Cancel safety
///
/// Dropping it loses nothing: it only gives up its place among the
/// waiters.
///
/// # Examples
///
/// ```
/// use spindle_sync::WaitGroup;
///
/// let group = WaitGroup::new();
/// std::thread::scope(|s| {
///     let task = group.enter();
///     s.spawn(move || drop(task));
///     spindle_exec::block_on(group.wait_async());
/// });
/// assert_eq!(group.count(), 0);
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WaitGroupWaitFuture<'a> {
    inner: EventWaitFuture<'a>,
}

impl Future for WaitGroupWaitFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is structurally pinned: never moved out, dropped
        // in place with the wrapper.
        unsafe { self.map_unchecked_mut(|this| &mut this.inner) }.poll(cx)
    }
}
