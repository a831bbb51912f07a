//! What a [`Promise`](super::Promise) and its [`Future`](super::Future)
//! share: the state word, the result slot and the two waits. The protocol
//! is in `README.md` beside this file; this is its one implementation.

use core::fmt;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use spindle_core::SpinLock;
use spindle_core::fault::{self, Site};

use super::Error;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;
use crate::loom::thread;
use crate::wait::{Wait, WaitList};

/// The producer stored a result in the slot (`set_value`, `set_error`).
/// Set once, by the producer, with `Release`; from then on the slot is the
/// reader's (or, if `CANCELLED` was set first, the producer's again).
const SET: usize = 1;
/// The producer went away without a result. Set once, by the producer.
const BROKEN: usize = 2;
/// The reader went away before taking a result. Set once, by the reader.
const CANCELLED: usize = 4;
/// The producer is done, one way or the other.
const DONE: usize = SET | BROKEN;

/// One promise's shared state; lives in an `Arc` made by `promise()` and is
/// never moved out of it, so its waits are pinned.
///
/// # Who touches what
///
/// - `state`: bits only ever added (`fetch_or`): `SET` or `BROKEN` by the
///   producer, `CANCELLED` by the reader.
/// - `slot`: the producer's until it sets `SET`; then the reader's, unless
///   the producer's `fetch_or` saw `CANCELLED` (the reader is gone and
///   never looks): then the producer takes its result back.
/// - `reader`: the reader's wait, used only by the holder of the `Future`
///   (and by a notifier through `lists`, under the wait protocol).
/// - `producer`: the producer's wait (for `cancelled`), likewise.
/// - `lists`: under the spin lock.
pub(super) struct Shared<T, E> {
    state: AtomicUsize,
    slot: UnsafeCell<MaybeUninit<Result<T, E>>>,
    lists: SpinLock<Lists>,
    reader: Wait<()>,
    producer: Wait<()>,
}

/// The two wait lists, each holding at most one node (there is one reader
/// and one producer).
struct Lists {
    /// The reader waiting for a result.
    reader: WaitList<()>,
    /// The producer waiting for the reader to go away.
    producer: WaitList<()>,
}

// SAFETY: the slot moves a `T` or `E` between threads (hence `Send`) and is
// only ever accessed by one side at a time (see "Who touches what"); each
// wait's owner-only parts (`Wait`'s `Cell`) are used only by its one owner,
// who holds `&mut` to its `Promise` or `Future`; everything else is atomic
// or under the spin lock.
unsafe impl<T: Send, E: Send> Send for Shared<T, E> {}
// SAFETY: as for `Send`: shared access (`&Promise`, `&Future`) reaches only
// the atomic state word; no `&T` or `&E` is ever handed out.
unsafe impl<T: Send, E: Send> Sync for Shared<T, E> {}

impl<T, E> Shared<T, E> {
    /// A promise nobody has set or dropped yet.
    pub(super) fn new() -> Self {
        Shared {
            state: AtomicUsize::new(0),
            slot: UnsafeCell::new(MaybeUninit::uninit()),
            lists: SpinLock::new(Lists {
                reader: WaitList::new(),
                producer: WaitList::new(),
            }),
            reader: Wait::new(()),
            producer: Wait::new(()),
        }
    }

    /// `wait`, pinned.
    fn pinned(wait: &Wait<()>) -> Pin<&Wait<()>> {
        // SAFETY: both waits are fields of a `Shared`, which lives in the
        // `Arc` that `promise()` made and is never moved out of it; it is
        // dropped in place, and its `Drop` cancels both waits first.
        unsafe { Pin::new_unchecked(wait) }
    }

    // ----- producer side -------------------------------------------------

    /// Stores `result` and wakes the reader; hands `result` back if the
    /// reader is gone.
    ///
    /// # Safety
    ///
    /// Called by the producer, at most once, and never after `abandon`.
    pub(super) unsafe fn set(&self, result: Result<T, E>) -> Result<(), Result<T, E>> {
        // SAFETY: without `SET` the slot is the producer's (caller's rule).
        self.slot.with_mut(|slot| unsafe { (*slot).write(result) });
        // `Release`: publishes the slot to a reader that sees `SET`;
        // `Acquire`: nothing to acquire from the reader but the bit itself,
        // kept so that the take-back below is self-evidently ordered.
        let previous = self.state.fetch_or(SET, Ordering::AcqRel);
        if previous & CANCELLED != 0 {
            // The reader set `CANCELLED` before seeing `SET`, so it never
            // reads the slot: the result is ours again.
            // SAFETY: written just above; nobody else reads it.
            let result = self
                .slot
                .with_mut(|slot| unsafe { (*slot).assume_init_read() });
            return Err(result);
        }
        self.wake(|lists| &mut lists.reader);
        Ok(())
    }

    /// The producer goes away without a result: the reader sees `Broken`.
    ///
    /// # Safety
    ///
    /// Called by the producer, at most once, and never after `set`.
    pub(super) unsafe fn abandon(&self) {
        let previous = self.state.fetch_or(BROKEN, Ordering::Release);
        if previous & CANCELLED == 0 {
            self.wake(|lists| &mut lists.reader);
        }
    }

    /// Whether the reader is gone.
    pub(super) fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Acquire) & CANCELLED != 0
    }

    /// Producer: ready once the reader is gone; else registers the
    /// producer's wait with `cx`'s waker.
    ///
    /// # Safety
    ///
    /// Called by the producer (who owns the producer wait), before `set` or
    /// `abandon`.
    pub(super) unsafe fn poll_cancelled(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_cancelled() && !fault::point(Site::WAIT) {
            // SAFETY: the producer's wait, by the caller.
            unsafe { self.end_producer_wait() };
            return Poll::Ready(());
        }
        let mut lists = self.lists.lock();
        Self::pinned(&self.producer).enqueue(&mut lists.producer, cx.waker());
        // Re-check under the lock: a reader that left before our node was
        // visible did not see it.
        if !self.is_cancelled() {
            return Poll::Pending;
        }
        self.producer.cancel(|node| lists.producer.remove(node));
        Poll::Ready(())
    }

    /// Ends the producer's wait if one is queued.
    ///
    /// # Safety
    ///
    /// Called by the producer (or by `Drop`, with sole access).
    pub(super) unsafe fn end_producer_wait(&self) {
        if self.producer.is_queued() {
            self.producer
                .cancel(|node| self.lists.lock().producer.remove(node));
        }
    }

    // ----- reader side ---------------------------------------------------

    /// Whether the producer is done (`get` would not block).
    pub(super) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) & DONE != 0
    }

    /// Reader: the result if the producer is done, else registers the
    /// reader's wait with `cx`'s waker.
    ///
    /// # Safety
    ///
    /// Called by the reader, which has not taken the result yet; a `Ready`
    /// hands it over (the reader must not ask again).
    pub(super) unsafe fn poll_result(&self, cx: &mut Context<'_>) -> Poll<Result<T, Error<E>>> {
        let state = self.state.load(Ordering::Acquire);
        if state & DONE != 0 && !fault::point(Site::WAIT) {
            // SAFETY: forwarded from the caller; the producer is done.
            return Poll::Ready(unsafe { self.take(state) });
        }
        let mut lists = self.lists.lock();
        Self::pinned(&self.reader).enqueue(&mut lists.reader, cx.waker());
        // Re-check under the lock: a producer that finished before our node
        // was visible did not see it.
        let state = self.state.load(Ordering::Acquire);
        if state & DONE == 0 {
            return Poll::Pending;
        }
        self.reader.cancel(|node| lists.reader.remove(node));
        drop(lists);
        // SAFETY: forwarded; the wait has just been ended.
        Poll::Ready(unsafe { self.take(state) })
    }

    /// Reader: the result if the producer is done, without waiting.
    ///
    /// # Safety
    ///
    /// As for [`poll_result`](Self::poll_result).
    pub(super) unsafe fn try_take(&self) -> Option<Result<T, Error<E>>> {
        let state = self.state.load(Ordering::Acquire);
        if state & DONE == 0 || fault::point(Site::TRY) {
            return None;
        }
        // SAFETY: forwarded; the producer is done.
        Some(unsafe { self.take(state) })
    }

    /// Moves the result out, ending the reader's wait first.
    ///
    /// # Safety
    ///
    /// Called by the reader, once; `state` was loaded with `Acquire` and
    /// has `SET` or `BROKEN`.
    unsafe fn take(&self, state: usize) -> Result<T, Error<E>> {
        // SAFETY: the reader's wait, by the caller.
        unsafe { self.end_reader_wait() };
        if state & SET != 0 {
            // SAFETY: `SET` seen with `Acquire` and no `CANCELLED` (the
            // reader is still here): the slot is initialized and ours, and
            // we take it once.
            let result = self
                .slot
                .with_mut(|slot| unsafe { (*slot).assume_init_read() });
            result.map_err(Error::Failed)
        } else {
            Err(Error::Broken)
        }
    }

    /// Ends the reader's wait if one is queued (a timed get that expired,
    /// a result taken after a poll).
    ///
    /// # Safety
    ///
    /// Called by the reader (or by `Drop`, with sole access).
    pub(super) unsafe fn end_reader_wait(&self) {
        if self.reader.is_queued() {
            self.reader
                .cancel(|node| self.lists.lock().reader.remove(node));
        }
    }

    /// The reader goes away without having taken the result.
    ///
    /// # Safety
    ///
    /// Called by the reader, once, after which it touches nothing.
    pub(super) unsafe fn cancel(&self) {
        // SAFETY: the reader's wait, by the caller.
        unsafe { self.end_reader_wait() };
        // `Acquire`: if `SET` is already there, we drop the slot below.
        let previous = self.state.fetch_or(CANCELLED, Ordering::AcqRel);
        if previous & SET != 0 {
            // SAFETY: `SET` came first, so the slot is initialized and
            // ours; the producer is done with it.
            self.slot
                .with_mut(|slot| unsafe { (*slot).assume_init_drop() });
        } else if previous & BROKEN == 0 {
            // The producer is still there: it may be waiting in `cancelled`.
            self.wake(|lists| &mut lists.producer);
        }
    }

    /// Wakes the one waiter on the list `pick` chooses, if any.
    fn wake(&self, pick: impl FnOnce(&mut Lists) -> &mut WaitList<()>) {
        let waker = pick(&mut self.lists.lock()).notify_one(|()| {});
        call(waker);
    }
}

/// Calls `waker` (no lock held), yielding first if a fault is injected.
fn call(waker: Option<Waker>) {
    if let Some(waker) = waker {
        if fault::point(Site::WAKE) {
            thread::yield_now();
        }
        waker.wake();
    }
}

impl<T, E> Drop for Shared<T, E> {
    fn drop(&mut self) {
        // Both sides end their waits when they go away, unless a wait's
        // future was leaked (`mem::forget` of a `Cancelled`): end it here,
        // so no list keeps the node. (The slot needs nothing: whoever owns
        // a result drops it, see `cancel` and `set`.)
        // SAFETY: sole access (`&mut self`).
        unsafe {
            self.end_producer_wait();
            self.end_reader_wait();
        }
    }
}

impl<T, E> fmt::Debug for Shared<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Shared")
            .field("set", &(state & SET != 0))
            .field("broken", &(state & BROKEN != 0))
            .field("cancelled", &(state & CANCELLED != 0))
            .finish_non_exhaustive()
    }
}
