//! Waiting for a future from synchronous code: [`block_on`] parks a plain
//! thread; [`wait`] suspends whatever the current thread runs, through the
//! [`Blocker`] installed for it (a fiber runtime installs one), and falls
//! back to `block_on`.
//!
//! This is how every blocking call in spindle works: a primitive's blocking
//! method (`lock()`, `recv()`, `join()`) is `wait(the_same_future)`. The
//! primitive never names fibers; the fiber runtime plugs in below it.

use core::cell::Cell;
use core::future::Future;
use core::pin::{Pin, pin};
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};
use std::sync::Arc;
use std::task::Wake;

use spindle_core::Backoff;

use crate::context::OutsideTask;
use crate::sync::CACHE_IN_THREAD_LOCALS;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::thread::{self, Thread};

/// Waits for futures on behalf of the code a thread runs: the hook through
/// which a fiber runtime makes [`wait`] suspend the current fiber instead
/// of blocking the thread.
///
/// Install one per thread with [`set_blocker`]; [`wait`] then calls
/// [`block`](Self::block) instead of [`block_on`].
///
/// # Contract
///
/// `block` must poll `future` until it returns `Poll::Ready(())`, and only
/// then return. In between it may do anything that does not poll the
/// future: a fiber runtime suspends the calling fiber and resumes it when
/// the waker it passed to the last poll is woken. The waker must make the
/// future be polled again after any wake, including one that arrives while
/// the future is being polled (no lost wake-ups). If `block` returns early,
/// `wait` panics; if it panics, the panic goes through `wait` to its
/// caller and the future is dropped.
///
/// `wait` reads the thread-local blocker before calling `block` and no
/// thread-local after, so a blocker may resume a *movable* fiber on
/// another thread (DESIGN.md, decision 4); a pinned fiber must resume
/// where it was suspended.
///
/// `block` may be called where there is nothing to suspend (a blocker
/// installed on a worker thread, called outside any fiber): it should then
/// block the thread, e.g. with `block_on(future)` (a `Pin<&mut dyn Future>`
/// is a future).
///
/// # Examples
///
/// A blocker that just counts calls and blocks the thread:
///
/// ```
/// use spindle_exec::{Blocker, block_on, set_blocker, wait};
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// struct Counting(AtomicUsize);
///
/// impl Blocker for Counting {
///     fn block(&self, future: Pin<&mut dyn Future<Output = ()>>) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         block_on(future);
///     }
/// }
///
/// static COUNTING: Counting = Counting(AtomicUsize::new(0));
/// let previous = set_blocker(Some(&COUNTING));
/// assert_eq!(wait(async { 7 }), 7);
/// set_blocker(previous);
/// assert_eq!(COUNTING.0.load(Ordering::Relaxed), 1);
/// ```
pub trait Blocker {
    /// Polls `future` to completion, suspending whatever the current
    /// thread runs between polls. See the [contract](Blocker#contract).
    fn block(&self, future: Pin<&mut dyn Future<Output = ()>>);

    /// How [`wait`] may suspend the caller itself, polling between
    /// switches from its own frame, instead of calling
    /// [`block`](Self::block); `None` (the default) when it cannot (then
    /// `wait` calls `block`).
    ///
    /// A stackful runtime provides one for speed: a fiber resumed inside
    /// `block` first returns from `block`, and every return right after a
    /// switch of stacks is mispredicted by the processor; `wait` polls
    /// inline and calls only [`Suspension`]'s switch, which need not
    /// return with a `ret`.
    ///
    /// # Safety
    /// Called only by `wait`, which uses the suspension at once, for one
    /// wait of the code running on this thread, and then drops it.
    unsafe fn suspension(&self) -> Option<Suspension> {
        None
    }
}

/// The parts of a suspension that [`wait`] drives itself: a waker to poll
/// with and three functions around the switch (see
/// [`Blocker::suspension`]).
///
/// `wait` polls its future with the waker; while it is pending, it calls
/// `before(context)`, then `switch` with what that returned, then
/// `after(context, what switch returned)`, which returns the waker for the
/// next poll; and again, until the future is ready.
///
/// Neither `Clone` nor `Copy`: it is good for one wait only (see
/// [`Suspension::new`]).
#[derive(Debug)]
pub struct Suspension {
    context: NonNull<()>,
    waker: NonNull<Waker>,
    before: unsafe fn(NonNull<()>) -> *mut u8,
    switch: unsafe extern "C" fn(*mut u8) -> usize,
    after: unsafe fn(NonNull<()>, usize) -> NonNull<Waker>,
}

impl Suspension {
    /// A suspension of the code that calls [`wait`], made of `context`,
    /// the waker for the first poll and the three functions.
    ///
    /// # Safety
    /// Made for one wait of the current thread's running code (returned
    /// by [`Blocker::suspension`] when `wait` asks), and until the future
    /// `wait` polls is ready: `waker` stays valid until `before` is called, and
    /// each waker `after` returns until the next `before`; the three calls
    /// in a row suspend the caller until the last waker it polled with is
    /// woken (or earlier: `wait` polls again), and `switch` behaves as a
    /// function of the C ABI. If `after` panics, the panic leaves `wait`
    /// and drops the future, as one from a poll does.
    pub unsafe fn new(
        context: NonNull<()>,
        waker: NonNull<Waker>,
        before: unsafe fn(NonNull<()>) -> *mut u8,
        switch: unsafe extern "C" fn(*mut u8) -> usize,
        after: unsafe fn(NonNull<()>, usize) -> NonNull<Waker>,
    ) -> Self {
        Suspension {
            context,
            waker,
            before,
            switch,
            after,
        }
    }

    /// Polls `future` until it is ready, suspending between polls.
    #[inline(always)]
    fn run<F: Future + ?Sized>(self, mut future: Pin<&mut F>) -> F::Output {
        let mut waker = self.waker;
        loop {
            // SAFETY: valid until `before` (`Suspension::new`), and the
            // context ends with the poll.
            let mut cx = Context::from_waker(unsafe { waker.as_ref() });
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            // SAFETY: the three calls in a row, as `Suspension::new` asks.
            unsafe {
                let argument = (self.before)(self.context);
                let resumed = (self.switch)(argument);
                waker = (self.after)(self.context, resumed);
            }
        }
    }
}

std::thread_local! {
    /// The current thread's [`Blocker`]. Read and written only through the
    /// never-inlined accessors below (DESIGN.md, decision 4).
    static BLOCKER: Cell<Option<&'static dyn Blocker>> = const { Cell::new(None) };

    /// This thread's parker, when no `block_on` on this thread is using it.
    static PARKER: Cell<Option<Parker>> = const { Cell::new(None) };
}

/// Installs `blocker` for the current thread (`None` removes it) and
/// returns the one installed before.
///
/// A fiber runtime calls it on each of its worker threads, so that
/// [`wait`] suspends the current fiber there. During the thread's own
/// teardown (after its thread-locals are destroyed) it installs nothing
/// and returns `None`.
///
/// # Examples
///
/// See [`Blocker`].
#[inline(never)]
pub fn set_blocker(blocker: Option<&'static dyn Blocker>) -> Option<&'static dyn Blocker> {
    BLOCKER
        .try_with(|cell| cell.replace(blocker))
        .unwrap_or(None)
}

/// The current thread's blocker.
#[inline(never)]
fn current_blocker() -> Option<&'static dyn Blocker> {
    BLOCKER.try_with(Cell::get).unwrap_or(None)
}

/// Waits for `future` from synchronous code and returns its output: the
/// blocking counterpart of `.await`.
///
/// - If the current thread has a [`Blocker`] (it runs fibers), the current
///   fiber is suspended until the future completes (through the blocker's
///   [`Suspension`], or by handing it the future), and the worker thread
///   runs other fibers meanwhile.
/// - Otherwise the thread is parked between polls ([`block_on`]).
///
/// Do not call it from async code: there, `.await` the future.
///
/// # Panics
///
/// If the installed [`Blocker`] breaks its contract by returning before
/// the future completed; and whatever the future's poll panics with.
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, spawn, wait};
///
/// let executor = ManualExecutor::new();
/// let task = spawn(&executor, async { 1 + 1 });
/// executor.run_all();
/// assert_eq!(wait(task).unwrap(), 2);
/// ```
// Always inlined, and it polls itself where the blocker offers a
// `Suspension`: a fiber then resumes in its caller's frame, not in frames
// entered before the switch, whose returns would all be mispredicted.
#[track_caller]
#[inline(always)]
pub fn wait<F: Future>(future: F) -> F::Output {
    wait_pinned(pin!(future))
}

/// [`wait`] for a future that is already pinned, which then is not moved
/// again: `wait_pinned(pin!(make_future()))` builds a large future in its
/// final place.
///
/// # Panics
///
/// As [`wait`].
///
/// # Examples
///
/// ```
/// use std::pin::pin;
/// use spindle_exec::wait_pinned;
///
/// assert_eq!(wait_pinned(pin!(async { 6 * 7 })), 42);
/// ```
#[track_caller]
#[inline(always)]
pub fn wait_pinned<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let Some(blocker) = current_blocker() else {
        return block_on(future);
    };
    // SAFETY: used at once, for this wait, and dropped.
    if let Some(suspension) = unsafe { blocker.suspension() } {
        return suspension.run(future);
    }
    let mut output = None;
    blocker.block(pin!(Store {
        future: future.as_mut(),
        output: &mut output,
    }));
    match output {
        Some(output) => output,
        None => panic!("`Blocker::block` returned before the future completed"),
    }
}

/// The unit future that [`wait`] hands a [`Blocker`]: polls the caller's
/// future (pinned in `wait`'s frame, so it is not moved again) and stores
/// its output there.
struct Store<'a, F: Future> {
    future: Pin<&'a mut F>,
    output: &'a mut Option<F::Output>,
}

impl<F: Future> Future for Store<'_, F> {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.future.as_mut().poll(cx) {
            Poll::Ready(output) => {
                *self.output = Some(output);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Runs `future` to completion on the current thread, parking the thread
/// while the future waits, and returns its output.
///
/// The future is polled here, on this thread, with a waker that unparks
/// it; a wake from any thread, at any time (also during a poll) leads to
/// another poll. Parking blocks the whole thread: on a fiber, use
/// [`wait`], which suspends only the fiber. (The parked thread is the one
/// that called `block_on`: a movable fiber must not be moved to another
/// thread while its future is polled here.)
///
/// The thread's parker (its waker) is made on the first call and reused
/// after, so `block_on` allocates nothing from then on.
///
/// # Examples
///
/// ```
/// use spindle_exec::block_on;
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use std::thread;
///
/// /// Ready on the second poll, after waking itself from another thread.
/// struct WokenElsewhere(bool);
///
/// impl Future for WokenElsewhere {
///     type Output = &'static str;
///     fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
///         if self.0 {
///             return Poll::Ready("woken");
///         }
///         self.0 = true;
///         let waker = cx.waker().clone();
///         thread::spawn(move || waker.wake());
///         Poll::Pending
///     }
/// }
///
/// assert_eq!(block_on(WokenElsewhere(false)), "woken");
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let _outside = OutsideTask::enter();
    let guard = ParkerGuard::take();
    let parker = guard.get();
    let mut cx = Context::from_waker(&parker.waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        parker.park();
    }
}

/// Parks a thread until its waker fires.
struct Parker {
    notify: Arc<Notify>,
    /// A waker for `notify`, made once per parker (per thread, when cached).
    waker: Waker,
}

/// What the waker holds: the thread to unpark, and whether it was woken.
struct Notify {
    thread: Thread,
    /// Set by a wake, cleared by the parked thread when it acts on it.
    notified: AtomicBool,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // `Release`: what the waker wrote before waking is visible to the
        // poll that follows. Only the wake that sets the flag unparks: a
        // flag already set has an unpark on its way, or a poll pending.
        if !self.notified.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }
}

impl Parker {
    fn new() -> Self {
        let notify = Arc::new(Notify {
            thread: thread::current(),
            notified: AtomicBool::new(false),
        });
        let waker = Waker::from(Arc::clone(&notify));
        Parker { notify, waker }
    }

    /// Returns once the waker was woken since the last return (at once if
    /// it was), spinning a little before it parks the thread. Spurious unparks, and stale ones from earlier users of the
    /// thread's park token, loop back into `park`.
    fn park(&self) {
        // A wake usually follows within microseconds (a message, an unlock
        // on another core), and parking and unparking a thread costs more:
        // watch the flag for a while first. Not under loom, where spinning
        // only multiplies the interleavings to explore.
        if !cfg!(loom) {
            let mut backoff = Backoff::new();
            while !backoff.is_completed() && !self.notify.notified.load(Ordering::Relaxed) {
                backoff.snooze();
            }
        }
        // `Acquire` pairs with the waker's `Release`. The flag is set before
        // `unpark`, and `park` returns at once if an unpark came after the
        // last one it consumed, so a wake between the check and `park` is
        // not lost.
        while !self.notify.notified.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

/// Lends `block_on` the thread's cached parker, or a new one while the
/// cached one is in use (a `block_on` nested in a poll) or unavailable, and
/// caches it again on drop, also when the poll panics.
struct ParkerGuard(Option<Parker>);

impl ParkerGuard {
    fn take() -> Self {
        let cached = if CACHE_IN_THREAD_LOCALS {
            take_cached_parker()
        } else {
            None
        };
        ParkerGuard(Some(cached.unwrap_or_else(Parker::new)))
    }

    fn get(&self) -> &Parker {
        // Only `drop` empties it.
        self.0.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for ParkerGuard {
    fn drop(&mut self) {
        // A parker unparks the thread it was made on, so it is cached only
        // there: a movable fiber that was suspended inside the poll (by a
        // nested `wait`) may have resumed on another thread. A nested
        // `block_on`'s new parker is for this thread too, so whichever
        // comes back first is cached.
        if let Some(parker) = self.0.take()
            && CACHE_IN_THREAD_LOCALS
            && parker.notify.thread.id() == thread::current().id()
        {
            put_cached_parker(parker);
        }
    }
}

/// Takes the thread's cached parker, if it has one and no `block_on` is
/// using it.
#[inline(never)]
fn take_cached_parker() -> Option<Parker> {
    PARKER.try_with(Cell::take).unwrap_or(None)
}

/// Caches `parker` for this thread's next `block_on`, unless one is
/// cached already (then `parker` is dropped).
#[inline(never)]
fn put_cached_parker(parker: Parker) {
    let _ = PARKER.try_with(|cell| {
        let cached = cell.take();
        cell.set(cached.or(Some(parker)));
    });
}
