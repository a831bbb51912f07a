//! The sending half and its future.

use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spindle_core::fault::{self, Site};

use super::chan::Chan;
use super::error::{SendError, SendTimeoutError, TrySendError};
use crate::deadline;
use crate::wait::{self, Wait};

/// The sending half of a channel. Clone it for more senders; when the last
/// one is dropped, receivers get the buffered messages and then
/// [`RecvError`](super::RecvError).
///
/// Every operation works from a fiber (suspending only the fiber), a plain
/// thread (parking it) and async code ([`send_async`](Self::send_async)).
///
/// # Examples
///
/// ```
/// use spindle_sync::channel;
/// use std::thread;
///
/// // Room for both messages: nobody receives until both are sent.
/// let (tx, rx) = channel::bounded(2);
/// let tx2 = tx.clone();
/// thread::spawn(move || tx2.send(1).unwrap());
/// tx.send(2).unwrap();
/// drop(tx);
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [1, 2]);
/// ```
pub struct Sender<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full (on a rendezvous
    /// channel: until a receiver takes it). Fails, handing the value back,
    /// when every receiver is gone.
    // Inlined with `wait`, for the same reason (see `spindle_exec::wait`).
    #[inline(always)]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        // Most sends find room: try before building the future.
        match self.send_now(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(value)) => Err(SendError(value)),
            Err(TrySendError::Full(value)) => {
                spindle_exec::wait_pinned(pin!(self.send_future(value, false)))
            }
        }
    }

    /// Sends `value` if that can be done without waiting.
    ///
    /// Under a deterministic tester (`spindle_core::fault`) it may report
    /// `Full` although there was room, as a racing sender could have made
    /// it.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if fault::point(Site::TRY) && !self.chan.is_disconnected_for_senders() {
            return Err(TrySendError::Full(value));
        }
        self.send_now(value)
    }

    /// Like [`send`](Self::send), giving up after `timeout`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, deadline::after(timeout))
    }

    /// Like [`send`](Self::send), giving up at `deadline`.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        let value = match self.send_now(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(value)) => {
                return Err(SendTimeoutError::Disconnected(value));
            }
            Err(TrySendError::Full(value)) => value,
        };
        let mut future = pin!(self.send_future(value, false));
        match deadline::wait_deadline(future.as_mut(), deadline) {
            Some(result) => result.map_err(SendTimeoutError::from),
            None => match future.cancel() {
                Some(value) => Err(SendTimeoutError::Timeout(value)),
                None => Ok(()),
            },
        }
    }

    /// The future form of [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes never delivers the message:
    /// a send happens only inside the future's own poll. To get the message
    /// back instead of dropping it, call [`SendFuture::cancel`]. A wake the
    /// future received and did not use is passed on to the next waiting
    /// sender.
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        self.send_future(value, true)
    }

    /// The future of `send_async`; `try_ring`: whether its first poll
    /// tries the ring without the lock (not where the caller just did).
    #[inline]
    fn send_future(&self, value: T, try_ring: bool) -> SendFuture<'_, T> {
        SendFuture {
            chan: &self.chan,
            value: Some(value),
            wait: Wait::new(()),
            try_ring,
        }
    }

    #[inline(always)]
    fn send_now(&self, value: T) -> Result<(), TrySendError<T>> {
        let Err(value) = self.chan.try_send_fast(value) else {
            return Ok(());
        };
        let mut state = self.chan.lock();
        let wakes = self.chan.send_locked(&mut state, value)?;
        drop(state);
        wakes.wake();
        Ok(())
    }

    /// Whether every receiver is gone (a send would fail).
    pub fn is_disconnected(&self) -> bool {
        self.chan.is_disconnected_for_senders()
    }
}

super::channel_end!(Sender, add_sender, remove_sender, "send on");

/// The future of [`Sender::send_async`]: sends a message, waiting while
/// the channel is full.
///
/// # Cancel safety
///
/// Dropping it before it completes never delivers the message (see
/// [`Sender::send_async`]); [`cancel`](Self::cancel) hands it back.
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    /// The message, until it is sent (or handed back).
    value: Option<T>,
    wait: Wait<()>,
    /// The first poll tries the lock-free ring.
    try_ring: bool,
}

impl<T> SendFuture<'_, T> {
    /// Gives up sending and returns the message, or `None` if the future
    /// had completed (the message was sent, or handed back in an error).
    pub fn cancel(self: Pin<&mut Self>) -> Option<T> {
        // SAFETY: nothing is moved out of the pinned `wait`.
        let this = unsafe { self.get_unchecked_mut() };
        this.stop_waiting();
        this.value.take()
    }

    /// Leaves the senders' list; a wake that came meanwhile is passed on.
    fn stop_waiting(&self) {
        let woken = self
            .wait
            .cancel(|node| self.chan.lock().senders.remove(node));
        if woken {
            self.chan.pass_on_send_wake();
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the pinned `wait`; `value` is not
        // structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `wait` lives in the pinned future and is never moved.
        let wait = unsafe { Pin::new_unchecked(&this.wait) };
        let Some(value) = this.value.take() else {
            panic!("`SendFuture` polled after it completed");
        };
        if !wait.is_queued() && fault::point(Site::WAIT) {
            // As if another sender had just filled the buffer: try again later.
            this.value = Some(value);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let value = if this.try_ring && !wait.is_queued() {
            match this.chan.try_send_fast(value) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(value) => value,
            }
        } else {
            value
        };
        wait.take_woken();
        let mut state = this.chan.lock();
        if wait.is_queued() && !wait.take_woken() {
            // Still waiting, and nobody was told about room: stay in line.
            wait.enqueue(&mut state.senders, cx.waker());
            this.value = Some(value);
            return Poll::Pending;
        }
        let result = this.chan.send_locked(&mut state, value);
        match result {
            Ok(wakes) => {
                drop(state);
                wakes.wake();
                Poll::Ready(Ok(()))
            }
            Err(TrySendError::Disconnected(value)) => Poll::Ready(Err(SendError(value))),
            Err(TrySendError::Full(value)) => {
                this.value = Some(value);
                wait.enqueue(&mut state.senders, cx.waker());
                let waker = this.chan.sender_queued(&mut state);
                drop(state);
                wait::wake(waker);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("sent", &self.value.is_none())
            .field("wait", &self.wait)
            .finish()
    }
}
