//! [`LockFuture`]: the slow path of [`Mutex::lock`], and the lock of async
//! code. The steps are those of the module's `README.md`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
#[cfg(not(loom))]
use std::time::{Duration, Instant};

use spindle_core::fault::{self, Site};

use super::{Mutex, MutexGuard, QUEUED};
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::wait::Wait;

/// What a queued lock waiter shares with the unlockers that wake it.
#[derive(Debug)]
pub(super) struct Slot {
    /// Set by an unlocker that handed this waiter the lock (keeping
    /// `LOCKED` set for it), before it finishes the waiter's signal; read
    /// and cleared by the owner after seeing the signal woken.
    pub(super) handoff: AtomicBool,
    /// Set by the owner, while its node is not linked, once it has starved
    /// (see [`Patience`]); read by unlockers under the list's lock, which
    /// then hand it the lock instead of releasing it.
    pub(super) starving: AtomicBool,
}

/// A future that acquires a [`Mutex`], made by
/// [`Mutex::lock_async`](Mutex::lock_async).
///
/// It is `Send` when `T: Send`, so it can be awaited in a task that moves
/// between threads.
///
/// # Cancel safety
///
/// Dropping it before it completes loses nothing: a waiter that was woken
/// passes the wake on to the next one, and one that was handed the lock
/// unlocks it (handing it on by the usual rule). The mutex stays usable and
/// the other waiters keep their order.
///
/// # Examples
///
/// ```
/// use spindle_sync::Mutex;
///
/// let mutex = Mutex::new(Vec::new());
/// spindle_exec::block_on(async {
///     mutex.lock_async().await.push(1);
///     let lock = mutex.lock_async(); // nothing happens until polled
///     drop(lock);
///     mutex.lock_async().await.push(2);
/// });
/// assert_eq!(mutex.into_inner(), [1, 2]);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockFuture<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    wait: Wait<Slot>,
    patience: Patience,
}

impl<'a, T: ?Sized> LockFuture<'a, T> {
    pub(super) fn new(mutex: &'a Mutex<T>) -> Self {
        LockFuture {
            mutex,
            wait: Wait::new(Slot {
                handoff: AtomicBool::new(false),
                starving: AtomicBool::new(false),
            }),
            patience: Patience::new(),
        }
    }
}

impl<'a, T: ?Sized> Future for LockFuture<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: `wait` is structurally pinned: it is never moved out,
        // and `Drop` cancels it in place.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let wait = unsafe { Pin::new_unchecked(&this.wait) };
        let mutex = this.mutex;
        let woken = wait.is_queued();
        if woken {
            // README step 5: queued; were we woken?
            if !wait.take_woken() {
                // A spurious poll, or a new waker: store it under the
                // lock, then look again, so a wake that raced with the
                // store (and used the old waker) is not missed.
                wait.enqueue(&mut mutex.waiters.lock(), cx.waker());
                if !wait.take_woken() {
                    return Poll::Pending;
                }
            }
            if wait.data().handoff.swap(false, Ordering::Relaxed) {
                // SAFETY: the unlocker kept `LOCKED` set for us, and its
                // signal (`Release`, read by `take_woken` with `Acquire`)
                // ordered its critical section before ours.
                return Poll::Ready(this.acquired());
            }
        }
        // Steps 1–2: contend (a woken waiter competes with bargers).
        if !fault::point(Site::WAIT) && mutex.spin_acquire() {
            return Poll::Ready(this.acquired());
        }
        if woken && this.patience.lost() {
            // Not linked now: the owner may write its slot.
            wait.data().starving.store(true, Ordering::Relaxed);
        }
        if mutex.register(wait, cx.waker()) {
            Poll::Ready(this.acquired())
        } else {
            Poll::Pending
        }
    }
}

impl<'a, T: ?Sized> LockFuture<'a, T> {
    /// The guard for a lock this future just took; the future is reset.
    fn acquired(&mut self) -> MutexGuard<'a, T> {
        self.patience = Patience::new();
        self.wait.data().starving.store(false, Ordering::Relaxed);
        // SAFETY: every caller has just taken the lock for this future.
        unsafe { MutexGuard::new(self.mutex) }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// README steps 2–3: under the list's lock, set `QUEUED`, then take the
    /// lock if it is free after all, otherwise queue `wait`. Returns
    /// whether it took the lock.
    fn register(&self, wait: Pin<&Wait<Slot>>, waker: &Waker) -> bool {
        let mut waiters = self.waiters.lock();
        // `AcqRel` RMW: reads the latest state, so an owner's unlock that
        // comes after it in `state`'s order sees `QUEUED` and takes the
        // slow path (which needs the list's lock, released only once we
        // are linked).
        let state = self.state.fetch_or(QUEUED, Ordering::AcqRel) | QUEUED;
        if self.lock_if_free(state).is_ok() {
            self.clear_queued_if_empty(&waiters);
            return true;
        }
        wait.enqueue(&mut waiters, waker);
        false
    }
}

impl<T: ?Sized> Drop for LockFuture<'_, T> {
    /// README step 6: give up the wait; pass on what was delivered.
    fn drop(&mut self) {
        let mutex = self.mutex;
        let woken = self.wait.cancel(|node| {
            let mut waiters = mutex.waiters.lock();
            let removed = waiters.remove(node);
            mutex.clear_queued_if_empty(&waiters);
            removed
        });
        if !woken {
            return;
        }
        if self.wait.data().handoff.swap(false, Ordering::Relaxed) {
            // SAFETY: we were handed the lock, and own it without a guard.
            unsafe { mutex.unlock() };
        } else {
            mutex.wake_next();
        }
    }
}

impl<T: ?Sized> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture")
            .field("queued", &self.wait.is_queued())
            .finish_non_exhaustive()
    }
}

/// How long a waiter that is woken keeps losing the lock to bargers before
/// it is handed the lock (Go's `starvationThresholdNs`).
#[cfg(not(loom))]
const STARVATION: Duration = Duration::from_millis(1);

/// A waiter's record of lost races: the clock is read only when a woken
/// waiter loses the lock, never on an uncontended or first-time-lucky path.
#[cfg(not(loom))]
#[derive(Debug)]
struct Patience {
    /// When this waiter, woken, first lost the lock to a barger.
    since: Option<Instant>,
}

#[cfg(not(loom))]
impl Patience {
    const fn new() -> Self {
        Patience { since: None }
    }

    /// Notes a lost race; returns whether the waiter is now starving.
    fn lost(&mut self) -> bool {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        now.duration_since(since) >= STARVATION
    }
}

/// Under loom there is no clock: a waiter starves at its first lost race,
/// so the models reach the hand-off path.
#[cfg(loom)]
#[derive(Debug)]
struct Patience;

#[cfg(loom)]
impl Patience {
    const fn new() -> Self {
        Patience
    }

    fn lost(&mut self) -> bool {
        true
    }
}
