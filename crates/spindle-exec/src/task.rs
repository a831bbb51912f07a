//! [`Task`]: the unit of work every executor runs, an intrusive node that
//! its owner provides.

use core::fmt;
use core::ptr::NonNull;
use spindle_core::intrusive::{Adapter, Link};

/// What a task owner tells an executor about when to run a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hint {
    /// Run soon: the front of the queue (a LIFO "next" slot where the
    /// executor has one). For a task woken by the one that runs now.
    Next,
    /// Run after what is already queued: fair.
    Back,
    /// Run right here, on the submitting thread, if the executor allows it;
    /// otherwise treated as [`Hint::Next`].
    Inline,
}

/// The functions an executor calls on a task.
#[derive(Debug)]
pub struct TaskVTable {
    /// Runs the task. Afterwards the executor no longer owns it; the task
    /// may have submitted itself again.
    pub run: unsafe fn(NonNull<Task>),
    /// Tells the task it will never run: its executor shut down. The task
    /// releases what it holds (an async task drops its future and reports
    /// cancellation to its joiner).
    pub cancel: unsafe fn(NonNull<Task>),
}

/// A task node: an owner (a fiber, an async task) embeds it, usually as
/// its first field, and submits a [`TaskRef`] to it. Submitting allocates
/// nothing; queues link the nodes themselves.
#[repr(C)]
pub struct Task {
    vtable: &'static TaskVTable,
    link: Link<Task>,
}

impl Task {
    /// A task node whose owner handles `run` and `cancel`.
    pub const fn new(vtable: &'static TaskVTable) -> Self {
        Task {
            vtable,
            link: Link::new(),
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").finish_non_exhaustive()
    }
}

/// The right to run a submitted task once: what executors hold and queue.
///
/// Whoever holds a `TaskRef` must call [`run`](TaskRef::run) or
/// [`cancel`](TaskRef::cancel) exactly once; dropping it without either
/// leaks the task (its owner waits forever).
pub struct TaskRef(NonNull<Task>);

// SAFETY: a task's owner promises (`from_raw`) that its task may run on
// any thread the executor picks.
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// Wraps a task for submission.
    ///
    /// # Safety
    /// - `task` stays valid and does not move until the `TaskRef` is run or
    ///   cancelled;
    /// - at most one `TaskRef` to it exists at a time (it is in at most one
    ///   queue);
    /// - its vtable functions may be called from any thread.
    pub unsafe fn from_raw(task: NonNull<Task>) -> Self {
        TaskRef(task)
    }

    /// The task node.
    pub fn as_ptr(&self) -> NonNull<Task> {
        self.0
    }

    /// Runs the task.
    #[inline]
    pub fn run(self) {
        // SAFETY: `from_raw` guarantees the task is valid and ours to run.
        unsafe { ((*self.0.as_ptr()).vtable.run)(self.0) }
    }

    /// Tells the task it will never run.
    pub fn cancel(self) {
        // SAFETY: as in `run`.
        unsafe { ((*self.0.as_ptr()).vtable.cancel)(self.0) }
    }

    /// Gives up the `TaskRef` without running it, for a queue to link.
    pub(crate) fn into_raw(self) -> NonNull<Task> {
        self.0
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskRef").field(&self.0).finish()
    }
}

/// Links tasks into `spindle_core` intrusive queues.
pub(crate) struct TaskLinks;

// SAFETY: `link` projects to the node's own `link` field.
unsafe impl Adapter for TaskLinks {
    type Node = Task;

    unsafe fn link(node: NonNull<Task>) -> NonNull<Link<Task>> {
        // SAFETY: the caller guarantees `node` is a valid task.
        unsafe { NonNull::from(&(*node.as_ptr()).link) }
    }
}
