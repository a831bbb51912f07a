//! What the handles and the fibers of a pool share: the job queue, the
//! idle fibers' wakers, the statistics; and the loop each pool fiber runs.
//! The protocol is in `README.md` beside this file.

use core::task::Waker;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::counter::{CounterInner, lock};

/// A queued job: the closure, and the counter of its batch.
pub(super) struct Job {
    pub(super) run: Box<dyn FnOnce() + Send>,
    pub(super) counter: Arc<CounterInner>,
}

/// A pool's shared part.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// How many fibers the pool has.
    pub(super) fibers: usize,
    /// Pool fibers whose job is suspended in `Counter::wait`.
    pub(super) waiting: AtomicUsize,
    /// Jobs finished (returned or panicked) since the pool started.
    pub(super) completed: AtomicU64,
    /// Jobs that panicked since the pool started.
    pub(super) panicked: AtomicU64,
    /// Counts the fibers still running their loop: `shutdown` waits for 0.
    pub(super) alive: Arc<CounterInner>,
}

/// Everything behind the pool's lock. Only the pool's own code runs under
/// it: jobs, wakes and drops of user values happen outside.
pub(super) struct State {
    /// Jobs not taken yet, in submission order.
    pub(super) queue: VecDeque<Job>,
    /// The fibers parked for want of jobs, each with its waker; the last
    /// to park is woken first (its stack is warmest).
    pub(super) idle: Vec<(usize, Waker)>,
    /// `parked[i]` ⇔ fiber `i` has an entry in `idle`. Set by the fiber
    /// as it registers; cleared by whoever takes the entry out (a
    /// submitter waking it, the close, or the fiber itself).
    pub(super) parked: Box<[bool]>,
    /// Fibers that took a job and have not come back for the next one
    /// (running it, or suspended inside it).
    pub(super) busy: usize,
    /// Set when the last handle is dropped: no job can be submitted any
    /// more, and the fibers exit once the queue is empty.
    pub(super) closed: bool,
}

crate::fiber_local! {
    /// On a pool fiber: its pool. Lets `Counter::wait` count the fiber as
    /// waiting, and `shutdown` see it is called from its own pool.
    static POOL: RefCell<Option<Arc<Shared>>> = RefCell::new(None);
}

/// The pool whose fiber runs the caller, if any.
pub(super) fn current_pool() -> Option<Arc<Shared>> {
    if !crate::is_fiber() {
        // Not a pool fiber, and no need to make a thread-local value.
        return None;
    }
    POOL.with(|pool| pool.borrow().clone())
}

/// Counts the current pool fiber (if the caller runs on one) as waiting
/// while it lives.
pub(crate) struct WaitingGuard(Option<Arc<Shared>>);

impl WaitingGuard {
    pub(crate) fn enter() -> Self {
        let pool = current_pool();
        if let Some(pool) = &pool {
            pool.waiting.fetch_add(1, Ordering::Relaxed);
        }
        WaitingGuard(pool)
    }
}

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        if let Some(pool) = &self.0 {
            pool.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Shared {
    pub(super) fn new(fibers: usize) -> Self {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: Vec::with_capacity(fibers),
                parked: vec![false; fibers].into_boxed_slice(),
                busy: 0,
                closed: false,
            }),
            fibers,
            waiting: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            alive: Arc::new(CounterInner::new(fibers)),
        }
    }

    /// Queues `jobs` (already counted by their counter) and wakes as many
    /// idle fibers as there are jobs, or all of them.
    pub(super) fn push(&self, jobs: impl ExactSizeIterator<Item = Job>) {
        let n = jobs.len();
        if n == 0 {
            return;
        }
        let woken: Vec<Waker> = {
            let mut state = lock(&self.state);
            debug_assert!(!state.closed, "a handle exists while we submit");
            state.queue.extend(jobs);
            let keep = state.idle.len().saturating_sub(n);
            let State { idle, parked, .. } = &mut *state;
            idle.drain(keep..)
                .map(|(fiber, waker)| {
                    parked[fiber] = false;
                    waker
                })
                .collect()
        };
        for waker in woken {
            waker.wake();
        }
    }

    /// Closes the pool (its last handle is gone) and wakes every idle
    /// fiber: they run what is queued, then exit.
    pub(super) fn close(&self) {
        let woken = {
            let mut state = lock(&self.state);
            state.closed = true;
            let State { idle, parked, .. } = &mut *state;
            parked.fill(false);
            core::mem::take(idle)
        };
        for (_, waker) in woken {
            waker.wake();
        }
    }

    /// The next job for fiber `me`, parking until there is one; `None`
    /// once the pool is closed and its queue empty. `finished` says the
    /// fiber comes back from a job (it is no longer busy).
    fn next_job(&self, me: usize, mut finished: bool) -> Option<Job> {
        loop {
            let mut state = lock(&self.state);
            if finished {
                state.busy -= 1;
                finished = false;
            }
            if let Some(job) = state.queue.pop_front() {
                if state.parked[me] {
                    // Woken by a stale waker while still registered: take
                    // the entry out, or a submitter would "wake" us while
                    // we are busy and its job would wait for no one.
                    state.parked[me] = false;
                    state.idle.retain(|(fiber, _)| *fiber != me);
                }
                state.busy += 1;
                return Some(job);
            }
            if state.closed {
                // `close` took every entry out, ours too.
                debug_assert!(!state.parked[me]);
                return None;
            }
            if !state.parked[me] {
                state.parked[me] = true;
                state.idle.push((me, crate::current_waker()));
            }
            drop(state);
            // Returns once woken, or at once if a wake came since the job
            // we last ran registered our waker somewhere; either way we
            // look again.
            crate::park();
        }
    }

    /// Runs `job`, catching its panic, and counts it as finished.
    fn run(&self, job: Job) {
        let Job { run, counter } = job;
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(run)) {
            if spindle_coro::coroutine::is_forced_unwind(&*payload) {
                // Not a panic: this pool fiber is being dropped while the
                // job waited. Let its stack unwind to the end.
                panic::resume_unwind(payload);
            }
            self.panicked.fetch_add(1, Ordering::Relaxed);
            counter.record_panic(payload);
        }
        self.completed.fetch_add(1, Ordering::Relaxed);
        counter.complete(1);
    }
}

/// The loop of pool fiber `me`: run jobs until the pool is closed and
/// drained.
pub(super) fn fiber_main(shared: Arc<Shared>, me: usize) {
    /// Counts the fiber out when its loop ends (also if it is unwound: its
    /// executor cancelled it).
    struct Alive<'a>(&'a Shared);
    impl Drop for Alive<'_> {
        fn drop(&mut self) {
            self.0.alive.complete(1);
        }
    }
    let _alive = Alive(&shared);
    POOL.with(|pool| *pool.borrow_mut() = Some(Arc::clone(&shared)));
    let mut finished = false;
    // `next_job` counts the fiber out of `busy` when it comes back.
    while let Some(job) = shared.next_job(me, finished) {
        shared.run(job);
        finished = true;
    }
    POOL.with(|pool| pool.borrow_mut().take());
}
