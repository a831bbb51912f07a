//! [`all`], [`first`], [`first_ok`]: one future over many promises.
//!
//! Each combinator is a named future that owns its promise futures and
//! polls them itself, so it needs no executor and works in every world:
//! `.await` it, or block on it from a fiber or a thread with its `get`
//! (which is `spindle_exec::wait(combinator)`). Futures it no longer needs
//! (the losers of `first`, everything after an error in `all`) are
//! dropped at once, which cancels their promises: their producers see
//! [`Promise::is_cancelled`](super::Promise::is_cancelled).
//!
//! # Cost
//!
//! One `Vec` per combinator, no allocation per wait. Each promise future
//! registers the combinator's waker once; a wake-up then polls only the
//! futures whose result is there (one atomic load for each of the others),
//! unless the waker changed, when all are polled to register it afresh.

use core::fmt;
use core::future::Future as StdFuture;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::error::{AllFailed, BoxError, Error};
use super::reader::Future;
use super::timed::{self, Withdraw};
use crate::deadline;

/// The waker the pending children last registered.
#[derive(Debug, Default)]
struct Registration {
    waker: Option<Waker>,
}

impl Registration {
    /// Records `cx`'s waker; returns whether it is new, so that every
    /// pending child must be polled to register it. Otherwise each pending
    /// child not yet done still holds it: a child's wait ends only when its
    /// result is there.
    fn renew(&mut self, cx: &Context<'_>) -> bool {
        match &self.waker {
            Some(waker) if waker.will_wake(cx.waker()) => false,
            _ => {
                self.waker = Some(cx.waker().clone());
                true
            }
        }
    }
}

/// Polls `child` if `every` is set or its result is there.
fn poll_child<T, E>(
    child: &mut Future<T, E>,
    every: bool,
    cx: &mut Context<'_>,
) -> Poll<Result<T, Error<E>>> {
    if !every && !child.is_ready() {
        return Poll::Pending;
    }
    Pin::new(child).poll(cx)
}

#[track_caller]
fn check_live(done: bool) {
    assert!(!done, "a promise combinator was read after it completed");
}

/// Implements the blocking forms for a combinator.
macro_rules! blocking_forms {
    ($name:ident, $output:ty) => {
        impl<T, E> $name<T, E> {
            /// Blocks the current fiber or thread until the combinator
            /// completes: `spindle_exec::wait(self)`.
            ///
            /// # Panics
            ///
            /// If it already completed (through a poll or a timed get).
            #[track_caller]
            pub fn get(self) -> $output {
                check_live(self.done);
                spindle_exec::wait(self)
            }

            /// Like [`get`](Self::get), giving up after `timeout`: `None`
            /// then, with every promise still waited for (drop the
            /// combinator to cancel them).
            ///
            /// # Panics
            ///
            /// If it already completed.
            #[track_caller]
            pub fn get_timeout(&mut self, timeout: Duration) -> Option<$output> {
                self.get_deadline(deadline::after(timeout))
            }

            /// Like [`get_timeout`](Self::get_timeout), giving up at
            /// `deadline`.
            ///
            /// # Panics
            ///
            /// If it already completed.
            #[track_caller]
            pub fn get_deadline(&mut self, deadline: Instant) -> Option<$output> {
                check_live(self.done);
                timed::wait_deadline(self, deadline)
            }
        }

        // Nothing is ever pinned through it: the children are `Unpin`, and
        // values are moved freely.
        impl<T, E> Unpin for $name<T, E> {}
    };
}

/// Waits for every future: all values in order, or the first error.
///
/// The first error the combinator sees (an [`Error::Failed`] or an
/// [`Error::Broken`]) completes it; the other futures are dropped then, so
/// their promises are cancelled. With no futures at all it completes at
/// once with an empty `Vec`.
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::{all, promise};
/// use std::thread;
///
/// let futures = (0..4_u32).map(|i| {
///     let (promise, future) = promise::<u32, ()>();
///     thread::spawn(move || promise.set_value(i * 10));
///     future
/// });
/// assert_eq!(all(futures).get(), Ok(vec![0, 10, 20, 30]));
/// ```
pub fn all<T, E, I>(futures: I) -> All<T, E>
where
    I: IntoIterator<Item = Future<T, E>>,
{
    let slots: Vec<_> = futures.into_iter().map(AllSlot::Waiting).collect();
    All {
        remaining: slots.len(),
        slots,
        registration: Registration::default(),
        done: false,
    }
}

/// The future of [`all`]: `Ok` with every value in order, or the first
/// error seen.
///
/// `Send` when `T` and `E` are `Send`.
///
/// # Cancel safety
///
/// Dropping it cancels every promise whose result it has not taken, and
/// drops the values it has collected: nothing is left for anyone. Polling
/// it through `&mut` and stopping loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct All<T, E = BoxError> {
    slots: Vec<AllSlot<T, E>>,
    /// How many slots are still `Waiting`.
    remaining: usize,
    registration: Registration,
    done: bool,
}

enum AllSlot<T, E> {
    Waiting(Future<T, E>),
    Done(T),
}

blocking_forms!(All, Result<Vec<T>, Error<E>>);

impl<T, E> StdFuture for All<T, E> {
    type Output = Result<Vec<T>, Error<E>>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        check_live(this.done);
        let every = this.registration.renew(cx);
        let mut failed = None;
        for slot in &mut this.slots {
            let AllSlot::Waiting(child) = slot else {
                continue;
            };
            match poll_child(child, every, cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(value)) => {
                    *slot = AllSlot::Done(value);
                    this.remaining -= 1;
                }
                Poll::Ready(Err(error)) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        if let Some(error) = failed {
            this.done = true;
            this.slots.clear(); // cancels the rest
            return Poll::Ready(Err(error));
        }
        if this.remaining > 0 {
            return Poll::Pending;
        }
        this.done = true;
        let values = mem::take(&mut this.slots)
            .into_iter()
            .map(|slot| match slot {
                AllSlot::Done(value) => value,
                AllSlot::Waiting(_) => unreachable!("`remaining` counts the waiting slots"),
            })
            .collect();
        Poll::Ready(Ok(values))
    }
}

impl<T, E> Withdraw for All<T, E> {
    fn withdraw(&mut self) {
        for slot in &mut self.slots {
            if let AllSlot::Waiting(child) = slot {
                child.withdraw();
            }
        }
        self.registration = Registration::default();
    }
}

impl<T, E> fmt::Debug for All<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("All")
            .field("futures", &self.slots.len())
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish()
    }
}

/// Waits for the first future to finish, with a value or an error; the
/// others are dropped then, so their promises are cancelled.
///
/// When several results are there at one poll, the earliest future in
/// the given order wins. With no futures at all it completes at once with
/// [`Error::Broken`] (no promise can ever deliver).
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::{first, promise};
///
/// let (slow, slow_future) = promise::<&str, ()>();
/// let (fast, fast_future) = promise::<&str, ()>();
/// fast.set_value("fast").unwrap();
/// assert_eq!(first([slow_future, fast_future]).get(), Ok("fast"));
/// assert!(slow.is_cancelled()); // the loser's producer can stop
/// ```
pub fn first<T, E, I>(futures: I) -> First<T, E>
where
    I: IntoIterator<Item = Future<T, E>>,
{
    First {
        children: futures.into_iter().collect(),
        registration: Registration::default(),
        done: false,
    }
}

/// The future of [`first`]: the first result there, value or error.
///
/// `Send` when `T` and `E` are `Send`.
///
/// # Cancel safety
///
/// Dropping it cancels every promise (a result already there is dropped).
/// Polling it through `&mut` and stopping loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct First<T, E = BoxError> {
    children: Vec<Future<T, E>>,
    registration: Registration,
    done: bool,
}

blocking_forms!(First, Result<T, Error<E>>);

impl<T, E> StdFuture for First<T, E> {
    type Output = Result<T, Error<E>>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        check_live(this.done);
        if this.children.is_empty() {
            this.done = true;
            return Poll::Ready(Err(Error::Broken));
        }
        let every = this.registration.renew(cx);
        for child in &mut this.children {
            if let Poll::Ready(result) = poll_child(child, every, cx) {
                this.done = true;
                this.children.clear(); // cancels the losers
                return Poll::Ready(result);
            }
        }
        Poll::Pending
    }
}

impl<T, E> Withdraw for First<T, E> {
    fn withdraw(&mut self) {
        self.children.iter_mut().for_each(Withdraw::withdraw);
        self.registration = Registration::default();
    }
}

impl<T, E> fmt::Debug for First<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("First")
            .field("futures", &self.children.len())
            .field("done", &self.done)
            .finish()
    }
}

/// Waits for the first future to deliver a value; the others are dropped
/// then, so their promises are cancelled. If every future fails, the
/// result is [`AllFailed`] with every error, in the order the futures were
/// given ([`Error::Broken`] for a promise dropped unset).
///
/// When several values are there at one poll, the earliest future in the
/// given order wins. With no futures at all it completes at once with an
/// empty [`AllFailed`].
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::{first_ok, promise};
///
/// let (mirror_a, a) = promise::<&str, &str>();
/// let (mirror_b, b) = promise::<&str, &str>();
/// let (mirror_c, c) = promise::<&str, &str>();
/// mirror_a.set_error("refused").unwrap();
/// mirror_b.set_value("payload").unwrap();
/// assert_eq!(first_ok([a, b, c]).get(), Ok("payload"));
/// assert!(mirror_c.is_cancelled());
/// ```
pub fn first_ok<T, E, I>(futures: I) -> FirstOk<T, E>
where
    I: IntoIterator<Item = Future<T, E>>,
{
    let slots: Vec<_> = futures.into_iter().map(OkSlot::Waiting).collect();
    FirstOk {
        remaining: slots.len(),
        slots,
        registration: Registration::default(),
        done: false,
    }
}

/// The future of [`first_ok`]: the first value, or every error.
///
/// `Send` when `T` and `E` are `Send`.
///
/// # Cancel safety
///
/// Dropping it cancels every promise whose result it has not taken, and
/// drops the errors it has collected. Polling it through `&mut` and
/// stopping loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct FirstOk<T, E = BoxError> {
    slots: Vec<OkSlot<T, E>>,
    /// How many slots are still `Waiting`.
    remaining: usize,
    registration: Registration,
    done: bool,
}

enum OkSlot<T, E> {
    Waiting(Future<T, E>),
    Failed(Error<E>),
}

blocking_forms!(FirstOk, Result<T, AllFailed<E>>);

impl<T, E> StdFuture for FirstOk<T, E> {
    type Output = Result<T, AllFailed<E>>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        check_live(this.done);
        let every = this.registration.renew(cx);
        let mut value = None;
        for slot in &mut this.slots {
            let OkSlot::Waiting(child) = slot else {
                continue;
            };
            match poll_child(child, every, cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(v)) => {
                    value = Some(v);
                    break;
                }
                Poll::Ready(Err(error)) => {
                    *slot = OkSlot::Failed(error);
                    this.remaining -= 1;
                }
            }
        }
        if let Some(value) = value {
            this.done = true;
            this.slots.clear(); // cancels the rest
            return Poll::Ready(Ok(value));
        }
        if this.remaining > 0 {
            return Poll::Pending;
        }
        this.done = true;
        let errors = mem::take(&mut this.slots)
            .into_iter()
            .map(|slot| match slot {
                OkSlot::Failed(error) => error,
                OkSlot::Waiting(_) => unreachable!("`remaining` counts the waiting slots"),
            })
            .collect();
        Poll::Ready(Err(AllFailed::new(errors)))
    }
}

impl<T, E> Withdraw for FirstOk<T, E> {
    fn withdraw(&mut self) {
        for slot in &mut self.slots {
            if let OkSlot::Waiting(child) = slot {
                child.withdraw();
            }
        }
        self.registration = Registration::default();
    }
}

impl<T, E> fmt::Debug for FirstOk<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirstOk")
            .field("futures", &self.slots.len())
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish()
    }
}
