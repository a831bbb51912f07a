//! The `_timeout` / `_deadline` forms of the reading futures: wait with
//! [`crate::deadline`], and withdraw the waits the last poll registered
//! when the deadline wins, so no stale waker stays behind.

use core::future::Future as StdFuture;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Instant;

use crate::deadline;

/// A reading future that can be waited on with a deadline through `&mut`,
/// and stay usable after the deadline passed.
pub(super) trait Withdraw: StdFuture + Unpin {
    /// Withdraws every wait its polls registered (a poll that will not
    /// come). The next poll registers afresh.
    fn withdraw(&mut self);
}

/// Polls the borrowed future; withdraws its waits when dropped.
struct Timed<'a, F: Withdraw>(&'a mut F);

impl<F: Withdraw> StdFuture for Timed<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut *self.0).poll(cx)
    }
}

impl<F: Withdraw> Drop for Timed<'_, F> {
    fn drop(&mut self) {
        self.0.withdraw();
    }
}

/// Blocks the current fiber or thread on `future` until it completes
/// (`Some`) or `deadline` passes (`None`, the future left as it was).
pub(super) fn wait_deadline<F: Withdraw>(future: &mut F, deadline: Instant) -> Option<F::Output> {
    deadline::wait_deadline(Timed(future), deadline)
}
