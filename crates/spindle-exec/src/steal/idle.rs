//! [`Idle`]: which workers search for work, which sleep, and how to wake
//! one without losing a wake-up. The protocol, step by step, is in the
//! "Sleep" section of `README.md`; the numbers in comments here refer to
//! it.
//!
//! # Shared state and who changes it
//!
//! - `state` packs two counts: `searching` (low 16 bits), the workers that
//!   look for work in other workers' queues, and `unparked` (the bits
//!   above), the workers not asleep. `unparked` changes only under the
//!   `sleepers` lock; `searching` also changes outside it (a worker starts
//!   or stops searching with one atomic operation).
//! - `sleepers` lists the workers that announced they park and that no
//!   one has woken since. Whoever removes a worker from it (under the
//!   lock) adds it back to `unparked`, and tells it why in its parker.
//! - Each `Parker` belongs to one worker: `notified` is written by the
//!   waker (under the lock) and consumed by the worker; `sleeping` is true
//!   exactly while the worker is in `sleepers`; `thread` is set once, by
//!   the worker itself, before it ever parks.

use super::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use super::sync::thread::{self, Thread};
use super::sync::{Mutex, MutexGuard};
use core::fmt;
use spindle_core::CachePadded;
use std::sync::{OnceLock, PoisonError};

/// One searcher in `state`.
const SEARCHING_ONE: usize = 1;
/// One unparked worker in `state`.
const UNPARKED_ONE: usize = 1 << 16;
const SEARCHING_MASK: usize = UNPARKED_ONE - 1;

/// The most workers `state` can count.
pub(crate) const MAX_WORKERS: usize = SEARCHING_MASK;

/// Why a parked worker was woken, handed over in its parker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Look for work; the waker counted the worker unparked, not searching
    /// (a task was queued for this worker in particular, or the pool shuts
    /// down and wants every worker to look once more).
    Work,
    /// Look for work as a searcher: the waker counted the worker in
    /// `searching` as well, so that later submitters need not wake another.
    Search,
    /// The pool is closed: leave.
    Exit,
}

const NOT_NOTIFIED: usize = 0;

impl Wake {
    fn encode(self) -> usize {
        match self {
            Wake::Work => 1,
            Wake::Search => 2,
            Wake::Exit => 3,
        }
    }

    fn decode(code: usize) -> Option<Wake> {
        match code {
            1 => Some(Wake::Work),
            2 => Some(Wake::Search),
            3 => Some(Wake::Exit),
            _ => None,
        }
    }
}

/// One worker's side of parking.
struct Parker {
    /// The worker's thread, to unpark it. Set by the worker before it first
    /// parks.
    thread: OnceLock<Thread>,
    /// A [`Wake`] code, or `NOT_NOTIFIED`.
    notified: AtomicUsize,
    /// Whether the worker is in `sleepers`; read without the lock by
    /// [`Idle::wake_worker`].
    sleeping: AtomicBool,
}

/// The pool's searching and sleeping workers.
pub(crate) struct Idle {
    /// `unparked << 16 | searching`.
    state: CachePadded<AtomicUsize>,
    /// Workers asleep, most recent last. Never grows past its initial
    /// capacity, so pushing allocates nothing.
    sleepers: Mutex<Vec<usize>>,
    parkers: Box<[CachePadded<Parker>]>,
    workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state / UNPARKED_ONE
}

impl Idle {
    /// The state of a pool of `workers` (at most [`MAX_WORKERS`]), all
    /// counted unparked and none searching.
    pub(crate) fn new(workers: usize) -> Self {
        debug_assert!((1..=MAX_WORKERS).contains(&workers));
        Idle {
            state: CachePadded::new(AtomicUsize::new(workers * UNPARKED_ONE)),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            parkers: (0..workers)
                .map(|_| {
                    CachePadded::new(Parker {
                        thread: OnceLock::new(),
                        notified: AtomicUsize::new(NOT_NOTIFIED),
                        sleeping: AtomicBool::new(false),
                    })
                })
                .collect(),
            workers,
        }
    }

    /// Our critical sections do not panic; if one did, the state it
    /// guards is still consistent, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the calling thread as worker `index`. Called once, by the
    /// worker, before anything else.
    pub(crate) fn register(&self, index: usize) {
        let _ = self.parkers[index].thread.set(thread::current());
    }

    /// Stops counting `count` workers that will never run (their threads
    /// could not be started).
    pub(crate) fn forget(&self, count: usize) {
        let _sleepers = self.lock();
        self.state.fetch_sub(count * UNPARKED_ONE, Ordering::SeqCst);
    }

    /// Step 2: becomes a searcher unless half the workers already search.
    pub(crate) fn try_begin_search(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if 2 * searching(state) >= self.workers {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state + SEARCHING_ONE,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// Step 3: a searcher found work and stops searching. Returns whether
    /// it was the last searcher; the caller then fences and calls
    /// [`notify_one`](Self::notify_one), so that the work it leaves behind
    /// still has someone looking for it.
    pub(crate) fn end_search(&self) -> bool {
        searching(self.state.fetch_sub(SEARCHING_ONE, Ordering::SeqCst)) == 1
    }

    /// Step 1: work was queued where any worker may take it. Wakes a
    /// sleeping worker, as a searcher, if no worker searches and some
    /// sleep. The caller has made the work visible and then issued a
    /// `SeqCst` fence.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.should_wake(self.state.load(Ordering::Relaxed)) {
            self.wake_searcher();
        }
    }

    /// Whether [`notify_one`](Self::notify_one) would wake a worker now (a
    /// snapshot): some sleep and none searches.
    #[inline]
    pub(crate) fn would_wake(&self) -> bool {
        self.should_wake(self.state.load(Ordering::Relaxed))
    }

    fn should_wake(&self, state: usize) -> bool {
        searching(state) == 0 && unparked(state) < self.workers
    }

    #[cold]
    fn wake_searcher(&self) {
        let mut sleepers = self.lock();
        // Again under the lock: of several submitters racing here, only
        // the first wakes a worker; the others see it searching.
        if !self.should_wake(self.state.load(Ordering::SeqCst)) {
            return;
        }
        if let Some(index) = sleepers.pop() {
            self.state
                .fetch_add(SEARCHING_ONE + UNPARKED_ONE, Ordering::SeqCst);
            self.hand_over(index, Wake::Search);
        }
    }

    /// Step 1, for work queued for worker `index` alone: wakes it if it
    /// sleeps. The caller has made the work visible and then issued a
    /// `SeqCst` fence.
    pub(crate) fn wake_worker(&self, index: usize) {
        if !self.parkers[index].sleeping.load(Ordering::Relaxed) {
            return;
        }
        let mut sleepers = self.lock();
        if let Some(position) = sleepers.iter().position(|&i| i == index) {
            sleepers.remove(position);
            self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
            self.hand_over(index, Wake::Work);
        }
    }

    /// Step 4: worker `index` found no work and announces that it parks.
    /// Returns how many workers are still unparked. The caller then
    /// fences, looks at every queue once more, and either
    /// [`cancel_park`](Self::cancel_park)s or [`park`](Self::park)s.
    pub(crate) fn announce_park(&self, index: usize, was_searching: bool) -> usize {
        let mut sleepers = self.lock();
        let leaving = UNPARKED_ONE + if was_searching { SEARCHING_ONE } else { 0 };
        let before = self.state.fetch_sub(leaving, Ordering::SeqCst);
        debug_assert!(sleepers.len() < sleepers.capacity());
        sleepers.push(index);
        self.parkers[index].sleeping.store(true, Ordering::Relaxed);
        unparked(before) - 1
    }

    /// Step 5, work found after announcing: takes worker `index` back out
    /// of the sleepers. Returns `None` if it was still there (it now counts
    /// as unparked, not searching), or how it was woken if a waker got to it
    /// first.
    pub(crate) fn cancel_park(&self, index: usize) -> Option<Wake> {
        let mut sleepers = self.lock();
        if let Some(position) = sleepers.iter().position(|&i| i == index) {
            sleepers.remove(position);
            self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
            self.parkers[index].sleeping.store(false, Ordering::Relaxed);
            return None;
        }
        drop(sleepers);
        // Whoever removed us handed over a notification under the lock we
        // just held.
        let code = self.parkers[index]
            .notified
            .swap(NOT_NOTIFIED, Ordering::Acquire);
        Some(Wake::decode(code).unwrap_or(Wake::Work))
    }

    /// Step 6: sleeps until a waker hands worker `index` a notification.
    pub(crate) fn park(&self, index: usize) -> Wake {
        let parker = &self.parkers[index];
        loop {
            // Acquire: pairs with the waker's release, so what it did
            // before waking us is visible.
            if let Some(wake) = Wake::decode(parker.notified.swap(NOT_NOTIFIED, Ordering::Acquire))
            {
                return wake;
            }
            // Returns at once if an unpark came first, and sometimes for no
            // reason: the loop looks again.
            thread::park();
        }
    }

    /// Wakes every sleeping worker with `wake`.
    pub(crate) fn wake_all(&self, wake: Wake) {
        let mut sleepers = self.lock();
        while let Some(index) = sleepers.pop() {
            self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
            self.hand_over(index, wake);
        }
    }

    /// Step 7 (shutdown): if no worker is unparked, runs `close` under the
    /// sleepers lock, so no worker can wake meanwhile; if it closed the
    /// queues, tells every sleeper (the caller among them) to exit.
    pub(crate) fn close_if_all_parked(&self, close: impl FnOnce() -> bool) -> bool {
        let mut sleepers = self.lock();
        if unparked(self.state.load(Ordering::SeqCst)) != 0 || !close() {
            return false;
        }
        while let Some(index) = sleepers.pop() {
            // Not counted unparked again: none of them runs a task again.
            self.hand_over(index, Wake::Exit);
        }
        true
    }

    /// Tells worker `index`, just taken out of `sleepers` under the lock,
    /// why it wakes, and unparks its thread.
    fn hand_over(&self, index: usize, wake: Wake) {
        let parker = &self.parkers[index];
        parker.sleeping.store(false, Ordering::Relaxed);
        // Release: pairs with the acquire in `park` / `cancel_park`. A swap
        // rather than a store: the same on every machine this runs on, and
        // loom 0.7 lets a worker's later `swap` in `park` miss a plain store
        // made before its unpark (it reports a lost wake-up that C11
        // coherence rules out).
        parker.notified.swap(wake.encode(), Ordering::Release);
        if let Some(thread) = parker.thread.get() {
            thread.unpark();
        }
    }

    /// Whether some worker searches or sleeps now (a snapshot): whether
    /// work made stealable would find a taker.
    pub(crate) fn wants_work(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        searching(state) > 0 || unparked(state) < self.workers
    }

    /// How many workers search now (a snapshot).
    pub(crate) fn searching(&self) -> usize {
        searching(self.state.load(Ordering::Relaxed))
    }

    /// How many workers are not asleep now (a snapshot).
    pub(crate) fn unparked(&self) -> usize {
        unparked(self.state.load(Ordering::Relaxed))
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idle")
            .field("workers", &self.workers)
            .field("unparked", &self.unparked())
            .field("searching", &self.searching())
            .finish()
    }
}
