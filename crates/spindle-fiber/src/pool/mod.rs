//! The fiber pool: a fixed set of long-lived fibers that run jobs
//! submitted in batches, each batch with a [`Counter`] to wait on, after
//! Naughty Dog's job system ("Parallelizing the Naughty Dog Engine Using
//! Fibers", GDC 2015). How the fibers park and wake is in `README.md`
//! beside this file.

mod builder;
mod counter;
mod shared;

use core::fmt;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use spindle_exec::Spawner;

pub use builder::{DEFAULT_POOL_FIBERS, FiberPoolBuilder, FiberPoolError};
pub use counter::{Counter, CounterWait, JobPanicked};
pub(crate) use shared::WaitingGuard;

use counter::{CounterInner, lock};
use shared::{Job, Shared, current_pool, fiber_main};

/// A fixed number of fibers that run jobs: submit a batch, get a
/// [`Counter`], wait on it — from a plain thread, or from inside a job,
/// where the wait suspends only that job's fiber and the worker thread
/// goes on with other jobs.
///
/// ```
/// use spindle_exec::StealPool;
/// use spindle_fiber::FiberPool;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let executor = StealPool::new(2)?;
/// let pool = FiberPool::new(&executor, 16)?;
/// let total = Arc::new(AtomicU64::new(0));
/// let jobs = (0..4_u64).map(|chunk| {
///     let (pool, total) = (pool.clone(), total.clone());
///     move || {
///         // A job submits a sub-batch and waits for it: its fiber is
///         // suspended meanwhile, and the sub-jobs run on other fibers.
///         let parts = Arc::new(AtomicU64::new(0));
///         let sub = pool.submit((0..10).map(|i| {
///             let parts = parts.clone();
///             move || {
///                 parts.fetch_add(chunk * 10 + i, Ordering::Relaxed);
///             }
///         }));
///         sub.wait().unwrap();
///         total.fetch_add(parts.load(Ordering::Relaxed), Ordering::Relaxed);
///     }
/// });
/// pool.submit(jobs).wait()?;
/// assert_eq!(total.load(Ordering::Relaxed), (0..40).sum::<u64>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `FiberPool` is a handle: clones share the pool (a job that submits
/// sub-batches holds one). The pool's fibers run on any
/// [`Spawner`](spindle_exec::Spawner): a [`StealPool`](spindle_exec::StealPool),
/// a [`ComputePool`](spindle_exec::ComputePool), a
/// [`ManualExecutor`](spindle_exec::ManualExecutor) (driven by its owner),
/// your own. Each fiber is pinned to the worker thread that first runs it.
///
/// # Jobs and counters
///
/// A job is an `FnOnce() + Send + 'static` closure. [`submit`](Self::submit)
/// queues a batch of them and returns the batch's [`Counter`];
/// [`submit_one`](Self::submit_one) a batch of one. Jobs are taken in
/// submission order (FIFO), by whichever fiber is free. A job's closure is
/// boxed: one allocation per job (none for a closure that captures
/// nothing), and a few per batch (its counter, the list of jobs).
///
/// A job runs on a pool fiber: it may block like a thread, and every
/// blocking call of spindle (a [`Counter::wait`], [`spindle_exec::wait`],
/// a [`park`](crate::park), a [`yield_now`](crate::yield_now)) suspends
/// only its fiber. It should not block the *thread* (a `std` mutex held
/// long, `std::thread::sleep`): that stops the worker and every fiber on
/// it. Its [fiber-locals](crate::fiber_local) are the pool fiber's, so they
/// persist from one job to the next on that fiber.
///
/// # Panics in jobs
///
/// A job that panics is caught by its pool fiber, which goes on with the
/// next job. The job counts as finished; its batch's counter records the
/// panic, and [`Counter::wait`] returns [`JobPanicked`], with how many jobs
/// of the batch panicked and the first one's payload. The other jobs of
/// the batch run as usual. The panic runs on the job's fiber stack, like
/// the job: the panic hook's report takes some of it (a backtrace printed
/// with `RUST_BACKTRACE=1` takes tens of KiB, more in sanitized or debug
/// builds), which the default stack size leaves room for; keep that in
/// mind before you shrink [`stack_size`](FiberPoolBuilder::stack_size).
///
/// # Bounded, and the deadlock it implies
///
/// The pool has exactly the fibers it was built with and never makes
/// more. A fiber takes the next job only when its previous job has
/// *returned*; a job suspended in a wait keeps its fiber. So at most
/// [`fibers`](Self::fibers) jobs are in progress at once (running or
/// suspended), and while every fiber is busy, new jobs stay queued.
///
/// Hence a deadlock: **if every fiber is suspended waiting for a counter
/// whose jobs are still queued, nothing can ever run those jobs.** A tree
/// of jobs in which each inner job waits for its children needs, in the
/// worst case, one fiber per inner job in progress, plus one to run a
/// leaf: with FIFO order a whole level of the tree may be waiting at once.
/// Size the pool for the most jobs that can wait at the same time (Naughty
/// Dog ran 160 fibers on 6 threads; [`DEFAULT_POOL_FIBERS`] is 128), or
/// keep jobs that wait from outnumbering the fibers. There is no hidden
/// growth to save you: [`stats`](Self::stats) shows the state, and
/// [`FiberPoolStats::is_starved`] tells when every fiber is waiting on a
/// counter while jobs are queued.
///
/// # Shutdown
///
/// Dropping the last handle (the user's, or the last one a job captured)
/// closes the pool: no job can be submitted any more, the fibers run every
/// job still queued, then exit. No job is lost, as long as the executor
/// keeps running (keep it alive until the pool is done: an executor that
/// shuts down cancels the fibers it still has, and queued jobs with them).
/// [`shutdown`](Self::shutdown) drops a handle and waits until the fibers
/// have exited.
pub struct FiberPool {
    handle: Arc<Handle>,
}

/// The part every clone shares: its drop is the last handle's drop.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl FiberPool {
    /// A pool of `fibers` fibers on `spawner`, the other settings at their
    /// defaults (see [`FiberPoolBuilder`]).
    ///
    /// # Errors
    /// As [`FiberPoolBuilder::build`].
    pub fn new<S: Spawner + ?Sized>(spawner: &S, fibers: usize) -> Result<Self, FiberPoolError> {
        Self::builder().fibers(fibers).build(spawner)
    }

    /// A builder to configure a pool: fiber count, stack size, names.
    pub fn builder() -> FiberPoolBuilder {
        FiberPoolBuilder::new()
    }

    /// Spawns the fibers; `fibers > 0`.
    fn start<S: Spawner + ?Sized>(
        fibers: usize,
        stack_size: usize,
        name: &str,
        spawner: &S,
    ) -> Result<Self, FiberPoolError> {
        let shared = Arc::new(Shared::new(fibers));
        for fiber in 0..fibers {
            let mine = Arc::clone(&shared);
            let spawned = crate::Builder::new()
                .name(format!("{name}-{fiber}"))
                .stack_size(stack_size)
                .spawn(spawner, move || fiber_main(mine, fiber));
            if let Err(error) = spawned {
                // The fibers never spawned count as exited; the others
                // find the pool closed and exit.
                shared.alive.complete(fibers - fiber);
                shared.close();
                return Err(FiberPoolError::Spawn {
                    fiber,
                    fibers,
                    error,
                });
            }
            // The join handle is dropped: the fiber runs detached, and the
            // pool's `alive` counter tells when it is done.
        }
        Ok(FiberPool {
            handle: Arc::new(Handle { shared }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// How many fibers the pool has: the most jobs in progress at once.
    pub fn fibers(&self) -> usize {
        self.shared().fibers
    }

    /// Queues a batch of jobs and returns its [`Counter`].
    ///
    /// The jobs run in the order given (each starts once a fiber is free);
    /// the counter reaches zero when all have finished. An empty batch's
    /// counter is zero at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::ManualExecutor;
    /// use spindle_fiber::FiberPool;
    /// use std::sync::{Arc, Mutex};
    ///
    /// let executor = ManualExecutor::new();
    /// let pool = FiberPool::new(&executor, 2)?;
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let counter = pool.submit((0..3).map(|i| {
    ///     let log = log.clone();
    ///     move || log.lock().unwrap().push(i)
    /// }));
    /// assert_eq!(counter.remaining(), 3);
    /// executor.run_all();
    /// assert!(counter.is_done());
    /// assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
    /// # Ok::<(), spindle_fiber::FiberPoolError>(())
    /// ```
    pub fn submit<I, F>(&self, jobs: I) -> Counter
    where
        I: IntoIterator<Item = F>,
        F: FnOnce() + Send + 'static,
    {
        // Boxed before the counter exists: the user's iterator runs
        // outside every lock, and the counter starts at the batch's size.
        let runs: Vec<Box<dyn FnOnce() + Send>> = jobs
            .into_iter()
            .map(|job| Box::new(job) as Box<dyn FnOnce() + Send>)
            .collect();
        let counter = Arc::new(CounterInner::new(runs.len()));
        self.shared().push(runs.into_iter().map(|run| Job {
            run,
            counter: Arc::clone(&counter),
        }));
        Counter::from_inner(counter)
    }

    /// Queues one job and returns its [`Counter`] (a batch of one).
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::ComputePool;
    /// use spindle_fiber::FiberPool;
    ///
    /// let executor = ComputePool::new(2)?;
    /// let pool = FiberPool::new(&executor, 4)?;
    /// let counter = pool.submit_one(|| assert!(spindle_fiber::is_fiber()));
    /// counter.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_one<F>(&self, job: F) -> Counter
    where
        F: FnOnce() + Send + 'static,
    {
        let counter = Arc::new(CounterInner::new(1));
        self.shared().push(core::iter::once(Job {
            run: Box::new(job),
            counter: Arc::clone(&counter),
        }));
        Counter::from_inner(counter)
    }

    /// What the pool is doing, a moment ago: see [`FiberPoolStats`].
    pub fn stats(&self) -> FiberPoolStats {
        let shared = self.shared();
        let state = lock(&shared.state);
        FiberPoolStats {
            fibers: shared.fibers,
            busy: state.busy,
            // Read under the lock: a fiber counts as waiting only while it
            // counts as busy, and both are seen together.
            waiting: shared.waiting.load(Ordering::Relaxed).min(state.busy),
            idle: state.idle.len(),
            queued: state.queue.len(),
            completed: shared.completed.load(Ordering::Relaxed),
            panicked: shared.panicked.load(Ordering::Relaxed),
        }
    }

    /// Drops this handle and waits until the pool's fibers have exited:
    /// that is, until every other handle is gone too (those that queued
    /// jobs captured go when the jobs end) and every queued job has run.
    /// On a fiber it suspends only that fiber; on a plain thread it blocks.
    ///
    /// On a [`ManualExecutor`](spindle_exec::ManualExecutor), drive the
    /// executor instead (`drop` the pool, then `run_all`): a thread that
    /// waits here is not running it.
    ///
    /// # Errors
    /// [`FiberShutdownError::OnPoolFiber`] if called from a job of this
    /// pool, which would wait for its own fiber forever. The handle is
    /// dropped all the same: the pool closes in the background once its
    /// other handles are gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::StealPool;
    /// use spindle_fiber::FiberPool;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let executor = StealPool::new(2)?;
    /// let pool = FiberPool::new(&executor, 4)?;
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let ran = ran.clone();
    ///     pool.submit_one(move || {
    ///         ran.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// pool.shutdown()?; // every queued job ran
    /// assert_eq!(ran.load(Ordering::Relaxed), 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(self) -> Result<(), FiberShutdownError> {
        let alive = Counter::from_inner(Arc::clone(&self.shared().alive));
        let on_own_fiber =
            current_pool().is_some_and(|pool| Arc::ptr_eq(&pool, &self.handle.shared));
        drop(self);
        if on_own_fiber {
            return Err(FiberShutdownError::OnPoolFiber);
        }
        // The `alive` counter records no panics: its wait is always `Ok`.
        let _ = alive.wait();
        Ok(())
    }
}

impl Clone for FiberPool {
    fn clone(&self) -> Self {
        FiberPool {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl fmt::Debug for FiberPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.stats();
        f.debug_struct("FiberPool")
            .field("fibers", &stats.fibers)
            .field("busy", &stats.busy)
            .field("waiting", &stats.waiting)
            .field("queued", &stats.queued)
            .finish_non_exhaustive()
    }
}

/// A snapshot of a [`FiberPool`]'s state, from [`FiberPool::stats`]: to
/// see how loaded a pool is, and to diagnose the
/// [deadlock](FiberPool#bounded-and-the-deadlock-it-implies) of a pool
/// whose fibers all wait.
///
/// `busy + idle <= fibers` (a fiber may be between the two, or not started
/// yet) and `waiting <= busy`.
///
/// # Examples
///
/// ```
/// use spindle_exec::ManualExecutor;
/// use spindle_fiber::FiberPool;
///
/// let executor = ManualExecutor::new();
/// let pool = FiberPool::new(&executor, 3)?;
/// executor.run_all(); // the fibers start, find no job and park
/// let counter = pool.submit((0..5).map(|_| || ()));
/// let stats = pool.stats();
/// assert_eq!((stats.fibers, stats.idle, stats.queued), (3, 0, 5));
/// executor.run_all();
/// let stats = pool.stats();
/// assert_eq!((stats.busy, stats.idle, stats.queued, stats.completed), (0, 3, 0, 5));
/// assert!(counter.is_done() && !stats.is_starved());
/// # Ok::<(), spindle_fiber::FiberPoolError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FiberPoolStats {
    /// The pool's fibers: the most jobs in progress at once.
    pub fibers: usize,
    /// Fibers with a job in progress: running it, or suspended inside it.
    pub busy: usize,
    /// Busy fibers whose job is suspended in [`Counter::wait`] (a wait of
    /// another kind, e.g. on a channel, counts as busy only).
    pub waiting: usize,
    /// Fibers parked for want of jobs.
    pub idle: usize,
    /// Jobs queued, not yet taken by a fiber.
    pub queued: usize,
    /// Jobs finished (returned or panicked) since the pool started.
    pub completed: u64,
    /// Jobs that panicked since the pool started.
    pub panicked: u64,
}

impl FiberPoolStats {
    /// Whether every fiber is suspended in [`Counter::wait`] while jobs are
    /// queued: no fiber is free to run them. If the counters waited on
    /// belong to those queued jobs, the pool is deadlocked for good (see
    /// [the deadlock](FiberPool#bounded-and-the-deadlock-it-implies)); if
    /// they belong to another pool's jobs, it is only stalled until those
    /// finish. Either way it needs more fibers.
    pub fn is_starved(&self) -> bool {
        self.waiting >= self.fibers && self.queued > 0
    }
}

/// Why [`FiberPool::shutdown`] could not wait for the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FiberShutdownError {
    /// It was called from a job of the pool itself, which would wait for
    /// its own fiber forever. The handle was dropped: the pool closes once
    /// its other handles are gone.
    OnPoolFiber,
}

impl fmt::Display for FiberShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FiberShutdownError::OnPoolFiber => f.write_str(
                "a fiber pool cannot be shut down from one of its own jobs \
                 (it would wait for its own fiber); the handle was dropped",
            ),
        }
    }
}

impl Error for FiberShutdownError {}
