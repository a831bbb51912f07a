//! The guard pages of live stacks, readable from a fault handler.
//!
//! A fixed table of slots, each `(guard start, guard end, stack base)`.
//! Protocol, so that a handler interrupting any step reads a consistent
//! slot or skips it:
//! 1. register claims a free slot by CAS of `start` from 0, then stores
//!    `end` and last `base` (Release);
//! 2. a reader takes `base` (Acquire) first and ignores the slot if it is 0;
//! 3. unregister clears `base` first, then `end`, then frees `start`.
//!
//! A stack whose guard found no slot (only possible for `DefaultStack`s
//! beyond the pool's limit) overflows with a plain SIGSEGV, unreported.

use core::sync::atomic::{AtomicUsize, Ordering::*};

/// Guards the table holds; the pool stops making guarded stacks before it
/// fills up.
pub(crate) const CAPACITY: usize = 1 << 15;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    base: AtomicUsize,
}

static SLOTS: [Slot; CAPACITY] = [const {
    Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        base: AtomicUsize::new(0),
    }
}; CAPACITY];
/// One past the highest slot ever used: readers scan below it.
static HIGH: AtomicUsize = AtomicUsize::new(0);
/// Where the next registration starts looking.
static HINT: AtomicUsize = AtomicUsize::new(0);

/// Records the guard `[start, start + len)` of the stack whose top is `base`.
pub(crate) fn register_guard(start: usize, len: usize, base: usize) {
    let hint = HINT.load(Relaxed);
    for i in (hint..CAPACITY).chain(0..hint) {
        let slot = &SLOTS[i];
        if slot
            .start
            .compare_exchange(0, start, Acquire, Relaxed)
            .is_ok()
        {
            slot.end.store(start + len, Relaxed);
            slot.base.store(base, Release);
            HIGH.fetch_max(i + 1, Release);
            HINT.store(i + 1, Relaxed);
            return;
        }
    }
}

/// Forgets the guard that starts at `start`.
pub(crate) fn unregister_guard(start: usize) {
    let high = HIGH.load(Acquire);
    if let Some(i) = (0..high).find(|&i| SLOTS[i].start.load(Relaxed) == start) {
        let slot = &SLOTS[i];
        slot.base.store(0, Release);
        slot.end.store(0, Relaxed);
        slot.start.store(0, Release);
        HINT.fetch_min(i, Relaxed);
    }
}

/// The base and limit (the guard's end) of the stack whose guard contains
/// `addr`, if any. Lock-free and allocation-free: safe in a signal handler.
pub(crate) fn find(addr: usize) -> Option<(usize, usize)> {
    let high = HIGH.load(Acquire);
    SLOTS[..high].iter().find_map(|slot| {
        let base = slot.base.load(Acquire);
        let end = slot.end.load(Relaxed);
        let hit = base != 0 && slot.start.load(Relaxed) <= addr && addr < end;
        hit.then_some((base, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_guards_are_found_until_unregistered() {
        let (start, base) = (0x7000_0000_0000, 0x7000_0001_1000);
        register_guard(start, 4096, base);
        assert_eq!(find(start), Some((base, start + 4096)));
        assert_eq!(find(start + 4095), Some((base, start + 4096)));
        assert_eq!(find(start + 4096), None);
        assert_eq!(find(start - 1), None);
        unregister_guard(start);
        assert_eq!(find(start), None);
    }
}
