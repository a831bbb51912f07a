//! The select protocol over any set of cases (the waiting mechanism's
//! steps, with one signal shared by every case's node):
//!
//! 1. Try every case, in random order (or in order, when biased); the
//!    first that completes wins.
//! 2. Otherwise register a node on every case's channel, each under that
//!    channel's lock. A case found ready while registering aborts the
//!    signal and completes under the same lock, unless an earlier case
//!    woke the select first.
//! 3. Wait. A wake through case `k` unlinked `k`'s node; the others are
//!    unlinked by the select. A receive case woken with a message is
//!    done; a send case (told only that there is room) or a receive woken
//!    by a disconnection starts over at step 1.
//! 4. A select dropped while registered aborts its signal, unlinks its
//!    nodes, and if it had been woken gives the message back or passes
//!    the wake on (so a select, like every future here, loses nothing).

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::case::{Case, Registered, Registration};
use crate::wait::{Outcome, Signal};

/// The cases of one select, addressed by position.
pub(crate) trait CaseSet {
    fn len(&self) -> usize;
    fn case(&mut self, index: usize) -> &mut dyn Case;
}

impl CaseSet for [&mut dyn Case] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn case(&mut self, index: usize) -> &mut dyn Case {
        &mut *self[index]
    }
}

/// Waits for the first case of `cases` to complete and returns its index.
pub(crate) struct SelectFuture<'a, C: CaseSet + ?Sized> {
    cases: &'a mut C,
    /// The order of the next attempt: a permutation of the indices.
    order: &'a mut [usize],
    biased: bool,
    signal: Signal,
    /// Whether nodes are registered under `signal`.
    registered: bool,
    /// The waker the registered signal holds (the owner's copy, to tell
    /// whether a poll brings a new one).
    waker: Option<Waker>,
}

impl<'a, C: CaseSet + ?Sized> SelectFuture<'a, C> {
    /// `order` must have one slot per case.
    pub(crate) fn new(cases: &'a mut C, order: &'a mut [usize], biased: bool) -> Self {
        debug_assert_eq!(cases.len(), order.len());
        SelectFuture {
            cases,
            order,
            biased,
            signal: Signal::new(),
            registered: false,
            waker: None,
        }
    }

    /// Step 1: completes a ready case, if any, without registering.
    pub(crate) fn try_once(&mut self) -> Option<usize> {
        self.shuffle();
        let order = &*self.order;
        order
            .iter()
            .copied()
            .find(|&index| self.cases.case(index).try_now())
    }

    fn shuffle(&mut self) {
        for (position, slot) in self.order.iter_mut().enumerate() {
            *slot = position;
        }
        if !self.biased {
            // Fisher–Yates: every ready case is equally likely to be tried
            // first, whatever the pattern of ready cases.
            for i in (1..self.order.len()).rev() {
                let j = random_below(i + 1);
                self.order.swap(i, j);
            }
        }
    }

    /// Unlinks every node but `except`'s (unlinked by its wake).
    fn unregister_all(&mut self, except: Option<usize>) {
        for index in 0..self.cases.len() {
            if Some(index) != except {
                self.cases.case(index).unregister();
            }
        }
        self.registered = false;
        // SAFETY: no node is linked any more.
        unsafe { self.signal.reset() };
    }

    /// Step 2; `Some(index)` if a case completed meanwhile.
    fn register(&mut self, waker: &Waker) -> Option<usize> {
        // SAFETY: no node is linked, so nobody can claim the signal.
        unsafe { self.signal.set_waker(waker) };
        self.waker = Some(waker.clone());
        self.registered = true;
        for position in 0..self.order.len() {
            let index = self.order[position];
            let registration = Registration {
                signal: &self.signal,
                index: index as u32,
            };
            // SAFETY: `self` is pinned (cases are borrowed for `'a`, the
            // signal is a field), and every node is unlinked before the
            // future completes or is dropped (`unregister_all`, `Drop`).
            match unsafe { self.cases.case(index).register(&registration) } {
                Registered::Waiting => {}
                Registered::Done => {
                    self.unregister_all(Some(index));
                    return Some(index);
                }
                Registered::Retry => {
                    self.unregister_all(None);
                    return None;
                }
                Registered::Lost => return None,
            }
        }
        None
    }
}

impl<C: CaseSet + ?Sized> SelectFuture<'_, C> {
    /// Gives up waiting (a timeout). A case that completed as time ran
    /// out (a receive that was handed a message) still wins: its index is
    /// returned rather than the message given back.
    pub(crate) fn abort(self: Pin<&mut Self>) -> Option<usize> {
        // SAFETY: nothing is moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.registered {
            return None;
        }
        match this.signal.abort() {
            Outcome::Woken(index) => {
                this.unregister_all(Some(index));
                if this.cases.case(index).woken() {
                    Some(index)
                } else {
                    // Told only to try again: the next waiter may use it.
                    this.cases.case(index).abandon_woken();
                    None
                }
            }
            _ => {
                this.unregister_all(None);
                None
            }
        }
    }

    /// Completes with case `index`. Case `woken_to_retry` was woken only to
    /// try again (room, or a message in a ring, that another waiter may
    /// need): if another case completed instead, which may have been tried
    /// before it, its wake goes on.
    fn complete(&mut self, index: usize, woken_to_retry: Option<usize>) -> Poll<usize> {
        if let Some(woken) = woken_to_retry
            && woken != index
        {
            self.cases.case(woken).abandon_woken();
        }
        Poll::Ready(index)
    }
}

impl<C: CaseSet + ?Sized> Future for SelectFuture<'_, C> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        // SAFETY: the signal (and the borrowed cases) are never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        // A case woken only to try again: its wake goes on if another case
        // completes instead.
        let mut woken_to_retry = None;
        loop {
            if this.registered {
                match this.signal.outcome() {
                    Outcome::Waiting => {
                        if this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                            return Poll::Pending;
                        }
                        // A new waker: stop, and register afresh below.
                        if this.signal.abort() == Outcome::Aborted {
                            this.unregister_all(None);
                        }
                        continue;
                    }
                    Outcome::Woken(index) => {
                        this.unregister_all(Some(index));
                        if this.cases.case(index).woken() {
                            return Poll::Ready(index);
                        }
                        woken_to_retry = Some(index);
                    }
                    Outcome::Aborted => {
                        // Aborted by a case that then had to retry, or by a
                        // waker change: nodes may still be queued.
                        this.unregister_all(None);
                    }
                }
            }
            if let Some(index) = this.try_once() {
                return this.complete(index, woken_to_retry);
            }
            if let Some(index) = this.register(cx.waker()) {
                return this.complete(index, woken_to_retry);
            }
            if this.registered && this.signal.outcome() == Outcome::Waiting {
                return Poll::Pending;
            }
            // Decided while registering: handled at the top.
        }
    }
}

impl<C: CaseSet + ?Sized> Drop for SelectFuture<'_, C> {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        match self.signal.abort() {
            Outcome::Woken(index) => {
                self.unregister_all(Some(index));
                self.cases.case(index).abandon_woken();
            }
            _ => self.unregister_all(None),
        }
    }
}

/// A number below `bound`, from a per-thread xorshift generator.
fn random_below(bound: usize) -> usize {
    std::thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE
        .try_with(|state| {
            let mut x = state.get();
            if x == 0 {
                // Seeded from the cell's address and the time: distinct per
                // thread, never zero.
                let time = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                x = (state as *const Cell<u64> as u64) ^ time | 1;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state.set(x);
            (((x >> 32) * bound as u64) >> 32) as usize
        })
        .unwrap_or(0)
}
