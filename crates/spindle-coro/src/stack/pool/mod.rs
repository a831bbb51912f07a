//! The stack pool: size classes, a per-thread cache, guard pages while the
//! mapping budget lasts and canary-checked stacks after that.
//!
//! Taking a stack first looks in the calling thread's cache (see
//! `thread_cache.rs`), then takes a batch of the stacks given back to the
//! class's slabs (guarded ones first, then the lowest: `slab.rs`), and
//! only then carves a new one from the class's newest slab.
//! Stacks are never returned to the system: a program that once needed N
//! stacks of a class is likely to need them again, and keeping them makes
//! taking one a few loads and stores, with no system call.
//!
//! # Slabs
//!
//! Every stack is carved from a slab: one mapping of [`SLAB_BYTES`] for
//! stacks of one class, registered with the overflow reporter as a whole
//! (`overflow::register_slab`), so the reporter keeps nothing per stack. A
//! *guarded* slab gives each stack a guard page below it, made when the
//! stack is carved (it splits the mapping: two mappings per stack, the
//! budget below); an *unguarded* slab has one guard page at its bottom, for
//! its lowest stack, and its other stacks are checked by a canary kept in
//! the top cache line of the stack below ([`CANARY_ROOM`]): a page that
//! stack touches anyway. So a stack costs exactly the pages its coroutine
//! touches: a parked one, one page.

mod slab;
mod thread_cache;

use super::{Stack, StackError, os};
use crate::overflow;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use slab::Slab;
use spindle_core::{CachePadded, SpinLock};

/// Log2 of the smallest class (16 KiB, [`MIN_STACK_SIZE`](super::MIN_STACK_SIZE)).
const MIN_SHIFT: u32 = 14;
/// Classes from 16 KiB to 64 MiB.
const CLASSES: usize = 13;
/// Stacks moved from the global list to a thread at once.
const BATCH: usize = 16;
/// Mappings left to the rest of the program when guarded stacks stop.
const MAPPINGS_KEPT_FREE: usize = 8192;
/// Bytes of address space per slab. On Unix the pages are committed
/// lazily (only those coroutines touch cost memory), so a slab is large and
/// the overflow reporter's table of slabs stays small; Windows commits a
/// mapping whole, so its slabs are smaller.
#[cfg(not(windows))]
const SLAB_BYTES: usize = 1 << 30;
#[cfg(windows)]
const SLAB_BYTES: usize = 32 << 20;
/// Bytes at the top of each slab stack kept for the canary of the stack
/// above it (an overflow runs into them first): the canary then lies on a
/// page the stack below touches anyway, not on the stack's own lowest
/// page, and a parked coroutine costs one page, not two. A whole cache
/// line: the stack below's coroutine writes its own top line on every
/// resume, and the stack above reads its canary on every suspend, often
/// on another core; sharing a line, they would take it from each other.
const CANARY_ROOM: usize = 64;

/// A pooled stack's memory: `[top - class size, top)`, where `top` is
/// `base` for a guarded stack and `base + CANARY_ROOM` for the others.
struct Raw {
    base: NonNull<u8>,
    kind: Kind,
}

/// Where a pooled stack lies in its slab, which decides how its overflow
/// is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// In a guarded slab: a guard page right below it.
    Guarded = 0,
    /// In an unguarded slab, above another stack, in whose `CANARY_ROOM`
    /// its canary lies.
    Slab = 1,
    /// The lowest stack of an unguarded slab: above the slab's guard page.
    SlabBottom = 2,
}

impl Kind {
    /// From the two low bits of a thread-cache entry.
    fn from_bits(bits: usize) -> Kind {
        match bits & 3 {
            0 => Kind::Guarded,
            1 => Kind::Slab,
            _ => Kind::SlabBottom,
        }
    }
}

// SAFETY: plain memory, owned by whoever holds the `Raw`.
unsafe impl Send for Raw {}

/// The process-wide pool of coroutine stacks.
///
/// Sizes are rounded up to a power of two from 16 KiB to 64 MiB. While the
/// process's mapping budget allows (on Linux, `vm.max_map_count` less 8192
/// mappings kept free for the rest of the program, two per stack), each
/// stack has its own guard page; past it, stacks have no guard page of
/// their own, and each coroutine on one checks a canary just below the
/// stack's limit on every switch. A stack costs only the pages its
/// coroutine touches.
///
/// # Examples
/// ```
/// use spindle_coro::{Stack, StackPool};
/// let stack = StackPool::global().take(100 * 1024)?;
/// assert_eq!(stack.size(), 128 * 1024);
/// drop(stack); // back to this thread's cache
/// let again = StackPool::global().take(128 * 1024)?; // no system call
/// # Ok::<(), spindle_coro::StackError>(())
/// ```
pub struct StackPool {
    /// Each on a line of its own: threads taking stacks of one class do
    /// not slow those of another.
    classes: [CachePadded<SpinLock<Class>>; CLASSES],
    guarded: AtomicUsize,
    unguarded: AtomicUsize,
}

/// One size class: its slabs, with the stacks given back to each.
struct Class {
    /// In address order.
    slabs: Vec<Slab>,
    /// The slab new stacks are carved from (an index into `slabs`).
    carving: Option<usize>,
}

impl Class {
    /// A stack given back, as [`take_free`](Self::take_free) picks them.
    fn pop_free(&mut self) -> Option<Raw> {
        self.take_free(1).pop()
    }

    /// Up to `n` stacks given back: those with a guard page first (their
    /// coroutines check no canary on their switches), then the others,
    /// lowest addresses first in each. In descending order, so a thread's
    /// cache, which hands out the stack it got last, takes them lowest
    /// first.
    fn take_free(&mut self, n: usize) -> Vec<Raw> {
        let mut batch = Vec::with_capacity(n);
        for guarded in [true, false] {
            for slab in &mut self.slabs {
                if batch.len() == n {
                    break;
                }
                if slab.guarded == guarded && slab.has_free() {
                    slab.take_lowest(n, &mut batch);
                }
            }
        }
        batch.reverse();
        batch
    }

    /// Takes back stacks carved from this class's slabs.
    fn give(&mut self, stacks: Vec<Raw>) {
        for raw in stacks {
            // A guarded stack's base is the end of its region: the slab
            // it belongs to starts below it (the next may start right there).
            let address = raw.base.as_ptr() as usize;
            let above = self
                .slabs
                .partition_point(|slab| (slab.start.as_ptr() as usize) < address);
            let given = above > 0 && self.slabs[above - 1].give(raw.base);
            debug_assert!(given, "a stack that is not the pool's was given back");
        }
    }

    /// Adds a new slab to carve from, in address order.
    fn add_slab(&mut self, slab: Slab) {
        // Room for the slabs of 64 GiB of stacks at once: the table does
        // not grow (nor touch a new page) while a program ramps up.
        const SLABS: usize = 64;
        if self.slabs.capacity() == 0 {
            self.slabs.reserve_exact(SLABS);
        }
        let at = self.slabs.partition_point(|other| other.start < slab.start);
        self.slabs.insert(at, slab);
        self.carving = Some(at);
    }
}

/// Counters of a [`StackPool`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Stacks ever carved with a guard page of their own.
    pub guarded: usize,
    /// Stacks ever carved without one (canary-checked, but for the lowest
    /// of each slab).
    pub unguarded: usize,
}

static GLOBAL: StackPool = StackPool {
    classes: [const {
        CachePadded::new(SpinLock::new(Class {
            slabs: Vec::new(),
            carving: None,
        }))
    }; CLASSES],
    guarded: AtomicUsize::new(0),
    unguarded: AtomicUsize::new(0),
};

impl StackPool {
    /// The process-wide pool.
    pub fn global() -> &'static StackPool {
        &GLOBAL
    }

    /// Takes a stack of at least `size` bytes.
    ///
    /// # Errors
    /// [`StackError`] if `size` is outside 16 KiB to 64 MiB or the system
    /// refuses the memory.
    #[inline]
    pub fn take(&'static self, size: usize) -> Result<PooledStack, StackError> {
        self.take_looking_ahead(size, 0).map(|(stack, _)| stack)
    }

    /// [`take`](Self::take), and what [`upcoming(size, ahead)`](Self::upcoming)
    /// would tell once the stack is taken, if that stack is cold (it came
    /// from the stacks other threads gave back, not from this thread's own
    /// recent returns): a hint worth prefetching. In one thread-local
    /// access.
    ///
    /// # Errors
    /// As [`take`](Self::take).
    #[inline]
    pub fn take_looking_ahead(
        &'static self,
        size: usize,
        ahead: usize,
    ) -> Result<(PooledStack, Option<NonNull<u8>>), StackError> {
        let class = class_of(size)?;
        let (raw, upcoming) = match thread_cache::pop(class, ahead) {
            Some(taken) => taken,
            None => {
                let raw = self.take_slow(class)?;
                let upcoming = (ahead > 0)
                    .then(|| thread_cache::upcoming(class, ahead))
                    .flatten();
                (raw, upcoming)
            }
        };
        let stack = PooledStack {
            base: raw.base,
            class: class as u8,
            kind: raw.kind,
        };
        Ok((stack, upcoming))
    }

    /// The base of the stack that this thread's `n`-th
    /// [`take`](Self::take) of `size` from now (1: the next) will return,
    /// if this thread has that many cached and gives none back meanwhile: a
    /// hint, to prefetch what a later coroutine will touch (see
    /// [`colour_of`]). `None` if it cannot tell.
    #[inline]
    pub fn upcoming(&self, size: usize, n: usize) -> Option<NonNull<u8>> {
        thread_cache::upcoming(class_of(size).ok()?, n)
    }

    /// Refills this thread's list from the global one, or carves a new
    /// stack. Never inlined: it reaches thread-locals (see `thread_cache`).
    #[cold]
    #[inline(never)]
    fn take_slow(&self, class: usize) -> Result<Raw, StackError> {
        // A thread that runs coroutines needs an alternate signal stack
        // for the overflow report, and the process the fault handler;
        // every thread passes here before its first pooled stack.
        crate::overflow::ensure_handler();
        if !thread_cache::register() {
            // The thread is exiting: no cache, straight to the global list.
            let mut global = self.classes[class].lock();
            return match global.pop_free() {
                Some(raw) => Ok(raw),
                None => self.carve(class, &mut global),
            };
        }
        let batch = {
            let mut global = self.classes[class].lock();
            let batch = global.take_free(BATCH);
            if batch.is_empty() {
                // Carved one at a time: a carved stack is untouched memory
                // until its coroutine runs, and stays so until then.
                return self.carve(class, &mut global);
            }
            batch
        };
        self.keep(class, batch);
        Ok(thread_cache::pop(class, 0)
            .expect("the batch was just cached")
            .0)
    }

    /// Caches `stacks` on this thread, or gives them to the global list.
    fn keep(&self, class: usize, stacks: Vec<Raw>) {
        let rest: Vec<Raw> = stacks
            .into_iter()
            .filter_map(|raw| thread_cache::push(class, raw, true).err())
            .collect();
        give_to_global(class, rest);
    }

    /// Counters since the process started.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            guarded: self.guarded.load(Relaxed),
            unguarded: self.unguarded.load(Relaxed),
        }
    }

    /// Carves a new stack from the class's slab, mapping a new slab when
    /// it is used up.
    fn carve(&self, class: usize, global: &mut Class) -> Result<Raw, StackError> {
        let size = class_size(class);
        let guard = os::guard_size();
        // A guarded region must start on a page for its guard to be made:
        // with pages larger than the class, the usable part grows to a page.
        let usable = guarded_usable(size);
        loop {
            if let Some(slab) = global.carving.map(|at| &mut global.slabs[at])
                && slab.has_room()
            {
                if !slab.guarded {
                    self.unguarded.fetch_add(1, Relaxed);
                    return Ok(slab.carve().expect("the slab has room"));
                }
                if self.guarded.load(Relaxed) >= guarded_budget() {
                    // The budget ran out in the middle of a guarded slab:
                    // its other regions stay unused address space.
                    slab.close();
                    global.carving = None;
                    continue;
                }
                // SAFETY: the region of the next stack, which nothing uses
                // yet.
                let region = unsafe { slab.start.add(slab.carved() * (guard + usable)) };
                // SAFETY: the region's lowest pages, page-aligned, unused.
                unsafe { os::protect_guard(region, guard)? };
                self.guarded.fetch_add(1, Relaxed);
                return Ok(slab.carve().expect("the slab has room"));
            }
            let slab = self.map_slab(size, usable, guard)?;
            global.add_slab(slab);
        }
    }

    /// Maps a slab for stacks of `size` (`usable` bytes above each guard
    /// when guarded) and registers it with the overflow reporter: guarded
    /// if the mapping budget still allows.
    fn map_slab(&self, size: usize, usable: usize, guard: usize) -> Result<Slab, StackError> {
        let guarded = self.guarded.load(Relaxed) < guarded_budget();
        let (count, len) = match guarded {
            true => {
                let count = (SLAB_BYTES / (guard + usable)).max(1);
                (count, count * (guard + usable))
            }
            false => {
                let count = (SLAB_BYTES / size).max(1);
                (count, guard + count * size)
            }
        };
        let start = os::map(len)?;
        if !guarded {
            // SAFETY: the first pages of the fresh mapping.
            if let Err(e) = unsafe { os::protect_guard(start, guard) } {
                // SAFETY: the whole fresh mapping, unused.
                unsafe { os::unmap(start, len) };
                return Err(e);
            }
        }
        let layout = overflow::SlabLayout {
            size: if guarded { usable } else { size },
            guard,
            every_stack: guarded,
            top_room: if guarded { 0 } else { CANARY_ROOM },
        };
        // A full table only leaves this slab's overflows unnamed.
        let _ = overflow::register_slab(start.as_ptr() as usize, len, layout);
        // Stack `i`'s base: the top of its region (above its guard), or
        // for an unguarded slab, `CANARY_ROOM` below the top of its share.
        let (first_base, stride) = match guarded {
            true => (guard + usable, guard + usable),
            false => (guard + size - CANARY_ROOM, size),
        };
        Ok(Slab::new(start, guarded, first_base, stride, count)
            .expect("a slab's geometry fits in 32 bits: SLAB_BYTES is 1 GiB at most"))
    }

    /// Returns a stack; the slow path when this thread's list refuses it.
    /// Never inlined: it reaches thread-locals (see `thread_cache`).
    #[cold]
    #[inline(never)]
    fn give_back_slow(&self, class: usize, raw: Raw) {
        let raw = match thread_cache::register() {
            true => match thread_cache::push(class, raw, false) {
                Ok(()) => return,
                Err(raw) => raw,
            },
            false => raw,
        };
        // Full: hand half of the list to the global one, keep this stack.
        let mut stacks = thread_cache::take_many(class, thread_cache::LIMIT / 2);
        stacks.push(raw);
        give_to_global(class, stacks);
    }
}

/// The colour of the pooled stack whose base is `base`: how far below its
/// top a coroutine on it should place what it touches on every switch, 0
/// to 31 cache lines. [`PooledStack::colour`] is the same for a stack at
/// hand; this is for one that [`StackPool::upcoming`] names.
///
/// Stacks are page-aligned, so without it every coroutine's hot lines
/// (a fiber's task, its first frames) would sit at the same offset in
/// their pages and compete for the same few sets of the caches: with a
/// thousand fibers taking turns, each turn missed the L1 and L2 caches.
/// Thirty-two colours spread them over half a page's worth of sets
/// (measured with callgrind's cache model of this machine's L1 and L2,
/// 1,000 fibers yielding in turn on one thread: about 6 L2 misses per
/// yield with 16 colours, 2 with 32, 1 with 64, the one left being the
/// stack's top line, which spindle-coro writes on every resume) and still
/// leave a parked fiber's task and frames on its stack's top page (64
/// colours did not: `idle_memory` grew from 4,096 to 4,800 bytes per
/// fiber).
pub fn colour_of(base: NonNull<u8>) -> usize {
    const COLOURS: usize = 32;
    const LINE: usize = 64;
    let page = base.as_ptr() as usize >> 12;
    // Fibonacci hashing: neighbouring stacks get unrelated colours.
    let hash = page.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    (hash >> (usize::BITS - COLOURS.trailing_zeros())) * LINE
}

fn give_to_global(class: usize, stacks: Vec<Raw>) {
    if !stacks.is_empty() {
        GLOBAL.classes[class].lock().give(stacks);
    }
}

/// The usable bytes of a guarded stack region of class `size`: the size,
/// rounded up to whole pages (only systems with pages larger than 16 KiB
/// round).
/// Every fiber spawn asks (`PooledStack::allocation_base`): a mask, not a
/// division, since page sizes are powers of two.
#[inline]
fn guarded_usable(size: usize) -> usize {
    let page = os::page_size();
    debug_assert!(page.is_power_of_two());
    (size + page - 1) & !(page - 1)
}

/// How many stacks may have a guard page of their own: two mappings each,
/// within the process's budget less what the rest of the program needs.
fn guarded_budget() -> usize {
    os::mapping_limit().saturating_sub(MAPPINGS_KEPT_FREE) / 2
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackPool")
            .field("stats", &self.stats())
            .finish()
    }
}

#[inline]
fn class_of(size: usize) -> Result<usize, StackError> {
    if size < super::MIN_STACK_SIZE {
        return Err(StackError::too_small(size));
    }
    if size > class_size(CLASSES - 1) {
        return Err(StackError::too_large(size));
    }
    Ok((size.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize)
}

#[inline]
fn class_size(class: usize) -> usize {
    1 << (MIN_SHIFT as usize + class)
}

/// A stack borrowed from the [`StackPool`]; it goes back when dropped.
pub struct PooledStack {
    base: NonNull<u8>,
    class: u8,
    kind: Kind,
}

// SAFETY: the pool handed us `[limit, base)` alone; a guarded stack (and
// the lowest of an unguarded slab) has a guard page right below that; any
// other stack's canary is in the `CANARY_ROOM` above the base of the stack
// below it, which nobody else uses.
unsafe impl Stack for PooledStack {
    #[inline]
    fn base(&self) -> NonNull<u8> {
        self.base
    }
    #[inline]
    fn limit(&self) -> NonNull<u8> {
        let below_base = match self.kind {
            Kind::Guarded => class_size(self.class.into()),
            Kind::Slab | Kind::SlabBottom => class_size(self.class.into()) - CANARY_ROOM,
        };
        // SAFETY: inside the stack's memory.
        unsafe { self.base.sub(below_base) }
    }
    #[inline]
    fn canary(&self) -> NonNull<u64> {
        match self.kind {
            // Unused: these stacks are guarded.
            Kind::Guarded | Kind::SlabBottom => self.limit().cast(),
            // SAFETY: the room kept for us above the base of the stack
            // below: mapped, ours.
            Kind::Slab => unsafe { self.limit().sub(CANARY_ROOM) }.cast(),
        }
    }
    #[inline]
    fn allocation_base(&self) -> NonNull<u8> {
        let below_base = match self.kind {
            Kind::Slab => return self.limit(),
            Kind::SlabBottom => class_size(self.class.into()) - CANARY_ROOM + os::guard_size(),
            Kind::Guarded => guarded_usable(class_size(self.class.into())) + os::guard_size(),
        };
        // SAFETY: the guard below the stack's region, in the same slab.
        unsafe { self.base.sub(below_base) }
    }
    #[inline]
    fn is_guarded(&self) -> bool {
        self.kind != Kind::Slab
    }
}

impl PooledStack {
    /// The usable size in bytes, `base - limit`: the size class, less 64
    /// bytes for a stack carved past the guard budget (they hold the
    /// canary of the stack above it).
    pub fn size(&self) -> usize {
        self.base.as_ptr() as usize - self.limit().as_ptr() as usize
    }

    /// How far below its top a coroutine on this stack should place what
    /// it touches on every switch: 0 to 1,984 bytes, a multiple of 64,
    /// fixed per stack (see [`colour_of`]). spindle-fiber shifts each fiber's
    /// task and frames by it; taking a stack from the pool prefetches the
    /// lines under it on the stack taken next.
    pub fn colour(&self) -> usize {
        colour_of(self.base)
    }
}

impl Drop for PooledStack {
    #[inline]
    fn drop(&mut self) {
        let (class, raw) = (
            self.class.into(),
            Raw {
                base: self.base,
                kind: self.kind,
            },
        );
        if let Err(raw) = thread_cache::push(class, raw, false) {
            GLOBAL.give_back_slow(class, raw);
        }
    }
}

impl fmt::Debug for PooledStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledStack")
            .field("base", &self.base)
            .field("size", &self.size())
            .field("kind", &self.kind)
            .finish()
    }
}

// SAFETY: plain memory that this handle owns alone.
unsafe impl Send for PooledStack {}
// SAFETY: shared references only read addresses.
unsafe impl Sync for PooledStack {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_classes() {
        assert_eq!(class_of(16 * 1024).unwrap(), 0);
        assert_eq!(class_of(16 * 1024 + 1).unwrap(), 1);
        assert_eq!(class_of(64 << 20).unwrap(), CLASSES - 1);
        assert!(class_of(1024).is_err());
        assert!(class_of((64 << 20) + 1).is_err());
        assert!(class_of(usize::MAX).is_err());
    }

    #[test]
    fn stacks_given_back_are_taken_guarded_first_then_lowest_first() {
        // Two made-up slabs (their memory is never touched): stack `i` of
        // the guarded one has its base at 0x11000 + i * 0x1000, of the
        // unguarded one at 0x200000 + i * 0x1000.
        let slab = |start: usize, guarded, first_base: usize| {
            let start_ptr = NonNull::new(start as *mut u8).unwrap();
            let mut slab = Slab::new(start_ptr, guarded, first_base - start, 0x1000, 8).unwrap();
            while slab.carve().is_some() {}
            slab
        };
        let mut class = Class {
            slabs: Vec::new(),
            carving: None,
        };
        class.add_slab(slab(0x1F_F000, false, 0x20_0000));
        class.add_slab(slab(0x1_0000, true, 0x1_1000));
        let base = |address: usize| NonNull::new(address as *mut u8).unwrap();
        let raw = |address: usize, kind| Raw {
            base: base(address),
            kind,
        };
        class.give(vec![
            raw(0x20_3000, Kind::Slab),
            raw(0x1_6000, Kind::Guarded),
            raw(0x20_1000, Kind::Slab),
            raw(0x1_3000, Kind::Guarded),
        ]);
        let taken: Vec<(usize, Kind)> = class
            .take_free(3)
            .iter()
            .map(|raw| (raw.base.as_ptr() as usize, raw.kind))
            .collect();
        // Handed out last first: the thread cache pops the lowest guarded.
        assert_eq!(
            taken,
            [
                (0x20_1000, Kind::Slab),
                (0x1_6000, Kind::Guarded),
                (0x1_3000, Kind::Guarded)
            ]
        );
        let last = class.pop_free().unwrap();
        assert_eq!((last.base, last.kind), (base(0x20_3000), Kind::Slab));
        assert!(class.pop_free().is_none());
        // The lowest stack of an unguarded slab sits on the slab's guard.
        class.give(vec![raw(0x20_0000, Kind::SlabBottom)]);
        assert_eq!(class.pop_free().unwrap().kind, Kind::SlabBottom);
        // A guarded stack's base ends its slab, where the next may start.
        class.add_slab(slab(0x1_8000, true, 0x1_9000));
        class.give(vec![raw(0x1_8000, Kind::Guarded)]);
        let top = class.pop_free().unwrap();
        assert_eq!(top.base, base(0x1_8000));
    }

    #[test]
    fn colours_are_whole_lines_within_two_kilobytes() {
        let stack = StackPool::global().take(16 * 1024).unwrap();
        assert_eq!(stack.colour() % 64, 0);
        assert!(stack.colour() < 2048);
        let colours: std::collections::HashSet<usize> = (1..65)
            .map(|page| colour_of(NonNull::new((page << 12) as *mut u8).unwrap()))
            .collect();
        assert!(
            colours.len() > 16,
            "neighbouring pages share colours: {colours:?}"
        );
    }

    #[test]
    fn a_returned_stack_is_taken_again_from_the_thread_cache() {
        let first = StackPool::global().take(32 * 1024).unwrap();
        let base = first.base();
        drop(first);
        let again = StackPool::global().take(32 * 1024).unwrap();
        assert_eq!(again.base(), base);
    }
}
