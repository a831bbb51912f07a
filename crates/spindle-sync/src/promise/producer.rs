//! [`Promise`]: the producer's half, and [`Cancelled`], its wait for the
//! reader to go away.

use core::fmt;
use core::future::Future as StdFuture;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{BoxError, SetError};
use super::shared::Shared;
use crate::deadline;

/// The producer's half of a one-shot promise: sets a value or an error,
/// once, for the [`Future`](super::Future) made with it by
/// [`promise()`](super::promise()).
///
/// - [`set_value`](Self::set_value) / [`set_error`](Self::set_error)
///   consume the promise; each hands its argument back in a [`SetError`]
///   if the future was dropped first.
/// - Dropping the promise unset is a result too: the reader gets
///   [`Error::Broken`](super::Error::Broken). So a producer that returns
///   early, panics or is cancelled never leaves its reader waiting forever.
/// - [`is_cancelled`](Self::is_cancelled) / [`cancelled`](Self::cancelled)
///   tell the producer that the reader went away, so it can stop working on
///   a result nobody will read.
///
/// `Promise<T, E>` is `Send` and `Sync` when `T` and `E` are `Send`.
///
/// A promise is set once: setting consumes it.
///
/// ```compile_fail
/// use spindle_sync::promise::promise;
///
/// let (promise, future) = promise::<u32, ()>();
/// promise.set_value(1).unwrap();
/// promise.set_value(2).unwrap(); // error: use of moved value
/// # drop(future);
/// ```
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::promise;
/// use std::thread;
///
/// let (promise, future) = promise::<u64, std::io::Error>();
/// thread::spawn(move || {
///     let sum = (1..=100).sum();
///     promise.set_value(sum).ok(); // `ok()`: fine if nobody reads it
/// });
/// assert_eq!(future.get().unwrap(), 5050);
/// ```
pub struct Promise<T, E = BoxError> {
    shared: Arc<Shared<T, E>>,
    /// `set` ran: `Drop` must not report `Broken`.
    done: bool,
}

impl<T, E> Promise<T, E> {
    pub(super) fn new(shared: Arc<Shared<T, E>>) -> Self {
        Promise {
            shared,
            done: false,
        }
    }

    /// Delivers `value` to the future and wakes its reader.
    ///
    /// # Errors
    ///
    /// [`SetError`] holding `value` if the future was dropped first.
    pub fn set_value(self, value: T) -> Result<(), SetError<T>> {
        self.set(Ok(value))
            .map_err(|SetError(result)| match result {
                Ok(value) => SetError(value),
                Err(_) => unreachable!("`set` hands back what it was given"),
            })
    }

    /// Delivers `error` to the future (its reader gets
    /// [`Error::Failed`](super::Error::Failed)) and wakes its reader.
    ///
    /// # Errors
    ///
    /// [`SetError`] holding `error` if the future was dropped first.
    pub fn set_error(self, error: E) -> Result<(), SetError<E>> {
        self.set(Err(error))
            .map_err(|SetError(result)| match result {
                Err(error) => SetError(error),
                Ok(_) => unreachable!("`set` hands back what it was given"),
            })
    }

    /// Delivers `result`: a value or an error.
    ///
    /// # Errors
    ///
    /// [`SetError`] holding `result` if the future was dropped first.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    ///
    /// let (promise, future) = promise::<u32, std::num::ParseIntError>();
    /// promise.set("42".parse()).unwrap();
    /// assert_eq!(future.get().unwrap(), 42);
    /// ```
    pub fn set(mut self, result: Result<T, E>) -> Result<(), SetError<Result<T, E>>> {
        self.done = true;
        // SAFETY: we are the producer; `done` keeps `Drop` from abandoning,
        // and `self` is consumed, so this is the only `set`. No `Cancelled`
        // can be alive (it borrows `self` mutably).
        unsafe {
            self.shared.end_producer_wait();
            self.shared.set(result).map_err(SetError)
        }
    }

    /// Whether the future was dropped: nobody will read a result, and a set
    /// would hand it back. Once `true`, stays `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    ///
    /// let (promise, future) = promise::<u32, ()>();
    /// assert!(!promise.is_cancelled());
    /// drop(future);
    /// assert!(promise.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.shared.is_cancelled()
    }

    /// Blocks the current fiber or thread until the future is dropped.
    ///
    /// Do not call it from async code: `.await`
    /// [`cancelled_async`](Self::cancelled_async) there.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    /// use std::thread;
    ///
    /// let (mut promise, future) = promise::<u32, ()>();
    /// let reader = thread::spawn(move || drop(future));
    /// promise.cancelled(); // returns once the reader is gone
    /// assert!(promise.is_cancelled());
    /// reader.join().unwrap();
    /// ```
    pub fn cancelled(&mut self) {
        spindle_exec::wait(self.cancelled_async());
    }

    /// Like [`cancelled`](Self::cancelled), giving up after `timeout`.
    /// Returns whether the future was dropped.
    pub fn cancelled_timeout(&mut self, timeout: Duration) -> bool {
        self.cancelled_deadline(deadline::after(timeout))
    }

    /// Like [`cancelled`](Self::cancelled), giving up at `deadline`.
    /// Returns whether the future was dropped.
    pub fn cancelled_deadline(&mut self, deadline: Instant) -> bool {
        if self.is_cancelled() {
            return true;
        }
        deadline::wait_deadline(self.cancelled_async(), deadline).is_some()
    }

    /// A future that completes when the promise's future is dropped: the
    /// producer's way to stop early from async code, e.g. by racing its
    /// work against it.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::{ManualExecutor, spawn};
    /// use spindle_sync::promise::promise;
    ///
    /// let executor = ManualExecutor::new();
    /// let (mut promise, future) = promise::<u32, ()>();
    /// let producer = spawn(&executor, async move {
    ///     promise.cancelled_async().await;
    ///     "the reader left"
    /// });
    /// executor.run_all();
    /// assert!(!producer.is_finished());
    /// drop(future);
    /// executor.run_all();
    /// assert_eq!(producer.join().unwrap(), "the reader left");
    /// ```
    pub fn cancelled_async(&mut self) -> Cancelled<'_, T, E> {
        Cancelled { promise: self }
    }

    /// `Ready` once the future is dropped; registers `cx`'s waker if not.
    pub(super) fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we are the producer (`&mut self`), and not done: `set`
        // consumes the promise.
        unsafe { self.shared.poll_cancelled(cx) }
    }
}

impl<T, E> Drop for Promise<T, E> {
    fn drop(&mut self) {
        // SAFETY: we are the producer; if `set` ran it ended the wait and
        // `done` keeps us from abandoning after it; otherwise this is the
        // producer's one and only `abandon`.
        unsafe {
            self.shared.end_producer_wait();
            if !self.done {
                self.shared.abandon();
            }
        }
    }
}

impl<T, E> fmt::Debug for Promise<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The future of [`Promise::cancelled_async`]: completes when the
/// promise's [`Future`](super::Future) is dropped.
///
/// `Send` when `T` and `E` are `Send`.
///
/// # Cancel safety
///
/// Dropping it loses nothing: it only watches. Its wait is withdrawn, and
/// a new one can be started.
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a, T, E = BoxError> {
    promise: &'a mut Promise<T, E>,
}

impl<T, E> StdFuture for Cancelled<'_, T, E> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.promise.poll_cancelled(cx)
    }
}

impl<T, E> Drop for Cancelled<'_, T, E> {
    fn drop(&mut self) {
        // SAFETY: we hold the producer's `&mut`, so we act as the producer.
        unsafe { self.promise.shared.end_producer_wait() };
    }
}

impl<T, E> fmt::Debug for Cancelled<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("cancelled", &self.promise.is_cancelled())
            .finish()
    }
}
