//! [`Policy`]: which task runs next, kept apart from the executors that
//! run them so either can be swapped.

use crate::task::{Hint, TaskLinks, TaskRef};
use core::fmt;
use spindle_core::intrusive::IntrusiveQueue;

/// Decides the order in which an executor runs its queued tasks.
///
/// Executors that take a policy ([`ManualExecutor`](crate::ManualExecutor),
/// [`ComputePool`](crate::ComputePool)) call it under their own lock.
pub trait Policy: Send + 'static {
    /// Adds a task, with its owner's hint.
    fn push(&mut self, task: TaskRef, hint: Hint);
    /// Removes the task to run next.
    fn pop(&mut self) -> Option<TaskRef>;
    /// How many tasks wait.
    fn len(&self) -> usize;
    /// Whether no task waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out; [`Hint::Next`] and [`Hint::Inline`] go to the
/// front. Allocation-free: the queue links the task nodes.
#[derive(Default)]
pub struct Fifo {
    queue: IntrusiveQueue<TaskLinks>,
}

impl Fifo {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Policy for Fifo {
    fn push(&mut self, task: TaskRef, hint: Hint) {
        let node = task.into_raw();
        // SAFETY: a `TaskRef` guarantees the node stays valid and unmoved
        // until it is run or cancelled, and that it is in no other queue;
        // we hold it until `pop` hands it back as a `TaskRef`.
        unsafe {
            match hint {
                Hint::Back => self.queue.push_back(node),
                Hint::Next | Hint::Inline => self.queue.push_front(node),
            }
        }
    }

    fn pop(&mut self) -> Option<TaskRef> {
        // SAFETY: every node in the queue came from a `TaskRef` (`push`).
        self.queue
            .pop_front()
            .map(|node| unsafe { TaskRef::from_raw(node) })
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

impl Drop for Fifo {
    /// Tasks still queued when the policy goes away will never run.
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            task.cancel();
        }
    }
}

impl fmt::Debug for Fifo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fifo").field("len", &self.len()).finish()
    }
}
