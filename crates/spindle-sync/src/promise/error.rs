//! The errors of promises: [`Error`] (what a reader gets instead of a
//! value), [`SetError`] (a set whose reader is gone) and [`AllFailed`]
//! (every future of a [`first_ok`](super::first_ok) failed).

use core::fmt;

/// The default error type of a promise: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a [`Future`](super::Future) gave no value.
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::{Error, promise};
///
/// let (failing, future) = promise::<u32, String>();
/// failing.set_error("disk full".to_string()).unwrap();
/// assert_eq!(future.get(), Err(Error::Failed("disk full".to_string())));
///
/// let (dropped, future) = promise::<u32, String>();
/// drop(dropped);
/// let error = future.get().unwrap_err();
/// assert!(error.is_broken());
/// assert_eq!(error.to_string(), "the promise was dropped without a result");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error<E = BoxError> {
    /// The producer set this error ([`Promise::set_error`](super::Promise::set_error)).
    Failed(E),
    /// The producer went away without setting anything: the
    /// [`Promise`](super::Promise) was dropped (its owner returned early,
    /// panicked, or was cancelled).
    Broken,
}

impl<E> Error<E> {
    /// Whether the promise was dropped without a result.
    pub fn is_broken(&self) -> bool {
        matches!(self, Error::Broken)
    }

    /// The producer's error, if it set one.
    pub fn into_failed(self) -> Option<E> {
        match self {
            Error::Failed(error) => Some(error),
            Error::Broken => None,
        }
    }

    /// Maps the producer's error with `f`; `Broken` stays `Broken`.
    pub fn map<E2>(self, f: impl FnOnce(E) -> E2) -> Error<E2> {
        match self {
            Error::Failed(error) => Error::Failed(f(error)),
            Error::Broken => Error::Broken,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Failed(error) => write!(f, "the promise failed: {error}"),
            Error::Broken => f.write_str("the promise was dropped without a result"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Error<E> {}

/// A set whose [`Future`](super::Future) was dropped: nobody would read
/// the value, so it is handed back (`.0` or [`into_inner`](Self::into_inner)).
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::promise;
///
/// let (promise, future) = promise::<String, ()>();
/// drop(future);
/// let error = promise.set_value("unread".to_string()).unwrap_err();
/// assert_eq!(error.into_inner(), "unread");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetError<X>(pub X);

impl<X> SetError<X> {
    /// The value (or error) that was not delivered.
    pub fn into_inner(self) -> X {
        self.0
    }
}

impl<X> fmt::Debug for SetError<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetError").finish_non_exhaustive()
    }
}

impl<X> fmt::Display for SetError<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the promise's future was dropped; nobody reads the result")
    }
}

impl<X> std::error::Error for SetError<X> {}

/// Every future given to [`first_ok`](super::first_ok) failed: their
/// errors, in the order the futures were given.
///
/// # Examples
///
/// ```
/// use spindle_sync::promise::{Error, first_ok, promise};
///
/// let (a, fa) = promise::<u32, &str>();
/// let (b, fb) = promise::<u32, &str>();
/// drop(b);
/// a.set_error("timeout").unwrap();
/// let failed = first_ok([fa, fb]).get().unwrap_err();
/// assert_eq!(failed.errors(), [Error::Failed("timeout"), Error::Broken]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllFailed<E = BoxError> {
    errors: Vec<Error<E>>,
}

impl<E> AllFailed<E> {
    pub(super) fn new(errors: Vec<Error<E>>) -> Self {
        AllFailed { errors }
    }

    /// The errors, one per future, in the order the futures were given.
    pub fn errors(&self) -> &[Error<E>] {
        &self.errors
    }

    /// The errors, one per future, in the order the futures were given.
    pub fn into_errors(self) -> Vec<Error<E>> {
        self.errors
    }
}

impl<E: fmt::Display> fmt::Display for AllFailed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.first() {
            None => f.write_str("no promise to wait for"),
            Some(first) => write!(
                f,
                "all {} promises failed (the first: {first})",
                self.errors.len()
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for AllFailed<E> {}
