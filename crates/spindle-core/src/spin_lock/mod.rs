//! A test-and-test-and-set spin lock.
//!
//! # State
//!
//! One `AtomicBool`, `locked`, is the whole protocol:
//!
//! - `false -> true`: only by a successful compare-exchange with `Acquire`
//!   ordering ([`SpinLock::try_lock`], [`SpinLock::lock`]). The winner now
//!   owns `data` and holds the only [`SpinLockGuard`].
//! - `true -> false`: only by that guard's `Drop`, with a `Release` store.
//!   Every write made under the lock thus happens-before whatever the next
//!   owner does after its `Acquire`.
//! - Waiters read it with `Relaxed` loads while it is `true` (the "test"
//!   before the "test-and-set"): plain loads keep the cache line shared
//!   among the waiters, and only a waiter that has seen `false` tries the
//!   compare-exchange that needs the line exclusively.

mod guard;
#[cfg(all(test, not(loom)))]
mod tests;

pub use guard::SpinLockGuard;

use core::fmt;

use crate::backoff::Backoff;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::cell::UnsafeCell;

/// A mutual-exclusion lock that waits by spinning.
///
/// A `SpinLock` never asks the OS to put a thread to sleep: a thread that
/// finds it locked spins with [`Backoff`], yielding its time slice now and
/// then. That makes it the right lock for tiny critical sections (a few
/// pointer updates, as in the waiter lists of spindle's primitives) where the
/// holder will be done before a sleep and wake-up could even start; it is
/// the wrong lock for anything that may take long or block. Never suspend a
/// fiber or `.await` while holding one.
///
/// It has the shape of [`std::sync::Mutex`] without poisoning: a panic while
/// the lock is held unlocks it (the guard's `Drop` runs) and the data is
/// left as the panic found it.
///
/// `SpinLock<T>` is `Send` and `Sync` when `T: Send`, like `Mutex<T>`.
///
/// # Examples
///
/// ```
/// use spindle_core::SpinLock;
/// use std::thread;
///
/// let stats = SpinLock::new(Vec::new());
/// thread::scope(|s| {
///     for id in 0..4 {
///         let stats = &stats;
///         s.spawn(move || stats.lock().push(id));
///     }
/// });
/// let mut ids = stats.into_inner();
/// ids.sort();
/// assert_eq!(ids, [0, 1, 2, 3]);
/// ```
///
/// A `SpinLock` can live in a `static`:
///
/// ```
/// use spindle_core::SpinLock;
///
/// static NEXT_ID: SpinLock<u64> = SpinLock::new(1);
///
/// fn next_id() -> u64 {
///     let mut next = NEXT_ID.lock();
///     let id = *next;
///     *next += 1;
///     id
/// }
/// assert_eq!(next_id(), 1);
/// assert_eq!(next_id(), 2);
/// ```
pub struct SpinLock<T: ?Sized> {
    /// `true` while a guard exists; see the module docs for who flips it.
    locked: AtomicBool,
    /// The protected value; only the holder of the guard touches it.
    data: UnsafeCell<T>,
}

// SAFETY: a `SpinLock<T>` owns its `T`; moving the lock to another thread
// moves the `T`, which `T: Send` allows.
unsafe impl<T: ?Sized + Send> Send for SpinLock<T> {}

// SAFETY: through `&SpinLock<T>` a thread reaches the `T` only while holding
// the lock, one thread at a time, with `Acquire`/`Release` ordering every
// holder's accesses after the previous holder's. That hands the `T` from
// thread to thread, which is what `T: Send` allows; `T: Sync` is not needed
// because no two threads ever see the `T` at once.
unsafe impl<T: ?Sized + Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// Creates an unlocked lock that protects `value`.
    ///
    /// ```
    /// use spindle_core::SpinLock;
    ///
    /// let lock = SpinLock::new(5);
    /// assert!(!lock.is_locked());
    /// ```
    #[cfg(not(loom))]
    #[inline]
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// Creates an unlocked lock that protects `value`.
    ///
    /// (Not `const` under `--cfg loom`: loom's atomics cannot be.)
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value it protected.
    ///
    /// ```
    /// use spindle_core::SpinLock;
    ///
    /// let lock = SpinLock::new(String::from("owned"));
    /// assert_eq!(lock.into_inner(), "owned");
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> SpinLock<T> {
    /// Acquires the lock, spinning until it is free, and returns a guard that
    /// releases it when dropped.
    ///
    /// The lock is not reentrant: calling `lock` again on the same thread while
    /// its guard is alive spins forever.
    ///
    /// ```
    /// use spindle_core::SpinLock;
    ///
    /// let lock = SpinLock::new(0);
    /// *lock.lock() += 1;
    /// assert_eq!(*lock.lock(), 1);
    /// ```
    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        match self.try_lock() {
            Some(guard) => guard,
            None => self.lock_contended(),
        }
    }

    /// The slow path of [`lock`](Self::lock): test until free, then
    /// test-and-set, with backoff.
    #[cold]
    fn lock_contended(&self) -> SpinLockGuard<'_, T> {
        let mut backoff = Backoff::new();
        loop {
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: our compare-exchange moved `locked` from `false` to
                // `true`, so this thread now holds the lock.
                return unsafe { SpinLockGuard::new(self) };
            }
        }
    }

    /// Acquires the lock if it is free right now, without waiting.
    ///
    /// Returns `None` only if another guard exists at the moment of the call;
    /// it never fails spuriously.
    ///
    /// ```
    /// use spindle_core::SpinLock;
    ///
    /// let lock = SpinLock::new(0);
    /// let guard = lock.try_lock().expect("nobody else holds it");
    /// assert!(lock.try_lock().is_none());
    /// drop(guard);
    /// assert!(lock.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            // SAFETY: the compare-exchange succeeded, so it moved `locked`
            // from `false` to `true` and this thread now holds the lock.
            .map(|_| unsafe { SpinLockGuard::new(self) })
    }

    /// Returns whether the lock is held by someone at this instant.
    ///
    /// The answer may be stale by the time it is read; use it for
    /// diagnostics and heuristics, never for synchronization.
    ///
    /// ```
    /// use spindle_core::SpinLock;
    ///
    /// let lock = SpinLock::new(());
    /// let guard = lock.lock();
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }

    /// Returns a mutable reference to the value, without locking: `&mut self`
    /// already proves no guard exists.
    ///
    /// ```
    /// use spindle_core::SpinLock;
    ///
    /// let mut lock = SpinLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.lock(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.with_mut(|data| {
            // SAFETY: `&mut self` is exclusive, so no guard borrows the lock and
            // nothing else reaches `data` for the returned lifetime.
            unsafe { &mut *data }
        })
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for SpinLock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

/// Shows the value if the lock is free, `<locked>` otherwise; never waits.
impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SpinLock");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}
