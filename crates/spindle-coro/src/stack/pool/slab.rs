//! A slab: one mapping carved into the stacks of one size class, and which
//! of them were given back.
//!
//! The stacks given back are kept as one bit each, so a class hands out
//! the free stacks with the lowest addresses first: a burst of spawns gets
//! neighbouring stacks, whose page-table entries share pages (the walks
//! that find them hit the page-walk caches), and a program that needs
//! fewer stacks than before keeps using the same low ones.
//!
//! A slab is 40 bytes until a stack is given back to it; only then does
//! it get its bits. A program that keeps every stack (a million parked
//! fibers) pays nothing more per stack than the stack's own pages.

use super::{Kind, Raw};
use core::ptr::NonNull;

/// One mapping of a class's stacks: stack `i` has its base at
/// `start + first_base + i * stride`.
pub(super) struct Slab {
    pub(super) start: NonNull<u8>,
    first_base: u32,
    stride: u32,
    /// Stacks carved so far (from the lowest).
    carved: u32,
    /// Stacks it may hold; lowered when the guard budget runs out in the
    /// middle of a guarded slab (the rest stays unused address space).
    count: u32,
    free: Option<Box<FreeStacks>>,
    pub(super) guarded: bool,
}

/// Which stacks of a slab were given back.
struct FreeStacks {
    /// Bit `i % 64` of word `i / 64`: stack `i` is free.
    bits: Box<[u64]>,
    count: usize,
    /// No word below this one has a bit set.
    first_word: usize,
}

// SAFETY: plain memory, owned by the pool.
unsafe impl Send for Slab {}

impl Slab {
    /// A slab at `start` with room for `count` stacks, the first with its
    /// base `first_base` bytes above `start`, each `stride` bytes above the
    /// one before. `None` if the geometry does not fit the slab's fields
    /// (no slab of [`SLAB_BYTES`](super::SLAB_BYTES) comes close).
    pub(super) fn new(
        start: NonNull<u8>,
        guarded: bool,
        first_base: usize,
        stride: usize,
        count: usize,
    ) -> Option<Slab> {
        Some(Slab {
            start,
            first_base: first_base.try_into().ok()?,
            stride: stride.try_into().ok()?,
            carved: 0,
            count: count.try_into().ok()?,
            free: None,
            guarded,
        })
    }

    /// Carves the next stack, if the slab has room left.
    pub(super) fn carve(&mut self) -> Option<Raw> {
        (self.carved < self.count).then(|| {
            self.carved += 1;
            self.stack(self.carved as usize - 1)
        })
    }

    /// The index of the stack [`carve`](Self::carve) returns next.
    pub(super) fn carved(&self) -> usize {
        self.carved as usize
    }

    /// Whether the slab has room for more stacks.
    pub(super) fn has_room(&self) -> bool {
        self.carved < self.count
    }

    /// Carves no more stacks from it.
    pub(super) fn close(&mut self) {
        self.count = self.carved;
    }

    /// Stack `i`, which the caller carved or found free.
    fn stack(&self, i: usize) -> Raw {
        let kind = match (self.guarded, i) {
            (true, _) => Kind::Guarded,
            (false, 0) => Kind::SlabBottom,
            (false, _) => Kind::Slab,
        };
        let offset = self.first_base as usize + i * self.stride as usize;
        // SAFETY: stack `i`'s base lies inside the slab's mapping.
        let base = unsafe { self.start.add(offset) };
        Raw { base, kind }
    }

    /// Whether stacks were given back to it and not taken again.
    pub(super) fn has_free(&self) -> bool {
        self.free.as_ref().is_some_and(|free| free.count > 0)
    }

    /// Marks free the stack whose base is `base`; false if it is not one of
    /// this slab's carved stacks.
    pub(super) fn give(&mut self, base: NonNull<u8>) -> bool {
        let offset = (base.as_ptr() as usize)
            .checked_sub(self.start.as_ptr() as usize + self.first_base as usize);
        let stride = self.stride as usize;
        let Some(i) = offset
            .filter(|offset| offset.is_multiple_of(stride))
            .map(|offset| offset / stride)
        else {
            return false;
        };
        if i >= self.carved as usize {
            return false;
        }
        let count = self.count as usize;
        let free = self.free.get_or_insert_with(|| {
            Box::new(FreeStacks {
                bits: vec![0; count.div_ceil(64)].into_boxed_slice(),
                count: 0,
                first_word: 0,
            })
        });
        let (word, bit) = (i / 64, 1 << (i % 64));
        debug_assert!(free.bits[word] & bit == 0, "a stack given back twice");
        free.bits[word] |= bit;
        free.count += 1;
        free.first_word = free.first_word.min(word);
        true
    }

    /// Takes free stacks, lowest first, into `out` until it holds `n`.
    pub(super) fn take_lowest(&mut self, n: usize, out: &mut Vec<Raw>) {
        let Some(mut free) = self.free.take() else {
            return;
        };
        while out.len() < n && free.count > 0 {
            let word = &mut free.bits[free.first_word];
            if *word == 0 {
                free.first_word += 1;
                continue;
            }
            let bit = word.trailing_zeros() as usize;
            *word &= *word - 1;
            free.count -= 1;
            out.push(self.stack(free.first_word * 64 + bit));
        }
        self.free = Some(free);
    }
}
