//! The one door through which atomics, cells, spin hints and yields enter
//! this crate's lock-free parts (the wait signal, the mutex state, the
//! channel ring).
//!
//! Under `--cfg loom` every item is loom's model of it, so the loom models
//! (`tests/loom_*.rs`) explore the interleavings of the real code; otherwise
//! the items are `core`'s and `std`'s, at no cost. Items are added when some
//! code needs them.

#[cfg(loom)]
pub(crate) use loom::{hint, thread};
#[cfg(not(loom))]
pub(crate) use std::{hint, thread};

/// Atomic types and orderings.
pub(crate) mod atomic {
    #[cfg(not(loom))]
    pub(crate) use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
}

/// Cells whose accesses loom can check.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// `core::cell::UnsafeCell` with loom's closure-based access API, so the
    /// same code compiles against both backends.
    #[cfg(not(loom))]
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        #[inline]
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        #[inline]
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    #[cfg(not(loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Calls `f` with a pointer for reading the value.
        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for writing the value.
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
