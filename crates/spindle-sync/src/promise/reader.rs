//! [`Future`]: the reader's half of a promise.

use core::fmt;
use core::future::Future as StdFuture;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{BoxError, Error};
use super::shared::Shared;
use crate::deadline;

/// The reader's half of a one-shot promise: the result its
/// [`Promise`](super::Promise) sets, or [`Error::Broken`] if the promise is
/// dropped unset.
///
/// Read it in any world:
/// - async code: `.await` it (it is a [`std::future::Future`] with
///   `Output = Result<T, Error<E>>`);
/// - a fiber or a thread: [`get`](Self::get) (blocks only the fiber on a
///   fiber), [`get_timeout`](Self::get_timeout),
///   [`get_deadline`](Self::get_deadline);
/// - without waiting: [`try_get`](Self::try_get), [`is_ready`](Self::is_ready);
/// - on an executor, once the result is there: [`then`](Self::then),
///   [`map`](Self::map).
///
/// The result is handed out once. Dropping the future *cancels* the
/// promise: its producer sees [`is_cancelled`](super::Promise::is_cancelled),
/// and a later set hands its value back.
///
/// `Future<T, E>` is `Send` and `Sync` when `T` and `E` are `Send`, and
/// `Unpin`. A future of a value that must stay on its thread cannot move:
///
/// ```compile_fail
/// use spindle_sync::promise::promise;
/// use std::rc::Rc;
///
/// let (promise, future) = promise::<Rc<u32>, ()>();
/// std::thread::spawn(move || future.get());
/// # drop(promise);
/// ```
///
/// # Examples
///
/// ```
/// use spindle_exec::block_on;
/// use spindle_sync::promise::promise;
///
/// let (promise, future) = promise::<&str, ()>();
/// promise.set_value("hello").unwrap();
/// assert_eq!(block_on(async { future.await }), Ok("hello"));
/// ```
///
/// # Cancel safety
///
/// Polling it through `&mut` (in a `select`, say) and then stopping loses
/// nothing: the result stays in the promise for the next poll or
/// [`get`](Self::get). Dropping the future itself gives the result up: it
/// cancels the promise, and a result already set is dropped.
///
/// # Panics
///
/// Every way of reading the result panics if the result was already
/// handed out (a poll returned `Ready`, or `try_get`, `get_timeout` or
/// `get_deadline` returned `Some`), as `std` allows a future polled after
/// completion to.
#[must_use = "dropping the future cancels the promise"]
pub struct Future<T, E = BoxError> {
    shared: Arc<Shared<T, E>>,
    /// The result was handed out; the future is spent.
    taken: bool,
}

impl<T, E> Future<T, E> {
    pub(super) fn new(shared: Arc<Shared<T, E>>) -> Self {
        Future {
            shared,
            taken: false,
        }
    }

    /// Whether the result is there to take: the promise was set or dropped,
    /// and the result not handed out yet. [`try_get`](Self::try_get) would
    /// (barring an injected fault) return it.
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    ///
    /// let (promise, future) = promise::<u32, ()>();
    /// assert!(!future.is_ready());
    /// drop(promise); // dropped unset: the result is `Broken`
    /// assert!(future.is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        !self.taken && self.shared.is_done()
    }

    /// Blocks the current fiber or thread until the result is there, and
    /// returns it.
    ///
    /// Do not call it from async code: `.await` the future there.
    ///
    /// # Errors
    ///
    /// [`Error::Failed`] with the producer's error, or [`Error::Broken`] if
    /// the promise was dropped unset.
    ///
    /// # Panics
    ///
    /// If the result was already handed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    /// use std::thread;
    ///
    /// let (promise, future) = promise::<u32, ()>();
    /// thread::spawn(move || promise.set_value(7));
    /// assert_eq!(future.get(), Ok(7));
    /// ```
    #[track_caller]
    pub fn get(self) -> Result<T, Error<E>> {
        self.check_live();
        spindle_exec::wait(self)
    }

    /// The result if it is there, without waiting; `None` if the producer
    /// is not done yet (or an injected fault says so).
    ///
    /// # Panics
    ///
    /// If the result was already handed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    ///
    /// let (promise, mut future) = promise::<u32, ()>();
    /// assert_eq!(future.try_get(), None);
    /// promise.set_value(3).unwrap();
    /// assert_eq!(future.try_get(), Some(Ok(3)));
    /// ```
    #[track_caller]
    pub fn try_get(&mut self) -> Option<Result<T, Error<E>>> {
        self.check_live();
        // SAFETY: we are the reader, and the result is not taken.
        let result = unsafe { self.shared.try_take() }?;
        self.taken = true;
        Some(result)
    }

    /// Like [`get`](Self::get), giving up after `timeout`: `None` then, and
    /// the future can still be read later.
    ///
    /// # Panics
    ///
    /// If the result was already handed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_sync::promise::promise;
    /// use std::time::Duration;
    ///
    /// let (promise, mut future) = promise::<u32, ()>();
    /// assert_eq!(future.get_timeout(Duration::from_millis(10)), None);
    /// promise.set_value(1).unwrap();
    /// assert_eq!(future.get_timeout(Duration::from_millis(10)), Some(Ok(1)));
    /// ```
    #[track_caller]
    pub fn get_timeout(&mut self, timeout: Duration) -> Option<Result<T, Error<E>>> {
        self.get_deadline(deadline::after(timeout))
    }

    /// Like [`get`](Self::get), giving up at `deadline`: `None` then, and
    /// the future can still be read later.
    ///
    /// # Panics
    ///
    /// If the result was already handed out.
    #[track_caller]
    pub fn get_deadline(&mut self, deadline: Instant) -> Option<Result<T, Error<E>>> {
        self.check_live();
        super::timed::wait_deadline(self, deadline)
    }

    #[track_caller]
    fn check_live(&self) {
        assert!(
            !self.taken,
            "the promise's result was already taken from this future"
        );
    }
}

impl<T, E> StdFuture for Future<T, E> {
    type Output = Result<T, Error<E>>;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.check_live();
        // SAFETY: we are the reader (`&mut`), and the result is not taken;
        // a `Ready` is recorded below.
        let poll = unsafe { self.shared.poll_result(cx) };
        if poll.is_ready() {
            self.taken = true;
        }
        poll
    }
}

impl<T, E> super::timed::Withdraw for Future<T, E> {
    fn withdraw(&mut self) {
        // SAFETY: we are the reader (`&mut`).
        unsafe { self.shared.end_reader_wait() };
    }
}

impl<T, E> Drop for Future<T, E> {
    fn drop(&mut self) {
        // SAFETY: we are the reader, going away; if the result was taken
        // the producer is done and there is nobody to tell.
        unsafe {
            if self.taken {
                self.shared.end_reader_wait();
            } else {
                self.shared.cancel();
            }
        }
    }
}

impl<T, E> fmt::Debug for Future<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("ready", &self.is_ready())
            .field("taken", &self.taken)
            .finish()
    }
}
