//! The real primitives, used in every build except `--cfg loom`.

/// Atomic types and orderings.
pub(crate) mod atomic {
    pub(crate) use core::sync::atomic::{AtomicBool, Ordering};
}

/// Spin-loop hints.
pub(crate) mod hint {
    /// Emits `n` spin-loop hints in a row (a `pause` on x86, a `yield`/`isb`
    /// on aarch64).
    #[inline]
    pub(crate) fn spin_burst(n: u32) {
        for _ in 0..n {
            core::hint::spin_loop();
        }
    }
}

/// Thread scheduling.
pub(crate) mod thread {
    pub(crate) use std::thread::yield_now;
}

/// Cells whose accesses loom can check.
pub(crate) mod cell {
    /// `core::cell::UnsafeCell` with loom's closure-based access API, so the
    /// same code compiles against both backends.
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        #[inline]
        pub const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        #[inline]
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Calls `f` with a pointer for reading the value.
        #[inline]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for writing the value.
        #[inline]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
