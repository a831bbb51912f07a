//! Channels: multi-producer, multi-consumer, in three flavours, with
//! [`select!`](crate::select) and [`Select`].
//!
//! - [`bounded(n)`](bounded): a buffer of `n` messages; senders wait while
//!   it is full.
//! - [`rendezvous()`](rendezvous) (also `bounded(0)`): no buffer; a send
//!   completes when a receiver takes the message.
//! - [`unbounded()`](unbounded): the buffer grows; senders never wait.
//!
//! Both ends are `Clone`, `Send` and `Sync`. Each message goes to exactly
//! one receiver, and messages from one sender arrive in the order it sent
//! them (with one exception: an async receive *dropped* after a sender
//! handed it a message puts the message back at the front, and a receive
//! running concurrently may already have taken a later one; see
//! [`Receiver::recv_async`]). When every receiver is gone, sends fail and hand the message
//! back; when every sender is gone, receivers still get what is buffered,
//! then an error.
//!
//! Every operation comes in the forms `x` (blocks: suspends a fiber, parks
//! a thread), `try_x`, `x_timeout`, `x_deadline` and `x_async` (a future
//! for async code), on the same channel.
//!
//! # Performance
//!
//! A `bounded(n)` channel keeps its messages in a lock-free ring. While
//! nobody waits, every form sends and receives through the ring without
//! taking the channel's lock, so producers and consumers
//! on different cores do not queue behind one another. Once an operation
//! has to wait, every operation takes the lock (where waiting is arranged)
//! until the channel has been calm for a moment. `rendezvous()` and
//! `unbounded()` channels always take it.
//!
//! # Examples
//!
//! A pipeline of fibers:
//!
//! ```
//! use spindle_exec::{StealPool, wait};
//! use spindle_sync::channel;
//!
//! let pool = StealPool::new(2)?;
//! let (numbers, squares_in) = channel::bounded(16);
//! let (squares, results) = channel::bounded(16);
//! spindle_fiber::spawn(&pool, move || {
//!     for n in 1..=10_u64 {
//!         numbers.send(n).unwrap();
//!     }
//! });
//! spindle_fiber::spawn(&pool, move || {
//!     for n in squares_in.iter() {
//!         squares.send(n * n).unwrap();
//!     }
//! });
//! let total = spindle_fiber::spawn(&pool, move || results.iter().sum::<u64>());
//! assert_eq!(wait(total).unwrap(), 385);
//! # Ok::<(), spindle_exec::StealPoolError>(())
//! ```
//!
//! The same channel from async code:
//!
//! ```
//! use spindle_exec::{StealPool, spawn, wait};
//! use spindle_sync::channel;
//!
//! let pool = StealPool::new(2)?;
//! let (tx, rx) = channel::rendezvous();
//! let producer = spawn(&pool, async move {
//!     for i in 0..3 {
//!         tx.send_async(i).await.unwrap();
//!     }
//! });
//! let mut got = Vec::new();
//! while let Ok(i) = wait(rx.recv_async()) {
//!     got.push(i);
//! }
//! wait(producer).unwrap();
//! assert_eq!(got, [0, 1, 2]);
//! # Ok::<(), spindle_exec::StealPoolError>(())
//! ```

/// What both ends of a channel share: the queries, `Clone` (one more
/// end), `Drop` (one fewer; the last one disconnects) and `Debug`.
macro_rules! channel_end {
    ($end:ident, $add:ident, $remove:ident, $verb:literal) => {
        impl<T> $end<T> {
            /// How many messages are buffered now.
            pub fn len(&self) -> usize {
                self.chan.len()
            }

            /// Whether no message is buffered now.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The buffer's capacity: `Some(0)` for a rendezvous channel,
            /// `None` for an unbounded one.
            pub fn capacity(&self) -> Option<usize> {
                self.chan.capacity()
            }

            #[doc = concat!("Whether `self` and `other` ", $verb, " the same channel.")]
            pub fn same_channel(&self, other: &$end<T>) -> bool {
                ::std::sync::Arc::ptr_eq(&self.chan, &other.chan)
            }
        }

        impl<T> Clone for $end<T> {
            fn clone(&self) -> Self {
                self.chan.$add();
                $end {
                    chan: ::std::sync::Arc::clone(&self.chan),
                }
            }
        }

        impl<T> Drop for $end<T> {
            fn drop(&mut self) {
                self.chan.$remove();
            }
        }

        impl<T> ::core::fmt::Debug for $end<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(stringify!($end)).finish_non_exhaustive()
            }
        }
    };
}
use channel_end;

mod chan;
mod error;
mod receiver;
mod ring;
mod select;
mod sender;

use std::sync::Arc;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use receiver::{IntoIter, Iter, Receiver, RecvFuture, TryIter};
#[doc(hidden)]
pub use select::__private;
pub use select::Select;
pub use sender::{SendFuture, Sender};

use chan::Chan;

/// A channel whose buffer holds `capacity` messages; `bounded(0)` is a
/// [`rendezvous`] channel. The buffer is allocated here, once.
///
/// # Examples
///
/// ```
/// use spindle_sync::channel::{self, TrySendError};
///
/// let (tx, rx) = channel::bounded(1);
/// tx.send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(capacity.min(usize::MAX - 1)))
}

/// A channel without a buffer: a send waits until a receiver takes the
/// message.
///
/// # Examples
///
/// ```
/// use spindle_sync::channel::{self, TrySendError};
/// use std::thread;
///
/// let (tx, rx) = channel::rendezvous();
/// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1))); // nobody receives yet
/// let receiver = thread::spawn(move || rx.recv());
/// tx.send(2).unwrap(); // returns once the receiver has it
/// assert_eq!(receiver.join().unwrap(), Ok(2));
/// ```
pub fn rendezvous<T>() -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(0))
}

/// A channel whose buffer grows as needed: sends never wait.
///
/// # Examples
///
/// ```
/// use spindle_sync::channel;
///
/// let (tx, rx) = channel::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.capacity(), None);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Chan::new(usize::MAX))
}

fn pair<T>(chan: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// Whether the caller runs inside a task (a fiber or an async task), where
/// waiting costs a switch, not a thread park.
fn on_task() -> bool {
    spindle_exec::with_current_task(|task| task.is_some())
}
