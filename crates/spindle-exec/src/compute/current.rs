//! Which pool and worker the calling thread is, and how deeply its
//! [`Hint::Inline`](crate::Hint::Inline) runs nest: the thread-local side
//! of a compute pool.
//!
//! Read through never-inlined accessors (design decision 4: a fiber may
//! move threads between two reads).

use core::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How deeply `Hint::Inline` runs may nest on one worker thread; past this
/// a task is queued as `Hint::Next` instead, so a chain of tasks that each
/// wake the next inline cannot overflow the worker's stack.
const MAX_INLINE_DEPTH: u32 = 8;

/// Per-thread worker identity.
struct WorkerTls {
    /// The pool this thread works for (`Shared::id`), or 0. Set once, when
    /// the worker starts, and never cleared: a pool handle dropped by this
    /// thread's thread-local destructors, after the worker loop, must
    /// still see it is on a worker and not try to join its own thread.
    pool: Cell<u64>,
    /// This thread's index among its pool's workers; meaningless if `pool`
    /// is 0.
    index: Cell<usize>,
    /// How many `Hint::Inline` runs are nested here now.
    inline_depth: Cell<u32>,
}

/// Pool identities start at 1; 0 means "not a worker".
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static WORKER: WorkerTls = const {
        WorkerTls { pool: Cell::new(0), index: Cell::new(0), inline_depth: Cell::new(0) }
    };
}

/// A new pool identity: unique in the process, never reused, never 0.
pub(super) fn next_pool_id() -> u64 {
    NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed)
}

/// The pool the calling thread works for, or 0.
#[inline(never)]
pub(super) fn pool() -> u64 {
    WORKER.try_with(|w| w.pool.get()).unwrap_or(0)
}

/// The calling thread's worker index, if it works for `pool`.
#[inline(never)]
pub(super) fn worker_of(pool: u64) -> Option<usize> {
    WORKER
        .try_with(|w| (w.pool.get() == pool).then(|| w.index.get()))
        .ok()
        .flatten()
}

/// Marks the calling thread as worker `index` of `pool`.
#[inline(never)]
pub(super) fn set_worker(pool: u64, index: usize) {
    // Fails only while this thread's thread-locals are being destroyed,
    // and a worker sets it first thing.
    let _ = WORKER.try_with(|w| {
        w.index.set(index);
        w.pool.set(pool);
    });
}

/// No more inline runs on this thread: called once its worker loop is
/// over, so a destructor's `Inline` submission is queued (or, once the
/// pool is closed, cancelled) like any other.
#[inline(never)]
pub(super) fn forbid_inline() {
    let _ = WORKER.try_with(|w| w.inline_depth.set(MAX_INLINE_DEPTH));
}

/// One level of `Hint::Inline` nesting on the current thread.
pub(super) struct InlineGuard(());

impl InlineGuard {
    /// Enters an inline run if this thread is a worker of `pool` (worker
    /// `worker` itself, if given) and the nesting limit allows it.
    #[inline(never)]
    pub(super) fn enter(pool: u64, worker: Option<usize>) -> Option<InlineGuard> {
        WORKER
            .try_with(|w| {
                let depth = w.inline_depth.get();
                let here = w.pool.get() == pool && worker.is_none_or(|i| i == w.index.get());
                (here && depth < MAX_INLINE_DEPTH).then(|| {
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
