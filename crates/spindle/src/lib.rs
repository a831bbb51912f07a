//! spindle: a toolbox for concurrent and parallel Rust programs.
//!
//! This crate gathers the spindle crates under one name; each is also
//! usable on its own.
//!
//! ```
//! use spindle::coro::{Coroutine, CoroutineResult, Generator};
//! use spindle::SpinLock;
//!
//! // A coroutine keeps its place between resumes.
//! let mut greeter = Coroutine::new(|s, name: &'static str| {
//!     let next = s.suspend(format!("hello, {name}"));
//!     format!("goodbye, {next}")
//! });
//! assert_eq!(greeter.resume("ada"), CoroutineResult::Yield("hello, ada".to_string()));
//! assert_eq!(greeter.resume("alan"), CoroutineResult::Return("goodbye, alan".to_string()));
//!
//! // A generator is an iterator written as a loop.
//! let evens: Vec<u32> = Generator::new(|out| (0..5).for_each(|i| out.give(2 * i))).collect();
//! assert_eq!(evens, [0, 2, 4, 6, 8]);
//!
//! // The building blocks underneath are public too.
//! let total = SpinLock::new(0);
//! *total.lock() += evens.len();
//! assert_eq!(*total.lock(), 5);
//! ```
//!
//! # What is here
//! - [`coro`] (`spindle-coro`): stackful coroutines and generators on
//!   pooled, guarded stacks, with a hand-written context switch for
//!   x86-64 (System V and Windows) and aarch64.
//! - [`exec`] (`spindle-exec`): the `Executor` trait; a manual executor,
//!   a compute pool and a work-stealing pool; async tasks on any of them.
//! - [`fiber`] (`spindle-fiber`): fibers (stackful tasks that block like
//!   threads and cost what tasks cost) on any executor, fiber-locals, and
//!   a fiber pool for batches of jobs.
//! - [`sync`] (`spindle-sync`): `Mutex`, `Condvar`, `Event`, `WaitGroup`,
//!   `Barrier`, `Semaphore`, channels with `select!`, and promises; each
//!   one object that works from fibers, threads and async code.
//! - The building blocks of `spindle-core`, re-exported at the top:
//!   [`SpinLock`], [`Backoff`], [`CachePadded`] and the allocation-free
//!   [`intrusive`] containers.

pub use spindle_coro as coro;
pub use spindle_exec as exec;
pub use spindle_fiber as fiber;
pub use spindle_sync as sync;

pub use spindle_core::{Backoff, CachePadded, SpinLock, SpinLockGuard, intrusive};

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
