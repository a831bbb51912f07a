//! [`Barrier`]: `n` parties meet, then all go on together.
//!
//! # State (all under the lock)
//!
//! - `arrived`: parties of the current generation that have arrived and
//!   not left.
//! - `generation`: how many generations were released (wrapping). A
//!   waiter's node carries the generation it arrived in. The last arrival
//!   (the leader) moves `generation` on and wakes the waiters of the old
//!   one in rounds, releasing the lock between rounds; a fast party may
//!   arrive for the next generation in between, but its node carries the
//!   new number and sits behind the old ones (FIFO), so the old release
//!   stops before it.
//! - A waiter that gives up (drop, timeout) un-arrives only if its
//!   generation is still the current one; if it was released, the party
//!   counts as having passed.

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::error::Error;
use std::time::{Duration, Instant};

use spindle_core::SpinLock;

use crate::deadline::{self, Sleep};
use crate::event::{not_after, wake_batch};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::wait::{Wait, WaitList, WakeBatch};

/// Lets `n` parties (fibers, threads, tasks) wait until all of them have
/// arrived, then releases them together; reusable, generation after
/// generation. Exactly one party of each generation is told it is the
/// leader.
///
/// # Examples
///
/// ```
/// use spindle_sync::Barrier;
///
/// let barrier = Barrier::new(3);
/// let leaders = std::thread::scope(|s| {
///     let parties: Vec<_> = (0..3).map(|_| s.spawn(|| barrier.wait())).collect();
///     parties
///         .into_iter()
///         .map(|p| p.join().unwrap())
///         .filter(|result| result.is_leader())
///         .count()
/// });
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    parties: usize,
    state: SpinLock<State>,
}

struct State {
    arrived: usize,
    generation: usize,
    /// Waiters, each carrying the generation it arrived in.
    waiters: WaitList<AtomicUsize>,
}

/// What [`Barrier::wait`] returns: whether this party was the leader of its
/// generation (exactly one is; it is the last to arrive).
///
/// # Examples
///
/// ```
/// use spindle_sync::Barrier;
///
/// let barrier = Barrier::new(1);
/// assert!(barrier.wait().is_leader()); // alone, so the last to arrive
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this party was its generation's leader.
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// The error of [`Barrier::wait_timeout`] and [`Barrier::wait_deadline`]:
/// the deadline passed before the generation was released. The party has
/// un-arrived: the generation still needs all `n` parties.
///
/// # Examples
///
/// ```
/// use spindle_sync::{Barrier, BarrierTimeoutError};
/// use std::time::Duration;
///
/// let barrier = Barrier::new(2);
/// let alone = barrier.wait_timeout(Duration::from_millis(1));
/// assert_eq!(alone, Err(BarrierTimeoutError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierTimeoutError;

impl fmt::Display for BarrierTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting at a barrier")
    }
}

impl Error for BarrierTimeoutError {}

impl Barrier {
    /// A barrier for `n` parties. A barrier for 0 parties behaves like one
    /// for 1 (every wait returns at once, as the leader), as in `std`.
    #[cfg(not(loom))]
    pub const fn new(n: usize) -> Self {
        Barrier {
            parties: if n == 0 { 1 } else { n },
            state: SpinLock::new(State {
                arrived: 0,
                generation: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// A barrier for `n` parties. A barrier for 0 parties behaves like one
    /// for 1 (every wait returns at once, as the leader), as in `std`.
    #[cfg(loom)]
    pub fn new(n: usize) -> Self {
        Barrier {
            parties: n.max(1),
            state: SpinLock::new(State {
                arrived: 0,
                generation: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// How many parties each generation needs.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Arrives, and blocks the current fiber or thread until all parties
    /// of this generation have arrived.
    pub fn wait(&self) -> BarrierWaitResult {
        spindle_exec::wait(self.wait_async())
    }

    /// Like [`wait`](Barrier::wait), giving up after `timeout`: see
    /// [`wait_deadline`](Barrier::wait_deadline).
    pub fn wait_timeout(
        &self,
        timeout: Duration,
    ) -> Result<BarrierWaitResult, BarrierTimeoutError> {
        self.wait_deadline(deadline::after(timeout))
    }

    /// Like [`wait`](Barrier::wait), giving up at `deadline`.
    ///
    /// On `Err` the party has un-arrived: the generation still needs all
    /// `n` parties, and no other party was released because of this one.
    /// If the generation is released as the deadline passes, the result is
    /// `Ok`: a party is never told it timed out after its generation went
    /// on without it.
    pub fn wait_deadline(
        &self,
        deadline: Instant,
    ) -> Result<BarrierWaitResult, BarrierTimeoutError> {
        let mut wait = pin!(self.wait_async());
        let mut sleep = Sleep::until(deadline);
        spindle_exec::wait(poll_fn(|cx| {
            if let Poll::Ready(result) = wait.as_mut().poll(cx) {
                return Poll::Ready(Ok(result));
            }
            match Pin::new(&mut sleep).poll(cx) {
                Poll::Ready(()) => {
                    // SAFETY: `leave` moves nothing out of the pinned future.
                    let wait = unsafe { wait.as_mut().get_unchecked_mut() };
                    Poll::Ready(wait.leave().ok_or(BarrierTimeoutError))
                }
                Poll::Pending => Poll::Pending,
            }
        }))
    }

    /// Arrives and waits for the rest of the generation, as a future. The
    /// party arrives when the future is first polled.
    pub fn wait_async(&self) -> BarrierWaitFuture<'_> {
        BarrierWaitFuture {
            barrier: self,
            wait: Wait::new(AtomicUsize::new(0)),
            phase: Phase::Start,
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("arrived", &state.arrived)
            .field("generation", &state.generation)
            .finish()
    }
}

/// Where a [`BarrierWaitFuture`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not polled yet: not arrived.
    Start,
    /// Arrived, and queued until the generation is released.
    Waiting,
    /// Passed (as the leader or not).
    Done(BarrierWaitResult),
}

/// The future of [`Barrier::wait_async`]: arrives when first polled, and
/// completes when the generation is released.
///
/// # Cancel safety
///
/// Dropping it before its generation is released un-arrives the party: the
/// generation still needs all `n` parties. Dropping it after the release
/// loses nothing (the others have passed; only this party's
/// [`BarrierWaitResult`], never the leader's, is not observed). A future
/// never polled has not arrived.
///
/// # Examples
///
/// ```
/// use spindle_sync::Barrier;
///
/// let barrier = Barrier::new(1);
/// let result = spindle_exec::block_on(barrier.wait_async());
/// assert!(result.is_leader());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct BarrierWaitFuture<'a> {
    barrier: &'a Barrier,
    wait: Wait<AtomicUsize>,
    phase: Phase,
}

impl Future for BarrierWaitFuture<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        // SAFETY: `wait` is structurally pinned: it is only reached below
        // through `Pin::new_unchecked`, never moved, and cancelled in place
        // by `Drop`; the other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let wait = unsafe { Pin::new_unchecked(&this.wait) };
        let barrier = this.barrier;
        match this.phase {
            Phase::Done(result) => Poll::Ready(result),
            Phase::Waiting => {
                if !wait.take_woken() {
                    // Refresh the waker, then look again: a release between
                    // the two looks already took the old waker.
                    wait.enqueue(&mut barrier.state.lock().waiters, cx.waker());
                    if !wait.take_woken() {
                        return Poll::Pending;
                    }
                }
                let result = BarrierWaitResult { leader: false };
                this.phase = Phase::Done(result);
                Poll::Ready(result)
            }
            Phase::Start => {
                let mut state = barrier.state.lock();
                state.arrived += 1;
                if state.arrived < barrier.parties {
                    wait.data().store(state.generation, Ordering::Relaxed);
                    wait.enqueue(&mut state.waiters, cx.waker());
                    this.phase = Phase::Waiting;
                    return Poll::Pending;
                }
                // The last arrival leads: release the generation.
                let generation = state.generation;
                state.generation = generation.wrapping_add(1);
                state.arrived = 0;
                let mut batch = WakeBatch::new();
                loop {
                    let more = state.waiters.notify_all_if(
                        |g| not_after(g.load(Ordering::Relaxed), generation),
                        &mut batch,
                    );
                    drop(state);
                    wake_batch(&mut batch);
                    if !more {
                        break;
                    }
                    state = barrier.state.lock();
                }
                let result = BarrierWaitResult { leader: true };
                this.phase = Phase::Done(result);
                Poll::Ready(result)
            }
        }
    }
}

impl BarrierWaitFuture<'_> {
    /// Gives up the wait: un-arrives if the generation is still waiting
    /// (returns `None`), or returns the result if it was released.
    fn leave(&mut self) -> Option<BarrierWaitResult> {
        match self.phase {
            Phase::Start => return None,
            Phase::Done(result) => return Some(result),
            Phase::Waiting => {}
        }
        let barrier = self.barrier;
        let generation = self.wait.data().load(Ordering::Relaxed);
        let mut released = false;
        let woken = self.wait.cancel(|node| {
            let mut state = barrier.state.lock();
            if state.generation == generation {
                state.arrived -= 1;
            } else {
                // Released, but not woken yet: the leader's rounds are
                // still under way, and will not find this node.
                released = true;
            }
            state.waiters.remove(node)
        });
        if woken || released {
            let result = BarrierWaitResult { leader: false };
            self.phase = Phase::Done(result);
            Some(result)
        } else {
            self.phase = Phase::Start;
            None
        }
    }
}

impl Drop for BarrierWaitFuture<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

impl fmt::Debug for BarrierWaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitFuture")
            .field("barrier", self.barrier)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}
