//! One operation of a `select`: a receive or a send on one channel, with
//! the waiter node it registers and the result it completes with.

use core::fmt;
use core::pin::Pin;

use super::super::chan::{Chan, Slot, Wakes};
use super::super::error::{RecvError, SendError, TryRecvError, TrySendError};
use crate::wait::{self, Outcome, Signal, Waiter};

/// The select's decision cell and this case's position, lent to
/// [`Case::register`]. Public only for the `select!` macro.
#[doc(hidden)]
pub struct Registration<'a> {
    pub(super) signal: &'a Signal,
    /// The case's position (a select cannot have 2^32 cases: each one
    /// takes more memory than that leaves).
    pub(super) index: u32,
}

impl fmt::Debug for Registration<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("index", &self.index)
            .finish()
    }
}

/// What [`Case::register`] did.
#[doc(hidden)]
#[derive(Debug)]
pub enum Registered {
    /// The node is queued; the select may wait.
    Waiting,
    /// The case was ready: it decided the select (aborting its signal)
    /// and completed.
    Done,
    /// The case looked ready and decided the select, but could not
    /// complete (every waiting receiver was stale): start over.
    Retry,
    /// Another case, registered before, woke the select meanwhile.
    Lost,
}

/// One case of a select. Public only for the `select!` macro; not a
/// stable interface.
#[doc(hidden)]
pub trait Case {
    /// Completes now if it can, without waiting.
    fn try_now(&mut self) -> bool;

    /// Under the channel's lock: completes if ready (after winning the
    /// select's signal), or queues a node that wakes the signal.
    ///
    /// # Safety
    ///
    /// `self` and the signal stay in place until [`unregister`] (or a
    /// wake through this case) has unlinked the node.
    ///
    /// [`unregister`]: Case::unregister
    unsafe fn register(&mut self, registration: &Registration<'_>) -> Registered;

    /// Unlinks the node if it is still queued.
    fn unregister(&mut self);

    /// The select was woken through this case: completes from what was
    /// handed over (`true`), or reports that the select must try again.
    fn woken(&mut self) -> bool;

    /// The select was woken through this case but is being dropped: gives
    /// back what was handed over, or passes the wake on.
    fn abandon_woken(&mut self);
}

/// A receive from one channel.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    chan: &'a Chan<T>,
    node: Waiter<Slot<T>>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A receive from `receiver`'s channel.
    pub fn new(receiver: &'a super::super::Receiver<T>) -> Self {
        RecvCase {
            chan: &receiver.chan,
            node: Waiter::new(Slot::new()),
            result: None,
        }
    }

    /// The result, once the select chose this case.
    ///
    /// # Panics
    ///
    /// If the case was not chosen (the macro only asks the chosen one).
    #[track_caller]
    pub fn take(&mut self) -> Result<T, RecvError> {
        self.result.take().expect("this select case was not chosen")
    }

    fn handed_over(&self) -> Option<T> {
        // SAFETY: called after the node was unlinked by the wake.
        unsafe { self.node.data().take() }
    }
}

impl<T> Case for RecvCase<'_, T> {
    fn try_now(&mut self) -> bool {
        let mut state = self.chan.lock();
        match self.chan.recv_locked(&mut state) {
            Ok((value, wakes)) => {
                drop(state);
                wakes.wake();
                self.result = Some(Ok(value));
                true
            }
            Err(TryRecvError::Disconnected) => {
                self.result = Some(Err(RecvError));
                true
            }
            Err(TryRecvError::Empty) => false,
        }
    }

    unsafe fn register(&mut self, registration: &Registration<'_>) -> Registered {
        let mut state = self.chan.lock();
        if self.chan.can_recv(&state) {
            return match registration.signal.abort() {
                Outcome::Aborted => {
                    let outcome = self.chan.recv_locked(&mut state);
                    drop(state);
                    self.result = Some(match outcome {
                        Ok((value, wakes)) => {
                            wakes.wake();
                            Ok(value)
                        }
                        Err(TryRecvError::Disconnected) => Err(RecvError),
                        // A fast receive took what `can_recv` saw.
                        Err(TryRecvError::Empty) => return Registered::Retry,
                    });
                    Registered::Done
                }
                _ => Registered::Lost,
            };
        }
        // SAFETY: the caller keeps `self` (the node) and the signal in
        // place until the node is unlinked; a fresh case's node is not
        // linked; the select stored its waker before registering.
        unsafe {
            state.receivers.push_back(
                Pin::new_unchecked(&self.node),
                registration.signal,
                registration.index,
            );
        }
        let waker = self.chan.receiver_queued(&mut state);
        drop(state);
        wait::wake(waker);
        Registered::Waiting
    }

    fn unregister(&mut self) {
        self.chan.lock().receivers.remove(&self.node);
    }

    fn woken(&mut self) -> bool {
        match self.handed_over() {
            Some(value) => {
                self.result = Some(Ok(value));
                true
            }
            // Woken by a disconnection: the next round sees it.
            None => false,
        }
    }

    fn abandon_woken(&mut self) {
        match self.handed_over() {
            Some(value) => self.chan.give_back(value),
            None => self.chan.pass_on_recv_wake(),
        }
    }
}

impl<T> fmt::Debug for RecvCase<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvCase").finish_non_exhaustive()
    }
}

/// A send on one channel.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    chan: &'a Chan<T>,
    node: Waiter<()>,
    value: Option<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    /// A send of `value` on `sender`'s channel.
    pub fn new(sender: &'a super::super::Sender<T>, value: T) -> Self {
        SendCase {
            chan: &sender.chan,
            node: Waiter::new(()),
            value: Some(value),
            result: None,
        }
    }

    /// The result, once the select chose this case.
    ///
    /// # Panics
    ///
    /// If the case was not chosen (the macro only asks the chosen one).
    #[track_caller]
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.result.take().expect("this select case was not chosen")
    }

    /// The message, if it was not sent (the case was not chosen).
    pub fn into_value(self) -> Option<T> {
        self.value
    }

    /// Sends under the lock; `false` (keeping the message) if full.
    fn send(&mut self, state: &mut super::super::chan::State<T>) -> Result<Wakes, ()> {
        let Some(value) = self.value.take() else {
            return Err(());
        };
        match self.chan.send_locked(state, value) {
            Ok(wakes) => {
                self.result = Some(Ok(()));
                Ok(wakes)
            }
            Err(TrySendError::Disconnected(value)) => {
                self.result = Some(Err(SendError(value)));
                Ok(Wakes::none())
            }
            Err(TrySendError::Full(value)) => {
                self.value = Some(value);
                Err(())
            }
        }
    }
}

impl<T> Case for SendCase<'_, T> {
    fn try_now(&mut self) -> bool {
        let mut state = self.chan.lock();
        match self.send(&mut state) {
            Ok(wakes) => {
                drop(state);
                wakes.wake();
                true
            }
            Err(()) => false,
        }
    }

    unsafe fn register(&mut self, registration: &Registration<'_>) -> Registered {
        let mut state = self.chan.lock();
        if self.chan.can_send(&state) {
            return match registration.signal.abort() {
                Outcome::Aborted => match self.send(&mut state) {
                    Ok(wakes) => {
                        drop(state);
                        wakes.wake();
                        Registered::Done
                    }
                    Err(()) => Registered::Retry,
                },
                _ => Registered::Lost,
            };
        }
        // SAFETY: as in `RecvCase::register`.
        unsafe {
            state.senders.push_back(
                Pin::new_unchecked(&self.node),
                registration.signal,
                registration.index,
            );
        }
        let waker = self.chan.sender_queued(&mut state);
        drop(state);
        wait::wake(waker);
        Registered::Waiting
    }

    fn unregister(&mut self) {
        self.chan.lock().senders.remove(&self.node);
    }

    fn woken(&mut self) -> bool {
        // A sender is only told to try again.
        false
    }

    fn abandon_woken(&mut self) {
        self.chan.pass_on_send_wake();
    }
}

impl<T> fmt::Debug for SendCase<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendCase")
            .field("sent", &self.value.is_none())
            .finish_non_exhaustive()
    }
}
