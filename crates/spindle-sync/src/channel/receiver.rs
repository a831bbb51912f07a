//! The receiving half, its future and its iterators.

use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spindle_core::fault::{self, Site};

use super::chan::{Chan, Slot};
use super::error::{RecvError, RecvTimeoutError, TryRecvError};
use super::on_task;
use crate::deadline;
use crate::wait::{self, Wait};

/// The receiving half of a channel. Clone it for more receivers (each
/// message goes to exactly one of them); when the last one is dropped,
/// senders fail with [`SendError`](super::SendError) and the buffered
/// messages are dropped.
///
/// Every operation works from a fiber (suspending only the fiber), a plain
/// thread (parking it) and async code ([`recv_async`](Self::recv_async)).
///
/// # Examples
///
/// ```
/// use spindle_sync::channel::{self, RecvError};
///
/// let (tx, rx) = channel::bounded(4);
/// tx.send("hello").unwrap();
/// drop(tx);
/// assert_eq!(rx.recv(), Ok("hello")); // buffered messages outlive the senders
/// assert_eq!(rx.recv(), Err(RecvError));
/// ```
pub struct Receiver<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    /// Receives a message, waiting while there is none. Fails once the
    /// channel is empty and every sender is gone.
    // Inlined with `wait`, for the same reason (see `spindle_exec::wait`).
    #[inline(always)]
    pub fn recv(&self) -> Result<T, RecvError> {
        // Every caller tries the lock-free ring before it builds the future
        // (going through `wait` for each message costs a fiber more than
        // the try), which then goes straight to the lock. A thread also
        // tries under the lock first: parking a thread costs more than a
        // try. A fiber goes to the future, whose first poll tries there.
        if let Some(value) = self.chan.try_recv_fast() {
            return Ok(value);
        }
        if !on_task() {
            match self.recv_under_lock() {
                Ok(value) => return Ok(value),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
        }
        spindle_exec::wait_pinned(pin!(self.recv_future(false)))
    }

    /// Receives a message if one is there now.
    ///
    /// Under a deterministic tester (`spindle_core::fault`) it may report
    /// `Empty` although a message was there, as a racing receiver could
    /// have made it.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if fault::point(Site::TRY) {
            return Err(TryRecvError::Empty);
        }
        self.recv_now()
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(deadline::after(timeout))
    }

    /// Like [`recv`](Self::recv), giving up at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        match self.recv_now() {
            Ok(value) => return Ok(value),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        let mut future = pin!(self.recv_future(false));
        match deadline::wait_deadline(future.as_mut(), deadline) {
            Some(result) => result.map_err(RecvTimeoutError::from),
            // A message handed over as time ran out is taken, not given
            // back: giving back could put it behind a later one.
            None => future.cancel().ok_or(RecvTimeoutError::Timeout),
        }
    }

    /// The future form of [`recv`](Self::recv).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes loses no message: one that a
    /// sender had already handed to it goes to the next waiting receiver,
    /// or back to the front of the buffer. A receive running concurrently
    /// may by then have taken a later message of the same sender, which
    /// then arrives first; [`RecvFuture::cancel`] keeps the handed-over
    /// message instead, in order. (The blocking forms, `recv_timeout`
    /// included, never reorder: they cancel, they do not drop.)
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        self.recv_future(true)
    }

    /// The future of `recv_async`; `try_ring`: whether its first poll
    /// tries the ring without the lock (not where the caller just did).
    #[inline]
    fn recv_future(&self, try_ring: bool) -> RecvFuture<'_, T> {
        RecvFuture {
            chan: &self.chan,
            wait: Wait::new(Slot::new()),
            try_ring,
        }
    }

    #[inline(always)]
    fn recv_now(&self) -> Result<T, TryRecvError> {
        match self.chan.try_recv_fast() {
            Some(value) => Ok(value),
            None => self.recv_under_lock(),
        }
    }

    #[inline(always)]
    fn recv_under_lock(&self) -> Result<T, TryRecvError> {
        let mut state = self.chan.lock();
        let (value, wakes) = self.chan.recv_locked(&mut state)?;
        drop(state);
        wakes.wake();
        Ok(value)
    }

    /// A blocking iterator over the messages; it ends when the channel is
    /// empty and every sender is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// An iterator over the messages there now; it never waits.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Whether every sender is gone (messages may still be buffered).
    pub fn is_disconnected(&self) -> bool {
        self.chan.is_disconnected_for_receivers()
    }
}

super::channel_end!(Receiver, add_receiver, remove_receiver, "receive from");

/// The future of [`Receiver::recv_async`]: receives a message, waiting
/// while there is none.
///
/// # Cancel safety
///
/// Dropping it before it completes loses no message (see
/// [`Receiver::recv_async`]).
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    chan: &'a Chan<T>,
    wait: Wait<Slot<T>>,
    /// The first poll tries the lock-free ring.
    try_ring: bool,
}

impl<T> RecvFuture<'_, T> {
    /// Gives up receiving. Returns the message a sender had already handed
    /// to this future (it is then received, not given back), or `None`.
    ///
    /// Prefer it to dropping the future when order matters: a dropped
    /// future puts a handed-over message back at the front of the channel,
    /// and a receive running on another thread meanwhile may already have
    /// taken a later message of the same sender.
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        self.leave()
    }

    /// Leaves the receivers' list, giving back a message handed over
    /// meanwhile (see `drop`).
    #[inline(never)]
    fn stop_waiting(&self) {
        if let Some(value) = self.leave() {
            self.chan.give_back(value);
        }
    }

    /// Leaves the receivers' list. Returns a message handed over meanwhile;
    /// a wake to look at the ring goes on to the next receiver.
    fn leave(&self) -> Option<T> {
        let woken = self
            .wait
            .cancel(|node| self.chan.lock().receivers.remove(node));
        if !woken {
            return None;
        }
        let value = self.handed_over();
        if value.is_none() {
            self.chan.pass_on_recv_wake();
        }
        value
    }

    /// The message a sender handed over, once the wait is over.
    fn handed_over(&self) -> Option<T> {
        // SAFETY: only called when the wait is not queued.
        unsafe { self.wait.data().take() }
    }

    /// Every poll but one after a hand-off (see `poll`).
    #[inline(never)]
    fn poll_slow(this: Pin<&Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        // SAFETY: `wait` lives in the pinned future and is never moved.
        let wait = unsafe { this.map_unchecked(|this| &this.wait) };
        if !wait.is_queued() {
            if fault::point(Site::WAIT) {
                // As if another receiver had just taken the last message.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if this.try_ring
                && let Some(value) = this.chan.try_recv_fast()
            {
                return Poll::Ready(Ok(value));
            }
        }
        let mut state = this.chan.lock();
        if wait.is_queued() {
            if !wait.take_woken() {
                // Still waiting (so the buffer is empty): stay in line.
                wait.enqueue(&mut state.receivers, cx.waker());
                return Poll::Pending;
            }
            if let Some(value) = this.handed_over() {
                return Poll::Ready(Ok(value));
            }
        }
        match this.chan.recv_locked(&mut state) {
            Ok((value, wakes)) => {
                drop(state);
                wakes.wake();
                Poll::Ready(Ok(value))
            }
            Err(TryRecvError::Disconnected) => Poll::Ready(Err(RecvError)),
            Err(TryRecvError::Empty) => {
                wait.enqueue(&mut state.receivers, cx.waker());
                let waker = this.chan.receiver_queued(&mut state);
                drop(state);
                wait::wake(waker);
                Poll::Pending
            }
        }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    // Inlined: the poll after a hand-off (the common wake) is a few loads;
    // the rest stays out of line.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.into_ref();
        // SAFETY: `wait` lives in the pinned future and is never moved.
        let wait = unsafe { this.map_unchecked(|this| &this.wait) };
        if wait.take_woken()
            && let Some(value) = this.handed_over()
        {
            return Poll::Ready(Ok(value));
        }
        Self::poll_slow(this, cx)
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    // Inlined: a completed receive is no longer queued, which is one load.
    #[inline]
    fn drop(&mut self) {
        if self.wait.is_queued() {
            self.stop_waiting();
        }
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("wait", &self.wait)
            .finish()
    }
}

/// A blocking iterator over a receiver's messages ([`Receiver::iter`]).
#[derive(Debug)]
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

/// An iterator over the messages there now ([`Receiver::try_iter`]).
#[derive(Debug)]
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

/// A blocking iterator that owns its receiver.
#[derive(Debug)]
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
