//! A bounded lock-free MPMC queue: the buffer of a `bounded(n)` channel,
//! which senders and receivers use without the channel's lock while
//! nobody waits.
//!
//! An array of slots, each with a stamp, and two positions, `head` and
//! `tail`, each on a cache line of its own. A position packs a lap count
//! (high bits) and a slot index (the low bits, below `lap`, the capacity
//! rounded up past a power of two), so moving on needs no division. A
//! slot's stamp says what the slot waits for:
//!
//! - `stamp == p`: empty, ready for the message at position `p`;
//! - `stamp == p + 1`: holds the message at position `p`;
//!
//! A sender claims position `tail` by moving `tail` on (compare-exchange),
//! writes the message, then sets the stamp to `tail + 1`. A receiver
//! claims `head` the same way, reads the message, then sets the stamp to
//! `head + lap`: empty for the same slot one lap later.
//!
//! A slot claimed but not yet stamped reads as empty (to receivers) or
//! full (to senders), and so hides the slots behind it: the operation in
//! flight finishes on its own, and the channel's waiting protocol (see
//! `chan.rs`) has whoever stamps it look for waiters after a `SeqCst`
//! fence and wake a waiter, whose wake goes on along the line.

use core::mem::MaybeUninit;

use spindle_core::CachePadded;

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::cell::UnsafeCell;
use crate::loom::hint;

struct Slot<T> {
    stamp: AtomicUsize,
    message: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    /// One lap in position units: a power of two above the capacity.
    lap: usize,
}

// SAFETY: a message is written by the one sender that claimed its position
// and read by the one receiver that claimed it, in that order (the stamp's
// store/load order them); `T: Send` lets it cross threads.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`; shared access goes through the atomics.
unsafe impl<T: Send> Sync for Ring<T> {}

/// What a slot's stamp says about position `position`.
enum Seen {
    /// The slot is what the caller wants (empty for a send, full for a
    /// receive).
    Ready,
    /// The slot is not yet what the caller wants: the ring is full (send)
    /// or empty (receive), or an operation is still in flight there.
    NotYet,
    /// `position` is stale: another thread moved on; read it again.
    Stale,
}

impl<T> Ring<T> {
    /// A ring of `capacity` slots.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or so large the positions could not hold a lap.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a ring needs at least one slot");
        let lap = (capacity + 1)
            .checked_next_power_of_two()
            .expect("channel capacity too large");
        let slots = (0..capacity)
            .map(|index| Slot {
                stamp: AtomicUsize::new(index),
                message: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            lap,
        }
    }

    /// The position after `position`.
    #[inline]
    fn next(&self, position: usize) -> usize {
        let index = position & (self.lap - 1);
        if index + 1 < self.slots.len() {
            position + 1
        } else {
            // Index 0 of the next lap.
            (position & !(self.lap - 1)).wrapping_add(self.lap)
        }
    }

    #[inline]
    fn slot(&self, position: usize) -> &Slot<T> {
        // The index bits are always below the capacity (`next`).
        &self.slots[position & (self.lap - 1)]
    }

    /// Compares a stamp with the one the caller wants (`want`).
    #[inline]
    fn see(stamp: usize, want: usize) -> Seen {
        if stamp == want {
            Seen::Ready
        } else if (stamp.wrapping_sub(want) as isize) < 0 {
            Seen::NotYet
        } else {
            Seen::Stale
        }
    }

    /// Appends `message`, or hands it back if the ring is full (or the
    /// slot it needs is still being read).
    #[inline(never)]
    pub(crate) fn push(&self, message: T) -> Result<(), T> {
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(tail);
            // `Acquire`: pairs with the receiver's stamp, so its read of the
            // slot's old message is done.
            match Self::see(slot.stamp.load(Ordering::Acquire), tail) {
                Seen::Ready => {
                    match self.tail.compare_exchange_weak(
                        tail,
                        self.next(tail),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            // SAFETY: claiming `tail` gave this thread the
                            // slot until it stamps it: no receiver reads it
                            // before the stamp, no sender claims it again
                            // before a receiver stamps it a lap later.
                            slot.message.with_mut(|cell| unsafe {
                                (*cell).write(message);
                            });
                            // `Release`: publishes the message.
                            slot.stamp.store(tail + 1, Ordering::Release);
                            return Ok(());
                        }
                        Err(now) => tail = now,
                    }
                }
                Seen::NotYet => return Err(message),
                Seen::Stale => {
                    hint::spin_loop();
                    tail = self.tail.load(Ordering::Relaxed);
                }
            }
        }
    }

    /// Takes the oldest message, or `None` if the ring is empty (or the
    /// oldest is still being written).
    #[inline(never)]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            // `Acquire`: pairs with the sender's stamp, so its message is
            // visible.
            match Self::see(slot.stamp.load(Ordering::Acquire), head + 1) {
                Seen::Ready => {
                    match self.head.compare_exchange_weak(
                        head,
                        self.next(head),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            // SAFETY: the stamp said the slot holds the
                            // message at `head`, and claiming `head` gave
                            // this thread the slot until it stamps it.
                            let message = slot
                                .message
                                .with_mut(|cell| unsafe { (*cell).assume_init_read() });
                            // `Release`: the read is done before the slot
                            // is reused.
                            slot.stamp
                                .store(head.wrapping_add(self.lap), Ordering::Release);
                            return Some(message);
                        }
                        Err(now) => head = now,
                    }
                }
                Seen::NotYet => return None,
                Seen::Stale => {
                    hint::spin_loop();
                    head = self.head.load(Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether a `pop` now would find nothing (also while the oldest
    /// message is still being written).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.not_yet_stamped(&self.head, 1)
    }

    /// Whether `head` has caught up with `tail` as this thread sees them:
    /// in particular, every message this thread pushed has been claimed by
    /// a receiver (its own push is visible to it). The two loads are not
    /// ordered with each other, so it says nothing exact about other
    /// threads' pushes.
    #[inline]
    pub(crate) fn is_drained(&self) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        self.tail.load(Ordering::Relaxed) == head
    }

    /// Whether a `push` now would find no room (also while the slot it
    /// needs is still being read).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.not_yet_stamped(&self.tail, 0)
    }

    /// Whether the slot at `position`'s current value is not yet stamped
    /// `position + offset`.
    #[inline]
    fn not_yet_stamped(&self, position: &AtomicUsize, offset: usize) -> bool {
        loop {
            let at = position.load(Ordering::Relaxed);
            match Self::see(self.slot(at).stamp.load(Ordering::Acquire), at + offset) {
                Seen::Ready => return false,
                Seen::NotYet => return true,
                Seen::Stale => hint::spin_loop(),
            }
        }
    }

    /// How many messages are in the ring: exact when nothing runs
    /// concurrently, otherwise a value some moment could have had, never
    /// above the capacity.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::Relaxed);
            let head = self.head.load(Ordering::Relaxed);
            if self.tail.load(Ordering::Relaxed) == tail {
                let index = |position: usize| position & (self.lap - 1);
                let laps = |position: usize| position & !(self.lap - 1);
                // `head` and `tail` move by `Relaxed` compare-exchanges, so
                // the loads are not ordered with each other: `head` may be
                // seen past `tail`, or more than a lap behind it. Such a
                // pair is no snapshot: read again.
                if laps(tail) == laps(head) && index(tail) >= index(head) {
                    return index(tail) - index(head);
                }
                if laps(tail) == laps(head).wrapping_add(self.lap) && index(tail) <= index(head) {
                    // `tail` is one lap ahead.
                    return self.slots.len() - index(head) + index(tail);
                }
                hint::spin_loop();
            }
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Ring;

    #[test]
    fn holds_exactly_its_capacity_in_order_across_laps() {
        for capacity in [1, 2, 3, 5, 8] {
            let ring = Ring::new(capacity);
            let mut next = 0;
            for lap in 0..4 {
                for offset in 0..capacity {
                    assert_eq!(ring.push(lap * 100 + offset), Ok(()));
                }
                assert_eq!(ring.push(999), Err(999), "capacity {capacity}");
                assert!(ring.is_full());
                assert_eq!(ring.len(), capacity);
                for offset in 0..capacity {
                    assert_eq!(ring.pop(), Some(lap * 100 + offset));
                    next += 1;
                }
                assert_eq!(ring.pop(), None);
                assert!(ring.is_empty());
                assert_eq!(ring.len(), 0);
            }
            assert_eq!(next, capacity * 4);
        }
    }

    #[test]
    fn len_counts_across_the_lap_boundary() {
        let ring = Ring::new(3);
        for message in 0..3 {
            ring.push(message).unwrap();
        }
        ring.pop().unwrap();
        ring.pop().unwrap();
        ring.push(3).unwrap();
        assert_eq!(ring.len(), 2);
        assert!(!ring.is_empty() && !ring.is_full());
    }

    /// Two senders and two receivers through a ring of 3 (many laps):
    /// every message arrives once, each sender's in order. Small enough
    /// for Miri, which checks the slots' accesses.
    #[test]
    fn concurrent_senders_and_receivers_lose_and_duplicate_nothing() {
        const EACH: u32 = if cfg!(miri) { 60 } else { 20_000 };
        let ring = Ring::new(3);
        let received: Vec<Vec<u32>> = std::thread::scope(|scope| {
            for sender in 0..2 {
                let ring = &ring;
                scope.spawn(move || {
                    for i in 0..EACH {
                        let mut message = sender << 16 | i;
                        while let Err(back) = ring.push(message) {
                            message = back;
                            std::thread::yield_now();
                        }
                    }
                });
            }
            let receivers: Vec<_> = (0..2)
                .map(|_| {
                    let ring = &ring;
                    scope.spawn(move || {
                        let mut got = Vec::new();
                        while got.len() < EACH as usize {
                            match ring.pop() {
                                Some(message) => got.push(message),
                                None => std::thread::yield_now(),
                            }
                        }
                        got
                    })
                })
                .collect();
            receivers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let mut all: Vec<u32> = received.iter().flatten().copied().collect();
        for got in &received {
            for sender in 0..2 {
                let theirs: Vec<u32> = got.iter().copied().filter(|m| m >> 16 == sender).collect();
                assert!(theirs.is_sorted(), "sender {sender}'s messages reordered");
            }
        }
        all.sort_unstable();
        let expected: Vec<u32> = (0..2)
            .flat_map(|s| (0..EACH).map(move |i| s << 16 | i))
            .collect();
        assert_eq!(all, expected);
        assert!(ring.is_empty() && ring.is_drained());
    }

    #[test]
    fn dropping_the_ring_drops_what_it_holds() {
        let counted = std::sync::Arc::new(());
        let ring = Ring::new(4);
        for _ in 0..3 {
            ring.push(std::sync::Arc::clone(&counted)).unwrap();
        }
        drop(ring.pop());
        drop(ring);
        assert_eq!(std::sync::Arc::strong_count(&counted), 1);
    }
}
