//! [`Mutex`]: a lock for fibers, threads and async tasks alike. The state
//! protocol (bits, hand-off, cancel) is in `README.md` beside this file.

mod future;
mod guard;

pub use future::LockFuture;
pub use guard::MutexGuard;

use core::fmt;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

use spindle_core::fault::{self, Site};
use spindle_core::{Backoff, SpinLock};

use crate::loom::atomic::{AtomicU8, Ordering};
use crate::loom::cell::UnsafeCell;
use crate::loom::thread;
use crate::wait::WaitList;
use future::Slot;

/// Set while someone owns the lock (a guard exists, or is being handed to
/// a woken waiter).
const LOCKED: u8 = 1;
/// Set while waiters may be queued: unlocking must then take the slow path
/// and wake one. Set and cleared only under the waiter list's lock.
const QUEUED: u8 = 2;

/// How a locker that finds the lock held, with nobody queued, waits
/// before it queues: `SPINS` steps of [`Backoff::spin`] (1, 2 and 4 spin
/// hints), then yields of the thread, `STEPS` in all (`parking_lot`'s
/// shape). Measured (4 threads × 250k lock-increment-unlock on 2 shared
/// cores): longer spinning (7 spin steps, 127 hints) was no faster, and
/// burns a core the owner may need when threads outnumber cores.
#[cfg(not(loom))]
const SPINS: u32 = 3;
#[cfg(not(loom))]
const STEPS: u32 = 10;
/// Under loom, none: a spin step is a yield, at which loom explores no
/// alternative, so spinning would only hide the interleavings where the
/// locker queues while the owner is still inside.
#[cfg(loom)]
const SPINS: u32 = 0;
#[cfg(loom)]
const STEPS: u32 = 0;

/// A mutual-exclusion lock protecting a `T`, usable from a fiber (which it
/// suspends), a plain thread (which it parks) and async code
/// ([`lock_async`](Self::lock_async)`.await`), all at once.
///
/// An uncontended `lock` and unlock are one compare-and-swap each; a
/// contended `lock` spins briefly while nobody is queued, then waits on an
/// intrusive FIFO of waiters without allocating.
///
/// # Fairness
///
/// The lock may be *barged*: when it is released to a woken waiter, a
/// party that arrives meanwhile may take it first (this keeps a lock that
/// is taken and released in a tight loop fast). Starvation is bounded by
/// Go's rule: a waiter that, once woken, has kept losing the lock to
/// bargers for more than 1 ms is from then on *handed* the lock directly
/// when it reaches the head of the queue, so nobody can take it in
/// between. [`MutexGuard::unlock_fair`] hands the lock over at once.
///
/// # No poisoning
///
/// A panic while the guard is held unlocks the mutex, and the next owner
/// sees the data as the panic left it: like `parking_lot` and
/// `tokio::sync::Mutex`, and unlike `std`, there is no poisoning. Most
/// code unwraps a poisoned lock anyway, a fiber or task that panics is
/// reported where it is joined, and poisoning would make every `lock`
/// return a `Result` in all three worlds.
///
/// # Examples
///
/// ```
/// use spindle_sync::Mutex;
/// use std::sync::Arc;
/// use std::thread;
///
/// let counter = Arc::new(Mutex::new(0));
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         thread::spawn(move || {
///             for _ in 0..1000 {
///                 *counter.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// for thread in threads {
///     thread.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 4000);
/// ```
///
/// The same mutex from async code:
///
/// ```
/// use spindle_sync::Mutex;
///
/// let log = Mutex::new(Vec::new());
/// spindle_exec::block_on(async {
///     log.lock_async().await.push("async");
/// });
/// log.lock().push("blocking");
/// assert_eq!(log.into_inner(), ["async", "blocking"]);
/// ```
pub struct Mutex<T: ?Sized> {
    /// `LOCKED | QUEUED`; see the module's `README.md`.
    state: AtomicU8,
    /// The queued waiters, FIFO.
    waiters: SpinLock<WaitList<Slot>>,
    data: UnsafeCell<T>,
}

// SAFETY: a `Mutex<T>` owns its `T`; moving it moves the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: the `T` is reached through `&Mutex` only by the one owner of the
// lock, and ownership passes with `Release`/`Acquire` (a CAS on `state`, or
// a waiter's signal on hand-off): the `T` moves between threads, which
// `T: Send` allows; no two threads ever see it at once, so no `T: Sync`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex protecting `value`.
    ///
    /// ```
    /// use spindle_sync::Mutex;
    ///
    /// static NAMES: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    /// NAMES.lock().push("one");
    /// assert_eq!(NAMES.lock().len(), 1);
    /// ```
    #[cfg(not(loom))]
    #[must_use]
    pub const fn new(value: T) -> Self {
        Mutex {
            state: AtomicU8::new(0),
            waiters: SpinLock::new(WaitList::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Creates an unlocked mutex protecting `value`. (Not `const` under
    /// loom, whose atomics cannot be.)
    #[cfg(loom)]
    #[must_use]
    pub fn new(value: T) -> Self {
        Mutex {
            state: AtomicU8::new(0),
            waiters: SpinLock::new(WaitList::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// let mutex = spindle_sync::Mutex::new(String::from("mine"));
    /// assert_eq!(mutex.into_inner(), "mine");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, suspending the current fiber or parking the
    /// current thread until it is free, and returns a guard that releases
    /// it when dropped.
    ///
    /// Not reentrant: locking again while this fiber or thread holds the
    /// guard waits forever.
    ///
    /// ```
    /// let mutex = spindle_sync::Mutex::new(1);
    /// *mutex.lock() += 1;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if !fault::point(Site::WAIT) && self.try_acquire_fast() {
            // SAFETY: we just moved `state` from 0 to `LOCKED`.
            return unsafe { MutexGuard::new(self) };
        }
        self.lock_contended()
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> MutexGuard<'_, T> {
        spindle_exec::wait(self.lock_async())
    }

    /// Acquires the lock if it is free now, without waiting.
    ///
    /// It takes a free lock even when others are queued for it (see
    /// [Fairness](Self#fairness)). Under a fault injector
    /// (`spindle_core::fault`) it may fail spuriously.
    ///
    /// ```
    /// let mutex = spindle_sync::Mutex::new(0);
    /// let guard = mutex.try_lock().expect("free");
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if fault::point(Site::TRY) {
            return None;
        }
        self.try_acquire()
    }

    /// Like [`lock`](Self::lock), but gives up after `timeout`, returning
    /// `None`. No lock is taken and no wake-up lost when it gives up.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = spindle_sync::Mutex::new(0);
    /// let held = mutex.lock();
    /// assert!(mutex.lock_timeout(Duration::from_millis(5)).is_none());
    /// drop(held);
    /// assert!(mutex.lock_timeout(Duration::from_millis(5)).is_some());
    /// ```
    #[cfg(not(loom))]
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.lock_deadline(crate::deadline::after(timeout))
    }

    /// Like [`lock`](Self::lock), but gives up at `deadline`, returning
    /// `None`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let mutex = spindle_sync::Mutex::new(0);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(mutex.lock_deadline(deadline).is_some());
    /// ```
    #[cfg(not(loom))]
    pub fn lock_deadline(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        if !fault::point(Site::WAIT) && self.try_acquire_fast() {
            // SAFETY: we just moved `state` from 0 to `LOCKED`.
            return Some(unsafe { MutexGuard::new(self) });
        }
        crate::deadline::wait_deadline(self.lock_async(), deadline)
    }

    /// Returns a future that acquires the lock: `.await` it from async
    /// code. [`lock`](Self::lock) is this future waited for.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes loses nothing: a waiter that
    /// was woken passes the wake on to the next one, and one that was handed
    /// the lock unlocks it (handing it on by the usual rule), so the mutex
    /// stays usable and the queue keeps its order.
    ///
    /// ```
    /// use spindle_sync::Mutex;
    ///
    /// let mutex = Mutex::new(5);
    /// let value = spindle_exec::block_on(async { *mutex.lock_async().await });
    /// assert_eq!(value, 5);
    /// ```
    pub fn lock_async(&self) -> LockFuture<'_, T> {
        LockFuture::new(self)
    }

    /// Returns a mutable reference to the value: `&mut self` proves that
    /// nobody holds the lock.
    ///
    /// ```
    /// let mut mutex = spindle_sync::Mutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive: no guard, no other reference.
        self.data.with_mut(|data| unsafe { &mut *data })
    }

    /// Whether the lock is held at this instant (already stale when read:
    /// for diagnostics, not synchronization).
    ///
    /// ```
    /// let mutex = spindle_sync::Mutex::new(());
    /// let guard = mutex.lock();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// The uncontended acquisition: `0 → LOCKED`.
    #[inline]
    fn try_acquire_fast(&self) -> bool {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock if it is free, queued waiters or not (a barge).
    #[inline]
    fn try_acquire(&self) -> Option<MutexGuard<'_, T>> {
        self.lock_if_free(self.state.load(Ordering::Relaxed))
            .ok()
            // SAFETY: we set `LOCKED`.
            .map(|()| unsafe { MutexGuard::new(self) })
    }

    /// Sets `LOCKED` while it is clear, starting from `state`, a recent
    /// value of the word: `Ok` if it set it (the caller owns the lock
    /// then), or the value it found `LOCKED` in.
    #[inline]
    fn lock_if_free(&self, mut state: u8) -> Result<(), u8> {
        while state & LOCKED == 0 {
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => state = now,
            }
        }
        Err(state)
    }

    /// Takes the lock, spinning a bounded while if it is held and nobody
    /// is queued (a holder about to release it is likely). Returns whether
    /// it took the lock.
    // Under loom `SPINS` and `STEPS` are 0: `steps < SPINS` is never reached.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    fn spin_acquire(&self) -> bool {
        let mut backoff = Backoff::new();
        let mut steps = 0;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            match self.lock_if_free(state) {
                Ok(()) => return true,
                Err(now) => state = now,
            }
            if state & QUEUED != 0 || steps == STEPS {
                return false;
            }
            if steps < SPINS {
                backoff.spin();
            } else {
                thread::yield_now();
            }
            steps += 1;
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// Releases the lock (a guard's drop).
    ///
    /// # Safety
    ///
    /// The caller owns the lock, and gives up the guard it owned it by.
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow(false);
        }
    }

    /// Releases the lock, handing it to the first waiter if there is one.
    ///
    /// # Safety
    ///
    /// As for [`unlock`](Self::unlock).
    pub(crate) unsafe fn unlock_fair(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow(true);
        }
    }

    /// Unlocking with waiters queued (README, step 4): wake the first one,
    /// handing it the lock if it is starving (or `fair`).
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, fair: bool) {
        let waker = {
            let mut waiters = self.waiters.lock();
            let mut handed = false;
            let waker = waiters.notify_one(|slot| {
                if fair || slot.starving.load(Ordering::Relaxed) {
                    slot.handoff.store(true, Ordering::Relaxed);
                    handed = true;
                }
            });
            let queued = if waiters.is_empty() { 0 } else { QUEUED };
            // A plain store: nobody else writes `state` now. `LOCKED` is
            // ours, so no CAS can take it, and `QUEUED` changes only under
            // the list's lock, which we hold. `Release`: the critical
            // section happens-before the next `Acquire` of the lock.
            let state = if handed { LOCKED | queued } else { queued };
            self.state.store(state, Ordering::Release);
            waker
        };
        wake(waker);
    }

    /// A woken waiter gave up without taking the lock: wake the next one,
    /// unless the lock is held (its holder then wakes one on unlock, since
    /// `QUEUED` is set while anyone is queued).
    #[cold]
    fn wake_next(&self) {
        let waker = {
            let mut waiters = self.waiters.lock();
            if self.state.load(Ordering::Relaxed) & LOCKED != 0 {
                return;
            }
            let waker = waiters.notify_one(|_| {});
            self.clear_queued_if_empty(&waiters);
            waker
        };
        wake(waker);
    }

    /// Clears `QUEUED` once nobody is queued. Call it under the list's
    /// lock (`waiters` is the locked list).
    fn clear_queued_if_empty(&self, waiters: &WaitList<Slot>) {
        if waiters.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }
}

/// Calls a waker taken under a list's lock, after releasing it.
pub(crate) fn wake(waker: Option<core::task::Waker>) {
    if let Some(waker) = waker {
        if fault::point(Site::WAKE) {
            thread::yield_now();
        }
        waker.wake();
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    /// Shows the value if the lock is free now; never waits for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_acquire() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}
