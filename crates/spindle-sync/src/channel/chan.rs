//! The state every channel flavour shares: a buffer and two waiter lists
//! under one spin lock, and the operations on it that the senders,
//! receivers and `select` build on.
//!
//! A `bounded(n)` channel keeps its messages in a lock-free [`Ring`]
//! instead, and while nobody waits (and nothing below calls for the lock)
//! its senders and receivers use the ring without taking the lock: the
//! fast path. The lock's `buffer` then only holds messages given back
//! (invariant 3).
//!
//! # The fast path and waiters
//!
//! `closed` says the fast path is closed. It is set under the lock by
//! whatever needs every operation to take the lock: a waiter queuing, a
//! message given back, a disconnection. A fast operation reads it before
//! (a hint) and, after changing the ring, again; a waiter sets it before it
//! checks the ring once more. A `SeqCst` fence sits between the store and
//! the load on both sides, so at least one sees the other, as in Dekker's
//! algorithm:
//!
//! - a receiver about to wait closes, then checks the ring; a sender that
//!   pushed checks `closed`: either the receiver sees the message, or the
//!   sender sees `closed` and wakes a receiver (under the lock);
//! - likewise a sender about to wait for room, and a receiver that popped;
//! - a disconnection closes, then drains the ring; a sender that pushed
//!   meanwhile sees `closed` and drains it itself.
//!
//! A waiter that finds the fast path closed already needs no second look:
//! a fast operation whose fence comes after the closer's sees `closed` and
//! takes the lock to wake waiters itself; one whose fence comes before
//! changed the ring visibly to every later lock holder (the fences order
//! it before the close, and the lock orders the close before them).
//!
//! A slot still being written hides the slots behind it: a receiver sees
//! the ring empty although later messages are stamped (their senders saw
//! the fast path open), and a sender sees it full although later slots
//! were freed. Whoever stamps it wakes one waiter, and the wake goes on
//! along the line: a receiver that takes a message under the lock wakes
//! the next waiting receiver while the ring holds more, and a sender that
//! pushes wakes the next waiting sender while there is room.
//!
//! The lock reopens the fast path once [`REOPEN_AFTER`] locked sends or
//! receives in a row went through the ring with nobody waiting and nothing
//! else needing the lock. A channel whose operations keep waiting (a
//! ping-pong) so stays on the locked path, where its waits are, instead of
//! writing the shared flag twice per message.
//!
//! # Invariants (under the lock)
//!
//! 1. A receiver waits only while the buffer is empty, and a sender that
//!    finds a receiver waiting hands the message straight into the
//!    receiver's node instead of the buffer. So a waiting receiver means
//!    an empty buffer, and messages leave in the order they were sent.
//!    (With a ring, the ring is part of the buffer, and a fast send may
//!    land just as a receiver queues: the sender then wakes receivers, and
//!    a locked send that finds anything in the ring, even a send in
//!    flight, queues behind it instead of handing over.)
//! 2. A sender waits only while the buffer is full (or, rendezvous, while
//!    no receiver waits). It holds on to its message: a woken sender tries
//!    again in its own poll, so a send that is dropped before it completes
//!    never delivered its message.
//! 3. A receiver that was handed a message and is dropped before it took
//!    it gives the message back: to the next waiting receiver, or to the
//!    front of the buffer (the buffer may then hold `cap + 1` for a
//!    moment; a rendezvous channel's buffer holds only such messages). A
//!    later message may have gone to another receiver meanwhile, so the
//!    blocking and `select` forms never drop a handed-over receive: on a
//!    timeout they abort the wait, and a message that won the race is
//!    received.

use core::task::Waker;
use std::collections::VecDeque;

use spindle_core::{CachePadded, SpinLock, SpinLockGuard};

use super::error::{TryRecvError, TrySendError};
use super::ring::Ring;
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use crate::loom::cell::UnsafeCell;
use crate::wait::{self, WaitList, WakeBatch};

/// A receiver's node data: where a sender hands a message over.
pub(crate) struct Slot<T>(UnsafeCell<Option<T>>);

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot(UnsafeCell::new(None))
    }

    /// Notifier: puts the message in.
    ///
    /// # Safety
    ///
    /// Called from a `WaitList::notify_one` delivery (the claim excludes
    /// the owner until the wait is `Woken`).
    #[inline]
    unsafe fn put(&self, value: T) {
        // SAFETY: per the contract, nobody else touches the slot now.
        self.0.with_mut(|slot| unsafe { *slot = Some(value) });
    }

    /// Owner: takes the message out, if one was handed over.
    ///
    /// # Safety
    ///
    /// The owner's wait is not queued (never queued, cancelled, or seen
    /// `Woken`), so no notifier can deliver concurrently.
    #[inline]
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: per the contract, nobody else touches the slot now.
        self.0.with_mut(|slot| unsafe { (*slot).take() })
    }
}

/// The wakers a locked operation collected, to call once the lock is
/// released.
#[must_use = "call `wake` once the lock is released"]
pub(crate) struct Wakes(Option<Waker>, Option<Waker>);

impl Wakes {
    pub(crate) fn none() -> Self {
        Wakes(None, None)
    }

    fn is_empty(&self) -> bool {
        self.0.is_none() && self.1.is_none()
    }

    #[inline(always)]
    pub(crate) fn wake(self) {
        wait::wake(self.0);
        wait::wake(self.1);
    }
}

/// What the lock guards.
pub(crate) struct State<T> {
    /// The messages, or, with a ring, the given-back ones (read first).
    pub(crate) buffer: VecDeque<T>,
    /// Receivers waiting for a message (invariant 1).
    pub(crate) receivers: WaitList<Slot<T>>,
    /// Senders waiting for room or a receiver (invariant 2).
    pub(crate) senders: WaitList<()>,
    /// Every sender is gone.
    senders_gone: bool,
    /// Every receiver is gone.
    receivers_gone: bool,
    /// What `Chan::closed` says (a ring channel's only).
    closed: bool,
    /// Locked operations in a row, while closed, that found nothing that
    /// needs the lock.
    calm: u8,
}

/// See the module docs.
const REOPEN_AFTER: u8 = 2;

impl<T> State<T> {
    /// Whether every operation must take the lock: someone waits, a
    /// given-back message must leave first, or a side is gone.
    #[inline]
    fn needs_lock(&self) -> bool {
        !self.receivers.is_empty()
            || !self.senders.is_empty()
            || !self.buffer.is_empty()
            || self.senders_gone
            || self.receivers_gone
    }
}

/// One channel, shared by its senders and receivers.
pub(crate) struct Chan<T> {
    state: SpinLock<State<T>>,
    /// A bounded channel's messages (see the module docs).
    ring: Option<Ring<T>>,
    /// The fast path is closed (see the module docs).
    closed: CachePadded<AtomicBool>,
    /// Buffer capacity: 0 for rendezvous, `usize::MAX` for unbounded.
    cap: usize,
    sender_count: AtomicUsize,
    receiver_count: AtomicUsize,
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver counted.
    pub(crate) fn new(cap: usize) -> Self {
        // A bounded channel's ring is allocated once, up front; an
        // unbounded buffer grows; a rendezvous channel's holds only
        // given-back messages.
        let ring = (cap != 0 && cap != usize::MAX).then(|| Ring::new(cap));
        Chan {
            state: SpinLock::new(State {
                buffer: VecDeque::new(),
                receivers: WaitList::new(),
                senders: WaitList::new(),
                senders_gone: false,
                receivers_gone: false,
                closed: false,
                calm: 0,
            }),
            ring,
            closed: CachePadded::new(AtomicBool::new(false)),
            cap,
            sender_count: AtomicUsize::new(1),
            receiver_count: AtomicUsize::new(1),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, State<T>> {
        self.state.lock()
    }

    /// Closes the fast path (a ring channel's). Returns whether it was
    /// open: the caller must then look at the ring again, which the fence
    /// orders after the store (see the module docs).
    #[inline]
    fn close_fast_path(&self, state: &mut State<T>) -> bool {
        if self.ring.is_none() {
            return false;
        }
        state.calm = 0;
        if state.closed {
            return false;
        }
        state.closed = true;
        // `Relaxed`: the fence orders it.
        self.closed.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        true
    }

    /// After a locked push or pop that met no waiter: reopens the fast
    /// path after [`REOPEN_AFTER`] such ones in a row with nothing else
    /// needing the lock.
    #[inline]
    fn maybe_reopen(&self, state: &mut State<T>) {
        if state.closed {
            self.count_calm(state);
        }
    }

    #[inline(never)]
    fn count_calm(&self, state: &mut State<T>) {
        if state.needs_lock() {
            state.calm = 0;
            return;
        }
        state.calm += 1;
        if state.calm >= REOPEN_AFTER {
            state.closed = false;
            // `Relaxed`: a fast operation only acts on what it sees after
            // its own fence.
            self.closed.store(false, Ordering::Relaxed);
        }
    }

    /// Whether the fast path looks open (a hint: the check that counts
    /// comes after the ring operation).
    #[inline]
    fn looks_open(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }

    /// After a fast push or pop: whether the fast path was closed
    /// meanwhile (see the module docs).
    #[inline]
    fn closed_after_fast_op(&self) -> bool {
        fence(Ordering::SeqCst);
        self.closed.load(Ordering::Relaxed)
    }

    /// Sends without the lock if the fast path is open and the ring has
    /// room; otherwise hands the message back.
    #[inline]
    pub(crate) fn try_send_fast(&self, value: T) -> Result<(), T> {
        let Some(ring) = &self.ring else {
            return Err(value);
        };
        if !self.looks_open() {
            return Err(value);
        }
        ring.push(value)?;
        if self.closed_after_fast_op() {
            self.pushed_while_closed();
        }
        Ok(())
    }

    /// A fast send found the fast path closed after its push: a receiver
    /// may have started waiting without seeing the message, or every
    /// receiver may be gone.
    #[cold]
    fn pushed_while_closed(&self) {
        let mut state = self.lock();
        if state.receivers_gone {
            // The disconnection drained the ring before this push landed:
            // nobody can receive it (as if the receiver had gone just
            // after the send). Dropped after unlocking, as there.
            let mut orphans = VecDeque::new();
            self.drain_ring(&mut orphans);
            drop(state);
            drop(orphans);
            return;
        }
        let waker = self.wake_receiver_for_ring(&mut state);
        drop(state);
        wait::wake(waker);
    }

    /// Receives without the lock if the fast path is open and the ring
    /// holds a message.
    #[inline]
    pub(crate) fn try_recv_fast(&self) -> Option<T> {
        let ring = self.ring.as_ref()?;
        if !self.looks_open() {
            return None;
        }
        let value = ring.pop()?;
        if self.closed_after_fast_op() {
            self.popped_while_closed();
        }
        Some(value)
    }

    /// A fast receive found the fast path closed after its pop: senders
    /// may wait for the room it made (or uncovered).
    #[cold]
    fn popped_while_closed(&self) {
        let mut state = self.lock();
        let waker = self.wake_sender_for_room(&mut state);
        drop(state);
        wait::wake(waker);
    }

    /// Wakes a waiting receiver (with nothing handed over: it looks at the
    /// ring, or passes the wake on) if the ring holds a message.
    #[inline]
    fn wake_receiver_for_ring(&self, state: &mut State<T>) -> Option<Waker> {
        let ring = self.ring.as_ref()?;
        if state.receivers.is_empty() || ring.is_empty() {
            return None;
        }
        state.receivers.notify_one(|_| {})
    }

    /// Wakes a waiting sender if there is room.
    #[inline]
    fn wake_sender_for_room(&self, state: &mut State<T>) -> Option<Waker> {
        if state.senders.is_empty() || !self.has_room(state) {
            return None;
        }
        state.senders.notify_one(|()| {})
    }

    /// Whether a message fits (not counting a hand-off to a receiver).
    #[inline]
    fn has_room(&self, state: &State<T>) -> bool {
        match &self.ring {
            Some(ring) => !ring.is_full(),
            None => state.buffer.len() < self.cap,
        }
    }

    /// Whether nothing is buffered.
    #[inline]
    fn is_empty(&self, state: &State<T>) -> bool {
        state.buffer.is_empty() && self.ring.as_ref().is_none_or(Ring::is_empty)
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Sends now if it can: hands the message to a waiting receiver or
    /// buffers it. Returns the wakers to call after unlocking.
    #[inline(always)]
    pub(crate) fn send_locked(
        &self,
        state: &mut State<T>,
        value: T,
    ) -> Result<Wakes, TrySendError<T>> {
        if state.receivers_gone {
            return Err(TrySendError::Disconnected(value));
        }
        let mut value = Some(value);
        // A waiting receiver means nothing is buffered (invariant 1),
        // unless another sender's fast send is still being written (it then
        // wakes receivers): this sender's own earlier message may sit
        // behind it, so the message goes into the ring, behind both, to
        // keep this sender's order.
        if !state.receivers.is_empty()
            && state.buffer.is_empty()
            && self.ring.as_ref().is_none_or(Ring::is_drained)
        {
            let waker = state.receivers.notify_one(|slot| {
                if let Some(value) = value.take() {
                    // SAFETY: a `notify_one` delivery.
                    unsafe { slot.put(value) };
                }
            });
            if waker.is_some() {
                return Ok(Wakes(waker, None));
            }
        }
        let value = value.expect("a message that was not handed over is still here");
        match &self.ring {
            Some(ring) => match ring.push(value) {
                Ok(()) => {
                    // A receiver that started waiting since the check above
                    // did not get the message: wake one to take it. And
                    // pass room on along the waiting senders' line (a slot
                    // still being read may have hidden it from them).
                    let wakes = Wakes(
                        self.wake_receiver_for_ring(state),
                        self.wake_sender_for_room(state),
                    );
                    if wakes.is_empty() {
                        self.maybe_reopen(state);
                    }
                    Ok(wakes)
                }
                Err(value) => Err(TrySendError::Full(value)),
            },
            None if state.buffer.len() < self.cap => {
                state.buffer.push_back(value);
                Ok(Wakes::none())
            }
            None => Err(TrySendError::Full(value)),
        }
    }

    /// Receives now if it can; also returns the wakers to call after
    /// unlocking (a sender the freed room lets in, the next receiver).
    #[inline(always)]
    pub(crate) fn recv_locked(&self, state: &mut State<T>) -> Result<(T, Wakes), TryRecvError> {
        let value = match (state.buffer.pop_front(), &self.ring) {
            (Some(value), _) => Some(value),
            // A receiver about to wait usually finds nothing even claimed.
            (None, Some(ring)) if !ring.is_drained() => ring.pop(),
            (None, _) => None,
        };
        match value {
            Some(value) => {
                // The room made goes to a waiting sender; messages go on
                // along the waiting receivers' line (a slot still being
                // written may have hidden them from them).
                let wakes = Wakes(
                    self.wake_sender_for_room(state),
                    self.wake_receiver_for_ring(state),
                );
                if wakes.is_empty() {
                    self.maybe_reopen(state);
                }
                Ok((value, wakes))
            }
            None if state.senders_gone => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Whether a receive would complete now (a message, or disconnected).
    /// With a ring, a fast receive may take the message before the caller
    /// does; `recv_locked` then reports `Empty`.
    pub(crate) fn can_recv(&self, state: &State<T>) -> bool {
        !self.is_empty(state) || state.senders_gone
    }

    /// Whether a send may complete now (room, a waiting receiver, or
    /// disconnected). May say yes wrongly when every waiting receiver is
    /// stale; `send_locked` then reports `Full`.
    pub(crate) fn can_send(&self, state: &State<T>) -> bool {
        state.receivers_gone || self.has_room(state) || !state.receivers.is_empty()
    }

    /// A receiver has just queued, having found nothing buffered. It
    /// closes the fast path, then looks again: a message a fast send
    /// pushed meanwhile wakes a receiver (maybe this one) to take it.
    /// Otherwise a waiting sender can send now (into the room, or,
    /// rendezvous, to this receiver), so one is woken to try. *Needed
    /// because a woken sender may have handed its message to a receiver
    /// instead of filling the room it was woken for, leaving the next
    /// sender waiting with room.*
    #[inline]
    pub(crate) fn receiver_queued(&self, state: &mut State<T>) -> Option<Waker> {
        if self.close_fast_path(state)
            && let Some(waker) = self.wake_receiver_for_ring(state)
        {
            return Some(waker);
        }
        if state.senders.is_empty() {
            None
        } else {
            state.senders.notify_one(|()| {})
        }
    }

    /// A sender has just queued, having found no room. It closes the fast
    /// path, then looks again: room a fast receive made meanwhile wakes a
    /// sender (maybe this one) to use it.
    #[inline]
    pub(crate) fn sender_queued(&self, state: &mut State<T>) -> Option<Waker> {
        if self.close_fast_path(state) {
            self.wake_sender_for_room(state)
        } else {
            None
        }
    }

    /// A woken sender gives up without sending: the wake goes to the next
    /// waiting sender, which may use the room it announced.
    pub(crate) fn pass_on_send_wake(&self) {
        let waker = self.lock().senders.notify_one(|()| {});
        wait::wake(waker);
    }

    /// A receiver woken to look at the ring (nothing handed over) gives up
    /// without looking: the wake goes to the next waiting receiver, if the
    /// ring holds something.
    pub(crate) fn pass_on_recv_wake(&self) {
        let mut state = self.lock();
        let waker = self.wake_receiver_for_ring(&mut state);
        drop(state);
        wait::wake(waker);
    }

    /// A receiver was handed `value` but gives up: the message goes to the
    /// next waiting receiver, or back to the front of the buffer.
    #[cold]
    pub(crate) fn give_back(&self, value: T) {
        let mut state = self.lock();
        let mut value = Some(value);
        let waker = state.receivers.notify_one(|slot| {
            if let Some(value) = value.take() {
                // SAFETY: a `notify_one` delivery.
                unsafe { slot.put(value) };
            }
        });
        if let Some(value) = value {
            state.buffer.push_front(value);
            // It must leave before what the ring holds.
            self.close_fast_path(&mut state);
        }
        drop(state);
        wait::wake(waker);
    }

    /// Whether every receiver is gone.
    pub(crate) fn is_disconnected_for_senders(&self) -> bool {
        self.receiver_count.load(Ordering::Acquire) == 0
    }

    /// Whether every sender is gone.
    pub(crate) fn is_disconnected_for_receivers(&self) -> bool {
        self.sender_count.load(Ordering::Acquire) == 0
    }

    pub(crate) fn len(&self) -> usize {
        let given_back = self.lock().buffer.len();
        given_back + self.ring.as_ref().map_or(0, Ring::len)
    }

    pub(crate) fn add_sender(&self) {
        // `Relaxed`: the caller holds a sender already, so the count is
        // not zero and cannot reach zero meanwhile.
        self.sender_count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_receiver(&self) {
        // `Relaxed`: as in `add_sender`.
        self.receiver_count.fetch_add(1, Ordering::Relaxed);
    }

    /// A sender is dropped; the last one disconnects the receivers, which
    /// still get the buffered messages.
    pub(crate) fn remove_sender(&self) {
        // `AcqRel`: the last sender's drop sees every other sender's sends.
        if self.sender_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.disconnect(|state| {
                state.senders_gone = true;
                None
            });
        }
    }

    /// A receiver is dropped; the last one disconnects the senders and
    /// drops the buffered messages (nobody can receive them).
    pub(crate) fn remove_receiver(&self) {
        // `AcqRel`: as in `remove_sender`.
        if self.receiver_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.disconnect(|state| {
                state.receivers_gone = true;
                Some(core::mem::take(&mut state.buffer))
            });
        }
    }

    /// Takes what the ring holds, once the fast path is closed (see the
    /// module docs).
    fn drain_ring(&self, orphans: &mut VecDeque<T>) {
        if let Some(ring) = &self.ring {
            while let Some(value) = ring.pop() {
                orphans.push_back(value);
            }
        }
    }

    /// Marks one side gone and wakes everyone waiting on either list (each
    /// sees the disconnection when it polls), in batches, outside the lock.
    fn disconnect(&self, mark: impl FnOnce(&mut State<T>) -> Option<VecDeque<T>>) {
        let mut batch = WakeBatch::new();
        let mut state = self.lock();
        // Dropped after the lock is released: a message's destructor may
        // use this very channel.
        let mut orphans = mark(&mut state);
        self.close_fast_path(&mut state);
        if let Some(orphans) = &mut orphans {
            self.drain_ring(orphans);
        }
        loop {
            let more =
                state.receivers.notify_all(&mut batch) | state.senders.notify_all(&mut batch);
            drop(state);
            batch.wake_all();
            if !more {
                break;
            }
            state = self.lock();
        }
        drop(orphans);
    }
}
