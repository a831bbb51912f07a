//! Fibers: stackful tasks that run on any spindle executor.
//!
//! A fiber is a function on its own stack that blocks like a thread
//! ([`spindle_exec::wait`], [`park`], [`yield_now`], and every blocking
//! call of spindle's primitives) but costs what a task costs: spawning one
//! takes a pooled stack and allocates nothing (a named one allocates its
//! name), a parked one holds one page, and a switch is a few nanoseconds.
//! While a fiber waits, its worker thread runs other fibers and tasks.
//!
//! ```
//! use spindle_exec::{StealPool, wait};
//!
//! let pool = StealPool::new(2)?;
//! let answer = spindle_fiber::spawn(&pool, || 6 * 7);
//! let doubled = spindle_fiber::spawn(&pool, move || {
//!     // Blocks this fiber only: the worker runs others meanwhile.
//!     wait(answer).unwrap() * 2
//! });
//! assert_eq!(doubled.join().unwrap(), 84);
//! # Ok::<(), spindle_exec::StealPoolError>(())
//! ```
//!
//! # What a fiber is made of
//!
//! A fiber is a [`spindle_coro::Coroutine`] driven by an async task of
//! [`spindle_exec`]: each poll of the task resumes the coroutine until the
//! fiber waits, yields or returns. So fibers run on every executor (the
//! manual one, the compute pool, the work-stealing pool, your own), and
//! join, panic and cancellation work exactly as for async tasks: the
//! [`JoinHandle`](spindle_exec::JoinHandle) is the same type, a panic
//! comes out of `join` as a [`JoinError`](spindle_exec::JoinError) with
//! its payload, and an executor that shuts down cancels the fibers still
//! queued. The task itself is placed at the top of the fiber's stack, so a
//! fiber has no allocation of its own.
//!
//! # Thread-locals and pinning
//!
//! Rust code may keep the address of a thread-local across a function
//! call (the compiler is free to reuse it), so a fiber that resumed on
//! another thread in the middle of a function could go on using the old
//! thread's thread-local. Therefore:
//!
//! - **A fiber is pinned** to the worker that first runs it: its waker
//!   sends it back there ([`Executor::submit_to`](spindle_exec::Executor::submit_to)),
//!   and before every resume the fiber checks it is on its own thread. On
//!   an executor that cannot address its workers and still runs the fiber
//!   elsewhere, the fiber stops with a
//!   [`JoinError`](spindle_exec::JoinError) (its stack is leaked, never
//!   resumed on the wrong thread).
//! - **A movable fiber** ([`Builder::movable`], `unsafe`) may resume on
//!   any worker. Its code promises to hold no thread-local reference and
//!   no non-`Send` value across a suspension.
//! - spindle's own thread-locals (the current fiber, the current task,
//!   the blocker) are read through never-inlined functions, so they are
//!   right even for a fiber that moved.
//! - Keep per-fiber state in [`fiber_local!`] values: they belong to the
//!   fiber, move with it, and are dropped when it ends.
//!
//! A pinned fiber that is stopped while it is suspended is unwound (its
//! destructors run) if that happens on its own thread, and leaked
//! otherwise: its stack, and whatever its frames hold, are never freed
//! and its destructors never run (a lock guard held across the suspension
//! stays locked). That is the case when a shut-down executor cancels it
//! from another thread, when `JoinHandle::abort` is called on another
//! thread, and when its last waker is dropped on another thread while it
//! waits. Leaking is sound (everything a fiber holds is `'static`); a
//! later version will send these to the fiber's own worker instead.
//!
//! # Waiting
//!
//! Every thread that runs a fiber gets spindle-fiber's
//! [`Blocker`](spindle_exec::Blocker): [`spindle_exec::wait`] called on a
//! fiber polls the future with the fiber's waker and suspends the fiber
//! until it is woken. On a thread outside any fiber, `wait` still blocks
//! the thread.
//!
//! # Fiber pool
//!
//! A [`FiberPool`] is a fixed number of long-lived fibers that run jobs,
//! after Naughty Dog's job system: [`FiberPool::submit`] queues a batch of
//! closures and returns a [`Counter`]; [`Counter::wait`] blocks until the
//! batch is done, and inside a job it suspends only that job's fiber, so
//! jobs can wait for sub-batches while the worker threads keep running
//! other jobs. A panicking job is caught and reported by its counter
//! ([`JobPanicked`]). The pool never grows: a job that waits keeps its
//! fiber, so a pool whose fibers all wait for queued jobs is deadlocked;
//! size it well above the thread count and watch [`FiberPool::stats`]
//! (see [the deadlock](FiberPool#bounded-and-the-deadlock-it-implies)).
//!
//! ```
//! use spindle_exec::StealPool;
//! use spindle_fiber::FiberPool;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! let executor = StealPool::new(2)?;
//! let pool = FiberPool::builder().fibers(32).build(&executor)?;
//! let ran = Arc::new(AtomicUsize::new(0));
//! let counter = pool.submit((0..1000).map(|_| {
//!     let ran = ran.clone();
//!     move || {
//!         ran.fetch_add(1, Ordering::Relaxed);
//!     }
//! }));
//! counter.wait()?;
//! assert_eq!(ran.load(Ordering::Relaxed), 1000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Stacks
//!
//! Stacks come from [`spindle_coro::StackPool`]: guarded while the
//! process's mapping budget lasts, then from slabs with a canary. A fiber
//! that overflows its stack is reported by name and the process aborts.
//! [`DEFAULT_STACK_SIZE`] is 256 KiB; holding a million fibers takes
//! smaller ones (16 KiB), set with [`Builder::stack_size`].

mod builder;
mod current;
mod fiber;
mod local;
mod pool;

pub use builder::{Builder, DEFAULT_STACK_SIZE, SpawnError, spawn};
pub use current::{Fiber, current, current_waker, is_fiber, park, yield_now};
pub use local::LocalKey;
pub use pool::{
    Counter, CounterWait, DEFAULT_POOL_FIBERS, FiberPool, FiberPoolBuilder, FiberPoolError,
    FiberPoolStats, FiberShutdownError, JobPanicked,
};
