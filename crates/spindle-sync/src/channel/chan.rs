//! The state every channel flavour shares: a buffer and two waiter lists
//! under one spin lock, and the operations on it that the senders,
//! receivers and `select` build on.
//!
//! # Invariants (under the lock)
//!
//! 1. A receiver waits only while the buffer is empty, and a sender that
//!    finds a receiver waiting hands the message straight into the
//!    receiver's node instead of the buffer. So a waiting receiver means
//!    an empty buffer, and messages leave in the order they were sent.
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

use spindle_core::{SpinLock, SpinLockGuard};

use super::error::{TryRecvError, TrySendError};
use crate::loom::atomic::{AtomicUsize, Ordering};
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

/// What the lock guards.
pub(crate) struct State<T> {
    pub(crate) buffer: VecDeque<T>,
    /// Receivers waiting for a message (invariant 1).
    pub(crate) receivers: WaitList<Slot<T>>,
    /// Senders waiting for room or a receiver (invariant 2).
    pub(crate) senders: WaitList<()>,
    /// Every sender is gone.
    senders_gone: bool,
    /// Every receiver is gone.
    receivers_gone: bool,
}

/// One channel, shared by its senders and receivers.
pub(crate) struct Chan<T> {
    state: SpinLock<State<T>>,
    /// Buffer capacity: 0 for rendezvous, `usize::MAX` for unbounded.
    cap: usize,
    sender_count: AtomicUsize,
    receiver_count: AtomicUsize,
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver counted.
    pub(crate) fn new(cap: usize) -> Self {
        // A bounded buffer is allocated once, up front; an unbounded one
        // grows.
        let buffer = if cap == usize::MAX {
            VecDeque::new()
        } else {
            VecDeque::with_capacity(cap)
        };
        Chan {
            state: SpinLock::new(State {
                buffer,
                receivers: WaitList::new(),
                senders: WaitList::new(),
                senders_gone: false,
                receivers_gone: false,
            }),
            cap,
            sender_count: AtomicUsize::new(1),
            receiver_count: AtomicUsize::new(1),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, State<T>> {
        self.state.lock()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Sends now if it can: hands the message to a waiting receiver (whose
    /// waker is returned, to call after unlocking) or buffers it.
    #[inline]
    pub(crate) fn send_locked(
        &self,
        state: &mut State<T>,
        value: T,
    ) -> Result<Option<Waker>, TrySendError<T>> {
        if state.receivers_gone {
            return Err(TrySendError::Disconnected(value));
        }
        let mut value = Some(value);
        if !state.receivers.is_empty() {
            let waker = state.receivers.notify_one(|slot| {
                if let Some(value) = value.take() {
                    // SAFETY: a `notify_one` delivery.
                    unsafe { slot.put(value) };
                }
            });
            if waker.is_some() {
                return Ok(waker);
            }
        }
        let value = value.expect("a message that was not handed over is still here");
        if state.buffer.len() < self.cap {
            state.buffer.push_back(value);
            Ok(None)
        } else {
            Err(TrySendError::Full(value))
        }
    }

    /// Receives now if it can; also returns the waker of a sender that the
    /// freed room lets in.
    #[inline]
    pub(crate) fn recv_locked(
        &self,
        state: &mut State<T>,
    ) -> Result<(T, Option<Waker>), TryRecvError> {
        match state.buffer.pop_front() {
            Some(value) => {
                let room = state.buffer.len() < self.cap;
                let waker = if room && !state.senders.is_empty() {
                    state.senders.notify_one(|()| {})
                } else {
                    None
                };
                Ok((value, waker))
            }
            None if state.senders_gone => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Whether a receive would complete now (a message, or disconnected).
    pub(crate) fn can_recv(state: &State<T>) -> bool {
        !state.buffer.is_empty() || state.senders_gone
    }

    /// Whether a send may complete now (room, a waiting receiver, or
    /// disconnected). May say yes wrongly when every waiting receiver is
    /// stale; `send_locked` then reports `Full`.
    pub(crate) fn can_send(&self, state: &State<T>) -> bool {
        state.receivers_gone || state.buffer.len() < self.cap || !state.receivers.is_empty()
    }

    /// A receiver is about to wait, so the buffer is empty: a waiting
    /// sender can send now (into the room, or, rendezvous, to this
    /// receiver), so one is woken to try. *Needed because a woken sender
    /// may have handed its message to a receiver instead of filling the
    /// room it was woken for, leaving the next sender waiting with room.*
    #[inline]
    pub(crate) fn receiver_arrives(&self, state: &mut State<T>) -> Option<Waker> {
        if state.senders.is_empty() {
            None
        } else {
            state.senders.notify_one(|()| {})
        }
    }

    /// A woken sender gives up without sending: the wake goes to the next
    /// waiting sender, which may use the room it announced.
    pub(crate) fn pass_on_send_wake(&self) {
        let waker = self.lock().senders.notify_one(|()| {});
        wait::wake(waker);
    }

    /// A receiver was handed `value` but gives up: the message goes to the
    /// next waiting receiver, or back to the front of the buffer.
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
        self.lock().buffer.len()
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

    /// Marks one side gone and wakes everyone waiting on either list (each
    /// sees the disconnection when it polls), in batches, outside the lock.
    fn disconnect(&self, mark: impl FnOnce(&mut State<T>) -> Option<VecDeque<T>>) {
        let mut batch = WakeBatch::new();
        let mut state = self.lock();
        // Dropped after the lock is released: a message's destructor may
        // use this very channel.
        let orphans = mark(&mut state);
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
