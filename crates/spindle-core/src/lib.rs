//! Building blocks for the rest of spindle: a spin lock, spin backoff,
//! cache-line padding, a prefetch hint and intrusive containers.
//!
//! ```
//! use spindle_core::{Backoff, CachePadded, SpinLock};
//! use std::thread;
//!
//! // Per-thread counters on separate cache lines, and a lock-protected total.
//! let counters: Vec<CachePadded<SpinLock<u64>>> =
//!     (0..4).map(|_| CachePadded::new(SpinLock::new(0))).collect();
//! let total = SpinLock::new(0_u64);
//! thread::scope(|s| {
//!     for counter in &counters {
//!         let total = &total;
//!         s.spawn(move || {
//!             for _ in 0..100 {
//!                 *counter.lock() += 1;
//!                 *total.lock() += 1;
//!             }
//!         });
//!     }
//! });
//! assert!(counters.iter().all(|c| *c.lock() == 100));
//! assert_eq!(*total.lock(), 400);
//!
//! // Spinning politely while waiting for something.
//! let mut backoff = Backoff::new();
//! while !backoff.is_completed() {
//!     backoff.snooze();
//! }
//! ```
//!
//! # Contents
//!
//! - [`SpinLock`] / [`SpinLockGuard`]: a test-and-test-and-set lock for tiny
//!   critical sections, shaped like `std::sync::Mutex`.
//! - [`Backoff`]: exponential backoff for spin loops, telling when to stop
//!   spinning and block.
//! - [`CachePadded`]: gives a value a cache line of its own, against false
//!   sharing.
//! - [`fault`]: named fault points that a deterministic tester can
//!   trigger, a no-op otherwise.
//! - [`intrusive`]: allocation-free singly linked list, FIFO queue and LIFO
//!   stack whose nodes the caller owns.
//!
//! # Testing with loom and Miri
//!
//! Every atomic, cell, spin hint and yield comes through one internal shim
//! that `--cfg loom` switches to [loom](https://docs.rs/loom)'s models, so
//! the loom tests check the real code (a separate target directory keeps
//! the flag from invalidating the normal build):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p spindle-core --release --test loom_spinlock
//! ```
//!
//! Under that flag `SpinLock::new` is not `const` (loom's atomics cannot be)
//! and every other test is compiled out. The rest of the suite, doctests
//! included, runs under Miri, with iteration counts shrunk:
//!
//! ```text
//! cargo +nightly miri test -p spindle-core
//! ```
//!
//! # Dependencies
//!
//! None outside `std`; `loom` only under `--cfg loom`.
#![doc(test(attr(deny(warnings))))]

mod backoff;
mod cache_padded;
pub mod fault;
pub mod intrusive;
mod prefetch;
mod spin_lock;
mod sync;

/// Cells whose accesses loom can check, for the lock-free code of the
/// crates above (one shim, not one per crate).
pub mod cell {
    /// `core::cell::UnsafeCell` behind loom's closure-based access API
    /// (`with`, `with_mut`), at no cost; loom's own `UnsafeCell` under
    /// `--cfg loom`, which checks every access against the happens-before
    /// relation.
    pub use crate::sync::cell::UnsafeCell;
}

pub use backoff::Backoff;
pub use cache_padded::CachePadded;
pub use prefetch::prefetch;
pub use spin_lock::{SpinLock, SpinLockGuard};
