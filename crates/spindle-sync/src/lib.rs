//! Synchronization for spindle: one object per primitive that works from a
//! fiber (suspending only the fiber), a plain thread (parking it) and async
//! code (`.await`).
//!
//! Every blocking call is `spindle_exec::wait` on the primitive's own
//! future, and every wait goes through one mechanism: intrusive waiter
//! nodes holding a `Waker` (DESIGN.md, decisions 1 and 2).
//!
//! # Dependencies
//!
//! `spindle-core` (spin lock, fault points) and `spindle-exec` (`wait`);
//! `loom` only under `--cfg loom`.
#![doc(test(attr(deny(warnings))))]

mod barrier;
mod condvar;
mod deadline;
mod event;
mod loom;
mod mutex;
mod semaphore;
mod wait;
mod wait_group;

pub mod channel;
pub mod promise;

pub use barrier::{Barrier, BarrierTimeoutError, BarrierWaitFuture, BarrierWaitResult};
pub use condvar::{Condvar, CondvarWaitFuture, WaitTimeoutResult};
pub use event::{Event, EventWaitFuture};
pub use mutex::{LockFuture, Mutex, MutexGuard};
pub use semaphore::{
    AcquireError, AcquireFuture, AcquireTimeoutError, AddPermitsError, Semaphore, SemaphorePermit,
    TryAcquireError,
};
pub use wait_group::{WaitGroup, WaitGroupGuard, WaitGroupWaitFuture};
