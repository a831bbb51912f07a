//! [`TaskBuilder`]: spawning an async task with a name, a deadline, the
//! structured-concurrency slots, pinning, or memory of the caller's.

use core::alloc::Layout;
use core::any::Any;
use core::fmt;
use core::future::Future;
use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use super::join::JoinHandle;
use super::memory::{Heap, TaskMemory};
use super::raw::{RawTask, Spawn};
use crate::context::{Extra, TaskContext};
use crate::executor::Spawner;
use crate::task::{Hint, TaskRef};

/// Configures an async task before spawning it: its [context](crate::TaskContext)
/// (name, deadline, cancellation token and scope slots), whether it is
/// pinned to the worker that first runs it, and where its one allocation
/// lives.
///
/// # Examples
///
/// ```
/// use spindle_exec::{StealPool, TaskBuilder, with_current_task};
///
/// let pool = StealPool::new(2)?;
/// let task = TaskBuilder::new()
///     .name("checksum")
///     .pinned()
///     .spawn(&pool, async { with_current_task(|t| t.unwrap().name().unwrap().len()) });
/// assert_eq!(task.join().unwrap(), 8);
/// # Ok::<(), spindle_exec::StealPoolError>(())
/// ```
pub struct TaskBuilder {
    extra: Extra,
    pinned: bool,
    hint: Hint,
}

impl Default for TaskBuilder {
    fn default() -> Self {
        TaskBuilder {
            extra: Extra::default(),
            pinned: false,
            hint: Hint::Back,
        }
    }
}

impl TaskBuilder {
    /// A builder with nothing set: what [`spawn`](crate::spawn) uses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the task (see [`TaskContext::name`](crate::TaskContext::name)).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.extra.name = Some(name.into());
        self
    }

    /// Records when the task should be done by.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.extra.deadline = Some(deadline);
        self
    }

    /// Stores the task's cancellation token (the structured-concurrency
    /// layer's type, read back with a downcast).
    pub fn cancel_token(mut self, token: Arc<dyn Any + Send + Sync>) -> Self {
        self.extra.cancel = Some(token);
        self
    }

    /// Stores the scope the task belongs to.
    pub fn scope(mut self, scope: Arc<dyn Any + Send + Sync>) -> Self {
        self.extra.scope = Some(scope);
        self
    }

    /// Keeps the task on the worker that first runs it: every wake
    /// resubmits it there with [`Executor::submit_to`](crate::Executor::submit_to).
    /// On an executor without addressable workers
    /// ([`Executor::worker_index`](crate::Executor::worker_index) is
    /// `None` where it first runs) the task is not pinned.
    pub fn pinned(mut self) -> Self {
        self.pinned = true;
        self
    }

    /// How the task is first submitted; [`Hint::Back`] unless set. With
    /// [`Hint::Next`], a task spawned on a worker runs as soon as the
    /// spawner yields or waits, as Go runs a new goroutine: the newest
    /// spawn first, older ones left in the queue for idle workers to
    /// steal (a fork-join tree then runs depth first, holding few tasks at
    /// once).
    pub fn hint(mut self, hint: Hint) -> Self {
        self.hint = hint;
        self
    }

    /// Spawns `future` on `spawner`, in one heap allocation, and returns
    /// the handle for its output. See [`spawn`](crate::spawn).
    pub fn spawn<S, F>(self, spawner: &S, future: F) -> JoinHandle<F::Output>
    where
        S: Spawner + ?Sized,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.spawn_in(spawner, future, Heap) {
            Ok(handle) => handle,
            Err(_) => unreachable!("the heap always has room (or aborts)"),
        }
    }

    /// The layout [`spawn_in`](Self::spawn_in) asks its memory for, when
    /// spawning a future of type `F` on a spawner of type `S` with memory
    /// of type `M`: to size memory before spawning.
    pub fn task_layout<S, F, M>() -> Layout
    where
        S: Spawner + ?Sized,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        M: TaskMemory,
    {
        Layout::new::<RawTask<F, S::Handle, M>>()
    }

    /// Spawns `future` on `spawner` with its task placed in `memory`
    /// instead of a heap allocation.
    ///
    /// # Errors
    /// [`SpawnInError`], handing future and memory back, if the memory has
    /// no room for the task.
    pub fn spawn_in<S, F, M>(
        self,
        spawner: &S,
        future: F,
        memory: M,
    ) -> Result<JoinHandle<F::Output>, SpawnInError<F, M>>
    where
        S: Spawner + ?Sized,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        M: TaskMemory,
    {
        let spawn = Spawn {
            context: TaskContext::new(self.extra),
            pinned: self.pinned,
            memory,
        };
        let header = RawTask::<F, S::Handle, M>::allocate(future, spawner.handle(), spawn)
            .map_err(|(future, memory)| SpawnInError { future, memory })?;
        // SAFETY: the task lives in its place, given back only when its last
        // reference is dropped, and `allocate` counted one for this
        // `TaskRef`; it is the task's only `TaskRef` (`SCHEDULED` is set);
        // its vtable functions may run on any thread (`F: Send`, executors
        // are `Sync`, `M: Send`).
        let task = unsafe { TaskRef::from_raw(header.cast()) };
        // The handle's reference keeps the task alive while `submit` runs,
        // even if the executor runs or cancels it before returning.
        spawner.submit(task, self.hint);
        // SAFETY: `allocate` counted one reference for the handle and set
        // `JOIN_HANDLE`; the output type is `F::Output`.
        Ok(unsafe { JoinHandle::from_raw(header) })
    }
}

impl fmt::Debug for TaskBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskBuilder")
            .field("name", &self.extra.name)
            .field("deadline", &self.extra.deadline)
            .field("pinned", &self.pinned)
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

/// [`TaskBuilder::spawn_in`] was given memory without room for the task.
/// Nothing was spawned; the future and the memory are handed back.
pub struct SpawnInError<F, M> {
    /// The future that was not spawned.
    pub future: F,
    /// The memory that was too small.
    pub memory: M,
}

impl<F, M> fmt::Debug for SpawnInError<F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnInError").finish_non_exhaustive()
    }
}

impl<F, M> fmt::Display for SpawnInError<F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the memory given to spawn_in has no room for the task")
    }
}

impl<F, M> Error for SpawnInError<F, M> {}
