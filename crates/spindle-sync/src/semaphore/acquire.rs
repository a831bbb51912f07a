//! The acquire future and the permit it yields.

use core::fmt;
use core::future::Future;
use core::mem;
use core::pin::Pin;
use core::task::{Context, Poll};

use spindle_core::fault::{self, Site};

use super::{AcquireError, MAX_PERMITS, Request, Semaphore, TryAcquireError};
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::wait::Wait;

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
///
/// # Examples
///
/// ```
/// use spindle_sync::Semaphore;
///
/// let semaphore = Semaphore::new(4);
/// let permit = semaphore.acquire(3).unwrap();
/// assert_eq!(permit.permits(), 3);
/// permit.forget(); // those 3 leave the semaphore for good
/// assert_eq!(semaphore.available_permits(), 1);
/// ```
#[must_use = "the permits are given back as soon as the permit is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    pub(super) fn new(semaphore: &'a Semaphore, permits: usize) -> Self {
        SemaphorePermit { semaphore, permits }
    }

    /// How many permits this holds.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Drops the permit without giving its permits back: the semaphore
    /// has that many fewer from now on.
    pub fn forget(self) {
        self.semaphore
            .total
            .fetch_sub(self.permits, Ordering::Relaxed);
        mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// The future of [`Semaphore::acquire_async`]: takes its permits when they
/// are available and every earlier request was served.
///
/// It takes its place in the queue when first polled (unless the permits
/// are there and nobody waits: then it completes at once).
///
/// # Cancel safety
///
/// Dropping it loses nothing. A request still waiting leaves the queue,
/// the others keep their order, and those behind it that now fit are
/// served. A request granted but not yet polled gives its permits back,
/// to the next waiters.
///
/// # Examples
///
/// ```
/// use spindle_sync::Semaphore;
///
/// let semaphore = Semaphore::new(2);
/// let permit = spindle_exec::block_on(semaphore.acquire_async(2)).unwrap();
/// assert_eq!(semaphore.available_permits(), 0);
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 2);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct AcquireFuture<'a> {
    semaphore: &'a Semaphore,
    wait: Wait<Request>,
}

impl<'a> AcquireFuture<'a> {
    pub(super) fn new(semaphore: &'a Semaphore, wanted: usize) -> Self {
        AcquireFuture {
            semaphore,
            wait: Wait::new(Request {
                wanted,
                granted: AtomicBool::new(false),
            }),
        }
    }

    /// The outcome of a wait that was woken: granted, or closed.
    fn woken(&self) -> Result<SemaphorePermit<'a>, AcquireError> {
        let request = self.wait.data();
        if request.granted.swap(false, Ordering::Relaxed) {
            Ok(SemaphorePermit::new(self.semaphore, request.wanted))
        } else {
            Err(AcquireError::Closed)
        }
    }
}

impl<'a> Future for AcquireFuture<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.into_ref();
        let semaphore = this.semaphore;
        // SAFETY: `wait` is structurally pinned: it is never moved out of
        // the future, and the future's `Drop` cancels it in place.
        let wait = unsafe { this.map_unchecked(|this| &this.wait) };
        let wanted = wait.data().wanted;
        if wait.is_queued() {
            if wait.take_woken() {
                return Poll::Ready(this.woken());
            }
            // Refresh the waker, then look again: a grant between the two
            // looks took the old one.
            wait.enqueue(&mut semaphore.waiters.lock(), cx.waker());
            if wait.take_woken() {
                return Poll::Ready(this.woken());
            }
            return Poll::Pending;
        }
        if wanted > MAX_PERMITS {
            return Poll::Ready(Err(AcquireError::TooMany));
        }
        if !fault::point(Site::WAIT) {
            match semaphore.take(wanted) {
                Ok(()) => return Poll::Ready(Ok(SemaphorePermit::new(semaphore, wanted))),
                Err(TryAcquireError::Closed) => return Poll::Ready(Err(AcquireError::Closed)),
                Err(_) => {}
            }
        }
        let mut waiters = semaphore.waiters.lock();
        match semaphore.take_or_mark(&waiters, wanted) {
            Ok(true) => Poll::Ready(Ok(SemaphorePermit::new(semaphore, wanted))),
            Ok(false) => {
                wait.enqueue(&mut waiters, cx.waker());
                Poll::Pending
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl Drop for AcquireFuture<'_> {
    fn drop(&mut self) {
        let semaphore = self.semaphore;
        let woken = self.wait.cancel(|node| {
            let mut waiters = semaphore.waiters.lock();
            let removed = waiters.remove(node);
            // The head may have changed: serve whoever fits now, and clear
            // `WAITERS` if the queue emptied.
            semaphore.grant(waiters);
            removed
        });
        if woken {
            // Granted (or closed) but not taken: give the permits back.
            drop(self.woken());
        }
    }
}

impl fmt::Debug for AcquireFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireFuture")
            .field("wanted", &self.wait.data().wanted)
            .field("wait", &self.wait)
            .finish()
    }
}
