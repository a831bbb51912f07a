//! [`Counter`]: how many jobs of a batch are unfinished, and the wait for
//! zero ([`Counter::wait`], [`CounterWait`]); [`JobPanicked`], how a
//! batch reports its panics.
//!
//! # Protocol (no lost wake-ups)
//!
//! 1. A waiter polls: if `remaining` is 0 it is done. Otherwise it locks
//!    the waiter list, and, **under that lock**, looks again: the list is
//!    marked `done` by the last completion, so a waiter that finds it not
//!    done registers its waker (in its own slot, replaced on a later poll)
//!    and returns `Pending`.
//! 2. A job's completion records its panic (if any) first, then decrements
//!    `remaining` (`AcqRel`). The one that takes it to 0 locks the list,
//!    marks it `done`, takes every waker and wakes them after unlocking.
//!
//! Either the waiter registered before step 2 took the list (and is woken),
//! or it finds `done` set (and completes). `remaining` never goes back up:
//! a counter counts one batch, fixed when it was submitted.

use core::any::Any;
use core::fmt;
use core::future::{Future, IntoFuture};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poison: no code that can panic runs under the
/// locks of this module (jobs and wakers run outside them).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a [`Counter`] shares with the jobs of its batch.
pub(crate) struct CounterInner {
    /// The batch's size.
    jobs: usize,
    /// Jobs not finished yet. Only decremented.
    remaining: AtomicUsize,
    /// The batch's panics, recorded before their job counts as finished.
    panics: Mutex<Panics>,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Panics {
    count: usize,
    /// The first panic's message, if its payload was a string.
    message: Option<String>,
    /// The first panic's payload, until a wait hands it out.
    payload: Option<Box<dyn Any + Send>>,
}

/// The wakers of the futures waiting for zero, each in its own slot.
#[derive(Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
    /// Set (under the lock) by the completion that reached zero; the slots
    /// are emptied then and no waiter registers after.
    done: bool,
}

impl CounterInner {
    pub(crate) fn new(jobs: usize) -> Self {
        CounterInner {
            jobs,
            remaining: AtomicUsize::new(jobs),
            panics: Mutex::default(),
            waiters: Mutex::new(Waiters {
                done: jobs == 0,
                ..Waiters::default()
            }),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    /// Records the panic of one job of the batch; call before
    /// [`complete`](Self::complete) for that job.
    pub(crate) fn record_panic(&self, payload: Box<dyn Any + Send>) {
        let mut panics = lock(&self.panics);
        panics.count += 1;
        if panics.count == 1 {
            panics.message = panic_message(&*payload).map(str::to_owned);
            panics.payload = Some(payload);
        }
        // Otherwise the payload is dropped here, under the lock: a
        // payload's destructor panicking would poison it, which `lock`
        // ignores.
    }

    /// Counts `n` jobs as finished; the last one wakes every waiter.
    pub(crate) fn complete(&self, n: usize) {
        let before = self.remaining.fetch_sub(n, Ordering::AcqRel);
        debug_assert!(before >= n, "a counter finished more jobs than it had");
        if before != n {
            return;
        }
        let slots = {
            let mut waiters = lock(&self.waiters);
            waiters.done = true;
            waiters.free = Vec::new();
            core::mem::take(&mut waiters.slots)
        };
        for waker in slots.into_iter().flatten() {
            waker.wake();
        }
    }

    /// The batch's outcome, once done: `Err` if a job panicked; the first
    /// call that reports a panic takes its payload.
    fn outcome(&self) -> Result<(), JobPanicked> {
        let mut panics = lock(&self.panics);
        if panics.count == 0 {
            return Ok(());
        }
        Err(JobPanicked {
            panicked: panics.count,
            jobs: self.jobs,
            message: panics.message.clone(),
            payload: Mutex::new(panics.payload.take()),
        })
    }

    /// Registers `waker` in `slot` (a new slot if `None`) unless the batch
    /// is done; returns whether it registered.
    fn register(&self, slot: &mut Option<usize>, waker: &Waker) -> bool {
        let mut waiters = lock(&self.waiters);
        if waiters.done {
            return false;
        }
        match *slot {
            Some(i) => match &mut waiters.slots[i] {
                Some(old) if old.will_wake(waker) => {}
                entry => *entry = Some(waker.clone()),
            },
            None => {
                let i = match waiters.free.pop() {
                    Some(i) => {
                        waiters.slots[i] = Some(waker.clone());
                        i
                    }
                    None => {
                        waiters.slots.push(Some(waker.clone()));
                        waiters.slots.len() - 1
                    }
                };
                *slot = Some(i);
            }
        }
        true
    }

    /// Gives `slot` up (a waiter dropped before the batch was done).
    fn unregister(&self, slot: usize) {
        let mut waiters = lock(&self.waiters);
        if !waiters.done {
            waiters.slots[slot] = None;
            waiters.free.push(slot);
        }
    }
}

/// The message of a panic whose payload is the `&str` or `String` that
/// `panic!` makes.
fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Counts the unfinished jobs of one batch submitted to a
/// [`FiberPool`](crate::FiberPool), and waits for them.
///
/// Cloning it is cheap (an `Arc`); every clone counts the same batch. A
/// counter does not keep the pool open.
///
/// Three ways to wait for the batch, the same object in each world:
/// - [`wait`](Self::wait) blocks: in a job (or any fiber) it suspends only
///   that fiber, and the worker thread runs other fibers meanwhile; on a
///   plain thread it parks the thread;
/// - `.await` (it implements [`IntoFuture`], by value and by reference),
///   or [`wait_async`](Self::wait_async), in async code;
/// - [`is_done`](Self::is_done) / [`remaining`](Self::remaining) to poll.
///
/// # Examples
///
/// ```
/// use spindle_exec::StealPool;
/// use spindle_fiber::FiberPool;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let executor = StealPool::new(2)?;
/// let pool = FiberPool::new(&executor, 8)?;
/// let sum = Arc::new(AtomicU64::new(0));
/// let counter = pool.submit((1..=100).map(|i| {
///     let sum = sum.clone();
///     move || {
///         sum.fetch_add(i, Ordering::Relaxed);
///     }
/// }));
/// assert_eq!(counter.jobs(), 100);
/// counter.wait()?;
/// assert!(counter.is_done());
/// assert_eq!(sum.load(Ordering::Relaxed), 5050);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Counter {
    inner: Arc<CounterInner>,
}

impl Counter {
    pub(crate) fn from_inner(inner: Arc<CounterInner>) -> Self {
        Counter { inner }
    }

    /// How many jobs the batch has.
    pub fn jobs(&self) -> usize {
        self.inner.jobs
    }

    /// How many jobs of the batch have not finished yet (a moment ago).
    pub fn remaining(&self) -> usize {
        self.inner.remaining.load(Ordering::Acquire)
    }

    /// Whether every job of the batch has finished (returned or panicked).
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// How many jobs of the batch have panicked so far.
    pub fn panicked(&self) -> usize {
        lock(&self.inner.panics).count
    }

    /// Blocks until every job of the batch has finished.
    ///
    /// On a fiber (a job of a [`FiberPool`](crate::FiberPool), or any
    /// other fiber) this suspends only that fiber, through
    /// [`spindle_exec::wait`]: the worker thread runs other fibers, and
    /// other jobs on the pool's other fibers, meanwhile. On a plain thread
    /// it parks the thread. A job of a pool that waits here is counted in
    /// that pool's [`FiberPoolStats::waiting`](crate::FiberPoolStats::waiting)
    /// meanwhile, and keeps its fiber: see the pool's
    /// [deadlock warning](crate::FiberPool#bounded-and-the-deadlock-it-implies).
    ///
    /// # Errors
    /// [`JobPanicked`] if a job of the batch panicked (all jobs still ran:
    /// a panic ends only its own job). The first call that reports the
    /// panic gets the first payload; later calls, on this counter or its
    /// clones, get the count and message without it.
    pub fn wait(&self) -> Result<(), JobPanicked> {
        if self.is_done() {
            return self.inner.outcome();
        }
        let _waiting = super::WaitingGuard::enter();
        spindle_exec::wait(self.wait_async())
    }

    /// The future of [`wait`](Self::wait), for async code: ready once
    /// every job of the batch has finished.
    pub fn wait_async(&self) -> CounterWait {
        CounterWait {
            inner: Arc::clone(&self.inner),
            slot: None,
        }
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("jobs", &self.jobs())
            .field("remaining", &self.remaining())
            .field("panicked", &self.panicked())
            .finish()
    }
}

impl IntoFuture for Counter {
    type Output = Result<(), JobPanicked>;
    type IntoFuture = CounterWait;
    fn into_future(self) -> CounterWait {
        CounterWait {
            inner: self.inner,
            slot: None,
        }
    }
}

impl IntoFuture for &Counter {
    type Output = Result<(), JobPanicked>;
    type IntoFuture = CounterWait;
    fn into_future(self) -> CounterWait {
        self.wait_async()
    }
}

/// The future of [`Counter::wait`]: ready once every job of the batch has
/// finished, with `Err(JobPanicked)` if one panicked.
///
/// # Cancel safety
///
/// Dropping it before it is ready loses nothing: its waker is removed from
/// the counter, and the batch's outcome (the panic payload included) is
/// left for the next wait.
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, spawn};
/// use spindle_fiber::FiberPool;
///
/// let executor = ManualExecutor::new();
/// let pool = FiberPool::new(&executor, 2)?;
/// let counter = pool.submit((0..3).map(|_| || ()));
/// let task = spawn(&executor, async move { counter.await.is_ok() });
/// executor.run_all();
/// assert!(task.join().unwrap());
/// # Ok::<(), spindle_fiber::FiberPoolError>(())
/// ```
pub struct CounterWait {
    inner: Arc<CounterInner>,
    /// Our slot in the counter's waiter list, once registered.
    slot: Option<usize>,
}

impl Future for CounterWait {
    type Output = Result<(), JobPanicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.inner.is_done() && this.inner.register(&mut this.slot, cx.waker()) {
            return Poll::Pending;
        }
        // Done: the completion that reached zero emptied the slots.
        this.slot = None;
        Poll::Ready(this.inner.outcome())
    }
}

impl Drop for CounterWait {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.inner.unregister(slot);
        }
    }
}

impl fmt::Debug for CounterWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CounterWait")
            .field("remaining", &self.inner.remaining.load(Ordering::Acquire))
            .field("registered", &self.slot.is_some())
            .finish()
    }
}

/// Jobs of a batch panicked: what [`Counter::wait`] returns then.
///
/// Every job of the batch still ran (a panic is caught in the pool fiber
/// and ends only its own job). It tells how many panicked, the first
/// one's message (if its payload was a string) and, to the first wait that
/// reports it, the first payload itself, e.g. to re-raise it with
/// [`std::panic::resume_unwind`].
///
/// # Examples
///
/// ```
/// use spindle_exec::ManualExecutor;
/// use spindle_fiber::FiberPool;
///
/// let executor = ManualExecutor::new();
/// let pool = FiberPool::new(&executor, 2)?;
/// let counter = pool.submit([
///     Box::new(|| ()) as Box<dyn FnOnce() + Send>,
///     Box::new(|| panic!("boom")),
///     Box::new(|| ()),
/// ]);
/// executor.run_all();
/// let error = counter.wait().unwrap_err();
/// assert_eq!((error.panicked(), error.jobs()), (1, 3));
/// assert_eq!(error.to_string(), "1 of 3 jobs of the batch panicked, the first with: boom");
/// assert_eq!(error.into_payload().unwrap().downcast_ref::<&str>(), Some(&"boom"));
/// # Ok::<(), spindle_fiber::FiberPoolError>(())
/// ```
pub struct JobPanicked {
    panicked: usize,
    jobs: usize,
    message: Option<String>,
    /// In a mutex only to make the error `Sync` (usable as
    /// `Box<dyn Error + Send + Sync>`): through `&self` it is only looked
    /// at, never handed out.
    payload: Mutex<Option<Box<dyn Any + Send>>>,
}

impl JobPanicked {
    /// How many jobs of the batch panicked.
    pub fn panicked(&self) -> usize {
        self.panicked
    }

    /// How many jobs the batch has.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The first panic's message, if its payload was a `&str` or `String`.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether this error carries the first panic's payload (only the first
    /// wait that reported the panic has it).
    pub fn has_payload(&self) -> bool {
        lock(&self.payload).is_some()
    }

    /// The first panic's payload, if this error carries it.
    pub fn into_payload(self) -> Option<Box<dyn Any + Send>> {
        self.payload
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Display for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, of) = (self.panicked, self.jobs);
        let noun = if of == 1 { "job" } else { "jobs" };
        write!(f, "{n} of {of} {noun} of the batch panicked")?;
        match &self.message {
            Some(message) => write!(f, ", the first with: {message}"),
            None => write!(f, ", the first with a payload that is not a string"),
        }
    }
}

impl fmt::Debug for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobPanicked")
            .field("panicked", &self.panicked)
            .field("jobs", &self.jobs)
            .field("message", &self.message)
            .field("has_payload", &self.has_payload())
            .finish()
    }
}

impl Error for JobPanicked {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(AtomicUsize);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_last_completion_wakes_a_registered_waiter_once() {
        let inner = Arc::new(CounterInner::new(2));
        let counter = Counter::from_inner(inner.clone());
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wait = counter.wait_async();
        assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        // A second poll reuses the slot.
        assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        assert_eq!(lock(&inner.waiters).slots.len(), 1);
        inner.complete(1);
        assert_eq!(flag.0.load(Ordering::SeqCst), 0);
        inner.complete(1);
        assert_eq!(flag.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut wait).poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn a_dropped_waiter_gives_its_slot_back() {
        let inner = Arc::new(CounterInner::new(1));
        let counter = Counter::from_inner(inner.clone());
        let waker = Waker::from(Arc::new(Flag(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..3 {
            let mut wait = counter.wait_async();
            assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        }
        assert_eq!(lock(&inner.waiters).slots.len(), 1, "one slot, reused");
        inner.complete(1);
        assert!(counter.wait().is_ok());
    }

    #[test]
    fn the_first_report_takes_the_payload_and_later_ones_keep_the_count() {
        let inner = Arc::new(CounterInner::new(3));
        inner.record_panic(Box::new("first"));
        inner.record_panic(Box::new(7_u8));
        inner.complete(3);
        let counter = Counter::from_inner(inner);
        let first = counter.wait().unwrap_err();
        let second = counter.clone().wait().unwrap_err();
        assert_eq!((first.panicked(), first.jobs()), (2, 3));
        assert!(first.has_payload() && !second.has_payload());
        assert_eq!(second.message(), Some("first"));
        assert_eq!(
            second.to_string(),
            "2 of 3 jobs of the batch panicked, the first with: first"
        );
    }

    #[test]
    fn an_empty_batch_is_done_at_once() {
        let counter = Counter::from_inner(Arc::new(CounterInner::new(0)));
        assert!(counter.is_done());
        assert!(counter.wait().is_ok());
    }
}
