//! The one door through which atomics, cells, spin hints and thread yields
//! enter this crate (its `cell` is also the one the crates above use:
//! `spindle_core::cell`).
//!
//! Under `--cfg loom` every item here is loom's model of it, so the loom
//! tests explore the interleavings of the real code; otherwise the items are
//! `core`'s and `std`'s, at no cost. Code elsewhere in the crate never names
//! `core::sync::atomic`, `core::cell::UnsafeCell`, `core::hint::spin_loop`
//! or `std::thread::yield_now` directly.
//!
//! Both backends expose the same names with the same signatures; an item is
//! added here when some code needs it, so neither backend carries dead code.
//!
//! The intrusive containers are the one deliberate exception: they are
//! single-threaded, loom never runs them, and their `Link` must be
//! const-constructible, so they use `core::cell::Cell` directly.

#[cfg(loom)]
mod mocked;
#[cfg(not(loom))]
mod native;

#[cfg(loom)]
pub(crate) use mocked::{atomic, cell, hint, thread};
#[cfg(not(loom))]
pub(crate) use native::{atomic, cell, hint, thread};
