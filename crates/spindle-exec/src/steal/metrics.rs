//! [`StealMetrics`], and the per-worker counters it is summed from.

use super::sync::atomic::{AtomicU64, Ordering};

/// Counts of what a [`StealPool`](super::StealPool) did since it was
/// built, summed over its workers when [`metrics`](super::StealPool::metrics)
/// was called.
///
/// Each worker counts its own events in plain relaxed atomics, so reading
/// costs the workers nothing; the sums are a snapshot, not one consistent
/// instant (a task may show up as run but not yet as submitted). Fields
/// may be added in later versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StealMetrics {
    /// Tasks accepted by [`submit`](crate::Executor::submit) and
    /// [`submit_to`](super::StealPool::submit_to) (those cancelled because
    /// the pool had closed are not counted).
    pub submitted: u64,
    /// Task runs, [`Hint::Inline`](crate::Hint::Inline) ones included.
    pub ran: u64,
    /// Tasks that a worker took from another worker's queue.
    pub stolen: u64,
    /// Times a worker went to sleep for want of work.
    pub parked: u64,
    /// Tasks moved from a full worker ring to that worker's spill queue.
    pub overflowed: u64,
    /// Panics that escaped a task's `run` or `cancel` and were caught.
    pub panicked: u64,
    /// Tasks waiting in the shared injector queue right now.
    pub injector_depth: usize,
    /// Tasks queued right now for one worker alone (pinned fibers, by
    /// default): in the workers' pinned queues and inboxes, as each worker
    /// last published its queue.
    pub pinned_depth: usize,
}

/// One worker's counters. Each is written only by its worker's thread,
/// with a load and a store rather than a read-modify-write: no other
/// writer exists, and readers only sum.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) submitted: AtomicU64,
    pub(crate) ran: AtomicU64,
    pub(crate) stolen: AtomicU64,
    pub(crate) parked: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) panicked: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            submitted: AtomicU64::new(0),
            ran: AtomicU64::new(0),
            stolen: AtomicU64::new(0),
            parked: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
        }
    }

    /// Adds this worker's counts to `sum`.
    pub(crate) fn add_to(&self, sum: &mut StealMetrics) {
        sum.submitted += self.submitted.load(Ordering::Relaxed);
        sum.ran += self.ran.load(Ordering::Relaxed);
        sum.stolen += self.stolen.load(Ordering::Relaxed);
        sum.parked += self.parked.load(Ordering::Relaxed);
        sum.overflowed += self.overflowed.load(Ordering::Relaxed);
        sum.panicked += self.panicked.load(Ordering::Relaxed);
    }
}

/// Adds `n` to a counter that only the calling thread writes.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}
