//! [`MutexGuard`]: proof of owning a [`Mutex`].

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use super::Mutex;

/// Proof that a [`Mutex`] is locked: it gives access to the value and
/// unlocks the mutex when dropped.
///
/// # Send and Sync
///
/// The guard is `Send` when `T: Send`, like `tokio::sync::MutexGuard` (and
/// unlike `std`'s): a spindle mutex is not tied to the thread that locked
/// it, so a guard may be held across an `.await` in a `Send` future, or be
/// unlocked by a fiber that moved to another worker. It is `Sync` when
/// `T: Send + Sync`, since `&guard` hands out `&T`.
///
/// ```
/// use spindle_sync::Mutex;
///
/// fn assert_send<F: Send>(_: F) {}
/// let mutex = Mutex::new(0);
/// assert_send(async {
///     let mut guard = mutex.lock_async().await;
///     async {}.await; // held across an await
///     *guard += 1;
/// });
/// ```
///
/// A guard over a `!Send` value cannot be sent:
///
/// ```compile_fail,E0277
/// use spindle_sync::Mutex;
/// use std::rc::Rc;
///
/// let mutex = Mutex::new(Rc::new(0));
/// let guard = mutex.lock();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard));
/// });
/// ```
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Gives the guard the auto traits of `&mut T` on top of those of
    /// `&Mutex<T>`: `Send` iff `T: Send`, `Sync` iff `T: Send + Sync`.
    _data: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Wraps a lock the caller owns.
    ///
    /// # Safety
    ///
    /// The caller owns `mutex`'s lock (it set `LOCKED` with `Acquire`, or
    /// was handed the lock through its signal), and no other guard for it
    /// exists.
    #[inline]
    pub(crate) unsafe fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _data: PhantomData,
        }
    }

    /// The mutex this guard locks.
    pub(crate) fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }

    /// Unlocks the mutex *fairly*: if anyone is waiting, the first waiter
    /// is handed the lock directly, so nobody can barge in first (not even
    /// the caller locking again at once). Slower than dropping the guard
    /// when the lock is contended.
    ///
    /// ```
    /// use spindle_sync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(0);
    /// let mut guard = mutex.lock();
    /// *guard += 1;
    /// MutexGuard::unlock_fair(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn unlock_fair(this: Self) {
        let this = ManuallyDrop::new(this);
        // SAFETY: the guard proves ownership, and is consumed without
        // running its `Drop`.
        unsafe { this.mutex.unlock_fair() };
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the lock, so nothing writes the value
        // while `&self` lives.
        self.mutex.data.with(|data| unsafe { &*data })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard owns the lock, and `&mut self` excludes any
        // other reference made through it.
        self.mutex.data.with_mut(|data| unsafe { &mut *data })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns the lock and is going away.
        unsafe { self.mutex.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
