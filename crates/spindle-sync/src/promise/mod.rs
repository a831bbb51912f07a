//! One-shot promises: a [`Promise`] a producer sets once, with a value or
//! an error, and the [`Future`] its reader gets it from, in any world.
//!
//! ```
//! use spindle_sync::promise::promise;
//! use std::thread;
//!
//! let (promise, future) = promise::<String, std::io::Error>();
//! thread::spawn(move || {
//!     let greeting = "hello from a thread".to_string();
//!     promise.set_value(greeting).ok();
//! });
//! // A thread or a fiber blocks with `get`; async code `.await`s the future.
//! assert_eq!(future.get().unwrap(), "hello from a thread");
//! ```
//!
//! # The two halves
//!
//! - [`Promise<T, E>`](Promise): [`set_value`](Promise::set_value),
//!   [`set_error`](Promise::set_error) or [`set`](Promise::set), once (each
//!   consumes the promise, and hands its argument back in a [`SetError`] if
//!   the reader is gone). Dropping it unset delivers [`Error::Broken`], so a
//!   reader never waits for a producer that returned early or panicked.
//!   [`is_cancelled`](Promise::is_cancelled) and
//!   [`cancelled`](Promise::cancelled) /
//!   [`cancelled_async`](Promise::cancelled_async) tell the producer that
//!   nobody will read its result.
//! - [`Future<T, E>`](Future): a [`std::future::Future`] with
//!   `Output = Result<T, Error<E>>`; [`get`](Future::get) blocks a fiber or
//!   a thread, [`try_get`](Future::try_get) does not wait,
//!   [`get_timeout`](Future::get_timeout) / [`get_deadline`](Future::get_deadline)
//!   give up; [`then`](Future::then) and [`map`](Future::map) run a
//!   continuation on an executor. Dropping it cancels the promise.
//!
//! `E` defaults to [`BoxError`] in both types. [`promise()`] is a plain
//! function, which cannot have defaults, so name `E` when nothing else
//! fixes it: `promise::<u32, MyError>()`, or
//! `let (p, f): (Promise<u32>, Future<u32>) = promise();`.
//!
//! # Combinators
//!
//! [`all`] (every value, or the first error), [`first`] (the first result,
//! value or error) and [`first_ok`] (the first value, or [`AllFailed`] with
//! every error) take any number of futures and return a named future
//! ([`All`], [`First`], [`FirstOk`]). They need no executor: `.await` them
//! in async code, or call their `get` (that is, `spindle_exec::wait` on
//! them) from a fiber or a thread. Futures a combinator no longer needs
//! are dropped at once, so their producers see `is_cancelled`.
//!
//! ```
//! use spindle_sync::promise::{first, promise};
//! use std::thread;
//!
//! // Ask two replicas; take whichever answers first, cancel the other.
//! let replicas = ["eu", "us"].map(|name| {
//!     let (mut promise, future) = promise::<&str, ()>();
//!     thread::spawn(move || {
//!         if name == "eu" {
//!             promise.set_value("answer from eu").ok();
//!         } else {
//!             promise.cancelled(); // "us" waits until nobody wants it
//!         }
//!     });
//!     future
//! });
//! assert_eq!(first(replicas).get(), Ok("answer from eu"));
//! ```
//!
//! # Eager promises and lazy futures
//!
//! A Rust future is *lazy*: `async { work() }` is only a description of
//! work. Nothing runs until somebody polls it; it runs on whoever polls it;
//! and dropping it unpolled means the work never happens. That makes
//! futures cheap to compose (`join`, `select`, combinators that poll
//! several at once) and cancellation free (drop it).
//!
//! A promise is *eager*: the work that sets it is already under way (on
//! another thread, a fiber, an async task, an I/O callback) when the
//! [`Future`] exists, and proceeds whether or not anyone polls that
//! future. The future is only the place its result lands. Dropping it does
//! not stop the work by itself; it tells the producer (through
//! [`Promise::is_cancelled`] or [`Promise::cancelled`]) that it may stop.
//!
//! Use a plain (lazy) future when the work is itself async code run by the
//! one who wants its result, and [`spindle_exec::spawn`] (whose
//! `JoinHandle` is an eager handle of the same kind) to run such work on
//! an executor. Use a promise when the result comes from somewhere that is
//! not a future: a thread, a fiber, a callback, a request handled by
//! another component that answers through a value you hand it. The two
//! meet in both directions: a promise's `Future` is a std `Future` (await
//! it, put it in a `select`); an async block can set a promise when it
//! ends (that is what [`then`](Future::then) does).
//!
//! ```
//! use spindle_exec::{ManualExecutor, spawn};
//! use spindle_sync::promise::promise;
//!
//! let executor = ManualExecutor::new();
//! // Lazy: nothing has run yet, and nothing will until the executor polls.
//! let lazy = async { 6 * 7 };
//! // Eager: the producer below sets the promise whenever it likes; the
//! // reader is an async task that awaits the promise's future.
//! let (promise, future) = promise::<u32, ()>();
//! let reader = spawn(&executor, async move { future.await.unwrap() + lazy.await });
//! executor.run_all();
//! assert!(!reader.is_finished()); // waiting for the producer
//! promise.set_value(100).unwrap();
//! executor.run_all();
//! assert_eq!(reader.join().unwrap(), 142);
//! ```
//!
//! # Waiting and memory
//!
//! A promise is one allocation (an `Arc` shared by both halves) holding
//! the result slot, a state word and one waiter node per side; waiting
//! allocates nothing more. Waits go through the crate's one waiting
//! mechanism (waiter nodes under a spin lock), so the same future works
//! from fibers, threads and async tasks. The hand-off protocol is written
//! up in `README.md` beside this file.

mod combinators;
mod error;
mod producer;
mod reader;
mod shared;
mod then;
mod timed;

use std::sync::Arc;

pub use combinators::{All, First, FirstOk, all, first, first_ok};
pub use error::{AllFailed, BoxError, Error, SetError};
pub use producer::{Cancelled, Promise};
pub use reader::Future;

use shared::Shared;

/// A new one-shot promise: the [`Promise`] to set, and the [`Future`] to
/// read the result from.
///
/// One allocation, shared by the two halves.
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::{Future, Promise, promise};
///
/// let (producer, reader) = promise::<u8, std::fmt::Error>();
/// producer.set_value(1).unwrap();
/// assert_eq!(reader.get(), Ok(1));
///
/// // With the default error type, `BoxError`:
/// let (producer, reader): (Promise<u8>, Future<u8>) = promise();
/// producer.set_error("bad input".into()).unwrap();
/// assert_eq!(reader.get().unwrap_err().to_string(), "the promise failed: bad input");
/// ```
pub fn promise<T, E>() -> (Promise<T, E>, Future<T, E>) {
    let shared = Arc::new(Shared::new());
    (Promise::new(Arc::clone(&shared)), Future::new(shared))
}
