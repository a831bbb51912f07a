//! The guard pages of live stacks, readable from a fault handler.
//!
//! Two fixed tables. The pool's slabs, one entry per slab of stacks of
//! one size (its layout tells where each stack's guard is: no memory per
//! stack); and single guards, for stacks of their own mapping
//! (`DefaultStack`).
//!
//! Single guards are slots `(guard start, guard end, stack base)`.
//! Protocol, so that a handler interrupting any step reads a consistent
//! slot or skips it:
//! 1. register claims a free slot by CAS of `start` from 0, then stores
//!    `end` and last `base` (Release);
//! 2. a reader takes `base` (Acquire) first and ignores the slot if it is 0;
//! 3. unregister clears `base` first, then `end`, then frees `start`.
//!
//! A stack whose guard found no slot overflows with a plain SIGSEGV,
//! unreported.

use core::sync::atomic::{AtomicUsize, Ordering::*};

/// Single guards the table holds (`DefaultStack`s and the like; the pool's
/// stacks are registered by slab).
const CAPACITY: usize = 1 << 15;

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
    let single = SLOTS[..high].iter().find_map(|slot| {
        let base = slot.base.load(Acquire);
        let end = slot.end.load(Relaxed);
        let hit = base != 0 && slot.start.load(Relaxed) <= addr && addr < end;
        hit.then_some((base, end))
    });
    single.or_else(|| find_in_slab(addr))
}

/// How a slab lays out its stacks, for [`register_slab`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlabLayout {
    /// Usable bytes of each stack's region (its size class).
    pub(crate) size: usize,
    /// Bytes of each guard.
    pub(crate) guard: usize,
    /// Whether every stack has a guard right below it (a region is then
    /// `guard + size`); otherwise only the slab's lowest one does, and the
    /// regions are `size` apart above it.
    pub(crate) every_stack: bool,
    /// Bytes at the top of each region that are not the stack's (its base
    /// lies that far below the region's top).
    pub(crate) top_room: usize,
}

/// Slabs the table holds: at the pool's slab size, terabytes of stacks. A
/// slab that finds no slot still works; only an overflow on it goes
/// unreported (a plain SIGSEGV).
const SLAB_CAPACITY: usize = 1 << 13;

/// A slab's entry: three words, so that the hundred or so slabs of a
/// process holding a million stacks fit on the table's first page.
struct SlabSlot {
    start: AtomicUsize,
    /// One past the slab's last byte; written last, 0 while not ready.
    end: AtomicUsize,
    /// The [`SlabLayout`], packed by [`SlabLayout::pack`].
    layout: AtomicUsize,
}

/// The table, page-aligned: a program with few slabs touches one page.
#[repr(align(4096))]
struct SlabTable([SlabSlot; SLAB_CAPACITY]);

static SLABS: SlabTable = SlabTable(
    [const {
        SlabSlot {
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            layout: AtomicUsize::new(0),
        }
    }; SLAB_CAPACITY],
);
/// Slabs registered so far (slabs are never unmapped: no slot is freed).
static SLAB_COUNT: AtomicUsize = AtomicUsize::new(0);

impl SlabLayout {
    /// Into one word: guard and top room are under 2^24 bytes, the size
    /// under 2^32 (the pool's classes go to 64 MiB).
    fn pack(self) -> usize {
        debug_assert!(self.guard < 1 << 24 && self.top_room < 1 << 7 && self.size < 1 << 32);
        self.size << 32 | self.guard << 8 | self.top_room << 1 | usize::from(self.every_stack)
    }

    fn unpack(word: usize) -> SlabLayout {
        SlabLayout {
            size: word >> 32,
            guard: (word >> 8) & ((1 << 24) - 1),
            top_room: (word >> 1) & ((1 << 7) - 1),
            every_stack: word & 1 != 0,
        }
    }
}

/// Records the slab `[start, start + len)` and where its guards are.
/// Returns `false` if the table is full.
pub(crate) fn register_slab(start: usize, len: usize, layout: SlabLayout) -> bool {
    let i = SLAB_COUNT.fetch_add(1, Relaxed);
    let Some(slot) = SLABS.0.get(i) else {
        return false;
    };
    slot.start.store(start, Relaxed);
    slot.layout.store(layout.pack(), Relaxed);
    // Last: a reader that sees `end` sees the rest.
    slot.end.store(start + len, Release);
    true
}

/// [`find`] among the slabs.
fn find_in_slab(addr: usize) -> Option<(usize, usize)> {
    let count = SLAB_COUNT.load(Relaxed).min(SLAB_CAPACITY);
    let slot = SLABS.0[..count].iter().find(|slot| {
        let end = slot.end.load(Acquire);
        end != 0 && slot.start.load(Relaxed) <= addr && addr < end
    })?;
    let layout = SlabLayout::unpack(slot.layout.load(Relaxed));
    stack_of_guard(slot.start.load(Relaxed), layout, addr)
}

/// The (base, limit) of the stack of a slab at `start` whose guard holds
/// `addr`, if `addr` lies in a guard.
fn stack_of_guard(start: usize, layout: SlabLayout, addr: usize) -> Option<(usize, usize)> {
    let SlabLayout {
        size,
        guard,
        every_stack,
        top_room,
    } = layout;
    let offset = addr - start;
    let limit = if every_stack {
        let stride = guard + size;
        (offset % stride < guard).then(|| start + offset / stride * stride + guard)?
    } else {
        (offset < guard).then_some(start + guard)?
    };
    Some((limit + size - top_room, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slab_names_the_stack_of_each_guard() {
        let start = 0x7100_0000_0000;
        let guarded = SlabLayout {
            size: 0x4000,
            guard: 0x1000,
            every_stack: true,
            top_room: 0,
        };
        // Stack 2: guard [start + 0xA000, + 0x1000), usable above.
        let guard2 = start + 2 * 0x5000;
        assert_eq!(
            stack_of_guard(start, guarded, guard2 + 0x10),
            Some((guard2 + 0x1000 + 0x4000, guard2 + 0x1000))
        );
        assert_eq!(
            stack_of_guard(start, guarded, guard2 + 0x1000),
            None,
            "usable, not guard"
        );
        let unguarded = SlabLayout {
            every_stack: false,
            top_room: 16,
            ..guarded
        };
        assert_eq!(
            stack_of_guard(start, unguarded, start + 8),
            Some((start + 0x1000 + 0x4000 - 16, start + 0x1000))
        );
        assert_eq!(
            stack_of_guard(start, unguarded, start + 0x1000 + 0x4000 + 8),
            None
        );

        for layout in [guarded, unguarded] {
            assert_eq!(SlabLayout::unpack(layout.pack()), layout);
        }
        assert!(register_slab(start, 10 * 0x5000, guarded));
        assert_eq!(find(guard2 + 8), Some((guard2 + 0x5000, guard2 + 0x1000)));
        assert_eq!(find(start + 10 * 0x5000), None, "past the slab");
    }

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
