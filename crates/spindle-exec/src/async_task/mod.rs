//! Async tasks: a `std` [`Future`] run by any [`Executor`](crate::Executor), in one
//! allocation, with a [`JoinHandle`] for its output.
//!
//! The protocol (state bits, who owns which field when, each transition) is
//! written up in `README.md` beside this file and coded in `state.rs`.
//!
//! # Files
//! - `state.rs`: the state word and its transitions.
//! - `raw.rs`: the allocation; running, cancelling and freeing a task.
//! - `memory.rs`: where the allocation lives ([`TaskMemory`]).
//! - `builder.rs`: [`TaskBuilder`], spawning with a context and options.
//! - `waker.rs`: the task's `Waker`.
//! - `join.rs`, `error.rs`: [`JoinHandle`], [`JoinError`].
//! - `sync.rs`: the atomics/cells shim that `--cfg loom` switches.

mod builder;
mod error;
mod join;
mod memory;
mod raw;
mod state;
mod waker;

use core::future::Future;

pub use builder::{SpawnInError, TaskBuilder};
pub use error::JoinError;
pub use join::JoinHandle;
pub use memory::{Heap, TaskMemory};
pub(crate) use raw::Header;

use crate::executor::Spawner;
#[cfg(doc)]
use crate::task::{Hint, TaskRef};

/// Spawns `future` as a task on `executor` and returns the handle for its
/// output.
///
/// The task is submitted at once with [`Hint::Back`].
/// Each time its [`Waker`](core::task::Waker) fires, the task is submitted
/// again through the [handle](Spawner::Handle) it keeps: with
/// [`Hint::Next`] when it was idle (woken, usually, by the task that did
/// what it waited for, so it runs while its data is warm), and with
/// `Hint::Back` when it woke itself during its poll (a yield), so that
/// the others run first. Waking a task that is already queued,
/// or finished, does nothing; waking it while it is being polled makes it
/// run again after that poll, so no wake-up is lost.
///
/// A panic in the future is caught where it is polled and handed to the
/// [`JoinHandle`] as a [`JoinError`]. If the executor shuts down with the
/// task queued (it calls [`TaskRef::cancel`]), the future is dropped
/// and the handle reports a cancelled task.
///
/// # Cost
///
/// One allocation, holding the task node, its state, the executor clone
/// and the future (later its output); no locks. Submitting allocates
/// nothing more (the executor links the task node itself), and neither do
/// wakes.
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, spawn};
///
/// let executor = ManualExecutor::new();
/// let handles: Vec<_> = (0..4_u64).map(|i| spawn(&executor, async move { i * i })).collect();
/// executor.run_all();
/// let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
///
/// The future must be `Send`: the executor may poll it on any thread. One
/// that holds an `Rc` across an `.await` does not compile:
///
/// ```compile_fail
/// use spindle_exec::{ManualExecutor, spawn};
/// use std::rc::Rc;
///
/// let executor = ManualExecutor::new();
/// spawn(&executor, async {
///     let shared = Rc::new(1);
///     std::future::ready(()).await;
///     *shared
/// });
/// ```
pub fn spawn<S, F>(spawner: &S, future: F) -> JoinHandle<F::Output>
where
    S: Spawner + ?Sized,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    TaskBuilder::new().spawn(spawner, future)
}
