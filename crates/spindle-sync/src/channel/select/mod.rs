//! `select`: wait for the first of several channel operations to complete.
//!
//! Two forms, one protocol (`engine.rs`):
//!
//! - [`select!`](crate::select) / [`select_biased!`](crate::select_biased):
//!   a fixed set of cases written out, with an optional `default` arm
//!   (`default => ..` when nothing is ready, `default(timeout) => ..` when
//!   nothing gets ready in time). Blocking: on a fiber it suspends the
//!   fiber, on a thread it parks.
//! - [`Select`]: a builder for a set known only at run time, with a
//!   handler per case; blocking ([`wait`](Select::wait),
//!   [`try_wait`](Select::try_wait), [`wait_timeout`](Select::wait_timeout),
//!   [`wait_deadline`](Select::wait_deadline)) or async
//!   ([`wait_async`](Select::wait_async)).
//!
//! Exactly one case completes. Among the cases ready at the moment of the
//! choice, `select!` and an unbiased [`Select`] pick uniformly at random
//! (so no channel starves another); `select_biased!` and
//! [`Select::biased`] take the first ready case in the order written.
//! A receive on a disconnected channel and a send on one whose receivers
//! are gone are ready (they complete with an error), as in `crossbeam`.
//! The send cases that were not chosen did not send: their messages are
//! dropped with the select (the builder's handlers never see them).

mod case;
mod engine;

use core::fmt;
use core::pin::pin;
use std::time::{Duration, Instant};

use case::{Case, RecvCase, SendCase};
use engine::{CaseSet, SelectFuture};

use super::{Receiver, RecvError, SendError, Sender};
use crate::deadline;

/// What the `select!` macros expand to. Not a stable interface.
#[doc(hidden)]
pub mod __private {
    pub use super::case::{Case, RecvCase, Registered, Registration, SendCase};
    pub use super::{Mode, run};
}

/// How a `select!` waits. Not a stable interface.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Until a case completes.
    Block,
    /// Not at all (`default =>`).
    Try,
    /// At most this long (`default(timeout) =>`).
    Timeout(Duration),
}

/// Runs a `select!`: the index of the case that completed, `None` if none
/// did (only with `Try` or `Timeout`). Not a stable interface.
#[doc(hidden)]
pub fn run(
    cases: &mut [&mut dyn Case],
    order: &mut [usize],
    biased: bool,
    mode: Mode,
) -> Option<usize> {
    let mut select = SelectFuture::new(cases, order, biased);
    match mode {
        Mode::Try => select.try_once(),
        Mode::Block => Some(spindle_exec::wait(select)),
        Mode::Timeout(timeout) => {
            let mut select = pin!(select);
            match deadline::wait_deadline(select.as_mut(), deadline::after(timeout)) {
                Some(index) => Some(index),
                None => select.abort(),
            }
        }
    }
}

/// A case of the builder, with its handler.
trait Handled<R>: Case {
    /// Calls the handler with the result (the case was chosen).
    fn finish(&mut self) -> R;
}

struct WithHandler<C, F> {
    case: C,
    handler: Option<F>,
}

impl<C: Case, F> Case for WithHandler<C, F> {
    fn try_now(&mut self) -> bool {
        self.case.try_now()
    }

    unsafe fn register(&mut self, registration: &case::Registration<'_>) -> case::Registered {
        // SAFETY: forwarded; the caller's promise covers the inner case,
        // which lives in `self`.
        unsafe { self.case.register(registration) }
    }

    fn unregister(&mut self) {
        self.case.unregister();
    }

    fn woken(&mut self) -> bool {
        self.case.woken()
    }

    fn abandon_woken(&mut self) {
        self.case.abandon_woken();
    }
}

impl<T, R, F: FnOnce(Result<T, RecvError>) -> R> Handled<R> for WithHandler<RecvCase<'_, T>, F> {
    fn finish(&mut self) -> R {
        let handler = self.handler.take().expect("a select case finishes once");
        handler(self.case.take())
    }
}

impl<T, R, F: FnOnce(Result<(), SendError<T>>) -> R> Handled<R>
    for WithHandler<SendCase<'_, T>, F>
{
    fn finish(&mut self) -> R {
        let handler = self.handler.take().expect("a select case finishes once");
        handler(self.case.take())
    }
}

impl<'a, R> CaseSet for Vec<Box<dyn Handled<R> + Send + 'a>> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn case(&mut self, index: usize) -> &mut dyn Case {
        &mut *self[index]
    }
}

/// A select over a set of cases built at run time, each with a handler
/// that turns its result into the select's output `R`.
///
/// Building allocates (one box per case); waiting allocates nothing more.
/// Messages and handlers must be `Send`, so that the select (and its
/// [`wait_async`](Self::wait_async) future) can move between threads.
/// For a fixed set of cases, [`select!`](crate::select) allocates nothing.
///
/// # Examples
///
/// Receive from whichever of many channels has a message:
///
/// ```
/// use spindle_sync::channel::{self, Select};
///
/// let channels: Vec<_> = (0..4).map(|_| channel::bounded::<u32>(1)).collect();
/// channels[2].0.send(7).unwrap();
///
/// let mut select = Select::new();
/// for (index, (_, rx)) in channels.iter().enumerate() {
///     select.recv(rx, move |message| (index, message.unwrap()));
/// }
/// assert_eq!(select.wait(), (2, 7));
/// ```
pub struct Select<'a, R> {
    cases: Vec<Box<dyn Handled<R> + Send + 'a>>,
    biased: bool,
}

impl<'a, R> Select<'a, R> {
    /// A select with no cases, choosing at random among ready ones.
    pub fn new() -> Self {
        Select {
            cases: Vec::new(),
            biased: false,
        }
    }

    /// Makes the select take the first ready case in the order they were
    /// added (`true`), or a uniformly random ready one (`false`, the
    /// default).
    pub fn biased(&mut self, biased: bool) -> &mut Self {
        self.biased = biased;
        self
    }

    /// Adds a receive from `receiver`; if chosen, `handler` gets what it
    /// received (an error if the channel is empty and disconnected).
    pub fn recv<T: Send + 'a>(
        &mut self,
        receiver: &'a Receiver<T>,
        handler: impl FnOnce(Result<T, RecvError>) -> R + Send + 'a,
    ) -> &mut Self {
        self.cases.push(Box::new(WithHandler {
            case: RecvCase::new(receiver),
            handler: Some(handler),
        }));
        self
    }

    /// Adds a send of `value` on `sender`; if chosen, `handler` gets the
    /// outcome (the message back if every receiver is gone). If another
    /// case is chosen, `value` is not sent and is dropped with the select.
    pub fn send<T: Send + 'a>(
        &mut self,
        sender: &'a Sender<T>,
        value: T,
        handler: impl FnOnce(Result<(), SendError<T>>) -> R + Send + 'a,
    ) -> &mut Self {
        self.cases.push(Box::new(WithHandler {
            case: SendCase::new(sender, value),
            handler: Some(handler),
        }));
        self
    }

    /// How many cases there are.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether there are no cases.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Waits until a case completes and returns its handler's output. With
    /// no cases it waits for ever, like Go's `select {}`.
    pub fn wait(mut self) -> R {
        let mut order = vec![0; self.cases.len()];
        let index = spindle_exec::wait(SelectFuture::new(&mut self.cases, &mut order, self.biased));
        self.cases[index].finish()
    }

    /// Completes a case that is ready now, or hands the select back.
    pub fn try_wait(mut self) -> Result<R, Self> {
        let mut order = vec![0; self.cases.len()];
        let chosen = SelectFuture::new(&mut self.cases, &mut order, self.biased).try_once();
        match chosen {
            Some(index) => Ok(self.cases[index].finish()),
            None => Err(self),
        }
    }

    /// Like [`wait`](Self::wait), giving up after `timeout` (`None`).
    pub fn wait_timeout(self, timeout: Duration) -> Option<R> {
        self.wait_deadline(deadline::after(timeout))
    }

    /// Like [`wait`](Self::wait), giving up at `deadline` (`None`). Cases
    /// that did not complete lose nothing (see [`wait_async`](Self::wait_async)).
    pub fn wait_deadline(mut self, deadline: Instant) -> Option<R> {
        let mut order = vec![0; self.cases.len()];
        let index = {
            let mut select = pin!(SelectFuture::new(&mut self.cases, &mut order, self.biased));
            match deadline::wait_deadline(select.as_mut(), deadline) {
                Some(index) => index,
                None => select.abort()?,
            }
        };
        Some(self.cases[index].finish())
    }

    /// The future form of [`wait`](Self::wait).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes completes no case: a
    /// message handed to one of its receive cases meanwhile goes to the
    /// next receiver or back to the front of its channel, and a wake meant
    /// for one of its send cases is passed on.
    pub async fn wait_async(mut self) -> R {
        let mut order = vec![0; self.cases.len()];
        let index = SelectFuture::new(&mut self.cases, &mut order, self.biased).await;
        self.cases[index].finish()
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// Blocks until one of several channel operations completes, and runs its
/// arm. Among ready cases it picks one uniformly at random.
///
/// ```text
/// select! {
///     recv(receiver) -> message => body,       // message: Result<T, RecvError>
///     send(sender, value) -> outcome => body,  // outcome: Result<(), SendError<T>>
///     default => body,                         // optional: nothing ready now
///     default(timeout) => body,                // or: nothing ready within `timeout`
/// }
/// ```
///
/// Arms run after the choice, in the caller's frame, so `return`, `?`,
/// `break` and `continue` in a body act on the surrounding function or
/// loop. `default` comes last. The channels are borrowed for the duration:
/// pass variables, not temporaries. On a fiber it suspends the fiber, on a
/// thread it parks; in async code use [`Select::wait_async`](crate::channel::Select::wait_async).
///
/// # Examples
///
/// ```
/// use spindle_sync::channel;
/// use spindle_sync::select;
/// use std::time::Duration;
///
/// let (numbers_tx, numbers) = channel::bounded::<u32>(1);
/// let (words_tx, words) = channel::bounded(1);
/// words_tx.send("ready").unwrap();
///
/// let got = select! {
///     recv(numbers) -> n => format!("number {}", n.unwrap()),
///     recv(words) -> w => format!("word {}", w.unwrap()),
///     default(Duration::from_secs(1)) => String::from("nothing"),
/// };
/// assert_eq!(got, "word ready");
/// # drop(numbers_tx);
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__select_parse!(false; []; $($arms)*)
    };
}

/// [`select!`](crate::select) that takes the first ready case in the order
/// written, instead of a random one.
///
/// # Examples
///
/// ```
/// use spindle_sync::{channel, select_biased};
///
/// let (high_tx, high) = channel::unbounded();
/// let (low_tx, low) = channel::unbounded();
/// high_tx.send("urgent").unwrap();
/// low_tx.send("whenever").unwrap();
/// // Both are ready: the first case wins, every time.
/// let first = select_biased! {
///     recv(high) -> m => m.unwrap(),
///     recv(low) -> m => m.unwrap(),
/// };
/// assert_eq!(first, "urgent");
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($arms:tt)*) => {
        $crate::__select_parse!(true; []; $($arms)*)
    };
}

/// Parses `select!` arms into a list of cases. Not a stable interface.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    ($biased:tt; [$($cases:tt)*]; recv($rx:expr) -> $pat:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!($biased; [$($cases)* (recv ($rx) $pat => $body)]; $($rest)*)
    };
    ($biased:tt; [$($cases:tt)*]; recv($rx:expr) -> $pat:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!($biased; [$($cases)* (recv ($rx) $pat => $body)]; $($rest)*)
    };
    ($biased:tt; [$($cases:tt)*]; recv($rx:expr) -> $pat:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!($biased; [$($cases)* (recv ($rx) $pat => { $body })]; $($rest)*)
    };
    ($biased:tt; [$($cases:tt)*]; recv($rx:expr) -> $pat:pat => $body:expr) => {
        $crate::__select_parse!($biased; [$($cases)* (recv ($rx) $pat => { $body })];)
    };
    ($biased:tt; [$($cases:tt)*]; send($tx:expr, $value:expr) -> $pat:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!($biased; [$($cases)* (send ($tx, $value) $pat => $body)]; $($rest)*)
    };
    ($biased:tt; [$($cases:tt)*]; send($tx:expr, $value:expr) -> $pat:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!($biased; [$($cases)* (send ($tx, $value) $pat => $body)]; $($rest)*)
    };
    ($biased:tt; [$($cases:tt)*]; send($tx:expr, $value:expr) -> $pat:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!($biased; [$($cases)* (send ($tx, $value) $pat => { $body })]; $($rest)*)
    };
    ($biased:tt; [$($cases:tt)*]; send($tx:expr, $value:expr) -> $pat:pat => $body:expr) => {
        $crate::__select_parse!($biased; [$($cases)* (send ($tx, $value) $pat => { $body })];)
    };
    ($biased:tt; [$($cases:tt)*]; default => $body:block $(,)?) => {
        $crate::__select_emit!($biased; [$($cases)*]; []; [0]; ($crate::channel::__private::Mode::Try) $body)
    };
    ($biased:tt; [$($cases:tt)*]; default => $body:expr $(,)?) => {
        $crate::__select_emit!($biased; [$($cases)*]; []; [0]; ($crate::channel::__private::Mode::Try) { $body })
    };
    ($biased:tt; [$($cases:tt)*]; default($timeout:expr) => $body:block $(,)?) => {
        $crate::__select_emit!($biased; [$($cases)*]; []; [0];
            ($crate::channel::__private::Mode::Timeout($timeout)) $body)
    };
    ($biased:tt; [$($cases:tt)*]; default($timeout:expr) => $body:expr $(,)?) => {
        $crate::__select_emit!($biased; [$($cases)*]; []; [0];
            ($crate::channel::__private::Mode::Timeout($timeout)) { $body })
    };
    ($biased:tt; [$($cases:tt)*];) => {
        $crate::__select_emit!($biased; [$($cases)*]; []; [0];
            ($crate::channel::__private::Mode::Block)
            { ::core::unreachable!("a blocking select always completes a case") })
    };
}

/// Binds each case to a local (one hygienic `case` per step), then runs
/// the select and the chosen arm. Not a stable interface.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    ($biased:tt; [(recv ($rx:expr) $pat:pat => $body:block) $($cases:tt)*]; [$($bound:tt)*]; [$($index:tt)*]; $($tail:tt)*) => {{
        let mut case = $crate::channel::__private::RecvCase::new(&$rx);
        $crate::__select_emit!($biased; [$($cases)*]; [$($bound)* (case [$($index)*] $pat => $body)]; [$($index)* + 1]; $($tail)*)
    }};
    ($biased:tt; [(send ($tx:expr, $value:expr) $pat:pat => $body:block) $($cases:tt)*]; [$($bound:tt)*]; [$($index:tt)*]; $($tail:tt)*) => {{
        let mut case = $crate::channel::__private::SendCase::new(&$tx, $value);
        $crate::__select_emit!($biased; [$($cases)*]; [$($bound)* (case [$($index)*] $pat => $body)]; [$($index)* + 1]; $($tail)*)
    }};
    ($biased:tt; []; [$(($case:ident [$($index:tt)*] $pat:pat => $body:block))*]; [$($count:tt)*]; ($mode:expr) $default:block) => {{
        let mut order = [0_usize; $($count)*];
        let chosen = $crate::channel::__private::run(
            &mut [$(&mut $case as &mut dyn $crate::channel::__private::Case),*],
            &mut order,
            $biased,
            $mode,
        );
        $(
            if chosen == ::core::option::Option::Some($($index)*) {
                let $pat = $case.take();
                $body
            } else
        )*
        {
            $default
        }
    }};
}
