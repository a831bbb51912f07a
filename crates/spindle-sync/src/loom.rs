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
    pub(crate) use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence};
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence};
}

/// Cells whose accesses loom can check (spindle-core's shim).
pub(crate) mod cell {
    pub(crate) use spindle_core::cell::UnsafeCell;
}
