//! [`Ring`]: a worker's bounded run queue. Its owner pushes at the tail
//! and pops at the head; other workers steal half of it at the head.
//!
//! The protocol (the "ring" section of `README.md` walks through it) is
//! Go's `runq`: two 32-bit indices that only grow, slots that are atomic
//! pointers, and one compare-and-swap on `head` for every removal:
//!
//! - `tail` is written only by the owner. A `Release` store of it
//!   publishes the slot written just before.
//! - `head` moves forward by a CAS, from the owner ([`pop`](Ring::pop),
//!   [`take_half`](Ring::take_half)) or a thief
//!   ([`steal_into`](Ring::steal_into)). Whoever wins the CAS owns the
//!   slots it moved past; a loser has only *read* slots, and drops what it
//!   read.
//! - Reading a slot that its owner may be overwriting is not a data race:
//!   slots are atomics. A value read that way is never used, because the
//!   CAS that would claim it fails (`head` moved past it first).
//!
//! The ring stores `NonNull<T>` and owns nothing: the pool stores task
//! nodes, the loom models store boxes of their own.

use super::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use core::fmt;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use spindle_core::CachePadded;

/// How many values a ring holds: 256, or 4 under loom so that the models
/// reach "full" in a few steps.
pub(crate) const CAPACITY: usize = if cfg!(loom) { 4 } else { 256 };

/// At most this many values leave in one [`Ring::take_half`].
pub(crate) const HALF: usize = CAPACITY / 2;

const MASK: usize = CAPACITY - 1;

// The indices wrap at 2^32; a power-of-two capacity divides that, so
// `index & MASK` stays continuous across the wrap.
const _: () = assert!(CAPACITY.is_power_of_two() && CAPACITY <= 1 << 16);

/// The outcome of [`Ring::steal_into`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Steal<T> {
    /// The victim's ring was empty.
    Empty,
    /// The first stolen value, and how many were stolen in all (the rest
    /// are in the thief's ring).
    Success(T, usize),
    /// Another thread changed the ring under us; trying again may succeed.
    Retry,
}

/// A bounded single-producer, multi-consumer ring of `NonNull<T>`.
pub(crate) struct Ring<T> {
    /// Index of the oldest value. Advanced by CAS, by the owner and thieves.
    head: CachePadded<AtomicU32>,
    /// Index of the next free slot. Written only by the owner.
    tail: CachePadded<AtomicU32>,
    /// `CAPACITY` slots; index `i` lives in `slots[i & MASK]`.
    slots: Box<[AtomicPtr<T>]>,
    /// The ring hands out `NonNull<T>`s it was given; it never touches a `T`.
    _values: PhantomData<NonNull<T>>,
}

// SAFETY: the ring only moves pointers between threads through atomics; it
// never dereferences them. Whoever pushes a pointer vouches (in the pool:
// `TaskRef`'s contract) that it may be used on the thread that takes it.
unsafe impl<T> Send for Ring<T> {}
// SAFETY: as above; every shared access goes through an atomic.
unsafe impl<T> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// An empty ring.
    pub(crate) fn new() -> Self {
        Ring {
            head: CachePadded::new(AtomicU32::new(0)),
            tail: CachePadded::new(AtomicU32::new(0)),
            slots: (0..CAPACITY)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            _values: PhantomData,
        }
    }

    /// An empty ring whose indices start at `index`: the loom models start
    /// just below the 2^32 wrap to check the arithmetic across it.
    #[cfg(loom)]
    #[allow(dead_code)]
    pub(crate) fn starting_at(index: u32) -> Self {
        let ring = Self::new();
        ring.head.store(index, Ordering::Relaxed);
        ring.tail.store(index, Ordering::Relaxed);
        ring
    }

    fn slot(&self, index: u32) -> &AtomicPtr<T> {
        &self.slots[index as usize & MASK]
    }

    /// How many values the ring holds, as seen from any thread: exact on
    /// the owner's thread between its own operations, a snapshot elsewhere.
    pub(crate) fn len(&self) -> usize {
        // `head` first: `tail` read afterwards is at least as new, so the
        // difference cannot go negative.
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        (tail.wrapping_sub(head) as usize).min(CAPACITY)
    }

    /// Whether the ring looks empty (see [`len`](Self::len)).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `value` at the tail. Returns whether the ring was empty before
    /// (the pool wakes a thief only then), or hands `value` back if the ring
    /// is full.
    ///
    /// # Safety
    /// Only the ring's owner thread calls `push`, `pop`, `take_half`, and
    /// `steal_into` with this ring as the destination.
    pub(crate) unsafe fn push(&self, value: NonNull<T>) -> Result<bool, NonNull<T>> {
        // Acquire: a thief's successful CAS released its reads of the slots
        // it claimed; we may overwrite them only after those reads.
        let head = self.head.load(Ordering::Acquire);
        // Only we write `tail`.
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.wrapping_sub(head) as usize >= CAPACITY {
            return Err(value);
        }
        self.slot(tail).store(value.as_ptr(), Ordering::Relaxed);
        // Release: publishes the slot to thieves that acquire `tail`.
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Ok(tail == head)
    }

    /// Removes the value at the head (the oldest one).
    ///
    /// # Safety
    /// Only the ring's owner thread calls it (see [`push`](Self::push)).
    pub(crate) unsafe fn pop(&self) -> Option<NonNull<T>> {
        let tail = self.tail.load(Ordering::Relaxed);
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head == tail {
                return None;
            }
            // We wrote this slot ourselves, before `tail` passed it.
            let value = self.slot(head).load(Ordering::Relaxed);
            // Relaxed is enough: only we overwrite slots, after our own
            // reads; a thief that read this slot fails its CAS.
            match self.head.compare_exchange_weak(
                head,
                head.wrapping_add(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    check_published(value);
                    // SAFETY: the slot at `head` was filled by `push` (or
                    // `steal_into`) from a `NonNull` before `tail` passed
                    // it, and no one refills it until `head` passes it: our
                    // CAS just did, after our read.
                    return Some(unsafe { NonNull::new_unchecked(value) });
                }
                Err(now) => head = now,
            }
        }
    }

    /// Claims the older half of the ring and hands it to `sink`, oldest
    /// first; returns how many values that was. Returns 0 if the ring holds
    /// fewer than 2 values or a thief moved the head meanwhile (then there
    /// is room for a [`push`](Self::push)).
    ///
    /// # Safety
    /// Only the ring's owner thread calls it (see [`push`](Self::push)).
    pub(crate) unsafe fn take_half(&self, mut sink: impl FnMut(NonNull<T>)) -> usize {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        let count = (tail.wrapping_sub(head) as usize / 2).min(HALF);
        if count == 0 {
            return 0;
        }
        // Claim first, read after: once `head` has moved past them, thieves
        // no longer use these slots, and only we (the owner) refill them,
        // later. So no buffer is needed, which matters: this runs inside
        // `submit`, possibly on a small fiber stack.
        if self
            .head
            .compare_exchange(
                head,
                head.wrapping_add(count as u32),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return 0;
        }
        for i in 0..count as u32 {
            let value = self.slot(head.wrapping_add(i)).load(Ordering::Relaxed);
            check_published(value);
            // SAFETY: as in `pop`, for each slot our CAS moved past.
            sink(unsafe { NonNull::new_unchecked(value) });
        }
        count
    }

    /// Steals the older half (rounded up) of this ring: returns the oldest
    /// stolen value and puts the others at the tail of `dst`, the thief's
    /// own ring, which must be empty.
    ///
    /// # Safety
    /// The calling thread owns `dst` (see [`push`](Self::push)), and `dst`
    /// is not `self`.
    pub(crate) unsafe fn steal_into(&self, dst: &Ring<T>) -> Steal<NonNull<T>> {
        debug_assert!(!ptr::eq(self, dst), "a ring cannot steal from itself");
        let dst_tail = dst.tail.load(Ordering::Relaxed);
        let dst_head = dst.head.load(Ordering::Acquire);
        // Room in `dst` for the values beyond the first; the pool only
        // steals into an empty ring, so this is `CAPACITY`.
        let room = CAPACITY - (dst_tail.wrapping_sub(dst_head) as usize).min(CAPACITY);

        let head = self.head.load(Ordering::Acquire);
        // Acquire: makes the slots the owner wrote before this `tail`
        // visible.
        let tail = self.tail.load(Ordering::Acquire);
        let len = tail.wrapping_sub(head) as usize;
        if len == 0 {
            return Steal::Empty;
        }
        if len > CAPACITY {
            // `head` was stale by the time `tail` was read: not a snapshot
            // of one moment.
            return Steal::Retry;
        }
        let count = (len - len / 2).min(room + 1);
        let first = self.slot(head).load(Ordering::Relaxed);
        for i in 1..count as u32 {
            let value = self.slot(head.wrapping_add(i)).load(Ordering::Relaxed);
            // Not yet published: `dst.tail` does not cover it.
            dst.slot(dst_tail.wrapping_add(i - 1))
                .store(value, Ordering::Relaxed);
        }
        // Release: our reads of the claimed slots happen before the owner,
        // acquiring `head` in `push`, overwrites them.
        match self.head.compare_exchange(
            head,
            head.wrapping_add(count as u32),
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                if count > 1 {
                    dst.tail
                        .store(dst_tail.wrapping_add(count as u32 - 1), Ordering::Release);
                }
                check_published(first);
                // SAFETY: as in `pop`: the owner filled the slot at `head`
                // from a `NonNull` before `tail` (acquired above) passed it,
                // and our CAS proves `head` had not passed it when we read.
                Steal::Success(unsafe { NonNull::new_unchecked(first) }, count)
            }
            Err(_) => Steal::Retry,
        }
    }
}

/// A slot read under a successful claim holds a pushed value, never the
/// null it started with: checked in debug builds and under loom (whose
/// models run in release), where a missing `Release`/`Acquire` pair would
/// show up as a null here rather than as a crash later.
#[inline(always)]
fn check_published<T>(value: *mut T) {
    if cfg!(any(debug_assertions, loom)) {
        assert!(!value.is_null(), "claimed a slot that was never published");
    }
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring").field("len", &self.len()).finish()
    }
}
