//! The [`Executor`] trait: anything that runs tasks.

use crate::task::{Hint, TaskRef};
use core::fmt;
use std::error::Error;
use std::sync::Arc;

/// Runs submitted tasks. Object-safe, so `&dyn Executor` and
/// `Arc<dyn Executor>` work wherever an executor is expected, and users can
/// plug in their own.
///
/// `submit` must not allocate on its hot path (tasks are intrusive nodes
/// the owner provides) and must eventually run or cancel every task it
/// accepts, exactly once.
///
/// # Workers
///
/// An executor whose threads can be told apart implements
/// [`worker_index`](Self::worker_index) and [`submit_to`](Self::submit_to):
/// a task that must stay on one thread (a pinned fiber) asks where it runs
/// the first time and is resubmitted there after. The defaults say the
/// executor has no such workers; a task that needs one then finds out for
/// itself (a pinned fiber checks its thread before it resumes).
pub trait Executor: Send + Sync {
    /// Queues `task` to run, as `hint` asks where the executor can.
    fn submit(&self, task: TaskRef, hint: Hint);

    /// The index of the worker the calling thread is, if it is one of this
    /// executor's; `None` on any other thread, and always `None` for an
    /// executor without addressable workers (the default).
    ///
    /// An index this returns must be accepted by
    /// [`submit_to`](Self::submit_to).
    #[inline]
    fn worker_index(&self) -> Option<usize> {
        None
    }

    /// Queues `task` to run on worker `worker` alone (never stolen, never
    /// run elsewhere), as `hint` asks. If the executor has closed, the task
    /// is cancelled, as with [`submit`](Self::submit).
    ///
    /// # Errors
    /// [`SubmitToError`], handing the task back, if there is no such worker
    /// (the default: the executor has none to address).
    #[inline]
    fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        let _ = hint;
        Err(SubmitToError::new(task, worker, 0))
    }

    /// Picks the worker a pinned task lives on, asked on the worker about
    /// to run it for the first time; `None` if the calling thread is not
    /// one of this executor's workers.
    ///
    /// The task has not started, so it can still go anywhere: if another
    /// worker is returned, the task is sent there with
    /// [`submit_to`](Self::submit_to) and starts there. An executor can
    /// spread pinned tasks over its workers this way, since it cannot move
    /// them later. The default binds the task where it is
    /// ([`worker_index`](Self::worker_index)).
    #[inline]
    fn bind_pinned(&self) -> Option<PinnedHome> {
        self.worker_index().map(PinnedHome::Here)
    }
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

/// Implements `Executor` for pointers to executors, forwarding every
/// method (the defaults would hide the pointee's own).
macro_rules! forward_executor {
    ($($pointer:ty),+) => {$(
        impl<E: Executor + ?Sized> Executor for $pointer {
            #[inline]
            fn submit(&self, task: TaskRef, hint: Hint) {
                (**self).submit(task, hint)
            }
            #[inline]
            fn worker_index(&self) -> Option<usize> {
                (**self).worker_index()
            }
            #[inline]
            fn submit_to(
                &self,
                worker: usize,
                task: TaskRef,
                hint: Hint,
            ) -> Result<(), SubmitToError> {
                (**self).submit_to(worker, task, hint)
            }
            #[inline]
            fn bind_pinned(&self) -> Option<PinnedHome> {
                (**self).bind_pinned()
            }
        }
    )+};
}

forward_executor!(Arc<E>, &E);

/// The worker a pinned task lives on, as [`Executor::bind_pinned`] picks
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinnedHome {
    /// The calling worker, which runs the task now.
    Here(usize),
    /// Another worker: the task is sent there, and starts there.
    Elsewhere(usize),
}

/// [`Executor::submit_to`] named a worker the executor does not have. The
/// task is handed back: submit it elsewhere, run or cancel it (dropping it
/// leaks it).
pub struct SubmitToError {
    task: TaskRef,
    worker: usize,
    workers: usize,
}

impl SubmitToError {
    /// The error for `task`, sent to `worker` of an executor with
    /// `workers` addressable workers (0 for none at all).
    pub fn new(task: TaskRef, worker: usize, workers: usize) -> Self {
        SubmitToError {
            task,
            worker,
            workers,
        }
    }

    /// The task that was not queued.
    pub fn into_task(self) -> TaskRef {
        self.task
    }

    /// The worker index asked for.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How many addressable workers the executor has (0: none).
    pub fn workers(&self) -> usize {
        self.workers
    }
}

impl fmt::Debug for SubmitToError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitToError")
            .field("worker", &self.worker)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SubmitToError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.workers {
            0 => write!(
                f,
                "this executor cannot run a task on a chosen worker (asked for worker {})",
                self.worker
            ),
            n => write!(f, "no worker {} in an executor of {n} workers", self.worker),
        }
    }
}

impl Error for SubmitToError {}
