//! Deadlines for the `_timeout` and `_deadline` forms of every blocking
//! call, in all three worlds.
//!
//! One timer thread per process (started on first use) keeps the pending
//! deadlines in an ordered map and wakes each waker when its instant
//! passes. A timed wait is `wait(WithDeadline { operation, sleep })`: the
//! operation's future is polled first; when the deadline passes, it is
//! dropped, which every primitive's future makes lose nothing (its
//! `# Cancel safety`). This is a stop-gap with one lock and one map entry
//! per timed wait, until the event loop's timer wheel takes over.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The process's timer thread and its deadlines.
struct Timers {
    /// Pending deadlines, earliest first; the sequence number tells equal
    /// instants apart.
    pending: Mutex<BTreeMap<(Instant, u64), Waker>>,
    next_id: AtomicU64,
    thread: Thread,
}

fn timers() -> &'static Timers {
    static TIMERS: OnceLock<Timers> = OnceLock::new();
    TIMERS.get_or_init(|| {
        let thread = thread::Builder::new()
            .name("spindle-sync-deadlines".into())
            .spawn(run)
            .expect("spindle-sync: cannot start the deadline thread")
            .thread()
            .clone();
        Timers {
            pending: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            thread,
        }
    })
}

/// The timer thread: wakes what is due, then sleeps until the next
/// deadline (or a new earlier one unparks it).
fn run() {
    let timers = timers();
    let mut due = Vec::new();
    loop {
        let now = Instant::now();
        let next = {
            let mut pending = timers
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            while let Some(entry) = pending.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            pending.keys().next().map(|&(at, _)| at)
        };
        // Wake outside the lock: a waker may run arbitrary code.
        due.drain(..).for_each(Waker::wake);
        match next {
            Some(at) => thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => thread::park(),
        }
    }
}

/// A future that completes at `deadline`.
#[derive(Debug)]
pub(crate) struct Sleep {
    deadline: Instant,
    /// Our entry in the timer map, while one is there.
    key: Option<(Instant, u64)>,
}

impl Sleep {
    pub(crate) fn until(deadline: Instant) -> Self {
        Sleep {
            deadline,
            key: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.cancel();
            return Poll::Ready(());
        }
        let timers = timers();
        let mut pending = timers
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match self.key {
            Some(key) => {
                if let Some(waker) = pending.get_mut(&key) {
                    waker.clone_from(cx.waker());
                    return Poll::Pending;
                }
                // Fired after our check of the clock: we were woken, or are
                // being woken; a poll follows, or is this one.
                drop(pending);
                self.key = None;
                Poll::Ready(())
            }
            None => {
                let key = (
                    self.deadline,
                    timers.next_id.fetch_add(1, Ordering::Relaxed),
                );
                let earliest = pending.keys().next().is_none_or(|first| key < *first);
                pending.insert(key, cx.waker().clone());
                drop(pending);
                self.key = Some(key);
                if earliest {
                    timers.thread.unpark();
                }
                Poll::Pending
            }
        }
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            let mut pending = timers()
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            pending.remove(&key);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// `operation` raced against `deadline`: its output, or `None` once the
/// deadline has passed (the operation's future is then dropped).
pub(crate) struct WithDeadline<F> {
    operation: F,
    sleep: Sleep,
}

impl<F: Future> Future for WithDeadline<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `operation` is structurally pinned (never moved out while
        // pinned); `sleep` is `Unpin`, and not treated as pinned.
        let (operation, sleep) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.operation), &mut this.sleep)
        };
        if let Poll::Ready(output) = operation.poll(cx) {
            return Poll::Ready(Some(output));
        }
        Pin::new(sleep).poll(cx).map(|()| None)
    }
}

/// Blocks the current fiber or thread on `operation` until it completes
/// (`Some`) or `deadline` passes (`None`; the operation is dropped first).
pub(crate) fn wait_deadline<F: Future>(operation: F, deadline: Instant) -> Option<F::Output> {
    spindle_exec::wait(WithDeadline {
        operation,
        sleep: Sleep::until(deadline),
    })
}

/// The deadline `timeout` from now; far in the future if that overflows.
pub(crate) fn after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365 * 30))
}
