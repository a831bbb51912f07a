//! [`ManualExecutor`]: runs tasks only when asked, on the caller's thread.

use crate::executor::{Executor, Spawner};
use crate::policy::{Fifo, Policy};
use crate::task::{Hint, TaskRef};
use core::fmt;
use spindle_core::SpinLock;
use std::sync::Arc;

/// An executor that runs nothing on its own: the owner calls
/// [`run_next`](Self::run_next), [`run_at_most`](Self::run_at_most) or
/// [`run_all`](Self::run_all), on whichever thread it likes. The order is
/// the policy's, deterministic for a deterministic program: for tests, and
/// for embedding in a loop of the user's own.
///
/// Tasks may be submitted from any thread through a [`ManualHandle`] (a
/// waker may fire anywhere). Dropping the executor cancels the tasks still
/// queued, and every task submitted to a handle afterwards.
///
/// # Examples
/// ```
/// use spindle_exec::{ManualExecutor, spawn};
/// let executor = ManualExecutor::new();
/// let task = spawn(&executor, async { 6 * 7 });
/// assert_eq!(executor.run_all(), 1);
/// assert_eq!(task.join().unwrap(), 42);
/// ```
pub struct ManualExecutor<P: Policy = Fifo> {
    shared: Arc<Shared<P>>,
}

/// A reference to a [`ManualExecutor`]'s queue, for tasks and other
/// threads to submit to; it does not keep the executor alive.
pub struct ManualHandle<P: Policy = Fifo> {
    shared: Arc<Shared<P>>,
}

/// The queue; `None` once the executor is dropped.
struct Shared<P> {
    queue: SpinLock<Option<P>>,
}

impl ManualExecutor {
    /// An executor with a FIFO queue.
    pub fn new() -> Self {
        Self::with_policy(Fifo::new())
    }
}

impl Default for ManualExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Policy> ManualExecutor<P> {
    /// An executor that orders its tasks by `policy`.
    pub fn with_policy(policy: P) -> Self {
        let shared = Arc::new(Shared {
            queue: SpinLock::new(Some(policy)),
        });
        ManualExecutor { shared }
    }

    /// Runs the next task, if any; returns whether one ran.
    pub fn run_next(&self) -> bool {
        // Pop under the lock, run outside it: the task may submit again.
        let task = self.shared.queue.lock().as_mut().and_then(Policy::pop);
        task.map(TaskRef::run).is_some()
    }

    /// Runs up to `n` tasks; returns how many ran.
    pub fn run_at_most(&self, n: usize) -> usize {
        (0..n).take_while(|_| self.run_next()).count()
    }

    /// Runs tasks until none is queued, including those submitted while
    /// running; returns how many ran.
    pub fn run_all(&self) -> usize {
        core::iter::from_fn(|| self.run_next().then_some(())).count()
    }

    /// How many tasks wait.
    pub fn len(&self) -> usize {
        self.shared.queue.lock().as_ref().map_or(0, Policy::len)
    }

    /// Whether no task waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<P: Policy> Drop for ManualExecutor<P> {
    fn drop(&mut self) {
        // Close the queue, then drop the policy outside the lock: it
        // cancels what is left, and cancelling runs the tasks' own code.
        let policy = self.shared.queue.lock().take();
        drop(policy);
    }
}

impl<P: Policy> Executor for ManualExecutor<P> {
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.shared.submit(task, hint);
    }
}

impl<P: Policy> Spawner for ManualExecutor<P> {
    type Handle = ManualHandle<P>;
    fn handle(&self) -> ManualHandle<P> {
        ManualHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Policy> Executor for ManualHandle<P> {
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.shared.submit(task, hint);
    }
}

impl<P: Policy> Spawner for ManualHandle<P> {
    type Handle = Self;
    fn handle(&self) -> Self {
        self.clone()
    }
}

impl<P: Policy> Clone for ManualHandle<P> {
    fn clone(&self) -> Self {
        ManualHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Policy> Shared<P> {
    fn submit(&self, task: TaskRef, hint: Hint) {
        // Never inline: this executor runs tasks only when asked.
        let hint = if hint == Hint::Inline {
            Hint::Next
        } else {
            hint
        };
        let mut queue = self.queue.lock();
        match queue.as_mut() {
            Some(policy) => policy.push(task, hint),
            None => {
                drop(queue);
                task.cancel();
            }
        }
    }
}

impl<P: Policy> fmt::Debug for ManualExecutor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualExecutor")
            .field("queued", &self.len())
            .finish()
    }
}

impl<P: Policy> fmt::Debug for ManualHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualHandle").finish_non_exhaustive()
    }
}
