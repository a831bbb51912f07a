//! The task's state word: every bit, who sets it and when, and every
//! transition, in one place. `README.md` beside this file tells the protocol
//! as steps; this file is its code.
//!
//! # Bits
//!
//! | bit           | meaning                                  | set by                                                      | cleared by |
//! |---------------|------------------------------------------|-------------------------------------------------------------|------------|
//! | `SCHEDULED`   | a `TaskRef` exists, or (while `RUNNING`) the runner must submit one when its poll ends | `spawn`; a wake of an idle task; a wake while `RUNNING` | the runner, as it takes the task (`transition_to_running`) |
//! | `RUNNING`     | someone holds the stage exclusively      | the runner (`transition_to_running`); `abort` of a task not running | `transition_to_idle` (poll returned `Pending`), `transition_to_complete` |
//! | `COMPLETE`    | the stage holds the result (or it was handed out); the future is gone | the holder of `RUNNING` (`transition_to_complete`) | never |
//! | `CANCELLED`   | `abort` was called: drop the future instead of polling it again | `abort`, with `RUNNING` or while it is held | never |
//! | `JOIN_HANDLE` | the `JoinHandle` is alive                 | `spawn`                                                     | dropping the handle before `COMPLETE` (after it, stays set) |
//! | `JOIN_WAKER`  | the join-waker cell holds a waker the completer must wake | the handle, after writing the cell, if not `COMPLETE` | the handle, to replace the waker or when dropped, if not `COMPLETE` |
//! | `REF_ONE` × n | the reference count (bits 6 and up): one per `JoinHandle`, `Waker`, `TaskRef` | whoever makes such a reference | its owner, when done with it |
//!
//! After `COMPLETE`, `SCHEDULED` and `CANCELLED` mean nothing and may stay
//! set; no transition reads them once it has seen `COMPLETE`.
//!
//! # Invariants
//!
//! - `CANCELLED` implies `RUNNING` or `COMPLETE`: `abort` sets it only
//!   together with `RUNNING` or while `RUNNING` is held, and a runner that
//!   sees it keeps `RUNNING` until it has completed the task.
//! - At most one `TaskRef` exists. One is made only when a transition sets
//!   `SCHEDULED` on a task neither running nor complete (a wake, or a runner
//!   finishing a poll during which it was woken); `SCHEDULED` stays set
//!   until the runner consumes that `TaskRef`, and wakes in between do
//!   nothing. A `TaskRef` that finds `RUNNING` or `COMPLETE` when it runs
//!   is stale (an `abort` took the future meanwhile): it only drops its
//!   reference.
//! - The reference count is at least one while anyone may touch the task;
//!   whoever brings it to zero frees the allocation.
//!
//! # Ownership of the shared fields
//!
//! - The *stage* (future, then result): before `COMPLETE`, the holder of
//!   `RUNNING`. After `COMPLETE`, the `JoinHandle` if `JOIN_HANDLE` was set
//!   when `COMPLETE` was set; otherwise whoever set `COMPLETE`, who drops
//!   the result at once.
//! - The *join-waker cell*: the `JoinHandle` while `JOIN_WAKER` is clear;
//!   shared read-only between the `JoinHandle` and the completer while it is
//!   set (the completer wakes it by reference after setting `COMPLETE`;
//!   neither writes it until the task is freed).
//! - The *executor clone*: read-only, dropped with the allocation.
//!
//! # Orderings
//!
//! Every read-modify-write of the state is `AcqRel`: each one publishes
//! what its thread wrote (the future's state, the output, the join waker)
//! and acquires what the previous ones published. Loads are `Acquire`.
//! Only `ref_inc` is `Relaxed` (as `Arc::clone`: its caller already holds a
//! reference). A wake that finds the task already scheduled still writes
//! the (unchanged) word, so that the runner's next read-modify-write
//! acquires what the waker wrote before waking: with a plain load, the
//! waker could read a stale `SCHEDULED` while the runner, already polling,
//! misses its data (the store-buffering pattern) and the wake-up is lost.

use crate::sync::atomic::{AtomicUsize, Ordering::*};

/// A `TaskRef` exists (or, while `RUNNING`, the runner must make one when
/// its poll ends).
const SCHEDULED: usize = 1 << 0;
/// Someone holds the stage exclusively: a runner polling the future, or a
/// canceller dropping it.
const RUNNING: usize = 1 << 1;
/// The stage holds the result (or it was handed out); the future is gone.
const COMPLETE: usize = 1 << 2;
/// `abort` was called: the future is dropped instead of polled again.
const CANCELLED: usize = 1 << 3;
/// The `JoinHandle` is alive (it owns the result once `COMPLETE`).
const JOIN_HANDLE: usize = 1 << 4;
/// The join-waker cell holds a waker the completer must wake.
const JOIN_WAKER: usize = 1 << 5;
/// One reference; the count lives in the bits from here up.
const REF_ONE: usize = 1 << 6;
const REF_MASK: usize = !(REF_ONE - 1);

/// A spawned task: scheduled, with its `JoinHandle` and the reference of
/// its first `TaskRef`.
const INITIAL: usize = SCHEDULED | JOIN_HANDLE | (2 * REF_ONE);

/// The state word of one task.
pub(crate) struct State(AtomicUsize);

/// A value of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }

    pub(crate) fn has_join_handle(self) -> bool {
        self.0 & JOIN_HANDLE != 0
    }

    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }

    fn refs(self) -> usize {
        (self.0 & REF_MASK) / REF_ONE
    }
}

impl core::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names = [
            (SCHEDULED, "SCHEDULED"),
            (RUNNING, "RUNNING"),
            (COMPLETE, "COMPLETE"),
            (CANCELLED, "CANCELLED"),
            (JOIN_HANDLE, "JOIN_HANDLE"),
            (JOIN_WAKER, "JOIN_WAKER"),
        ];
        let mut list = f.debug_list();
        for (bit, name) in names {
            if self.0 & bit != 0 {
                list.entry(&format_args!("{name}"));
            }
        }
        list.entry(&format_args!("refs={}", self.refs()));
        list.finish()
    }
}

/// What a `TaskRef` that is run (or cancelled by its executor) found.
#[derive(Debug)]
pub(crate) enum ToRunning {
    /// It now holds `RUNNING` (and `SCHEDULED` is cleared).
    Run,
    /// An `abort` holds or held the future: nothing to do but drop the
    /// `TaskRef`'s reference.
    Stale,
}

/// How a poll that returned `Pending` ends.
#[derive(Debug)]
pub(crate) enum ToIdle {
    /// `RUNNING` is cleared and the runner's reference dropped; it was not
    /// the last.
    Idle,
    /// As `Idle`, but that was the last reference: nobody can wake the
    /// task again, the runner frees it.
    IdleLastRef,
    /// Woken during the poll: `RUNNING` is cleared, `SCHEDULED` stays, and
    /// one reference was added for the `TaskRef` the runner now submits
    /// (the runner still drops its own afterwards).
    Rescheduled,
    /// Aborted during the poll: the runner still holds `RUNNING` and must
    /// drop the future and complete the task.
    Cancelled,
    /// Only from `transition_to_yielded`: `RUNNING` is cleared, `SCHEDULED`
    /// set, and the runner's reference now belongs to the `TaskRef` it
    /// submits (it drops none).
    Yielded,
}

/// What dropping the `JoinHandle` must do next.
#[derive(Debug)]
pub(crate) enum DropHandle {
    /// The task is complete: the handle owns the result, drops it, then
    /// drops its reference.
    OwnsOutput,
    /// `JOIN_HANDLE` and `JOIN_WAKER` are cleared: the handle owns the
    /// join-waker cell, empties it, then drops its reference.
    OwnsWaker,
    /// `JOIN_HANDLE` is cleared and the handle's reference dropped;
    /// `last`: it was the last one, the handle frees the task.
    Released { last: bool },
}

impl State {
    /// The state of a task just spawned: see [`INITIAL`].
    pub(crate) fn new() -> Self {
        State(AtomicUsize::new(INITIAL))
    }

    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Runs `f` on the current value until the compare-exchange of what it
    /// returns succeeds; `f` returns `None` to leave the word as it is.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> R {
        let mut current = self.0.load(Acquire);
        loop {
            let (next, result) = f(current);
            let Some(next) = next else { return result };
            match self.0.compare_exchange_weak(current, next, AcqRel, Acquire) {
                Ok(_) => return result,
                Err(actual) => current = actual,
            }
        }
    }

    /// A `TaskRef` is run or cancelled by its executor: take the stage.
    #[inline]
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            debug_assert!(
                s & (SCHEDULED | RUNNING | COMPLETE) != 0,
                "{:?}",
                Snapshot(s)
            );
            if s & (RUNNING | COMPLETE) != 0 {
                (None, ToRunning::Stale)
            } else {
                debug_assert!(s & CANCELLED == 0, "{:?}", Snapshot(s));
                (Some((s & !SCHEDULED) | RUNNING), ToRunning::Run)
            }
        })
    }

    /// The poll returned `Pending`: give the stage back.
    #[inline]
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s & RUNNING != 0 && s & COMPLETE == 0, "{:?}", Snapshot(s));
            if s & CANCELLED != 0 {
                (None, ToIdle::Cancelled)
            } else if s & SCHEDULED != 0 {
                (Some(ref_add(s & !RUNNING)), ToIdle::Rescheduled)
            } else {
                let next = (s & !RUNNING) - REF_ONE;
                let last = next & REF_MASK == 0;
                (
                    Some(next),
                    if last {
                        ToIdle::IdleLastRef
                    } else {
                        ToIdle::Idle
                    },
                )
            }
        })
    }

    /// The poll returned `Pending` after asking to yield
    /// ([`request_yield`](crate::request_yield)): give the stage back and
    /// stay scheduled. The runner's reference passes to the `TaskRef` it
    /// submits next, so no reference is added or dropped, and no wake is
    /// needed: one read-modify-write where a self-wake takes three.
    #[inline]
    pub(crate) fn transition_to_yielded(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s & RUNNING != 0 && s & COMPLETE == 0, "{:?}", Snapshot(s));
            if s & CANCELLED != 0 {
                (None, ToIdle::Cancelled)
            } else {
                (Some((s & !RUNNING) | SCHEDULED), ToIdle::Yielded)
            }
        })
    }

    /// The holder of `RUNNING` stored the result: clears `RUNNING`, sets
    /// `COMPLETE`. Returns the state before.
    #[inline]
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = self.0.fetch_xor(RUNNING | COMPLETE, AcqRel);
        debug_assert!(
            prev & RUNNING != 0 && prev & COMPLETE == 0,
            "{:?}",
            Snapshot(prev)
        );
        Snapshot(prev)
    }

    /// A waker fired (the waker keeps its reference). Returns `true` when
    /// the task was idle: `SCHEDULED` is now set and one reference added,
    /// and the caller must submit a `TaskRef`.
    #[inline]
    pub(crate) fn wake_by_ref(&self) -> bool {
        self.update(|s| {
            if s & COMPLETE != 0 {
                // Never polled again: nothing to publish.
                (None, false)
            } else if s & SCHEDULED != 0 {
                // Write anyway, to publish (see "Orderings").
                (Some(s), false)
            } else if s & RUNNING != 0 {
                (Some(s | SCHEDULED), false)
            } else {
                (Some(ref_add(s | SCHEDULED)), true)
            }
        })
    }

    /// `JoinHandle::abort`. Returns `true` when the caller now holds
    /// `RUNNING` (the task was neither running nor complete) and must drop
    /// the future and complete the task itself.
    pub(crate) fn abort(&self) -> bool {
        self.update(|s| {
            if s & (COMPLETE | CANCELLED) != 0 {
                (None, false)
            } else if s & RUNNING != 0 {
                (Some(s | CANCELLED), false)
            } else {
                (Some(s | RUNNING | CANCELLED), true)
            }
        })
    }

    /// The `JoinHandle` wrote its waker into the cell: hand the cell over.
    /// Fails, handing nothing over, if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(
                s & JOIN_HANDLE != 0 && s & JOIN_WAKER == 0,
                "{:?}",
                Snapshot(s)
            );
            if s & COMPLETE != 0 {
                (None, Err(Snapshot(s)))
            } else {
                (Some(s | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` wants to replace its waker: take the cell back.
    /// Fails if the task completed meanwhile (the completer may be reading
    /// the waker).
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(
                s & JOIN_HANDLE != 0 && s & JOIN_WAKER != 0,
                "{:?}",
                Snapshot(s)
            );
            if s & COMPLETE != 0 {
                (None, Err(Snapshot(s)))
            } else {
                (Some(s & !JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` is dropped.
    pub(crate) fn drop_join_handle(&self) -> DropHandle {
        self.update(|s| {
            debug_assert!(s & JOIN_HANDLE != 0, "{:?}", Snapshot(s));
            if s & COMPLETE != 0 {
                (None, DropHandle::OwnsOutput)
            } else if s & JOIN_WAKER != 0 {
                // Keep the reference until the cell is emptied.
                (Some(s & !(JOIN_HANDLE | JOIN_WAKER)), DropHandle::OwnsWaker)
            } else {
                let next = (s & !JOIN_HANDLE) - REF_ONE;
                (
                    Some(next),
                    DropHandle::Released {
                        last: next & REF_MASK == 0,
                    },
                )
            }
        })
    }

    /// Adds a reference (a waker was cloned). The caller holds one.
    #[inline]
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        check_ref_overflow(prev);
    }

    /// Drops a reference; `true` if it was the last and the caller must
    /// free the task.
    #[inline]
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = self.0.fetch_sub(REF_ONE, AcqRel);
        debug_assert!(prev & REF_MASK != 0, "{:?}", Snapshot(prev));
        prev & REF_MASK == REF_ONE
    }
}

/// `s` with one more reference.
#[inline]
fn ref_add(s: usize) -> usize {
    check_ref_overflow(s);
    s + REF_ONE
}

/// Like `Arc`, aborts before the count can wrap (which takes `usize::MAX /
/// 128` leaked wakers: only a `mem::forget` loop gets there).
#[inline]
fn check_ref_overflow(s: usize) {
    if s > isize::MAX as usize {
        std::process::abort();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn state(bits: usize) -> State {
        State(AtomicUsize::new(bits))
    }

    /// `n` references.
    fn refs(n: usize) -> usize {
        n * REF_ONE
    }

    fn bits(state: &State) -> usize {
        state.0.load(Relaxed)
    }

    #[test]
    fn a_spawned_task_runs_then_goes_idle_dropping_the_runners_reference() {
        let s = State::new();
        assert!(matches!(s.transition_to_running(), ToRunning::Run));
        assert_eq!(bits(&s), RUNNING | JOIN_HANDLE | refs(2));
        assert!(matches!(s.transition_to_idle(), ToIdle::Idle));
        assert_eq!(bits(&s), JOIN_HANDLE | REF_ONE);
    }

    #[test]
    fn a_wake_while_running_reschedules_with_a_new_reference() {
        let s = state(RUNNING | REF_ONE);
        assert!(!s.wake_by_ref(), "the runner submits, not the waker");
        assert!(matches!(s.transition_to_idle(), ToIdle::Rescheduled));
        assert_eq!(bits(&s), SCHEDULED | refs(2));
    }

    #[test]
    fn a_wake_submits_only_an_idle_task() {
        let idle = state(REF_ONE);
        assert!(idle.wake_by_ref());
        assert_eq!(bits(&idle), SCHEDULED | refs(2));
        assert!(!idle.wake_by_ref(), "already scheduled");
        assert_eq!(bits(&idle), SCHEDULED | refs(2));
        let complete = state(COMPLETE | REF_ONE);
        assert!(!complete.wake_by_ref());
        assert_eq!(bits(&complete), COMPLETE | REF_ONE);
    }

    #[test]
    fn abort_takes_an_idle_or_queued_task_and_flags_a_running_one() {
        let queued = state(SCHEDULED | JOIN_HANDLE | refs(2));
        assert!(queued.abort());
        assert!(matches!(queued.transition_to_running(), ToRunning::Stale));
        let running = state(RUNNING | JOIN_HANDLE | refs(2));
        assert!(!running.abort());
        assert!(!running.abort(), "once");
        assert!(matches!(running.transition_to_idle(), ToIdle::Cancelled));
        assert!(!state(COMPLETE | JOIN_HANDLE | REF_ONE).abort());
    }

    #[test]
    fn the_join_waker_cannot_be_handed_over_after_completion() {
        let s = state(RUNNING | JOIN_HANDLE | refs(2));
        assert!(s.set_join_waker().is_ok());
        assert!(s.transition_to_complete().has_join_waker());
        assert!(s.unset_join_waker().is_err());
        let late = state(COMPLETE | JOIN_HANDLE | REF_ONE);
        assert!(late.set_join_waker().is_err());
    }

    #[test]
    fn dropping_the_handle_depends_on_completion_and_waker() {
        let complete = state(COMPLETE | JOIN_HANDLE | JOIN_WAKER | REF_ONE);
        assert!(matches!(
            complete.drop_join_handle(),
            DropHandle::OwnsOutput
        ));
        let waiting = state(JOIN_HANDLE | JOIN_WAKER | refs(2));
        assert!(matches!(waiting.drop_join_handle(), DropHandle::OwnsWaker));
        assert_eq!(
            bits(&waiting),
            refs(2),
            "the reference is dropped after the waker"
        );
        let last = state(JOIN_HANDLE | REF_ONE);
        assert!(matches!(
            last.drop_join_handle(),
            DropHandle::Released { last: true }
        ));
        assert_eq!(bits(&last), 0);
    }

    #[test]
    fn the_last_reference_is_reported_once() {
        let s = state(COMPLETE | refs(2));
        s.ref_inc();
        assert!(!s.ref_dec());
        assert!(!s.ref_dec());
        assert!(s.ref_dec());
    }
}
