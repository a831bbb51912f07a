//! [`Condvar`]: a condition variable for spindle's [`Mutex`], for code
//! ported from `std` (new code usually reads better with an `Event`, a
//! channel or a semaphore).
//!
//! A waiter queues on the condvar's own list *before* it unlocks the mutex,
//! so a notify made under the mutex after that unlock always finds it; a
//! notification delivered to a waiter that gives up before it re-locks is
//! passed on to the next waiter, so none is lost.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
#[cfg(not(loom))]
use std::time::{Duration, Instant};

use spindle_core::SpinLock;
use spindle_core::fault::{self, Site};

use crate::mutex::{LockFuture, Mutex, MutexGuard, wake};
use crate::wait::{Wait, WaitList, WakeBatch};

/// A condition variable: waits for a condition on data that a [`Mutex`]
/// protects, from fibers, threads or async code.
///
/// `wait` unlocks the mutex, waits for a notification and locks it again.
/// Like `std`'s, it may also return without a matching notification (a
/// notification passed on by a waiter that gave up lands on whoever waits
/// next), so always wait in a loop on the condition:
/// [`wait_while`](Self::wait_while) is that loop.
///
/// A `Condvar` is not bound to one mutex: each wait re-locks the mutex of
/// the guard it was given. Use one mutex with a condvar all the same, or a
/// notification may reach a waiter that cannot see the change.
///
/// # Examples
///
/// ```
/// use spindle_sync::{Condvar, Mutex};
/// use std::sync::Arc;
/// use std::thread;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// thread::spawn(move || {
///     let (ready, condvar) = &*pair2;
///     *ready.lock() = true;
///     condvar.notify_one();
/// });
/// let (ready, condvar) = &*pair;
/// let guard = condvar.wait_while(ready.lock(), |ready| !*ready);
/// assert!(*guard);
/// ```
pub struct Condvar {
    waiters: SpinLock<WaitList<()>>,
}

impl Condvar {
    /// Creates a condition variable with no waiters.
    ///
    /// ```
    /// static CONDVAR: spindle_sync::Condvar = spindle_sync::Condvar::new();
    /// CONDVAR.notify_all(); // nobody to wake
    /// ```
    #[cfg(not(loom))]
    #[must_use]
    pub const fn new() -> Self {
        Condvar {
            waiters: SpinLock::new(WaitList::new()),
        }
    }

    /// Creates a condition variable with no waiters. (Not `const` under
    /// loom.)
    #[cfg(loom)]
    #[must_use]
    pub fn new() -> Self {
        Condvar {
            waiters: SpinLock::new(WaitList::new()),
        }
    }

    /// Unlocks `guard`'s mutex, waits (suspending the fiber or parking the
    /// thread) until notified, and locks the mutex again. May return
    /// spuriously: check the condition in a loop, or use
    /// [`wait_while`](Self::wait_while).
    ///
    /// ```
    /// use spindle_sync::{Condvar, Mutex};
    ///
    /// let (count, condvar) = (Mutex::new(0), Condvar::new());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         *count.lock() += 1;
    ///         condvar.notify_all();
    ///     });
    ///     let mut guard = count.lock();
    ///     while *guard == 0 {
    ///         guard = condvar.wait(guard);
    ///     }
    /// });
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        // Not `wait(self.wait_async(guard))`: that future borrows the
        // condvar for as long as the guard, which `std`'s signature (the
        // guard outlives `&self`) does not allow. Re-locking through
        // `lock` also takes its inline fast path.
        let mutex = MutexGuard::mutex(&guard);
        spindle_exec::wait(Notified::new(self, guard));
        mutex.lock()
    }

    /// Waits while `condition` holds: returns the guard once `condition`
    /// returns `false` (checked first, and after each wake-up).
    ///
    /// ```
    /// use spindle_sync::{Condvar, Mutex};
    ///
    /// let (queue, condvar) = (Mutex::new(Vec::new()), Condvar::new());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         queue.lock().push(7);
    ///         condvar.notify_one();
    ///     });
    ///     let mut queue = condvar.wait_while(queue.lock(), |queue| queue.is_empty());
    ///     assert_eq!(queue.pop(), Some(7));
    /// });
    /// ```
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Self::wait), but stops waiting after `timeout`; the
    /// mutex is locked again either way. The result tells whether the wait
    /// timed out.
    ///
    /// ```
    /// use spindle_sync::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(1));
    /// assert!(result.timed_out());
    /// ```
    #[cfg(not(loom))]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_deadline(guard, crate::deadline::after(timeout))
    }

    /// Like [`wait`](Self::wait), but stops waiting at `deadline`; the
    /// mutex is locked again either way. A notification that arrives as
    /// the deadline passes is either reported (not timed out) or passed on
    /// to another waiter, never lost.
    ///
    /// ```
    /// use spindle_sync::{Condvar, Mutex};
    /// use std::time::{Duration, Instant};
    ///
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let deadline = Instant::now() + Duration::from_millis(1);
    /// let (_guard, result) = condvar.wait_deadline(mutex.lock(), deadline);
    /// assert!(result.timed_out());
    /// ```
    #[cfg(not(loom))]
    pub fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Instant,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = MutexGuard::mutex(&guard);
        // Only the notification is timed; re-locking is not (`std` too
        // must re-lock to hand the guard back).
        let notified = crate::deadline::wait_deadline(Notified::new(self, guard), deadline);
        (mutex.lock(), WaitTimeoutResult(notified.is_none()))
    }

    /// Waits while `condition` holds, for at most `timeout`. Returns the
    /// guard, and whether the wait timed out with `condition` still true.
    ///
    /// ```
    /// use spindle_sync::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (ready, condvar) = (Mutex::new(false), Condvar::new());
    /// let timeout = Duration::from_millis(1);
    /// let (guard, result) = condvar.wait_timeout_while(ready.lock(), timeout, |r| !*r);
    /// assert!(result.timed_out() && !*guard);
    /// ```
    #[cfg(not(loom))]
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = crate::deadline::after(timeout);
        while condition(&mut *guard) {
            if Instant::now() >= deadline {
                return (guard, WaitTimeoutResult(true));
            }
            guard = self.wait_deadline(guard, deadline).0;
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Returns a future that unlocks `guard`'s mutex when first polled,
    /// waits until notified, and locks the mutex again: `.await` it from
    /// async code. May complete spuriously, like [`wait`](Self::wait).
    ///
    /// ```
    /// use spindle_sync::{Condvar, Mutex};
    ///
    /// let (flag, condvar) = (Mutex::new(false), Condvar::new());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         *flag.lock() = true;
    ///         condvar.notify_all();
    ///     });
    ///     spindle_exec::block_on(async {
    ///         let mut guard = flag.lock_async().await;
    ///         while !*guard {
    ///             guard = condvar.wait_async(guard).await;
    ///         }
    ///     });
    /// });
    /// ```
    pub fn wait_async<'a, T: ?Sized>(
        &'a self,
        guard: MutexGuard<'a, T>,
    ) -> CondvarWaitFuture<'a, T> {
        CondvarWaitFuture {
            notified: Notified::new(self, guard),
            relock: None,
        }
    }

    /// Wakes one waiter, if any waits (the one waiting longest).
    ///
    /// ```
    /// let condvar = spindle_sync::Condvar::new();
    /// condvar.notify_one(); // nobody waits: nothing happens
    /// ```
    pub fn notify_one(&self) {
        let waker = self.waiters.lock().notify_one(|()| {});
        wake(waker);
    }

    /// Wakes every waiter waiting now.
    ///
    /// ```
    /// let condvar = spindle_sync::Condvar::new();
    /// condvar.notify_all();
    /// ```
    pub fn notify_all(&self) {
        let mut batch = WakeBatch::new();
        loop {
            let more = self.waiters.lock().notify_all(&mut batch);
            if fault::point(Site::WAKE) {
                crate::loom::thread::yield_now();
            }
            batch.wake_all();
            if !more {
                return;
            }
        }
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

/// Whether a timed [`Condvar`] wait returned because its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait timed out (for the `_while` forms: with the
    /// condition still true).
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// The notification half of a wait: on first poll, queue on the condvar,
/// then unlock the mutex; complete when notified.
///
/// Cancel safety: dropped after being notified, it passes the notification
/// on (`notify_one`); dropped before its first poll, it unlocks the mutex.
struct Notified<'c, 'a, T: ?Sized> {
    condvar: &'c Condvar,
    mutex: &'a Mutex<T>,
    /// Held until the first poll has queued us.
    guard: Option<MutexGuard<'a, T>>,
    wait: Wait<()>,
}

impl<'c, 'a, T: ?Sized> Notified<'c, 'a, T> {
    fn new(condvar: &'c Condvar, guard: MutexGuard<'a, T>) -> Self {
        Notified {
            condvar,
            mutex: MutexGuard::mutex(&guard),
            guard: Some(guard),
            wait: Wait::new(()),
        }
    }
}

impl<T: ?Sized> Future for Notified<'_, '_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `wait` is structurally pinned (never moved out; `Drop`
        // cancels it in place); `guard` is not treated as pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let wait = unsafe { Pin::new_unchecked(&this.wait) };
        if let Some(guard) = this.guard.take() {
            // Queue first, then unlock: a notifier that locks the mutex
            // after this unlock finds us on the list.
            wait.enqueue(&mut this.condvar.waiters.lock(), cx.waker());
            drop(guard);
            return if wait.take_woken() {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        if !wait.is_queued() || wait.take_woken() {
            return Poll::Ready(());
        }
        // Store a possibly new waker, then look again: a notify that raced
        // with the store (and used the old waker) is seen here.
        wait.enqueue(&mut this.condvar.waiters.lock(), cx.waker());
        if wait.take_woken() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T: ?Sized> Drop for Notified<'_, '_, T> {
    fn drop(&mut self) {
        let condvar = self.condvar;
        let notified = self.wait.cancel(|node| condvar.waiters.lock().remove(node));
        if notified {
            condvar.notify_one();
        }
    }
}

/// A future that waits on a [`Condvar`] and re-locks the mutex, made by
/// [`Condvar::wait_async`]. It is `Send` when `T: Send`.
///
/// # Cancel safety
///
/// Dropping it loses nothing: before its first poll it unlocks the mutex
/// (it owns the guard); after a notification reached it, it passes the
/// notification on to another waiter (with `notify_one`), also while it is
/// re-locking; a re-lock in progress is cancelled as [`LockFuture`]'s is.
///
/// # Examples
///
/// ```
/// use spindle_sync::{Condvar, Mutex};
///
/// let (mutex, condvar) = (Mutex::new(0), Condvar::new());
/// let waiting = condvar.wait_async(mutex.lock());
/// drop(waiting); // never polled: the mutex is unlocked again
/// assert!(!mutex.is_locked());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CondvarWaitFuture<'a, T: ?Sized> {
    notified: Notified<'a, 'a, T>,
    /// The re-lock, once notified (structurally pinned).
    relock: Option<LockFuture<'a, T>>,
}

impl<'a, T: ?Sized> Future for CondvarWaitFuture<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: both fields are structurally pinned: never moved out;
        // `relock` is only dropped in place (by assignment).
        let this = unsafe { self.get_unchecked_mut() };
        let relock = match &mut this.relock {
            Some(relock) => relock,
            None => {
                // SAFETY: as above.
                ready!(unsafe { Pin::new_unchecked(&mut this.notified) }.poll(cx));
                this.relock.insert(this.notified.mutex.lock_async())
            }
        };
        // SAFETY: as above.
        let guard = ready!(unsafe { Pin::new_unchecked(relock) }.poll(cx));
        // Done: a finished lock future holds nothing; drop it in place.
        this.relock = None;
        Poll::Ready(guard)
    }
}

impl<T: ?Sized> Drop for CondvarWaitFuture<'_, T> {
    fn drop(&mut self) {
        if self.relock.is_some() {
            // Notified, but not re-locked: cancel the re-lock (in place),
            // and pass the notification on.
            self.relock = None;
            self.notified.condvar.notify_one();
        }
    }
}

impl<T: ?Sized> fmt::Debug for CondvarWaitFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondvarWaitFuture")
            .field("relocking", &self.relock.is_some())
            .finish_non_exhaustive()
    }
}
