//! The one waiting mechanism (DESIGN.md, decision 1): intrusive waiter
//! nodes holding a `Waker`, on lists that each primitive keeps under its
//! lock. The protocol is in `README.md`.

mod list;
mod signal;
#[cfg(all(test, not(loom)))]
mod tests;

use core::cell::Cell;
use core::fmt;
use core::pin::Pin;
use core::task::Waker;

use spindle_core::fault::{self, Site};

pub(crate) use list::{WaitList, Waiter, WakeBatch};
pub(crate) use signal::{Outcome, Signal};

/// Calls `waker`, if there is one; the fault point `Site::WAKE` may
/// yield the thread first, so the woken party runs sooner or later than
/// it would. Call it with no lock held.
#[inline]
pub(crate) fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        if fault::point(Site::WAKE) {
            crate::loom::thread::yield_now();
        }
        waker.wake();
    }
}

/// One wait on one list: a signal and its node, as a primitive's future
/// embeds them. Reusable: after it is woken or cancelled it can wait again.
pub(crate) struct Wait<D> {
    signal: Signal,
    node: Waiter<D>,
    /// Whether the node was queued and its outcome not yet taken (owner
    /// only).
    queued: Cell<bool>,
}

impl<D> Wait<D> {
    /// A wait that has not started, carrying `data` for the notifier.
    pub(crate) fn new(data: D) -> Self {
        Wait {
            signal: Signal::new(),
            node: Waiter::new(data),
            queued: Cell::new(false),
        }
    }

    /// The data the node carries.
    #[inline]
    pub(crate) fn data(&self) -> &D {
        self.node.data()
    }

    /// Whether the wait is queued (or was woken and not yet checked).
    #[inline]
    pub(crate) fn is_queued(&self) -> bool {
        self.queued.get()
    }

    /// Queues the node at the back of `list`, or, if it is queued there
    /// already and not yet woken, refreshes its waker. Call it under the
    /// lock that guards `list`, and always with the same `list`.
    #[inline(always)]
    pub(crate) fn enqueue(self: Pin<&Self>, list: &mut WaitList<D>, waker: &Waker) {
        if self.queued.get() {
            if self.signal.outcome() == Outcome::Waiting {
                // SAFETY: the only node is in `list`, whose lock we hold.
                unsafe { self.signal.set_waker(waker) };
            }
            return;
        }
        let this = self.get_ref();
        // SAFETY: the node is not linked, so nobody can claim the signal.
        unsafe { this.signal.set_waker(waker) };
        // SAFETY: (1) `self` is pinned, and its drop must go through
        // `cancel` (the owning future's `Drop` calls it), which unlinks the
        // node under the lock or sees it woken; (2) not queued means not
        // linked; (3) the waker was just set.
        unsafe {
            list.push_back(Pin::new_unchecked(&this.node), &this.signal, 0);
        }
        this.queued.set(true);
    }

    /// Whether the queued wait was woken; taking a `true` ends the wait
    /// (the node is unlinked, and may be queued again).
    #[inline]
    pub(crate) fn take_woken(&self) -> bool {
        if !self.queued.get() {
            return false;
        }
        match self.signal.outcome() {
            Outcome::Waiting => false,
            Outcome::Woken(_) => {
                self.end();
                true
            }
            Outcome::Aborted => unreachable!("only `cancel` aborts, and it ends the wait"),
        }
    }

    /// Gives up the wait. `remove` must unlink the node from its list
    /// under the list's lock (`|node| state.lock().waiters.remove(node)`).
    /// Returns `true` if the wait had been woken first: the caller then
    /// owns what the notifier delivered (a value to put back, a wake to
    /// pass on).
    #[inline]
    pub(crate) fn cancel(&self, remove: impl FnOnce(&Waiter<D>) -> bool) -> bool {
        if !self.queued.get() {
            return false;
        }
        let woken = match self.signal.abort() {
            Outcome::Aborted => {
                remove(&self.node);
                false
            }
            Outcome::Woken(_) => true,
            Outcome::Waiting => unreachable!("`abort` decides the wait"),
        };
        self.end();
        woken
    }

    #[inline]
    fn end(&self) {
        // SAFETY: the node is unlinked: a notifier unlinks before waking,
        // and `cancel` removes it after aborting.
        unsafe { self.signal.reset() };
        self.queued.set(false);
    }
}

impl<D> Drop for Wait<D> {
    fn drop(&mut self) {
        if self.queued.get() {
            // A primitive forgot to `cancel`: a list would keep the address
            // of freed memory. Stop before that turns into corruption.
            eprintln!("spindle-sync: a queued wait was dropped without being cancelled");
            std::process::abort();
        }
    }
}

impl<D> fmt::Debug for Wait<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("signal", &self.signal)
            .field("queued", &self.queued.get())
            .finish()
    }
}
