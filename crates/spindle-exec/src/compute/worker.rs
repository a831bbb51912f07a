//! The state a pool's handles and workers share, and the loop each worker
//! thread runs. The protocol is described in `README.md` beside this file.

use crate::policy::Policy;
use crate::task::{Hint, TaskRef};
use core::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

/// How deeply [`Hint::Inline`] runs may nest on one worker thread; past
/// this a task is queued as [`Hint::Next`] instead, so a chain of tasks
/// that each wake the next inline cannot overflow the worker's stack.
const MAX_INLINE_DEPTH: u32 = 8;

/// What a pool's handles and workers share.
pub(super) struct Shared<P> {
    /// The queue and the bookkeeping of who sleeps, runs and lives.
    state: Mutex<State<P>>,
    /// Idle workers wait here for a task, or for the drain to end.
    work: Condvar,
    /// `wait_for_exit` waits here for `live` to reach zero.
    exited: Condvar,
    /// How many task runs (and cancels) have panicked.
    panics: AtomicUsize,
    /// How many workers the pool was built with.
    threads: usize,
    /// This pool's identity, as stored in its workers' thread-locals:
    /// unique in the process, never reused.
    id: u64,
}

/// Everything here is read and written only under `Shared::state`.
struct State<P> {
    /// The tasks waiting to run, in the policy's order.
    queue: P,
    /// Workers waiting on `work` (counted from just before they wait until
    /// they hold the lock again). Submitters wake one only if this is
    /// non-zero.
    idle: usize,
    /// Workers between popping a task and coming back to the lock after
    /// running it. A task that submits another counts here, so the drain
    /// cannot end under it.
    running: usize,
    /// Workers whose loop has not ended. Set before each spawn, lowered by
    /// each worker in the same critical section in which it decides to
    /// exit. Zero means closed: `submit` cancels.
    live: usize,
    /// Set once, by `begin_shutdown`; never cleared.
    shutdown: bool,
    /// Join handles, taken by the first `wait_for_exit`. Dropped with the
    /// state (detaching the threads) if no one waits.
    workers: Vec<JoinHandle<()>>,
}

impl<P> State<P> {
    /// Whether a worker that finds the queue empty should exit.
    fn drained(&self) -> bool {
        self.shutdown && self.running == 0
    }
}

impl<P: Policy> Shared<P> {
    pub(super) fn new(queue: P, threads: usize) -> Self {
        Shared {
            state: Mutex::new(State {
                queue,
                idle: 0,
                running: 0,
                live: 0,
                shutdown: false,
                workers: Vec::with_capacity(threads),
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            panics: AtomicUsize::new(0),
            threads,
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Locks the state. A panic under the lock can come only from a
    /// user's `Policy` (our own critical sections do not panic); the
    /// bookkeeping is still consistent then, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the calling thread is one of this pool's workers.
    pub(super) fn is_current(&self) -> bool {
        current_pool() == self.id
    }

    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    pub(super) fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    pub(super) fn panic_count(&self) -> usize {
        self.panics.load(Ordering::Relaxed)
    }

    pub(super) fn is_shut_down(&self) -> bool {
        self.lock().shutdown
    }

    /// Starts one worker thread.
    pub(super) fn spawn_worker(self: &Arc<Self>, builder: thread::Builder) -> io::Result<()> {
        // Counted before it starts, so it cannot be seen exiting before it
        // was counted.
        self.lock().live += 1;
        let shared = Arc::clone(self);
        match builder.spawn(move || worker_main(shared)) {
            Ok(handle) => {
                self.lock().workers.push(handle);
                Ok(())
            }
            Err(err) => {
                self.lock().live -= 1;
                Err(err)
            }
        }
    }

    pub(super) fn submit(&self, task: TaskRef, hint: Hint) {
        let hint = match hint {
            Hint::Inline => match InlineGuard::enter(self.id) {
                Some(_guard) => {
                    self.run(task);
                    return;
                }
                None => Hint::Next,
            },
            hint => hint,
        };
        let mut state = self.lock();
        if state.live == 0 {
            // Closed: every worker has exited and none will look again.
            drop(state);
            self.catch(|| task.cancel());
            return;
        }
        state.queue.push(task, hint);
        let wake = state.idle > 0;
        drop(state);
        // Outside the lock, so the woken worker does not block on it at
        // once. Nothing is lost if it wakes late: a worker checks the
        // queue under the lock before every wait.
        if wake {
            self.work.notify_one();
        }
    }

    /// Asks the workers to exit once the queue is drained. Does not wait.
    pub(super) fn begin_shutdown(&self) {
        let mut state = self.lock();
        if state.shutdown {
            return;
        }
        state.shutdown = true;
        drop(state);
        self.work.notify_all();
    }

    /// Waits until every worker has exited, joining those whose handles
    /// no other caller took first. Must not be called on a worker.
    pub(super) fn wait_for_exit(&self) {
        debug_assert!(!self.is_current(), "a worker cannot wait for itself");
        let handles = core::mem::take(&mut self.lock().workers);
        for handle in handles {
            // A worker thread ends with a panic only if a `Policy` method
            // panicked; there is nothing more to do about it here.
            let _ = handle.join();
        }
        // Someone else may hold the handles (a concurrent `shutdown`).
        let mut state = self.lock();
        while state.live > 0 {
            state = self
                .exited
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs a task; a panic escaping it is counted and dropped.
    fn run(&self, task: TaskRef) {
        self.catch(|| task.run());
    }

    fn catch(&self, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.panics.fetch_add(1, Ordering::Relaxed);
            // The payload's own destructor may panic too; that one is
            // leaked rather than let it take the worker down.
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                core::mem::forget(again);
            }
        }
    }
}

/// The body of every worker thread.
fn worker_main<P: Policy>(shared: Arc<Shared<P>>) {
    // Never cleared: a pool handle dropped by this thread's thread-local
    // destructors, after the loop, must still see it is on a worker and
    // not try to join its own thread.
    set_current_pool(shared.id);
    let mut guard = ExitGuard {
        shared: &shared,
        armed: true,
    };
    let mut state = shared.lock();
    loop {
        if let Some(task) = state.queue.pop() {
            state.running += 1;
            drop(state);
            shared.run(task);
            state = shared.lock();
            state.running -= 1;
            if state.drained() && state.idle > 0 && state.queue.is_empty() {
                // The last running task of the drain is done: let the
                // workers waiting for it exit.
                shared.work.notify_all();
            }
            continue;
        }
        if state.drained() {
            break;
        }
        state.idle += 1;
        state = shared
            .work
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.idle -= 1;
    }
    // Same critical section as the decision to exit: a task pushed before
    // this point is seen by a worker still in its loop; one pushed after
    // the last worker's exit finds `live == 0` and is cancelled.
    state.live -= 1;
    if state.live == 0 {
        shared.exited.notify_all();
    }
    guard.armed = false;
}

/// Keeps the books if a worker loop unwinds, which only a panicking
/// `Policy` method can make it do.
struct ExitGuard<'a, P: Policy> {
    shared: &'a Shared<P>,
    armed: bool,
}

impl<P: Policy> Drop for ExitGuard<'_, P> {
    fn drop(&mut self) {
        // Out of the loop (normally or not): no more inline runs here, so a
        // destructor's `Inline` submission is queued (or, once the pool is
        // closed, cancelled) like any other.
        let _ = WORKER.try_with(|w| w.inline_depth.set(MAX_INLINE_DEPTH));
        if !self.armed {
            return;
        }
        let mut state = self.shared.lock();
        state.live -= 1;
        let mut leftovers = Vec::new();
        if state.live == 0 {
            // No worker will look at the queue again.
            while let Some(task) = state.queue.pop() {
                leftovers.push(task);
            }
            self.shared.exited.notify_all();
        }
        drop(state);
        // The others may have been waiting for this one's task to finish.
        self.shared.work.notify_all();
        for task in leftovers {
            self.shared.catch(|| task.cancel());
        }
    }
}

/// Per-thread worker identity. Read through never-inlined accessors
/// (design decision 4: a fiber may move threads between two reads).
struct WorkerTls {
    /// The pool this thread works for (`Shared::id`), or 0.
    pool: Cell<u64>,
    /// How many `Hint::Inline` runs are nested here now.
    inline_depth: Cell<u32>,
}

/// Pool identities start at 1; 0 means "not a worker".
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static WORKER: WorkerTls = const {
        WorkerTls { pool: Cell::new(0), inline_depth: Cell::new(0) }
    };
}

#[inline(never)]
fn current_pool() -> u64 {
    WORKER.try_with(|w| w.pool.get()).unwrap_or(0)
}

#[inline(never)]
fn set_current_pool(pool: u64) {
    // Fails only while this thread's thread-locals are being destroyed,
    // and a worker sets it first thing.
    let _ = WORKER.try_with(|w| w.pool.set(pool));
}

/// One level of `Hint::Inline` nesting on the current thread.
struct InlineGuard(());

impl InlineGuard {
    /// Enters an inline run if this thread is a worker of `pool` and the
    /// nesting limit allows it.
    #[inline(never)]
    fn enter(pool: u64) -> Option<InlineGuard> {
        WORKER
            .try_with(|w| {
                let depth = w.inline_depth.get();
                (w.pool.get() == pool && depth < MAX_INLINE_DEPTH).then(|| {
                    w.inline_depth.set(depth + 1);
                    InlineGuard(())
                })
            })
            .ok()
            .flatten()
    }
}

impl Drop for InlineGuard {
    #[inline(never)]
    fn drop(&mut self) {
        let _ = WORKER.try_with(|w| w.inline_depth.set(w.inline_depth.get() - 1));
    }
}
