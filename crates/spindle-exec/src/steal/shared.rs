//! What a pool's handles and workers share: [`Shared`], with one
//! [`Remote`] per worker (what other threads reach of it), and the paths
//! into the pool from outside (submitting, waking, closing, counting). The
//! protocols are in `README.md` beside this file.

use super::HandleCell;
use super::idle::{Idle, Wake};
use super::injector::LockedQueue;
use super::metrics::{Counters, StealMetrics};
use super::ring::Ring;
use super::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use super::worker::{Local, current_local, current_pool};
use crate::executor::PinnedHome;
use crate::task::{Hint, Task, TaskRef};
use core::ptr;
use spindle_core::CachePadded;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

/// How many pinned tasks a worker has queued before it looks at another
/// worker's count when it binds one ([`Shared::bind_pinned`]).
const BALANCE_FROM: usize = 32;
/// How many more pinned tasks than the other worker (plus 1/16 of the
/// other's count) a worker has queued before it sends a new one there.
const BALANCE_SLACK: usize = 8;

/// One worker's part of [`Shared`]: what other threads reach.
pub(super) struct Remote {
    /// The worker's run queue; others steal from it.
    pub(super) ring: Ring<Task>,
    /// Where the older half of a full ring goes: tasks older than any in
    /// the ring, taken back by the worker in batches, stolen by others
    /// when the ring is empty.
    pub(super) spill: LockedQueue,
    /// Tasks sent to this worker alone, from other threads.
    pub(super) inbox: LockedQueue,
    pub(super) counters: CachePadded<Counters>,
    /// How many tasks the worker's pinned queue holds, as the worker last
    /// published it (its inbox keeps its own count). Its own line: the
    /// worker stores it at every change, other workers read it when they
    /// bind a pinned task ([`Shared::bind_pinned`]).
    pub(super) pinned_len: CachePadded<AtomicUsize>,
}

/// What a pool's handles and workers share.
pub(super) struct Shared {
    pub(super) remotes: Box<[Remote]>,
    /// Tasks submitted from outside the pool.
    pub(super) injector: LockedQueue,
    pub(super) idle: Idle,
    /// Set once by `begin_shutdown`.
    pub(super) shutdown: AtomicBool,
    /// Join handles, taken by the first `wait_for_exit`; later callers
    /// wait on the lock until the first is done.
    handles: Mutex<Vec<JoinHandle<()>>>,
    /// Panics caught while cancelling tasks on threads that are not
    /// workers.
    panics_elsewhere: AtomicU64,
    pub(super) threads: usize,
}

impl Shared {
    pub(super) fn new(threads: usize) -> Self {
        Shared {
            remotes: (0..threads)
                .map(|_| Remote {
                    ring: Ring::new(),
                    spill: LockedQueue::new(),
                    inbox: LockedQueue::new(),
                    counters: CachePadded::new(Counters::new()),
                    pinned_len: CachePadded::new(AtomicUsize::new(0)),
                })
                .collect(),
            injector: LockedQueue::new(),
            idle: Idle::new(threads),
            shutdown: AtomicBool::new(false),
            handles: Mutex::new(Vec::with_capacity(threads)),
            panics_elsewhere: AtomicU64::new(0),
            threads,
        }
    }

    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    /// This pool's identity, as stored in a worker's thread-local.
    pub(super) fn id(&self) -> *const () {
        ptr::from_ref(self).cast()
    }

    /// Whether the calling thread is (or was) one of this pool's workers.
    pub(super) fn is_current(&self) -> bool {
        current_pool() == self.id()
    }

    /// The calling thread's worker state, if it is one of this pool's
    /// workers and inside its loop.
    #[inline]
    fn local(&self) -> Option<&Local> {
        let local = current_local();
        if local.is_null() {
            return None;
        }
        // SAFETY: a non-null pointer in the thread-local points to the
        // `Local` on this thread's stack, which outlives every call made
        // from its worker loop; a guard declared after it (`ClearLocal` in
        // `worker_main`) clears it before that `Local` goes, unwinding or not.
        let local = unsafe { &*local };
        ptr::eq(&*local.shared, self).then_some(local)
    }

    /// A clone of the calling worker's handle cell, if it is one of this
    /// pool's workers.
    pub(super) fn local_cell(&self) -> Option<Arc<HandleCell>> {
        self.local().map(|local| Arc::clone(&local.cell))
    }

    /// The index of the calling thread in this pool, if it is a worker.
    pub(super) fn current_index(&self) -> Option<usize> {
        self.local().map(|local| local.index)
    }

    pub(super) fn submit(&self, task: TaskRef, hint: Hint) {
        match self.local() {
            Some(local) => local.schedule(task, hint, false),
            None => self.inject(task, hint),
        }
    }

    /// Sends `task` to worker `index` (checked by the caller).
    // Always inlined, as are the steps of the common case (a wake on the
    // task's own worker) down to the push; the rest is out of line.
    #[inline(always)]
    pub(super) fn submit_to(&self, index: usize, task: TaskRef, hint: Hint) {
        if let Some(local) = self.local()
            && local.index == index
        {
            local.schedule(task, hint, true);
        } else {
            self.submit_to_remote(index, task, hint);
        }
    }

    /// [`submit_to`](Self::submit_to) from another thread: through the
    /// worker's inbox.
    #[inline(never)]
    fn submit_to_remote(&self, index: usize, task: TaskRef, hint: Hint) {
        let front = !matches!(hint, Hint::Back);
        match self.remotes[index].inbox.push(task, front) {
            Ok(()) => {
                // Step 1 of the sleep protocol, for one worker.
                fence(Ordering::SeqCst);
                self.idle.wake_worker(index);
            }
            Err(task) => self.cancel(task),
        }
    }

    /// Picks the worker a pinned task starting on this thread lives on
    /// (`None` off the pool's workers): this one, unless it already has
    /// clearly more pinned tasks queued than another worker picked at
    /// random.
    ///
    /// Pinned tasks never move once started, and they start wherever they
    /// are first run: a burst spawned on one worker would mostly stay on
    /// it while thieves only take what they reach before it runs. Two
    /// random choices, as in load balancing, spread them with one read of
    /// another worker's counts, and only once this worker has
    /// [`BALANCE_FROM`] queued. Queued, not started: tasks that wait (the
    /// parents in a fork-join tree) need no worker, and moving their
    /// children away would only make each join cross threads.
    pub(super) fn bind_pinned(&self) -> Option<PinnedHome> {
        let local = self.local()?;
        let own = local.index;
        if self.threads > 1 {
            let mine = self.pinned_queued(own);
            if mine >= BALANCE_FROM {
                let other = (own + 1 + local.random_below(self.threads - 1)) % self.threads;
                let theirs = self.pinned_queued(other);
                if mine > theirs + BALANCE_SLACK + theirs / 16 {
                    return Some(PinnedHome::Elsewhere(other));
                }
            }
        }
        Some(PinnedHome::Here(own))
    }

    /// The pinned tasks queued for worker `index`: in its pinned queue and
    /// its inbox.
    fn pinned_queued(&self, index: usize) -> usize {
        let remote = &self.remotes[index];
        remote.pinned_len.load(Ordering::Relaxed) + remote.inbox.len()
    }

    /// Queues a task submitted from outside the pool.
    fn inject(&self, task: TaskRef, hint: Hint) {
        let front = !matches!(hint, Hint::Back);
        match self.injector.push(task, front) {
            Ok(()) => self.notify_work(),
            Err(task) => self.cancel(task),
        }
    }

    /// Step 1 of the sleep protocol: work that any worker may take was just
    /// made visible.
    #[inline]
    pub(super) fn notify_work(&self) {
        fence(Ordering::SeqCst);
        self.idle.notify_one();
    }

    /// Cancels a task the closed pool will never run.
    pub(super) fn cancel(&self, task: TaskRef) {
        if catch(|| task.cancel()) {
            self.panics_elsewhere.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether any queue that worker `index` could take from holds a task
    /// (its own next slot, pinned queue and refill queue are known empty;
    /// its own spill may have been refilled by a thief putting back what it
    /// did not take).
    pub(super) fn work_visible(&self, index: usize) -> bool {
        !self.injector.is_empty()
            || !self.remotes[index].inbox.is_empty()
            || self
                .remotes
                .iter()
                .any(|remote| !(remote.ring.is_empty() && remote.spill.is_empty()))
    }

    /// Closes the injector, every spill and every inbox if all are empty
    /// (sleep protocol, step 7). Called with every worker parked.
    pub(super) fn close_queues(&self) -> bool {
        if self.remotes.iter().any(|remote| !remote.ring.is_empty()) {
            return false;
        }
        let mut guards = Vec::with_capacity(2 * self.threads + 1);
        guards.push(self.injector.lock());
        for remote in self.remotes.iter() {
            guards.push(remote.spill.lock());
            guards.push(remote.inbox.lock());
        }
        if guards.iter().any(|inner| !inner.is_empty()) {
            return false;
        }
        for inner in &mut guards {
            inner.close();
        }
        true
    }

    /// Starts the shutdown: the workers drain every queue, then exit.
    pub(super) fn begin_shutdown(&self) {
        if !self.shutdown.swap(true, Ordering::SeqCst) {
            // Sleepers look once more; the last to park again closes.
            self.idle.wake_all(Wake::Work);
        }
    }

    pub(super) fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    pub(super) fn add_handle(&self, handle: JoinHandle<()>) {
        self.handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
    }

    /// Joins every worker thread. Must not be called on a worker.
    pub(super) fn wait_for_exit(&self) {
        debug_assert!(!self.is_current(), "a worker cannot wait for itself");
        let mut handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        for handle in handles.drain(..) {
            // A worker's loop catches every panic of a task; there is
            // nothing more to do about any other here.
            let _ = handle.join();
        }
    }

    pub(super) fn metrics(&self) -> StealMetrics {
        let mut sum = StealMetrics::default();
        for remote in self.remotes.iter() {
            remote.counters.add_to(&mut sum);
            sum.submitted += remote.inbox.accepted();
        }
        sum.submitted += self.injector.accepted();
        sum.panicked += self.panics_elsewhere.load(Ordering::Relaxed);
        sum.injector_depth = self.injector.len();
        sum.pinned_depth = (0..self.threads)
            .map(|index| self.pinned_queued(index))
            .sum();
        sum
    }
}

/// Runs `f`; returns whether it panicked. The payload is dropped; if its
/// own destructor panics, that second payload is leaked rather than let it
/// take the worker down.
pub(super) fn catch(f: impl FnOnce()) -> bool {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => false,
        Err(payload) => {
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                core::mem::forget(again);
            }
            true
        }
    }
}
