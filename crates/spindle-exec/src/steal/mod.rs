//! [`StealPool`]: N workers, each with its own run queue, stealing from
//! one another when idle — the "fast" pool, shaped like Go's scheduler.
//!
//! Layout of this module (protocols in `README.md`):
//!
//! - `ring.rs`: each worker's bounded lock-free run queue (steal-half).
//! - `injector.rs`: the locked queue behind the shared injector (tasks
//!   from outside), each worker's spill (overflow of its ring) and inbox
//!   (for [`StealPool::submit_to`]).
//! - `idle.rs`: who searches, who sleeps, and waking without loss.
//! - `shared.rs`: what handles and workers share, and the ways in from
//!   outside.
//! - `worker.rs`: the per-worker state, the run loop, the thread-local.
//! - `builder.rs`, `metrics.rs`, `pin/` (one file per OS), `sync.rs` (the
//!   loom shim).

mod builder;
mod idle;
mod injector;
mod metrics;
mod next_stack;
mod pin;
mod ring;
mod shared;
mod sync;
mod worker;

pub use builder::{StealPoolBuilder, StealPoolError};
pub use metrics::StealMetrics;

use crate::executor::{Executor, PinnedHome, Spawner, SubmitToError};
use crate::task::{Hint, TaskRef};
use core::fmt;
use shared::Shared;
use std::error::Error;
use std::sync::Arc;

/// A work-stealing pool: each worker thread runs tasks from its own queues
/// and, when those are empty, from the shared injector or by stealing half
/// of another worker's queue.
///
/// It is built for many small tasks that submit each other (fibers, async
/// tasks, fork-join): a task submitted on a worker stays on that worker,
/// with no lock and no allocation, and runs soon after, while its cache
/// lines are still warm; idle workers take the surplus.
///
/// A `StealPool` is a handle: clones are cheap and all drive the same
/// threads. Tasks may be submitted from any thread.
///
/// # Examples
/// ```
/// use spindle_exec::{Executor, Hint, StealPool, Task, TaskRef, TaskVTable};
/// use std::ptr::NonNull;
/// use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
///
/// static RAN: AtomicUsize = AtomicUsize::new(0);
/// static VTABLE: TaskVTable = TaskVTable { run: on_run, cancel: on_cancel };
///
/// unsafe fn on_run(task: NonNull<Task>) {
///     // SAFETY: `new_task` leaked this box; a task is run or cancelled once.
///     drop(unsafe { Box::from_raw(task.as_ptr()) });
///     RAN.fetch_add(1, Relaxed);
/// }
/// unsafe fn on_cancel(task: NonNull<Task>) {
///     // SAFETY: as in `on_run`.
///     drop(unsafe { Box::from_raw(task.as_ptr()) });
/// }
/// fn new_task() -> TaskRef {
///     let task = NonNull::from(Box::leak(Box::new(Task::new(&VTABLE))));
///     // SAFETY: the box stays put until `on_run` or `on_cancel` frees it;
///     // this is the only `TaskRef` to it; both may run on any thread.
///     unsafe { TaskRef::from_raw(task) }
/// }
///
/// let pool = StealPool::builder().threads(2).build()?;
/// for _ in 0..1000 {
///     pool.submit(new_task(), Hint::Back);
/// }
/// pool.shutdown()?; // runs everything queued, then joins the workers
/// assert_eq!(RAN.load(Relaxed), 1000);
/// assert_eq!(pool.metrics().ran, 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Where a task goes
/// Each worker has, in the order it looks at them:
///
/// 1. every 61st task, the shared **injector** first, so tasks from
///    outside are not starved;
/// 2. **next slots** holding up to 64 tasks, newest first, for
///    [`Hint::Next`]: the task a running task just woke (or spawned) runs
///    next, while what it touches is still in the cache, and a fork-join
///    tree runs depth first. While another worker looks for work, a worker
///    keeps only 8 and sends the oldest to the back of its queue, where the
///    other can steal it; a push beyond 64 does so too. A chain of such tasks runs at most 64 in a row; then
///    the newest goes to the back of the queue, so queued tasks are not
///    starved;
/// 3. its FIFO of [`Hint::Back`] tasks, oldest first: a bounded lock-free
///    **ring** of 256 that other workers steal half of at a time and, when
///    the ring is full, a **spill** queue that the older half of the ring
///    moves to in one batch (other workers steal from it too, when the
///    ring is empty);
/// 4. a **pinned queue** (see [`submit_to`](Self::submit_to)), which is
///    never stolen from; it and the FIFO take turns when both hold tasks;
/// 5. the **injector**, taking a batch of up to half a ring at once;
/// 6. other workers' rings and spills: it steals half of one, starting at
///    a random victim. At most half the workers search at once; a searcher
///    tries a few rounds, spinning then yielding, before it parks.
///
/// [`submit`](Executor::submit) called on one of this pool's workers
/// queues locally: `Next` into the next slots (the oldest goes to the back
/// when the slots are full, or hold 8 while another worker wants work), `Back` onto the ring, and `Inline` runs the task at once,
/// inside `submit`, unless the worker is already inside an inline run
/// (then it is `Next`). Called on any other thread, it queues on the
/// injector (`Next` and `Inline` at its front) and wakes a worker if none
/// is searching. A task in the next slots or pinned queue (or among the up
/// to 128 a worker took back from its spill) waits for its worker: if the
/// running task blocks the thread, they wait with it; the rest of its
/// queue is stolen by idle workers.
///
/// # Pinned tasks
/// A pinned task (a fiber, unless spawned movable) stays on the worker it
/// starts on. Since it can never be moved later, the pool chooses that
/// worker when the task first runs ([`Executor::bind_pinned`]). A worker
/// that already has 32 or more pinned tasks queued, ready to run, compares
/// that count with the one of another worker, picked at random. If it has
/// more than 8 (plus a sixteenth) above that worker, the task goes to
/// that worker instead, before it starts. Fibers that keep running (they
/// yield) spawned in a burst on one worker are spread evenly in this way;
/// fibers that wait (a fork-join tree's parents) are not queued, and
/// children run where they were spawned. [`StealMetrics::pinned_depth`]
/// counts the queued pinned tasks.
///
/// # Shutdown
/// [`shutdown`](Self::shutdown), [`shutdown_background`](Self::shutdown_background)
/// or dropping the last handle starts it. The workers go on until every
/// queue is empty and every worker is idle, running the tasks submitted
/// meanwhile too; then the queues close, the workers exit, and a task
/// submitted later is **cancelled** at once on the submitting thread
/// ([`TaskRef::cancel`]). `shutdown` waits for the workers and joins them;
/// dropping the last handle does too, except on one of the pool's own
/// workers, where the threads finish on their own. A task that never
/// returns keeps the pool (and `shutdown`) waiting. Async tasks hold a
/// [`StealHandle`], which does not keep the pool running.
///
/// # Panics in tasks
/// A task should catch its own panics. If one escapes `run` or `cancel`,
/// the pool catches it, counts it in [`StealMetrics::panicked`] and goes
/// on; the worker thread survives.
pub struct StealPool {
    handle: Arc<Handle>,
}

/// The shared part of every handle; its drop is the last handle's drop.
struct Handle {
    shared: Arc<Shared>,
    /// The cell tasks spawned from outside the workers hold.
    outside: Arc<HandleCell>,
}

/// What a [`StealHandle`] points to: the pool's `Shared`, kept alive. Each
/// worker has a cell of its own (`Local::cell`), and the pool one more for
/// other threads: a task clones the cell of the thread that spawns it and
/// drops it where it is freed, usually the same worker, so these reference
/// counts stay in one worker's cache. With one count for all, every spawn
/// and every free on two workers took the line from the other core (fib on
/// fibers used twice the CPU time on two workers as on one).
struct HandleCell {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.begin_shutdown();
        if !self.shared.is_current() {
            self.shared.wait_for_exit();
        }
    }
}

impl StealPool {
    /// The most worker threads a pool may have.
    pub const MAX_THREADS: usize = builder::MAX_THREADS;

    /// The largest stack size a worker may ask for, in bytes (1 GiB).
    pub const MAX_STACK_SIZE: usize = builder::MAX_STACK_SIZE;

    /// A pool of `threads` workers, the other settings at their defaults
    /// (see [`StealPoolBuilder`]).
    ///
    /// # Errors
    /// As [`StealPoolBuilder::build`].
    pub fn new(threads: usize) -> Result<Self, StealPoolError> {
        Self::builder().threads(threads).build()
    }

    /// A builder to configure a pool: thread count, names, stack size,
    /// pinning.
    pub fn builder() -> StealPoolBuilder {
        StealPoolBuilder::new()
    }

    fn from_shared(shared: Arc<Shared>) -> Self {
        let outside = Arc::new(HandleCell {
            shared: Arc::clone(&shared),
        });
        StealPool {
            handle: Arc::new(Handle { shared, outside }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// How many worker threads the pool was built with.
    pub fn threads(&self) -> usize {
        self.shared().threads()
    }

    /// What the pool did so far, summed over its workers.
    pub fn metrics(&self) -> StealMetrics {
        self.shared().metrics()
    }

    /// The index (`0..threads`) of the worker the calling thread is, in
    /// whichever `StealPool` it belongs to; `None` on any other thread.
    ///
    /// Read through a never-inlined accessor, so a fiber that moved to
    /// another thread since its last call gets that thread's answer.
    pub fn current_worker() -> Option<usize> {
        worker::current_worker()
    }

    /// The index of the worker the calling thread is, if it is one of
    /// *this* pool's workers.
    pub fn worker_index(&self) -> Option<usize> {
        self.shared().current_index()
    }

    /// Queues `task` on worker `worker` alone: it will run on that thread
    /// and is never stolen. This is how a pinned fiber's waker resubmits
    /// it to the worker it lives on.
    ///
    /// Called on that worker itself, it is as cheap as
    /// [`submit`](Executor::submit) and honours `hint` the same way
    /// (`Next`: the next slot, `Back`: the back of the worker's pinned
    /// queue, `Inline`: run now). From any other thread the task goes to
    /// the worker's inbox (at its front unless `Back`), which the worker
    /// empties into its pinned queue every tick, and the worker is woken if
    /// it sleeps. If the pool has closed, the task is cancelled.
    ///
    /// # Errors
    /// [`SubmitToError`], handing the task back, if there is no worker
    /// `worker`.
    pub fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        submit_to(self.shared(), worker, task, hint)
    }

    /// Starts the [shutdown](Self#shutdown) and waits until every queue is
    /// drained and every worker thread has exited and been joined. Calling
    /// it again, or from several threads, is fine.
    ///
    /// # Errors
    /// [`StealShutdownError::OnWorkerThread`] if called on one of this
    /// pool's workers, which would wait for itself forever. Nothing is done
    /// then; [`shutdown_background`](Self::shutdown_background) works there.
    pub fn shutdown(&self) -> Result<(), StealShutdownError> {
        let shared = self.shared();
        if shared.is_current() {
            return Err(StealShutdownError::OnWorkerThread);
        }
        shared.begin_shutdown();
        shared.wait_for_exit();
        Ok(())
    }

    /// Starts the [shutdown](Self#shutdown) and returns at once. Works on
    /// any thread, including the pool's own workers.
    pub fn shutdown_background(&self) {
        self.shared().begin_shutdown();
    }
}

#[inline]
fn submit_to(
    shared: &Shared,
    worker: usize,
    task: TaskRef,
    hint: Hint,
) -> Result<(), SubmitToError> {
    let threads = shared.threads();
    if worker >= threads {
        return Err(SubmitToError::new(task, worker, threads));
    }
    shared.submit_to(worker, task, hint);
    Ok(())
}

impl Clone for StealPool {
    fn clone(&self) -> Self {
        StealPool {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl Executor for StealPool {
    /// Queues `task` as `hint` asks (see [Where a task goes](Self#where-a-task-goes));
    /// cancels it at once if the pool has closed.
    #[inline]
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.shared().submit(task, hint);
    }
    #[inline]
    fn worker_index(&self) -> Option<usize> {
        StealPool::worker_index(self)
    }
    #[inline]
    fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        StealPool::submit_to(self, worker, task, hint)
    }
    /// Here, or another worker if this one holds clearly more pinned tasks
    /// (see [Pinned tasks](Self#pinned-tasks)).
    fn bind_pinned(&self) -> Option<PinnedHome> {
        self.shared().bind_pinned()
    }
}

/// Tasks hold a [`StealHandle`], which does not keep the pool running.
impl Spawner for StealPool {
    type Handle = StealHandle;
    fn handle(&self) -> StealHandle {
        StealHandle::for_this_thread(self.shared(), &self.handle.outside)
    }
}

/// What tasks spawned on a [`StealPool`] hold to resubmit themselves: it
/// submits like the pool, but does not keep it running. Once the pool has
/// shut down, what is submitted through it is cancelled.
#[derive(Clone)]
pub struct StealHandle {
    cell: Arc<HandleCell>,
}

impl StealHandle {
    /// A handle holding the calling worker's cell, or `otherwise` off the
    /// pool's workers (see `HandleCell`).
    fn for_this_thread(shared: &Shared, otherwise: &Arc<HandleCell>) -> Self {
        StealHandle {
            cell: shared.local_cell().unwrap_or_else(|| Arc::clone(otherwise)),
        }
    }

    fn shared(&self) -> &Shared {
        &self.cell.shared
    }
}

impl Executor for StealHandle {
    #[inline]
    fn submit(&self, task: TaskRef, hint: Hint) {
        self.shared().submit(task, hint);
    }
    #[inline]
    fn worker_index(&self) -> Option<usize> {
        self.shared().current_index()
    }
    #[inline(always)]
    fn submit_to(&self, worker: usize, task: TaskRef, hint: Hint) -> Result<(), SubmitToError> {
        submit_to(self.shared(), worker, task, hint)
    }
    fn bind_pinned(&self) -> Option<PinnedHome> {
        self.shared().bind_pinned()
    }
}

/// A handle made on one of the pool's workers takes that worker's cell
/// (see `HandleCell`).
impl Spawner for StealHandle {
    type Handle = Self;
    fn handle(&self) -> Self {
        StealHandle::for_this_thread(self.shared(), &self.cell)
    }
}

impl fmt::Debug for StealHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StealHandle").finish_non_exhaustive()
    }
}

impl fmt::Debug for StealPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared();
        f.debug_struct("StealPool")
            .field("threads", &shared.threads())
            .field("idle", &shared.idle)
            .field("shut_down", &shared.is_shut_down())
            .finish()
    }
}

/// Why [`StealPool::shutdown`] could not wait for the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StealShutdownError {
    /// It was called on one of the pool's own worker threads, which cannot
    /// wait for itself to exit. Nothing was done.
    OnWorkerThread,
}

impl fmt::Display for StealShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StealShutdownError::OnWorkerThread => f.write_str(
                "a steal pool cannot be shut down and waited for from one of its own workers",
            ),
        }
    }
}

impl Error for StealShutdownError {}
