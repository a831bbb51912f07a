//! The stack pool: size classes, a per-thread cache, guard pages while the
//! mapping budget lasts and canary-checked slabs after that.
//!
//! Taking a stack first looks in the calling thread's cache (see
//! `thread_cache.rs`), then takes a batch from the class's global list,
//! and only then maps memory. Stacks
//! are never returned to the system: a program that once needed N stacks
//! of a class is likely to need them again, and keeping them makes taking
//! one a few loads and stores, with no system call.

mod thread_cache;

use super::{Stack, StackError, map_guarded, os};
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use spindle_core::SpinLock;

/// Log2 of the smallest class (16 KiB, [`MIN_STACK_SIZE`](super::MIN_STACK_SIZE)).
const MIN_SHIFT: u32 = 14;
/// Classes from 16 KiB to 64 MiB.
const CLASSES: usize = 13;
/// Stacks moved from the global list to a thread at once.
const BATCH: usize = 16;
/// Mappings left to the rest of the program when guarded stacks stop.
const MAPPINGS_KEPT_FREE: usize = 8192;
/// Guard-registry slots left to `DefaultStack`s and alternate signal stacks.
const GUARDS_KEPT_FREE: usize = 1024;
/// Bytes of address space per slab of unguarded stacks.
const SLAB_BYTES: usize = 4 << 20;
/// Bytes at the top of each slab stack kept for the canary of the stack
/// above it (an overflow runs into them first): the canary then lies on a
/// page the stack below touches anyway, not on the stack's own lowest
/// page, and a parked coroutine costs one page, not two.
const CANARY_ROOM: usize = 16;

/// A pooled stack's memory: `[top - class size, top)`, where `top` is
/// `base` for a guarded stack and `base + CANARY_ROOM` for a slab stack.
struct Raw {
    base: NonNull<u8>,
    kind: Kind,
}

/// Where a pooled stack comes from, which decides where its overflow is
/// caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// A mapping of its own with a guard page below.
    Guarded = 0,
    /// A slab stack with a slab stack below it, whose `CANARY_ROOM` holds
    /// its canary.
    Slab = 1,
    /// The lowest stack of a slab: its canary is in the slab's first
    /// page, which nobody writes, and expected to stay zero.
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
/// stack has its own guard page; past it, stacks are carved from 4 MiB
/// slabs without guard pages, and each coroutine on one checks a canary at
/// the stack's limit on every switch.
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
    classes: [SpinLock<Vec<Raw>>; CLASSES],
    guarded: AtomicUsize,
    unguarded: AtomicUsize,
}

/// Counters of a [`StackPool`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Stacks ever mapped with their own guard page.
    pub guarded: usize,
    /// Stacks ever carved from slabs, without guard pages.
    pub unguarded: usize,
}

static GLOBAL: StackPool = StackPool {
    classes: [const { SpinLock::new(Vec::new()) }; CLASSES],
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
        let class = class_of(size)?;
        let raw = match thread_cache::pop(class) {
            Some(raw) => raw,
            None => self.take_slow(class)?,
        };
        Ok(PooledStack {
            base: raw.base,
            class: class as u8,
            kind: raw.kind,
        })
    }

    /// Refills this thread's list from the global one, or maps memory.
    #[cold]
    fn take_slow(&self, class: usize) -> Result<Raw, StackError> {
        // A thread that runs coroutines needs an alternate signal stack
        // for the overflow report; every thread passes here before its
        // first pooled stack.
        crate::overflow::ensure_handler();
        if !thread_cache::register() {
            // The thread is exiting: no cache, straight to the global list.
            return match self.classes[class].lock().pop() {
                Some(raw) => Ok(raw),
                None => self.take_fresh(class, |spare| give_to_global(class, spare)),
            };
        }
        let batch = {
            let mut global = self.classes[class].lock();
            let from = global.len().saturating_sub(BATCH);
            global.split_off(from)
        };
        match batch.len() {
            0 => self.take_fresh(class, |spare| self.keep(class, spare)),
            _ => {
                self.keep(class, batch);
                Ok(thread_cache::pop(class).expect("the batch was just cached"))
            }
        }
    }

    /// Caches `stacks` on this thread, or gives them to the global list.
    fn keep(&self, class: usize, stacks: Vec<Raw>) {
        let rest: Vec<Raw> = stacks
            .into_iter()
            .filter_map(|raw| thread_cache::push(class, raw).err())
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

    /// Maps a new stack; slab siblings of it go to `spare`.
    fn take_fresh(&self, class: usize, spare: impl FnOnce(Vec<Raw>)) -> Result<Raw, StackError> {
        let size = class_size(class);
        let budget = os::mapping_limit().saturating_sub(MAPPINGS_KEPT_FREE) / 2;
        let limit = budget.min(crate::overflow::GUARD_CAPACITY - GUARDS_KEPT_FREE);
        if self.guarded.load(Relaxed) < limit {
            let (mapping, len) = map_guarded(size)?;
            self.guarded.fetch_add(1, Relaxed);
            // SAFETY: the end of the mapping we just made.
            let base = unsafe { mapping.add(len) };
            return Ok(Raw {
                base,
                kind: Kind::Guarded,
            });
        }
        let count = (SLAB_BYTES / size).max(1);
        // One page below the stacks, for the lowest one's canary: never
        // written (so never resident), it must read zero.
        let page = os::page_size();
        let slab = os::map(page + count * size)?;
        self.unguarded.fetch_add(count, Relaxed);
        let base_of = |i: usize| {
            // SAFETY: `page + i * size - CANARY_ROOM` lies in the slab.
            unsafe { slab.add(page + i * size - CANARY_ROOM) }
        };
        let mut stacks: Vec<Raw> = (1..=count)
            .map(|i| Raw {
                base: base_of(i),
                kind: if i == 1 { Kind::SlabBottom } else { Kind::Slab },
            })
            .collect();
        // Hand out the top stack first: its neighbour below is another
        // stack of the slab, so a small overflow lands in pool memory.
        let first = stacks.pop().expect("a slab holds at least one stack");
        spare(stacks);
        Ok(first)
    }

    /// Returns a stack; the slow path when this thread's list refuses it.
    #[cold]
    fn give_back_slow(&self, class: usize, raw: Raw) {
        let raw = match thread_cache::register() {
            true => match thread_cache::push(class, raw) {
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

fn give_to_global(class: usize, mut stacks: Vec<Raw>) {
    if !stacks.is_empty() {
        GLOBAL.classes[class].lock().append(&mut stacks);
    }
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

// SAFETY: the pool handed us `[limit, base)` alone; a guarded stack's
// mapping has its guard page right below that; a slab stack's canary is
// in the `CANARY_ROOM` above the base of the stack below it (or in the
// slab's bottom page), which nobody else uses.
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
            Kind::Guarded => self.limit().cast(),
            // SAFETY: the room kept for us above the base of the stack
            // below (or in the slab's first page): mapped, ours.
            Kind::Slab | Kind::SlabBottom => unsafe { self.limit().sub(CANARY_ROOM) }.cast(),
        }
    }
    #[inline]
    fn canary_is_zeroed(&self) -> bool {
        self.kind == Kind::SlabBottom
    }
    #[inline]
    fn allocation_base(&self) -> NonNull<u8> {
        if self.kind != Kind::Guarded {
            return self.limit();
        }
        // `map_guarded` rounds the usable part up to whole pages.
        let usable = class_size(self.class.into()).next_multiple_of(os::page_size());
        // SAFETY: the start of the stack's mapping, guard included.
        unsafe { self.base.sub(usable + os::guard_size()) }
    }
    #[inline]
    fn is_guarded(&self) -> bool {
        self.kind == Kind::Guarded
    }
}

impl PooledStack {
    /// The usable size in bytes, `base - limit`: the size class, less 16
    /// bytes for a stack without a guard page (they hold the canary of
    /// the stack above it).
    pub fn size(&self) -> usize {
        self.base.as_ptr() as usize - self.limit().as_ptr() as usize
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
        if let Err(raw) = thread_cache::push(class, raw) {
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
    fn a_returned_stack_is_taken_again_from_the_thread_cache() {
        let first = StackPool::global().take(32 * 1024).unwrap();
        let base = first.base();
        drop(first);
        let again = StackPool::global().take(32 * 1024).unwrap();
        assert_eq!(again.base(), base);
    }
}
