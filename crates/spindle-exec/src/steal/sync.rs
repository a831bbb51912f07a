//! The one door through which atomics, locks and thread parking enter the
//! work-stealing pool.
//!
//! Under `--cfg loom` every item here is loom's model of it, so the loom
//! models (`tests/loom_steal.rs`, which compiles `ring.rs` and `idle.rs`
//! against this very file) explore the interleavings of the real code;
//! otherwise the items are `core`'s and `std`'s, at no cost. Code in
//! `steal/` never names `core::sync::atomic`, `std::sync::Mutex` or
//! `std::thread::park` directly.
//!
//! Both backends expose the same names with the same signatures. Thread
//! *spawning* is not here: the pool's own threads are never run under loom
//! (the models drive the lock-free pieces with loom threads of their own).

#[cfg(loom)]
pub(crate) use loom_backend::{Mutex, MutexGuard, atomic, thread};
#[cfg(not(loom))]
pub(crate) use native_backend::{Mutex, MutexGuard, atomic, thread};

#[cfg(not(loom))]
mod native_backend {
    pub(crate) use std::sync::{Mutex, MutexGuard};

    /// Atomic types, orderings and fences.
    pub(crate) mod atomic {
        pub(crate) use core::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }

    /// Parking the current thread.
    pub(crate) mod thread {
        pub(crate) use std::thread::{Thread, current, park};
    }
}

#[cfg(loom)]
mod loom_backend {
    pub(crate) use loom::sync::{Mutex, MutexGuard};

    /// Atomic types, orderings and fences.
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }

    /// Parking the current (loom) thread.
    pub(crate) mod thread {
        pub(crate) use loom::thread::{Thread, current, park};
    }
}
