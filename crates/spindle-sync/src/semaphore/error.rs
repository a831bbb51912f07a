//! The semaphore's errors, one per operation.

use core::fmt;
use std::error::Error;

use super::MAX_PERMITS;

/// Why [`Semaphore::acquire`](super::Semaphore::acquire) (and its future)
/// failed.
///
/// # Examples
///
/// ```
/// use spindle_sync::{AcquireError, Semaphore};
///
/// let semaphore = Semaphore::new(1);
/// assert_eq!(semaphore.acquire(usize::MAX).err(), Some(AcquireError::TooMany));
/// semaphore.close();
/// assert_eq!(semaphore.acquire(1).err(), Some(AcquireError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The semaphore was closed (before or while waiting).
    Closed,
    /// More permits were asked for than a semaphore can ever hold
    /// ([`Semaphore::MAX_PERMITS`](super::Semaphore::MAX_PERMITS)).
    TooMany,
}

/// Why [`Semaphore::try_acquire`](super::Semaphore::try_acquire) failed.
///
/// # Examples
///
/// ```
/// use spindle_sync::{Semaphore, TryAcquireError};
///
/// let semaphore = Semaphore::new(1);
/// let held = semaphore.try_acquire(1).unwrap();
/// assert_eq!(semaphore.try_acquire(1).err(), Some(TryAcquireError::NoPermits));
/// drop(held);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough permits are available, or others are waiting for them
    /// (the semaphore is fair); an `acquire` would wait.
    NoPermits,
    /// The semaphore was closed.
    Closed,
    /// More permits were asked for than a semaphore can ever hold.
    TooMany,
}

/// Why [`Semaphore::acquire_timeout`](super::Semaphore::acquire_timeout)
/// or [`acquire_deadline`](super::Semaphore::acquire_deadline) failed.
///
/// # Examples
///
/// ```
/// use spindle_sync::{AcquireTimeoutError, Semaphore};
/// use std::time::Duration;
///
/// let semaphore = Semaphore::new(0);
/// let result = semaphore.acquire_timeout(1, Duration::from_millis(1));
/// assert_eq!(result.err(), Some(AcquireTimeoutError::TimedOut));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcquireTimeoutError {
    /// The deadline passed first.
    TimedOut,
    /// The semaphore was closed (before or while waiting).
    Closed,
    /// More permits were asked for than a semaphore can ever hold.
    TooMany,
}

/// Why [`Semaphore::add_permits`](super::Semaphore::add_permits) failed:
/// the permits would exceed
/// [`Semaphore::MAX_PERMITS`](super::Semaphore::MAX_PERMITS) (counting
/// those held by permits). None were added.
///
/// # Examples
///
/// ```
/// use spindle_sync::{AddPermitsError, Semaphore};
///
/// let semaphore = Semaphore::new(Semaphore::MAX_PERMITS);
/// assert_eq!(semaphore.add_permits(1), Err(AddPermitsError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddPermitsError;

impl From<AcquireError> for TryAcquireError {
    fn from(error: AcquireError) -> Self {
        match error {
            AcquireError::Closed => TryAcquireError::Closed,
            AcquireError::TooMany => TryAcquireError::TooMany,
        }
    }
}

impl From<AcquireError> for AcquireTimeoutError {
    fn from(error: AcquireError) -> Self {
        match error {
            AcquireError::Closed => AcquireTimeoutError::Closed,
            AcquireError::TooMany => AcquireTimeoutError::TooMany,
        }
    }
}

const CLOSED: &str = "the semaphore is closed";

fn too_many(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(
        f,
        "more permits requested than a semaphore can hold ({MAX_PERMITS})"
    )
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::Closed => f.write_str(CLOSED),
            AcquireError::TooMany => too_many(f),
        }
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::Closed => f.write_str(CLOSED),
            TryAcquireError::TooMany => too_many(f),
        }
    }
}

impl fmt::Display for AcquireTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireTimeoutError::TimedOut => f.write_str("timed out waiting for permits"),
            AcquireTimeoutError::Closed => f.write_str(CLOSED),
            AcquireTimeoutError::TooMany => too_many(f),
        }
    }
}

impl fmt::Display for AddPermitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a semaphore cannot hold more than {MAX_PERMITS} permits")
    }
}

impl Error for AcquireError {}
impl Error for TryAcquireError {}
impl Error for AcquireTimeoutError {}
impl Error for AddPermitsError {}
