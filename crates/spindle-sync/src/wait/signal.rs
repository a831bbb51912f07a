//! A waiter's decision cell: whether it was woken, through which case, and
//! the waker to call. See `README.md` for the protocol.

use core::fmt;
use core::task::Waker;

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;
use crate::loom::{hint, thread};

/// Nobody has decided yet: a notifier may claim, the owner may abort.
const WAITING: usize = 0;
/// A notifier has claimed the signal and is finishing (under its list's
/// lock); `WOKEN + case` follows within a few instructions.
const CLAIMED: usize = 1;
/// The owner gave up (cancel, timeout, drop): no notifier may claim.
const ABORTED: usize = 2;
/// Woken through case `state - WOKEN`.
const WOKEN: usize = 3;

/// How a wait ended, or that it has not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nobody has decided.
    Waiting,
    /// A notifier woke the waiter through this case (0 outside `select`).
    Woken(usize),
    /// The owner aborted the wait.
    Aborted,
}

/// The decision cell one wait shares among its waiter nodes (one node for a
/// plain wait, one per case for `select`).
///
/// # Ownership of the fields
///
/// - `state`: the owner moves it `WAITING → ABORTED` ([`abort`]) and back
///   to `WAITING` ([`reset`]) when no node is linked; a notifier moves it
///   `WAITING → CLAIMED → WOKEN + case` ([`try_claim`], [`finish`]) while
///   holding the lock of the list that holds the claimed node.
/// - `waker`: written by the owner only while no notifier can claim the
///   signal: before its nodes are linked, or under the lock of the one list
///   that holds its only node; taken by the notifier between its claim and
///   `finish`.
///
/// [`abort`]: Signal::abort
/// [`reset`]: Signal::reset
/// [`try_claim`]: Signal::try_claim
/// [`finish`]: Signal::finish
pub(crate) struct Signal {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is only touched under the rules above, which exclude
// concurrent access; `Waker` is `Send + Sync`; `state` is atomic.
unsafe impl Send for Signal {}
// SAFETY: as for `Send`.
unsafe impl Sync for Signal {}

impl Signal {
    /// A signal nobody has decided yet, with no waker.
    pub(crate) fn new() -> Self {
        Signal {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (a clone of it, unless the stored one wakes the same
    /// task).
    ///
    /// # Safety
    ///
    /// No notifier may be able to claim the signal meanwhile: none of its
    /// nodes is linked, or its only node is in one list whose lock the
    /// caller holds.
    #[inline]
    pub(crate) unsafe fn set_waker(&self, waker: &Waker) {
        // SAFETY: the caller excludes every other access to `waker`.
        self.waker.with_mut(|slot| unsafe {
            match &mut *slot {
                Some(stored) if stored.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        });
    }

    /// How the wait stands. A claim in progress is waited out, so the
    /// answer is final unless it is `Waiting`.
    #[inline]
    pub(crate) fn outcome(&self) -> Outcome {
        // `Acquire`: pairs with `finish`'s `Release`, so what the notifier
        // delivered into the node before finishing is visible.
        decode(self.settled(self.state.load(Ordering::Acquire)))
    }

    /// Owner: gives up the wait unless a notifier decided first. Returns
    /// `Aborted` if this call aborted it (no notifier will claim it from
    /// now on), otherwise how it had ended.
    pub(crate) fn abort(&self) -> Outcome {
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => Outcome::Aborted,
            Err(state) => decode(self.settled(state)),
        }
    }

    /// Owner: makes the signal waitable again after it was woken or
    /// aborted.
    ///
    /// # Safety
    ///
    /// None of the signal's nodes is linked.
    #[inline]
    pub(crate) unsafe fn reset(&self) {
        // `Relaxed`: the next wait publishes the signal under a list's lock.
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// Notifier: claims the signal if nobody has decided yet. On `true`
    /// the caller must [`finish`](Self::finish) it.
    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        // `Acquire`: the owner's writes before linking are visible (they are
        // anyway through the list's lock; this keeps the claim self-evident).
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Notifier: completes a claim, recording `case`, and returns the
    /// waker to call once the list's lock is released.
    ///
    /// # Safety
    ///
    /// The caller claimed the signal with `try_claim` and has not finished
    /// it; it holds the lock of the list that held the claimed node, and
    /// has unlinked that node. After this call it must not touch the signal
    /// or the node again: the owner may free both.
    #[inline]
    pub(crate) unsafe fn finish(&self, case: usize) -> Option<Waker> {
        // SAFETY: after the claim only this notifier touches `waker` (the
        // owner waits out `CLAIMED` before reading anything).
        let waker = self.waker.with_mut(|slot| unsafe { (*slot).take() });
        // `Release`: publishes the delivery and the unlinking to the owner.
        self.state.store(WOKEN + case, Ordering::Release);
        waker
    }

    /// Waits out a claim in progress (a notifier finishing under its lock).
    #[cold]
    fn settle(&self) -> usize {
        let mut spins = 0_u32;
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state != CLAIMED {
                return state;
            }
            spins += 1;
            if spins < 64 {
                hint::spin_loop();
            } else {
                // The notifier was preempted inside its critical section.
                thread::yield_now();
            }
        }
    }

    #[inline]
    fn settled(&self, state: usize) -> usize {
        if state == CLAIMED {
            self.settle()
        } else {
            state
        }
    }
}

#[inline]
fn decode(state: usize) -> Outcome {
    match state {
        WAITING => Outcome::Waiting,
        ABORTED => Outcome::Aborted,
        CLAIMED => unreachable!("a settled state is never CLAIMED"),
        woken => Outcome::Woken(woken - WOKEN),
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(Ordering::Relaxed) {
            WAITING => "waiting",
            CLAIMED => "claimed",
            ABORTED => "aborted",
            _ => "woken",
        };
        f.debug_struct("Signal")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
