//! Per-thread caches of pooled stacks: a small array of entries per size
//! class, so taking or returning a stack touches none of its memory.
//!
//! A cached stack's memory may be cold (a fiber that ran long ago, on
//! another core): a list threaded through the free stacks cost a cache
//! miss and a page walk on every take and every return. An entry is a
//! stack's base address with its [`Kind`](super::Kind) in the two low bits
//! and [`COLD`] in the third (bases are 64-byte aligned). Stacks that came
//! from the global lists are cold; those this thread gave back are likely
//! still cached. Taking a stack prefetches the lines the next take's
//! coroutine will write if that stack is cold ([`prefetch_start`]), so a
//! burst of spawns does not wait on them one by one, and a thread that
//! reuses its own stacks pays nothing for it.
//!
//! The arrays live in one const-initialized, all-zero thread-local without
//! a destructor (a count is stored XOR [`UNREGISTERED`]), so the fast paths
//! are a few loads and stores with no lazy-initialization check. Stacks
//! must not be stranded when a thread exits:
//! 1. counts start at [`UNREGISTERED`], which refuses pushes as a full
//!    cache does, so a thread's first push (and its first take, which finds
//!    the cache empty) goes through the slow path; that registers a
//!    [`Drain`] guard (a thread-local with a destructor) and sets the counts
//!    to 0;
//! 2. the guard's destructor moves every cached stack to the global lists
//!    and closes the cache by setting every count to [`CLOSED`];
//! 3. a closed cache refuses pushes, so stacks freed later in the thread's
//!    teardown go to the global lists directly.
//!
//! So the one comparison `count >= LIMIT` on the push path covers a full
//! cache, an unregistered thread and an exiting one.

use super::{CLASSES, Kind, Raw};
use core::cell::Cell;
use core::ptr::NonNull;
use spindle_core::prefetch;

/// Stacks a thread keeps per class before handing half to the global list.
pub(super) const LIMIT: usize = 64;
/// A count no cache reaches: the cache of an exiting thread.
const CLOSED: usize = usize::MAX;
/// A count no cache reaches: a thread whose [`Drain`] is not registered.
const UNREGISTERED: usize = usize::MAX - 1;
/// An entry's mark: the stack came from the global lists (see the module
/// docs).
const COLD: usize = 4;
/// The bits of an entry that are not the base.
const MARKS: usize = 7;
/// Caches per thread: a power of two at least [`CLASSES`], so indexing
/// with `class & (SLOTS - 1)` needs no bounds check.
const SLOTS: usize = CLASSES.next_power_of_two();

/// One class's cache on this thread.
struct Cache {
    entries: [Cell<usize>; LIMIT],
    /// The count, stored XOR [`UNREGISTERED`]: zero means unregistered, so
    /// the whole thread-local is zero-initialized (see the module docs).
    count: Cell<usize>,
}

impl Cache {
    #[inline(always)]
    fn count(&self) -> usize {
        self.count.get() ^ UNREGISTERED
    }

    #[inline(always)]
    fn set_count(&self, count: usize) {
        self.count.set(count ^ UNREGISTERED);
    }
}

thread_local! {
    // About 8 KiB of thread-local address space, all zero: a new thread
    // copies none of it, and only the entries it uses cost memory.
    static CACHES: [Cache; SLOTS] = const {
        [const {
            Cache {
                entries: [const { Cell::new(0) }; LIMIT],
                count: Cell::new(0),
            }
        }; SLOTS]
    };
    static DRAIN: Drain = const { Drain };
}

/// Runs `f` on this thread's cache of `class`. Inlined into the
/// never-inlined functions below, which are the only ones to call it.
#[inline(always)]
fn with_cache<R>(class: usize, f: impl FnOnce(&Cache) -> R) -> R {
    // The address, then the work outside `with`'s closure: a closure this
    // large kept `LocalKey::with` out of line (a call per take and return).
    let caches = CACHES.with(core::ptr::from_ref);
    // SAFETY: this thread's thread-local, alive until the thread exits,
    // longer than this call; only this thread reaches it.
    f(unsafe { &(*caches)[class & (SLOTS - 1)] })
}

/// Takes a stack of `class` from this thread's cache, and the base of the
/// stack the `ahead`-th pop from now will take (0: none), if it is cached
/// and cold: a hint worth prefetching.
// Never inlined, as every thread-local access of the library: code on a
// movable fiber (DESIGN.md, decision 4) may take a stack, suspend, move to
// another thread and take one again; inlined, the compiler could reuse the
// first thread's cache address.
#[inline(never)]
pub(super) fn pop(class: usize, ahead: usize) -> Option<(Raw, Option<NonNull<u8>>)> {
    with_cache(class, |cache| {
        let count = cache.count();
        // Zero, or one of the marks: nothing to take.
        if count.wrapping_sub(1) >= LIMIT {
            return None;
        }
        let left = count - 1;
        cache.set_count(left);
        let cold_at = |index: usize| {
            let entry = cache.entries[index].get();
            (entry & COLD != 0)
                .then(|| NonNull::new((entry & !MARKS) as *mut u8))
                .flatten()
        };
        if let Some(next) = left.checked_sub(1).and_then(cold_at) {
            prefetch_start(next);
        }
        let upcoming = (ahead > 0)
            .then(|| left.checked_sub(ahead))
            .flatten()
            .and_then(cold_at);
        let entry = cache.entries[left].get();
        let raw = Raw {
            // SAFETY: only non-null bases are cached.
            base: unsafe { NonNull::new_unchecked((entry & !MARKS) as *mut u8) },
            kind: Kind::from_bits(entry),
        };
        Some((raw, upcoming))
    })
}

/// The base of the stack that the `n`-th [`pop`] of `class` from now (1:
/// the next) on this thread will return, if the cache holds that many.
// Never inlined: see `pop`.
#[inline(never)]
pub(super) fn upcoming(class: usize, n: usize) -> Option<NonNull<u8>> {
    with_cache(class, |cache| {
        let count = cache.count();
        if n == 0 || count > LIMIT || count < n {
            return None;
        }
        NonNull::new((cache.entries[count - n].get() & !MARKS) as *mut u8)
    })
}

/// Puts a free stack of `class` in this thread's cache, marked [`COLD`]
/// if `cold`; hands it back if the cache is full or closed, or the thread
/// has not registered its guard.
// Never inlined: see `pop`.
#[inline(never)]
pub(super) fn push(class: usize, raw: Raw, cold: bool) -> Result<(), Raw> {
    with_cache(class, |cache| {
        let count = cache.count();
        if count >= LIMIT {
            return Err(raw);
        }
        let mark = if cold { COLD } else { 0 };
        cache.entries[count].set(raw.base.as_ptr() as usize | raw.kind as usize | mark);
        cache.set_count(count + 1);
        Ok(())
    })
}

/// Registers this thread's guard (see the module docs). Returns false if
/// the thread is exiting and its cache is closed.
pub(super) fn register() -> bool {
    let open = CACHES.with(|caches| caches[0].count() != CLOSED);
    if !open || DRAIN.try_with(|_| ()).is_err() {
        return false;
    }
    CACHES.with(|caches| {
        for cache in caches {
            if cache.count() == UNREGISTERED {
                cache.set_count(0);
            }
        }
    });
    true
}

/// Takes up to `n` stacks of `class` out of this thread's cache.
pub(super) fn take_many(class: usize, n: usize) -> Vec<Raw> {
    core::iter::from_fn(|| pop(class, 0).map(|(raw, _)| raw))
        .take(n)
        .collect()
}

/// Starts fetching, for writing, the lines a coroutine started on the
/// stack at `base` writes first: the stack's top line, where spindle-coro
/// keeps its header, and the lines under its colour offset, where a
/// fiber's task and first frames go (see [`colour_of`](super::colour_of)).
#[inline]
fn prefetch_start(base: NonNull<u8>) {
    const LINE: usize = 64;
    /// The lines prefetched under the colour offset: a fiber's function,
    /// task and first frame.
    const BELOW_COLOUR: usize = 8;
    let top = base.as_ptr().wrapping_sub(LINE);
    let start = top.wrapping_sub(super::colour_of(base));
    prefetch(top);
    for line in 0..BELOW_COLOUR {
        prefetch(start.wrapping_sub(line * LINE));
    }
}

/// Hands an exiting thread's stacks to the global lists.
struct Drain;

impl Drop for Drain {
    fn drop(&mut self) {
        for class in 0..CLASSES {
            let stacks = take_many(class, usize::MAX);
            super::give_to_global(class, stacks);
        }
        CACHES.with(|caches| caches.iter().for_each(|cache| cache.set_count(CLOSED)));
    }
}
