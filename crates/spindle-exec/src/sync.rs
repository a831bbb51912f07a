//! The one door through which atomics, cells and thread parking enter the
//! async-task state machine and [`block_on`](mod@crate::block_on).
//! (The work-stealing pool keeps its own, `steal/sync.rs`, for now.)
//!
//! Under `--cfg loom` every item here is loom's model of it, so the loom
//! models (`tests/loom_async_task.rs`) explore the interleavings of the real
//! code; otherwise the items are `core`'s and `std`'s, at no cost. Code in
//! `async_task/` and `block_on.rs` never names `core::sync::atomic`,
//! `core::cell::UnsafeCell` or `std::thread::{park, current}` directly.
//!
//! Both backends expose the same names with the same signatures; an item is
//! added when some code needs it.

#[cfg(loom)]
pub(crate) use loom_backend::{CACHE_IN_THREAD_LOCALS, atomic, cell, thread};
#[cfg(not(loom))]
pub(crate) use native_backend::{CACHE_IN_THREAD_LOCALS, atomic, cell, thread};

#[cfg(not(loom))]
mod native_backend {
    /// Whether values holding these primitives may be cached in
    /// thread-locals across calls (`block_on`'s parker).
    pub(crate) const CACHE_IN_THREAD_LOCALS: bool = true;

    /// Atomic types and orderings.
    pub(crate) mod atomic {
        pub(crate) use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    }

    /// Parking the current thread.
    pub(crate) mod thread {
        pub(crate) use std::thread::{Thread, current, park};
    }

    /// Cells whose accesses loom can check (spindle-core's shim).
    pub(crate) mod cell {
        pub(crate) use spindle_core::cell::UnsafeCell;
    }
}

#[cfg(loom)]
mod loom_backend {
    /// loom's objects must not outlive the model run that created them, so
    /// nothing holding one is cached in a thread-local (and loom's threads
    /// share the OS thread's thread-locals anyway).
    pub(crate) const CACHE_IN_THREAD_LOCALS: bool = false;

    /// Atomic types and orderings.
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    }

    /// Parking the current (loom) thread.
    pub(crate) mod thread {
        pub(crate) use loom::thread::{Thread, current, park};
    }

    /// Cells whose accesses loom can check.
    pub(crate) mod cell {
        pub(crate) use spindle_core::cell::UnsafeCell;
    }
}
