//! The [`Executor`] trait: anything that runs tasks.

use crate::task::{Hint, TaskRef};
use std::sync::Arc;

/// Runs submitted tasks. Object-safe, so `&dyn Executor` and
/// `Arc<dyn Executor>` work wherever an executor is expected, and users can
/// plug in their own.
///
/// `submit` must not allocate on its hot path (tasks are intrusive nodes
/// the owner provides) and must eventually run or cancel every task it
/// accepts, exactly once.
pub trait Executor: Send + Sync {
    /// Queues `task` to run, as `hint` asks where the executor can.
    fn submit(&self, task: TaskRef, hint: Hint);
}

/// An executor that tasks can keep a reference to, to resubmit themselves
/// when woken.
///
/// The reference is a [`Handle`](Spawner::Handle): cheap to clone, and it
/// does not keep the executor running. Dropping `ManualExecutor`, or the
/// last user handle of `ComputePool` or `StealPool`, shuts them down; a
/// task handle that outlives them cancels what is submitted to it. That is
/// why [`spawn`](crate::spawn) takes a `Spawner` rather than an
/// `Executor + Clone`: a task holding a strong clone would keep its
/// executor running (and, dropped on some thread, could make that thread
/// wait for the workers to exit).
pub trait Spawner: Executor {
    /// What tasks hold to resubmit themselves.
    type Handle: Executor + Clone + 'static;
    /// A new handle.
    fn handle(&self) -> Self::Handle;
}

/// An `Arc` of an executor is its own handle (and does keep it alive: the
/// choice of whoever shares an executor through an `Arc`).
impl<E: Executor + ?Sized + 'static> Spawner for Arc<E> {
    type Handle = Arc<E>;
    fn handle(&self) -> Arc<E> {
        self.clone()
    }
}

impl<E: Executor + ?Sized> Executor for Arc<E> {
    #[inline]
    fn submit(&self, task: TaskRef, hint: Hint) {
        (**self).submit(task, hint)
    }
}

impl<E: Executor + ?Sized> Executor for &E {
    #[inline]
    fn submit(&self, task: TaskRef, hint: Hint) {
        (**self).submit(task, hint)
    }
}
