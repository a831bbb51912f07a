//! The state a pool's handles and workers share, and the loop each worker
//! thread runs. The protocol is described in `README.md` beside this file.

use super::current::{self, InlineGuard};
use super::sleepers::Sleepers;
use crate::executor::SubmitToError;
use crate::policy::{Fifo, Policy};
use crate::task::{Hint, TaskRef};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

/// What a pool's handles and workers share.
///
/// One lock guards the shared queue *and* every worker's pinned queue,
/// rather than a lock per pinned queue:
/// - a worker decides to sleep only after seeing its pinned queue and the
///   shared queue both empty; under one lock that is one critical section,
///   and the no-lost-wake-up argument of `README.md` covers both queues
///   as it is (with a lock per queue, a worker would have to hold two
///   locks, or register as a sleeper and check again);
/// - a worker takes this lock for every task it runs anyway, so looking at
///   its pinned queue there costs nothing more; a second lock would be a
///   second round-trip per task;
/// - the drain ends when *every* queue is empty and no task runs, which
///   one lock lets a worker see at once (`State::pinned_len`).
///
/// The price is that `submit_to` contends for the lock with `submit`, as
/// everything in this pool already does (the steal pool is the one built
/// to scale).
pub(super) struct Shared<P> {
    /// The queues and the bookkeeping of who sleeps, runs and lives.
    state: Mutex<State<P>>,
    /// One per worker: worker `i` waits on `wake[i]` while it is in
    /// `State::sleepers`, so a pinned task wakes its own worker and no
    /// other.
    wake: Box<[Condvar]>,
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
    /// The tasks any worker may run, in the policy's order.
    queue: P,
    /// Per worker: the tasks only it may run (`submit_to`).
    pinned: Box<[Pinned]>,
    /// How many tasks wait in all the pinned queues together.
    pinned_len: usize,
    /// The workers waiting on their `wake` condvar. A worker puts itself
    /// in, in the critical section in which it saw nothing to run; only
    /// others take it out (a submitter, or whoever wakes everyone), and it
    /// waits as long as it is in. Being taken out is the wake-up.
    sleepers: Sleepers,
    /// Workers between popping a task and coming back to the lock after
    /// running it. A task that submits another counts here, so the drain
    /// cannot end under it.
    running: usize,
    /// Workers whose loop has not ended. Raised before each spawn, lowered
    /// by each worker as it leaves its loop. `wait_for_exit` waits for 0.
    live: usize,
    /// Set once, by `begin_shutdown`; never cleared.
    shutdown: bool,
    /// Set once, by the worker that finds the drain over (`drained`), or
    /// by the last worker out if the loops unwound. Submissions are
    /// cancelled from then on; workers exit instead of sleeping.
    closed: bool,
    /// Join handles, taken by the first `wait_for_exit`. Dropped with the
    /// state (detaching the threads) if no one waits.
    workers: Vec<JoinHandle<()>>,
}

/// One worker's pinned queue.
#[derive(Default)]
struct Pinned {
    /// FIFO; `Hint::Next` (and `Inline` not run inline) at the front.
    queue: Fifo,
    /// Whether the pinned queue or the shared one goes first next time:
    /// flipped at every pop, so when both have tasks the worker takes from
    /// them in turn.
    first: bool,
    /// This worker's loop unwound (a `Policy` method panicked): its queue
    /// was cancelled and what is sent to it now is cancelled too.
    gone: bool,
}

impl<P: Policy> State<P> {
    /// The next task for worker `index`: from its pinned queue and the
    /// shared queue in turn (fairness: neither can starve the other).
    fn next_task(&mut self, index: usize) -> Option<TaskRef> {
        let pinned = &mut self.pinned[index];
        let pinned_first = pinned.first;
        pinned.first = !pinned_first;
        if pinned_first {
            match self.pop_pinned(index) {
                Some(task) => Some(task),
                None => self.queue.pop(),
            }
        } else {
            self.queue.pop().or_else(|| self.pop_pinned(index))
        }
    }

    fn pop_pinned(&mut self, index: usize) -> Option<TaskRef> {
        let task = self.pinned[index].queue.pop()?;
        self.pinned_len -= 1;
        Some(task)
    }

    /// Whether the drain is over: shutting down, nothing queued anywhere,
    /// nothing running (so nothing on a worker can submit more).
    fn drained(&self) -> bool {
        self.shutdown && self.running == 0 && self.pinned_len == 0 && self.queue.is_empty()
    }
}

impl<P: Policy> Shared<P> {
    pub(super) fn new(queue: P, threads: usize) -> Self {
        Shared {
            state: Mutex::new(State {
                queue,
                pinned: (0..threads).map(|_| Pinned::default()).collect(),
                pinned_len: 0,
                sleepers: Sleepers::new(threads),
                running: 0,
                live: 0,
                shutdown: false,
                closed: false,
                workers: Vec::with_capacity(threads),
            }),
            wake: (0..threads).map(|_| Condvar::new()).collect(),
            exited: Condvar::new(),
            panics: AtomicUsize::new(0),
            threads,
            id: current::next_pool_id(),
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
        current::pool() == self.id
    }

    /// The calling thread's index among this pool's workers, if it is one.
    pub(super) fn current_index(&self) -> Option<usize> {
        current::worker_of(self.id)
    }

    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    pub(super) fn queued(&self) -> usize {
        let state = self.lock();
        state.queue.len() + state.pinned_len
    }

    pub(super) fn panic_count(&self) -> usize {
        self.panics.load(Ordering::Relaxed)
    }

    pub(super) fn is_shut_down(&self) -> bool {
        self.lock().shutdown
    }

    /// Starts worker thread `index`.
    pub(super) fn spawn_worker(
        self: &Arc<Self>,
        builder: thread::Builder,
        index: usize,
    ) -> io::Result<()> {
        // Counted before it starts, so it cannot be seen exiting before it
        // was counted.
        self.lock().live += 1;
        let shared = Arc::clone(self);
        match builder.spawn(move || worker_main(shared, index)) {
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
            Hint::Inline => match InlineGuard::enter(self.id, None) {
                Some(_guard) => {
                    self.run(task);
                    return;
                }
                None => Hint::Next,
            },
            hint => hint,
        };
        let mut state = self.lock();
        if state.closed {
            drop(state);
            self.catch(|| task.cancel());
            return;
        }
        state.queue.push(task, hint);
        // Any sleeper can run it: the one that went to sleep last.
        let woken = state.sleepers.pop();
        drop(state);
        // Outside the lock, so the woken worker does not block on it at
        // once. Nothing is lost if it wakes late: it was taken out of
        // `sleepers` above, so it stops waiting at its next wake-up,
        // spurious or not, and checks the queues before it waits again.
        if let Some(worker) = woken {
            self.wake[worker].notify_one();
        }
    }

    /// Queues `task` on worker `worker` alone.
    pub(super) fn submit_to(
        &self,
        worker: usize,
        task: TaskRef,
        hint: Hint,
    ) -> Result<(), SubmitToError> {
        if worker >= self.threads {
            return Err(SubmitToError::new(task, worker, self.threads));
        }
        let hint = match hint {
            Hint::Inline => match InlineGuard::enter(self.id, Some(worker)) {
                Some(_guard) => {
                    self.run(task);
                    return Ok(());
                }
                None => Hint::Next,
            },
            hint => hint,
        };
        let mut state = self.lock();
        if state.closed || state.pinned[worker].gone {
            drop(state);
            self.catch(|| task.cancel());
            return Ok(());
        }
        state.pinned[worker].queue.push(task, hint);
        state.pinned_len += 1;
        // Only this worker can run it: wake it if, and only if, it sleeps.
        let wake = state.sleepers.remove(worker);
        drop(state);
        if wake {
            self.wake[worker].notify_one();
        }
        Ok(())
    }

    /// Asks the workers to exit once every queue is drained. Does not
    /// wait.
    pub(super) fn begin_shutdown(&self) {
        let mut state = self.lock();
        if state.shutdown {
            return;
        }
        state.shutdown = true;
        // Every sleeper checks whether the drain is over already.
        state.sleepers.clear();
        drop(state);
        self.wake_all();
    }

    /// Notifies every worker's condvar. Called after `sleepers` was
    /// cleared under the lock, so each sleeper stops waiting.
    fn wake_all(&self) {
        for wake in &self.wake {
            wake.notify_one();
        }
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

/// The body of worker thread `index`.
fn worker_main<P: Policy>(shared: Arc<Shared<P>>, index: usize) {
    current::set_worker(shared.id, index);
    let mut guard = ExitGuard {
        shared: &shared,
        index,
        armed: true,
    };
    let mut state = shared.lock();
    let closed_here = loop {
        if let Some(task) = state.next_task(index) {
            state.running += 1;
            drop(state);
            shared.run(task);
            state = shared.lock();
            state.running -= 1;
            continue;
        }
        if state.closed {
            break false;
        }
        if state.drained() {
            // Same critical section as the check: nothing was queued
            // anywhere, nothing runs, and from here on every submission
            // is cancelled. So every task ever queued has run.
            state.closed = true;
            state.sleepers.clear();
            break true;
        }
        state.sleepers.push(index);
        while state.sleepers.contains(index) {
            state = shared.wake[index]
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    };
    state.live -= 1;
    if state.live == 0 {
        shared.exited.notify_all();
    }
    drop(state);
    guard.armed = false;
    if closed_here {
        // The others may sleep: they exit once they look.
        shared.wake_all();
    }
}

/// Keeps the books if a worker loop unwinds, which only a panicking
/// `Policy` method can make it do.
struct ExitGuard<'a, P: Policy> {
    shared: &'a Shared<P>,
    index: usize,
    armed: bool,
}

impl<P: Policy> Drop for ExitGuard<'_, P> {
    fn drop(&mut self) {
        // Out of the loop (normally or not): no more inline runs here.
        current::forbid_inline();
        if !self.armed {
            return;
        }
        let mut state = self.shared.lock();
        state.live -= 1;
        // No one else may run this worker's pinned tasks.
        let pinned = &mut state.pinned[self.index];
        pinned.gone = true;
        let mut mine = core::mem::take(&mut pinned.queue);
        state.pinned_len -= mine.len();
        let mut leftovers = Vec::new();
        if state.live == 0 {
            // No worker will look at the shared queue again.
            state.closed = true;
            while let Some(task) = state.queue.pop() {
                leftovers.push(task);
            }
            self.shared.exited.notify_all();
        }
        // The others may be asleep waiting for the drain to end, which
        // this worker's pinned tasks, cancelled now, held up.
        state.sleepers.clear();
        drop(state);
        self.shared.wake_all();
        while let Some(task) = mine.pop() {
            self.shared.catch(|| task.cancel());
        }
        for task in leftovers {
            self.shared.catch(|| task.cancel());
        }
    }
}
