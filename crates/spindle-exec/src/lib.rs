//! Executors: the [`Executor`] trait and the pieces that run tasks on it.
//!
//! ```
//! use spindle_exec::{ManualExecutor, spawn};
//! let executor = ManualExecutor::new();
//! let sum = spawn(&executor, async { (1..=10).sum::<u32>() });
//! executor.run_all();
//! assert_eq!(sum.join().unwrap(), 55);
//! ```
//!
//! # Pieces
//! - [`Task`] / [`TaskRef`]: the unit of work, an intrusive node its owner
//!   provides, so submitting allocates nothing; [`Hint`] says where it
//!   should go in the queue.
//! - [`Executor`]: object-safe, one method; [`Spawner`]: an executor tasks
//!   can hold a [handle](Spawner::Handle) to. [`Policy`] decides which task
//!   runs next, apart from the executor that runs it.
//! - [`ManualExecutor`]: runs tasks only when asked, deterministically.
//! - [`ComputePool`]: N threads over one shared queue.
//! - [`StealPool`]: per-worker lock-free queues that steal from each other,
//!   a LIFO slot for [`Hint::Next`], optional core pinning, and
//!   [`StealPool::submit_to`] for tasks pinned to a worker.
//! - [`Executor::worker_index`] / [`Executor::submit_to`]: executors whose
//!   threads can be told apart route tasks pinned to a worker.
//! - [`spawn`] an async task on any executor, with a [`JoinHandle`];
//!   [`TaskBuilder`] to give it a name and the other parts of its
//!   [`TaskContext`] (read with [`with_current_task`]), to pin it, or to
//!   place it in memory of your own ([`TaskMemory`]);
//!   [`block_on()`] a future on a plain thread; [`wait`] for a future from
//!   synchronous code, suspending the current fiber when there is one.

mod async_task;
mod block_on;
mod compute;
mod context;
mod executor;
mod manual;
mod policy;
mod steal;
mod sync;
mod task;
mod thread_settings;

pub use async_task::{Heap, JoinError, JoinHandle, SpawnInError, TaskBuilder, TaskMemory, spawn};
pub use block_on::{Blocker, Suspension, block_on, set_blocker, wait, wait_pinned};
pub use compute::{ComputeHandle, ComputePool, ComputePoolBuilder, PoolError, ShutdownError};
pub use context::{TaskContext, TaskId, request_yield, with_current_task};
pub use executor::{Executor, PinnedHome, Spawner, SubmitToError};
pub use manual::{ManualExecutor, ManualHandle};
pub use policy::{Fifo, Policy};
pub use steal::{
    StealHandle, StealMetrics, StealPool, StealPoolBuilder, StealPoolError, StealShutdownError,
};
pub use task::{Hint, Task, TaskRef, TaskVTable};
