//! [`ComputePool`]: N worker threads over one shared queue, plus a pinned
//! queue per worker.

mod builder;
mod current;
mod sleepers;
mod worker;

pub use builder::{ComputePoolBuilder, PoolError};

use crate::executor::{Executor, Spawner, SubmitToError};
use crate::policy::{Fifo, Policy};
use crate::task::{Hint, TaskRef};
use core::fmt;
use std::error::Error;
use std::sync::Arc;
use worker::Shared;

/// A pool of worker threads that run [`Task`](crate::Task)s from one shared
/// queue, in the order its [`Policy`] decides ([`Fifo`] by default), and
/// tasks [pinned](Self::submit_to) to one worker from that worker's own
/// queue.
///
/// Meant for work that computes: a task that blocks its thread (on I/O, a
/// lock, a channel) keeps a worker from running anything else meanwhile.
///
/// A `ComputePool` is a handle: clones are cheap and all drive the same
/// threads. Tasks may be submitted from any thread.
///
/// # Examples
/// ```
/// use spindle_exec::{ComputePool, spawn};
/// let pool = ComputePool::new(4)?;
/// let sum = spawn(&pool, async { (1..=10).sum::<u32>() });
/// assert_eq!(sum.join().unwrap(), 55);
/// # Ok::<(), spindle_exec::PoolError>(())
/// ```
///
/// # Hints
/// [`Hint::Next`] and [`Hint::Back`] are passed to the policy ([`Fifo`]:
/// front and back of the queue). [`Hint::Inline`] runs the task before
/// `submit` returns when `submit` is called on one of this pool's own
/// workers, nested at most 8 deep; anywhere else, or deeper, it is
/// treated as [`Hint::Next`].
///
/// # Workers
/// Worker `i` (`0..threads`, also the suffix of its thread's name) has a
/// **pinned queue** besides the shared one: the tasks sent to it by
/// [`submit_to`](Self::submit_to), which it alone runs, first in first out
/// ([`Hint::Next`] at the front, [`Hint::Back`] at the back). A task that
/// must always resume on the same thread (a pinned fiber) asks
/// [`worker_index`](Self::worker_index) where it runs, and its waker sends
/// it back there from any thread.
///
/// A worker takes from its pinned queue and the shared queue **in turn**
/// when both have tasks: a steady stream of pinned tasks delays the
/// shared queue by at most one task each time, and the other way round.
/// When only one has tasks, it takes from that one.
///
/// # Shutdown
/// A pool drains, then closes:
///
/// 1. [`shutdown`](Self::shutdown), [`shutdown_background`](Self::shutdown_background)
///    or dropping the last handle starts the shutdown. Tasks are still
///    accepted while it drains.
/// 2. The workers go on running tasks until every queue (the shared one
///    and each worker's pinned queue) is empty and no task is running. So
///    every task queued before the shutdown runs, and so does every task
///    submitted while it drains (by those tasks, or by wakers on other
///    threads), pinned or not.
/// 3. Then the pool is closed, at once for every queue, and the workers
///    exit. A task submitted to a closed pool, with
///    [`submit`](Executor::submit) or [`submit_to`](Self::submit_to), is
///    **cancelled** at once, on the submitting thread
///    ([`TaskRef::cancel`]; an async task reports the cancellation to its
///    joiner).
/// 4. `shutdown` waits for every worker to exit and joins the threads;
///    `shutdown_background` does not wait. Dropping the last handle waits
///    like `shutdown`, except on one of the pool's own workers, which
///    cannot wait for itself: there it starts the shutdown and the threads
///    finish on their own, detached.
///
/// A task that never returns, or that resubmits itself forever, keeps the
/// pool draining, and `shutdown` waits as long. A task that holds a
/// handle (an async task's waker may) keeps the pool from shutting down
/// when the other handles are dropped; call `shutdown` to end it anyway.
///
/// # Panics in tasks
/// A task should catch its own panics (async tasks do). If a panic
/// escapes a task's `run` or `cancel` anyway, the pool catches it, drops
/// the payload, counts it in [`panic_count`](Self::panic_count) and goes
/// on: the worker thread survives. The panic hook has printed the message
/// by then, as usual.
pub struct ComputePool<P: Policy = Fifo> {
    handle: Arc<Handle<P>>,
}

/// The shared part of every handle; its drop is the last handle's drop.
struct Handle<P: Policy> {
    shared: Arc<Shared<P>>,
}

impl<P: Policy> Drop for Handle<P> {
    fn drop(&mut self) {
        self.shared.begin_shutdown();
        if !self.shared.is_current() {
            self.shared.wait_for_exit();
        }
    }
}

impl ComputePool {
    /// The most worker threads a pool may have.
    pub const MAX_THREADS: usize = builder::MAX_THREADS;

    /// The largest stack size a worker may ask for, in bytes (1 GiB).
    pub const MAX_STACK_SIZE: usize = builder::MAX_STACK_SIZE;

    /// A pool of `threads` workers over a [`Fifo`] queue, with the other
    /// settings at their defaults (see [`ComputePoolBuilder`]).
    ///
    /// # Errors
    /// As [`ComputePoolBuilder::build`]: zero threads, more than
    /// [`MAX_THREADS`](Self::MAX_THREADS), or the system refused a thread.
    pub fn new(threads: usize) -> Result<Self, PoolError> {
        Self::builder().threads(threads).build()
    }

    /// A builder to configure a pool: thread count, names, stack size,
    /// policy.
    pub fn builder() -> ComputePoolBuilder {
        ComputePoolBuilder::new()
    }
}

impl<P: Policy> ComputePool<P> {
    fn from_shared(shared: Arc<Shared<P>>) -> Self {
        ComputePool {
            handle: Arc::new(Handle { shared }),
        }
    }

    fn shared(&self) -> &Shared<P> {
        &self.handle.shared
    }

    /// How many worker threads the pool was built with.
    pub fn threads(&self) -> usize {
        self.shared().threads()
    }

    /// How many tasks wait in the queues, the shared one and the pinned
    /// ones (not counting those running).
    pub fn queued(&self) -> usize {
        self.shared().queued()
    }

    /// The index (`0..threads`) of the worker the calling thread is, if it
    /// is one of *this* pool's workers; `None` on any other thread,
    /// including another pool's workers.
    ///
    /// Read through a never-inlined accessor, so a fiber that moved to
    /// another thread since its last call gets that thread's answer.
    pub fn worker_index(&self) -> Option<usize> {
        self.shared().current_index()
    }

    /// Queues `task` on worker `worker` alone: it runs on that thread and
    /// no other. This is how a pinned fiber's waker resubmits it to the
    /// worker it lives on, from any thread.
    ///
    /// The task goes to the worker's [pinned queue](Self#workers): at its
    /// front for [`Hint::Next`], at its back for [`Hint::Back`].
    /// [`Hint::Inline`] runs it before `submit_to` returns when called on
    /// that very worker (nested at most 8 deep, counting the pool's other
    /// inline runs); anywhere else, or deeper, it is treated as
    /// [`Hint::Next`]. The worker is woken if it sleeps. If the pool is
    /// closed, the task is cancelled at once, on the calling thread (see
    /// [Shutdown](Self#shutdown)).
    ///
    /// # Errors
    /// [`SubmitToError`], handing the task back, if there is no worker
    /// `worker` (it is not below [`threads`](Self::threads)).
    ///
    /// # Examples
    /// ```
    /// use spindle_exec::{ComputePool, Hint, Task, TaskRef, TaskVTable};
    /// use std::ptr::NonNull;
    /// use std::sync::Mutex;
    ///
    /// static RAN_ON: Mutex<Vec<String>> = Mutex::new(Vec::new());
    /// static VTABLE: TaskVTable = TaskVTable { run: on_run, cancel: on_cancel };
    ///
    /// unsafe fn on_run(task: NonNull<Task>) {
    ///     // SAFETY: `new_task` leaked this box; a task is run or cancelled once.
    ///     drop(unsafe { Box::from_raw(task.as_ptr()) });
    ///     let name = std::thread::current().name().unwrap().to_owned();
    ///     RAN_ON.lock().unwrap().push(name);
    /// }
    /// unsafe fn on_cancel(task: NonNull<Task>) {
    ///     // SAFETY: as in `on_run`.
    ///     drop(unsafe { Box::from_raw(task.as_ptr()) });
    /// }
    /// fn new_task() -> TaskRef {
    ///     let task = NonNull::from(Box::leak(Box::new(Task::new(&VTABLE))));
    ///     // SAFETY: the box stays put until `on_run` or `on_cancel` frees
    ///     // it; this is the only `TaskRef` to it; both functions may run on
    ///     // any thread.
    ///     unsafe { TaskRef::from_raw(task) }
    /// }
    ///
    /// let pool = ComputePool::builder().threads(3).name("pin").build()?;
    /// assert_eq!(pool.worker_index(), None, "not on a worker");
    /// for _ in 0..10 {
    ///     pool.submit_to(2, new_task(), Hint::Back)?;
    /// }
    /// let err = pool.submit_to(3, new_task(), Hint::Back).unwrap_err();
    /// assert_eq!(err.to_string(), "no worker 3 in an executor of 3 workers");
    /// err.into_task().cancel();
    /// pool.shutdown()?;
    /// assert_eq!(*RAN_ON.lock().unwrap(), vec!["pin-2"; 10]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        self.shared().submit_to(worker, task, hint)
    }

    /// How many panics escaped a task's `run` or `cancel` and were caught
    /// by the pool.
    pub fn panic_count(&self) -> usize {
        self.shared().panic_count()
    }

    /// Starts the [shutdown](Self#shutdown) and waits until the queue is
    /// drained and every worker thread has exited. Calling it again, or
    /// from several threads, is fine: each call returns once the workers
    /// are gone.
    ///
    /// # Errors
    /// [`ShutdownError::OnWorkerThread`] if called on one of this pool's
    /// workers, which would wait for itself forever. Nothing is done then;
    /// [`shutdown_background`](Self::shutdown_background) works there.
    ///
    /// # Examples
    /// Raw tasks queued before the shutdown run; one submitted after it is
    /// cancelled.
    /// ```
    /// use spindle_exec::{ComputePool, Executor, Hint, Task, TaskRef, TaskVTable};
    /// use std::ptr::NonNull;
    /// use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    ///
    /// static RUNS: AtomicUsize = AtomicUsize::new(0);
    /// static CANCELS: AtomicUsize = AtomicUsize::new(0);
    /// static VTABLE: TaskVTable = TaskVTable { run: on_run, cancel: on_cancel };
    ///
    /// unsafe fn on_run(task: NonNull<Task>) {
    ///     // SAFETY: `new_task` leaked this box; a task is run or cancelled once.
    ///     drop(unsafe { Box::from_raw(task.as_ptr()) });
    ///     RUNS.fetch_add(1, Relaxed);
    /// }
    /// unsafe fn on_cancel(task: NonNull<Task>) {
    ///     // SAFETY: as in `on_run`.
    ///     drop(unsafe { Box::from_raw(task.as_ptr()) });
    ///     CANCELS.fetch_add(1, Relaxed);
    /// }
    /// fn new_task() -> TaskRef {
    ///     let task = NonNull::from(Box::leak(Box::new(Task::new(&VTABLE))));
    ///     // SAFETY: the box stays put until `on_run` or `on_cancel` frees
    ///     // it; this is the only `TaskRef` to it; both functions may run on
    ///     // any thread.
    ///     unsafe { TaskRef::from_raw(task) }
    /// }
    ///
    /// let pool = ComputePool::new(2)?;
    /// for _ in 0..100 {
    ///     pool.submit(new_task(), Hint::Back);
    /// }
    /// pool.shutdown()?;
    /// assert_eq!(RUNS.load(Relaxed), 100);
    ///
    /// pool.submit(new_task(), Hint::Back);
    /// assert_eq!(CANCELS.load(Relaxed), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self) -> Result<(), ShutdownError> {
        let shared = self.shared();
        if shared.is_current() {
            return Err(ShutdownError::OnWorkerThread);
        }
        shared.begin_shutdown();
        shared.wait_for_exit();
        Ok(())
    }

    /// Starts the [shutdown](Self#shutdown) and returns at once; the
    /// workers exit once the queue is drained. Works on any thread,
    /// including the pool's own workers.
    pub fn shutdown_background(&self) {
        self.shared().begin_shutdown();
    }
}

impl<P: Policy> Clone for ComputePool<P> {
    fn clone(&self) -> Self {
        ComputePool {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<P: Policy> Executor for ComputePool<P> {
    /// Queues `task` as `hint` asks (see [Hints](Self#hints)), waking an
    /// idle worker if there is one; cancels it at once if the pool is
    /// closed (see [Shutdown](Self#shutdown)).
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.shared().submit(task, hint);
    }

    /// As [`ComputePool::worker_index`].
    #[inline]
    fn worker_index(&self) -> Option<usize> {
        ComputePool::worker_index(self)
    }

    /// As [`ComputePool::submit_to`].
    #[inline]
    fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        ComputePool::submit_to(self, worker, task, hint)
    }
}

/// Tasks hold a [`ComputeHandle`], which does not keep the pool running.
impl<P: Policy> Spawner for ComputePool<P> {
    type Handle = ComputeHandle<P>;
    fn handle(&self) -> ComputeHandle<P> {
        ComputeHandle {
            shared: Arc::clone(&self.handle.shared),
        }
    }
}

/// What tasks spawned on a [`ComputePool`] hold to resubmit themselves: it
/// submits like the pool, but does not keep it running. Once the pool has
/// shut down, what is submitted through it is cancelled.
pub struct ComputeHandle<P: Policy = Fifo> {
    shared: Arc<Shared<P>>,
}

impl<P: Policy> Clone for ComputeHandle<P> {
    fn clone(&self) -> Self {
        ComputeHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P: Policy> Executor for ComputeHandle<P> {
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.shared.submit(task, hint);
    }

    /// As [`ComputePool::worker_index`].
    #[inline]
    fn worker_index(&self) -> Option<usize> {
        self.shared.current_index()
    }

    /// As [`ComputePool::submit_to`].
    #[inline]
    fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        self.shared.submit_to(worker, task, hint)
    }
}

impl<P: Policy> Spawner for ComputeHandle<P> {
    type Handle = Self;
    fn handle(&self) -> Self {
        self.clone()
    }
}

impl<P: Policy> fmt::Debug for ComputeHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComputeHandle").finish_non_exhaustive()
    }
}

impl<P: Policy> fmt::Debug for ComputePool<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared();
        f.debug_struct("ComputePool")
            .field("threads", &shared.threads())
            .field("queued", &shared.queued())
            .field("shut_down", &shared.is_shut_down())
            .finish()
    }
}

/// Why [`ComputePool::shutdown`] could not wait for the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownError {
    /// It was called on one of the pool's own worker threads, which cannot
    /// wait for itself to exit. Nothing was done.
    OnWorkerThread,
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownError::OnWorkerThread => f.write_str(
                "a compute pool cannot be shut down and waited for from one of its own workers",
            ),
        }
    }
}

impl Error for ShutdownError {}
