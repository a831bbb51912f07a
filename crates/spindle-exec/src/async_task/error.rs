//! [`JoinError`]: why a task gave no output.

use core::any::Any;
use core::fmt;

/// Why a [`JoinHandle`](crate::JoinHandle) got no output: the task's future
/// panicked, or the task was cancelled (by
/// [`abort`](crate::JoinHandle::abort), or because its executor shut down
/// before it finished).
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, spawn};
///
/// let executor = ManualExecutor::new();
/// let task = spawn(&executor, async { panic!("boom") });
/// executor.run_all();
/// let error = task.join().unwrap_err();
/// assert!(error.is_panic());
/// assert_eq!(error.to_string(), "task panicked: boom");
/// // The payload, e.g. to re-raise it with `std::panic::resume_unwind`:
/// let payload = error.into_panic();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Payload),
}

/// A panic payload that is `Sync` because shared access to it only ever
/// reads a `&str` or `String` out of it.
struct Payload(Box<dyn Any + Send>);

// SAFETY: through `&Payload` this module only calls `downcast_ref` for
// `&'static str` and `String` (`message`). `downcast_ref` reads nothing of the
// value but its type id (`Any::type_id` comes from the blanket impl, which
// cannot read `self`), and the references it yields are to `Sync` types. Every
// other use takes the payload by value (`into_panic`).
unsafe impl Sync for Payload {}

impl Payload {
    /// The panic message, when the payload is the `&str` or `String` that
    /// `panic!` makes.
    fn message(&self) -> Option<&str> {
        let payload: &(dyn Any + Send) = &*self.0;
        payload
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
    }
}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> Self {
        JoinError {
            repr: Repr::Panic(Payload(payload)),
        }
    }

    /// Whether the task was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task's future panicked (while polled, or while dropped on
    /// cancellation).
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic's payload, for [`std::panic::resume_unwind`]; the error
    /// back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload.0),
            Repr::Cancelled => Err(self),
        }
    }

    /// The panic's payload, for [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the task was cancelled ([`is_cancelled`](Self::is_cancelled));
    /// [`try_into_panic`](Self::try_into_panic) does not panic.
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(_) => panic!("`JoinError::into_panic` called on a cancelled task's error"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(payload) => match payload.message() {
                Some(message) => write!(f, "task panicked: {message}"),
                None => f.write_str("task panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(payload) => match payload.message() {
                Some(message) => f.debug_tuple("JoinError::Panic").field(&message).finish(),
                None => f.write_str("JoinError::Panic(..)"),
            },
        }
    }
}

impl std::error::Error for JoinError {}
