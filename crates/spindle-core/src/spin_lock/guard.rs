//! The RAII guard of a held [`SpinLock`].

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use super::SpinLock;
use crate::sync::atomic::Ordering;

/// Proof that a [`SpinLock`] is held: it gives access to the value, and
/// releases the lock when dropped.
///
/// Made by [`SpinLock::lock`] and [`SpinLock::try_lock`].
///
/// Like [`std::sync::MutexGuard`], the guard is `Sync` when `T: Sync` but
/// never `Send`: a spin-locked section should end on the thread that began
/// it, promptly, and a `!Send` guard keeps a fiber that holds one across a
/// suspension from being declared movable. The guard borrows its lock and
/// cannot outlive it.
///
/// # Examples
///
/// ```
/// use spindle_core::SpinLock;
///
/// let lock = SpinLock::new(vec![1]);
/// {
///     let mut guard = lock.lock();
///     guard.push(2); // `DerefMut` reaches the `Vec`
///     assert!(lock.is_locked());
/// } // dropped here: unlocked
/// assert!(!lock.is_locked());
/// assert_eq!(*lock.lock(), [1, 2]);
/// ```
///
/// A guard cannot outlive its lock:
///
/// ```compile_fail,E0597
/// use spindle_core::SpinLock;
///
/// let guard;
/// {
///     let lock = SpinLock::new(0);
///     guard = lock.lock();
/// }
/// drop(guard);
/// ```
///
/// A guard cannot be sent to another thread, even a scoped one:
///
/// ```compile_fail,E0277
/// use spindle_core::SpinLock;
///
/// let lock = SpinLock::new(0);
/// std::thread::scope(|s| {
///     let guard = lock.lock();
///     s.spawn(move || drop(guard));
/// });
/// ```
///
/// A guard over a `!Sync` value cannot be shared between threads:
///
/// ```compile_fail,E0277
/// use spindle_core::SpinLock;
/// use std::cell::Cell;
///
/// let lock = SpinLock::new(Cell::new(0));
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     let guard = &guard;
///     s.spawn(move || guard.set(1));
/// });
/// ```
///
/// And a lock over a `!Send` value cannot be shared at all:
///
/// ```compile_fail,E0277
/// use spindle_core::SpinLock;
/// use std::rc::Rc;
///
/// let lock = SpinLock::new(Rc::new(0));
/// std::thread::scope(|s| {
///     s.spawn(|| drop(lock.lock().clone()));
/// });
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct SpinLockGuard<'a, T: ?Sized> {
    /// The lock this guard holds.
    lock: &'a SpinLock<T>,
    /// Makes the guard `!Send` (and `!Sync`, given back below for `T: Sync`).
    _not_send: PhantomData<*const ()>,
}

// SAFETY: `&SpinLockGuard<T>` only hands out `&T`, which may be shared
// between threads exactly when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for SpinLockGuard<'_, T> {}

impl<'a, T: ?Sized> SpinLockGuard<'a, T> {
    /// Wraps a lock that the caller has just acquired.
    ///
    /// # Safety
    ///
    /// - The calling thread has moved `lock.locked` from `false` to `true`
    ///   with `Acquire` ordering, and no other guard for `lock` exists.
    #[inline]
    pub(super) unsafe fn new(lock: &'a SpinLock<T>) -> Self {
        Self {
            lock,
            _not_send: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.lock.data.with(|data| {
            // SAFETY: this guard holds the lock (its constructor's contract), so
            // nothing writes `data` while the guard, and so this `&self`, lives.
            unsafe { &*data }
        })
    }
}

impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.lock.data.with_mut(|data| {
            // SAFETY: this guard holds the lock, and `&mut self` means no other
            // reference obtained through the guard is alive.
            unsafe { &mut *data }
        })
    }
}

impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
