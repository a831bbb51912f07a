//! The waiter node and the doubly linked list of them that every primitive
//! keeps under its lock.

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::Waker;

use super::signal::{Outcome, Signal};

/// A waiter: lives in the waiting future (pinned), sits in at most one
/// [`WaitList`], and carries `data` for the primitive (a hand-off slot, a
/// permit count, an arrival time).
///
/// Its links are written only by list operations, through `&mut WaitList`,
/// that is under the lock that guards the list; `data` is shared between
/// the owner and a notifier under the [`Signal`] protocol (the notifier
/// writes it before `finish`, the owner reads it after seeing `Woken`), so
/// it needs interior mutability of its own.
pub(crate) struct Waiter<D> {
    links: UnsafeCell<Links<D>>,
    data: D,
    _pinned: PhantomPinned,
}

struct Links<D> {
    prev: Option<NonNull<Waiter<D>>>,
    next: Option<NonNull<Waiter<D>>>,
    /// The signal this node wakes, and the case it reports (`u32`, so the
    /// case and `linked` share a word: the node is copied whenever its
    /// future moves before its first poll).
    signal: *const Signal,
    case: u32,
    linked: bool,
}

// SAFETY: `links` is accessed only through the list that holds the node, under
// that list's lock; `data` is `Send` and shared only under the signal
// protocol (one side at a time, ordered by `Signal`'s acquire/release).
unsafe impl<D: Send> Send for Waiter<D> {}
// SAFETY: as for `Send`; `data` is reached through `&` only by the owner and
// by a notifier that claimed the node's signal, never both at once.
unsafe impl<D: Send> Sync for Waiter<D> {}

impl<D> Waiter<D> {
    /// An unlinked waiter holding `data`.
    pub(crate) const fn new(data: D) -> Self {
        Waiter {
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
                linked: false,
                signal: ptr::null(),
                case: 0,
            }),
            data,
            _pinned: PhantomPinned,
        }
    }

    /// The primitive's data.
    pub(crate) fn data(&self) -> &D {
        &self.data
    }
}

impl<D> fmt::Debug for Waiter<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

/// How many wakers [`WaitList::notify_all`] collects per round, so waking a
/// crowd needs no allocation and never calls a waker under the lock.
const BATCH: usize = 32;

/// Wakers collected under a lock, to be called after it is released.
pub(crate) struct WakeBatch {
    wakers: [Option<Waker>; BATCH],
    len: usize,
}

impl WakeBatch {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        WakeBatch {
            wakers: [const { None }; BATCH],
            len: 0,
        }
    }

    /// Whether the batch has no room left.
    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Adds a waker (or nothing). Check [`is_full`](Self::is_full) first.
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        }
    }

    /// Calls every collected waker and empties the batch. Call it with no
    /// lock held.
    pub(crate) fn wake_all(&mut self) {
        for waker in &mut self.wakers[..self.len] {
            super::wake(waker.take());
        }
        self.len = 0;
    }
}

impl fmt::Debug for WakeBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeBatch").field("len", &self.len).finish()
    }
}

/// A FIFO of waiters with O(1) removal from anywhere, so a waiter that
/// gives up leaves the others' order intact.
///
/// Not thread-safe: every primitive keeps its lists inside its `SpinLock`.
/// Dropping a list does nothing to its nodes (their owners unlink them
/// through the list before they go away; see `README.md`).
pub(crate) struct WaitList<D> {
    head: Option<NonNull<Waiter<D>>>,
    tail: Option<NonNull<Waiter<D>>>,
    len: usize,
}

// SAFETY: the list holds addresses of nodes that are `Send` (`D: Send`), and
// sole use of their links; a thread it moves to may claim and unlink them.
unsafe impl<D: Send> Send for WaitList<D> {}

impl<D> Default for WaitList<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D> WaitList<D> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        WaitList {
            head: None,
            tail: None,
            len: 0,
        }
    }

    /// Whether no node is linked (a node whose wait was decided elsewhere
    /// may still be linked until someone prunes it).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Links `node` at the back; a notifier that claims it wakes `signal`,
    /// reporting `case`.
    ///
    /// # Safety
    ///
    /// 1. `node` and `signal` stay alive and in place until the node is
    ///    unlinked (by [`remove`](Self::remove), a notify, or a prune),
    ///    which the owner observes under this list's lock or through
    ///    `signal` reporting `Woken(case)`.
    /// 2. `node` is not linked in any list.
    /// 3. `signal` holds a waker (every claimed node is woken).
    pub(crate) unsafe fn push_back(&mut self, node: Pin<&Waiter<D>>, signal: &Signal, case: u32) {
        let node = NonNull::from(node.get_ref());
        // SAFETY: the node is alive (rule 1) and not linked (rule 2), so no
        // list touches its links; we hold the only access to this list.
        unsafe {
            let links = &mut *node.as_ref().links.get();
            debug_assert!(!links.linked, "a waiter node was linked twice");
            *links = Links {
                prev: self.tail,
                next: None,
                linked: true,
                signal,
                case,
            };
            match self.tail {
                Some(tail) => (*tail.as_ref().links.get()).next = Some(node),
                None => self.head = Some(node),
            }
        }
        self.tail = Some(node);
        self.len += 1;
    }

    /// Unlinks `node` if it is in this list (the owner giving up its wait).
    /// Returns whether it was.
    ///
    /// A node is in at most one list, and every list it could be in is
    /// known to its owner, so "linked" here means "linked in this list"
    /// as long as the caller passes the list the node was pushed onto.
    pub(crate) fn remove(&mut self, node: &Waiter<D>) -> bool {
        let node = NonNull::from(node);
        // SAFETY: reading the node's links under this list's lock; the node
        // is alive (the caller holds it).
        let linked = unsafe { (*node.as_ref().links.get()).linked };
        if linked {
            // SAFETY: linked, and per the doc above linked here.
            unsafe { self.unlink(node) };
        }
        linked
    }

    /// Wakes the first waiter whose wait is still undecided, after letting
    /// `deliver` put something into its data, and returns its waker (call
    /// it after releasing the lock). `None` if no waiter could be woken;
    /// `deliver` is then not called. Decided (stale) nodes met on the way
    /// are unlinked.
    #[inline(always)]
    pub(crate) fn notify_one(&mut self, deliver: impl FnOnce(&D)) -> Option<Waker> {
        self.notify_one_if(|_| true, deliver)
    }

    /// Like [`notify_one`](Self::notify_one), but only if the first
    /// undecided waiter satisfies `eligible` (a semaphore waiter wanting no
    /// more permits than there are); otherwise wakes nobody.
    #[inline(always)]
    pub(crate) fn notify_one_if(
        &mut self,
        mut eligible: impl FnMut(&D) -> bool,
        deliver: impl FnOnce(&D),
    ) -> Option<Waker> {
        while let Some(node) = self.head {
            // SAFETY: every linked node is alive (`push_back` rule 1), and
            // its links are ours under the lock.
            let (signal, case) = unsafe {
                let links = &*node.as_ref().links.get();
                (&*links.signal, links.case)
            };
            if signal.outcome() != Outcome::Waiting {
                // Decided elsewhere (aborted, or another case of a select
                // won): prune it, so it hides nobody behind it.
                // SAFETY: linked at the head of this list.
                unsafe { self.unlink(node) };
                continue;
            }
            // SAFETY: alive, as above; `data` is shared under the signal
            // protocol, and the owner reads it only after `Woken`.
            let data = unsafe { &node.as_ref().data };
            if !eligible(data) {
                return None;
            }
            let claimed = signal.try_claim();
            // SAFETY: linked at the head of this list.
            unsafe { self.unlink(node) };
            if claimed {
                deliver(data);
                // SAFETY: claimed above and not finished; we hold the lock
                // and the node is unlinked; neither is touched after.
                return unsafe { signal.finish(case as usize) };
            }
        }
        None
    }

    /// Wakes up to one batch of waiters into `batch`; returns whether
    /// undecided waiters may remain (then release the lock, wake the batch,
    /// and call again).
    pub(crate) fn notify_all(&mut self, batch: &mut WakeBatch) -> bool {
        self.notify_all_if(|_| true, batch)
    }

    /// Like [`notify_all`](Self::notify_all), but stops at the first
    /// undecided waiter that does not satisfy `eligible` (one that
    /// registered after the change being announced, and so sits behind
    /// every waiter the change concerns).
    pub(crate) fn notify_all_if(
        &mut self,
        mut eligible: impl FnMut(&D) -> bool,
        batch: &mut WakeBatch,
    ) -> bool {
        while !batch.is_full() {
            let mut woke = false;
            let waker = self.notify_one_if(&mut eligible, |_| woke = true);
            if !woke {
                return false;
            }
            batch.push(waker);
        }
        self.head.is_some()
    }

    /// Unlinks `node` and marks it free.
    ///
    /// # Safety
    ///
    /// `node` is alive and linked in this list.
    unsafe fn unlink(&mut self, node: NonNull<Waiter<D>>) {
        // SAFETY: the node and its neighbours are linked here, hence alive;
        // their links are ours under the lock.
        unsafe {
            let links = &mut *node.as_ref().links.get();
            match links.prev {
                Some(prev) => (*prev.as_ref().links.get()).next = links.next,
                None => self.head = links.next,
            }
            match links.next {
                Some(next) => (*next.as_ref().links.get()).prev = links.prev,
                None => self.tail = links.prev,
            }
            links.prev = None;
            links.next = None;
            links.linked = false;
        }
        self.len -= 1;
    }
}

impl<D> fmt::Debug for WaitList<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList").field("len", &self.len).finish()
    }
}
