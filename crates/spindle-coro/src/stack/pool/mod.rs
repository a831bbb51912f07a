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

/// A pooled stack's memory: usable `[base - class size, base)`.
struct Raw {
    base: NonNull<u8>,
    guarded: bool,
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
            guarded: raw.guarded,
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
                guarded: true,
            });
        }
        let count = (SLAB_BYTES / size).max(1);
        let slab = os::map(count * size)?;
        self.unguarded.fetch_add(count, Relaxed);
        let top_of = |i: usize| {
            // SAFETY: `i * size` is at most the length of the slab.
            unsafe { slab.add(i * size) }
        };
        let mut stacks: Vec<Raw> = (1..=count)
            .map(|i| Raw {
                base: top_of(i),
                guarded: false,
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
    guarded: bool,
}

// SAFETY: the pool handed us `[base - class size, base)` alone; a guarded
// stack's mapping has its guard page right below that.
unsafe impl Stack for PooledStack {
    #[inline]
    fn base(&self) -> NonNull<u8> {
        self.base
    }
    #[inline]
    fn limit(&self) -> NonNull<u8> {
        // SAFETY: inside the stack's memory.
        unsafe { self.base.sub(class_size(self.class.into())) }
    }
    #[inline]
    fn allocation_base(&self) -> NonNull<u8> {
        if !self.guarded {
            return self.limit();
        }
        // `map_guarded` rounds the usable part up to whole pages.
        let usable = class_size(self.class.into()).next_multiple_of(os::page_size());
        // SAFETY: the start of the stack's mapping, guard included.
        unsafe { self.base.sub(usable + os::guard_size()) }
    }
    #[inline]
    fn is_guarded(&self) -> bool {
        self.guarded
    }
}

impl PooledStack {
    /// The usable size in bytes (the size class): `base - limit`.
    pub fn size(&self) -> usize {
        class_size(self.class.into())
    }
}

impl Drop for PooledStack {
    #[inline]
    fn drop(&mut self) {
        let (class, raw) = (
            self.class.into(),
            Raw {
                base: self.base,
                guarded: self.guarded,
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
            .field("guarded", &self.guarded)
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
