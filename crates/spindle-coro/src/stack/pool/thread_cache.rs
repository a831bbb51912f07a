//! Per-thread free lists of pooled stacks, threaded through the free
//! stacks themselves.
//!
//! For each size class a thread keeps a head and a count in one
//! const-initialized thread-local without a destructor, so the fast paths
//! are a few loads and stores with no lazy-initialization check. A list
//! entry is a stack's base address with bit 0 set for a guarded stack
//! (bases are 16-byte aligned); a free stack keeps the entry of the next
//! one in the word just below its base, which no one else uses while the
//! stack is free.
//!
//! Stacks must not be stranded when a thread exits:
//! 1. a thread's first push goes through the slow path, which registers a
//!    [`Drain`] guard (a thread-local with a destructor);
//! 2. the guard's destructor moves every cached stack to the global lists
//!    and closes the cache by setting every count to [`CLOSED`];
//! 3. a closed cache refuses pushes, so stacks freed later in the thread's
//!    teardown go to the global lists directly.

use super::{CLASSES, Raw};
use core::cell::Cell;
use core::ptr::NonNull;

/// Stacks a thread keeps per class before handing half to the global list.
pub(super) const LIMIT: usize = 64;
/// A count no list reaches: the cache of an exiting thread.
const CLOSED: usize = usize::MAX;

struct Lists {
    heads: [Cell<usize>; CLASSES],
    counts: [Cell<usize>; CLASSES],
    /// Whether this thread's [`Drain`] guard is registered.
    registered: Cell<bool>,
}

thread_local! {
    static LISTS: Lists = const {
        Lists {
            heads: [const { Cell::new(0) }; CLASSES],
            counts: [const { Cell::new(0) }; CLASSES],
            registered: Cell::new(false),
        }
    };
    static DRAIN: Drain = const { Drain };
}

/// Takes a stack of `class` from this thread's list.
#[inline]
pub(super) fn pop(class: usize) -> Option<Raw> {
    LISTS.with(|lists| {
        let head = lists.heads[class].get();
        let base = NonNull::new((head & !1) as *mut u8)?;
        // SAFETY: a listed stack is free and keeps its successor's entry
        // in the word below its base.
        let next = unsafe { link(base).read() };
        lists.heads[class].set(next);
        lists.counts[class].set(lists.counts[class].get() - 1);
        Some(Raw {
            base,
            guarded: head & 1 != 0,
        })
    })
}

/// Puts a free stack of `class` on this thread's list; hands it back if
/// the list is full or closed, or the thread has not registered its guard.
#[inline]
pub(super) fn push(class: usize, raw: Raw) -> Result<(), Raw> {
    LISTS.with(|lists| {
        let count = lists.counts[class].get();
        if count >= LIMIT || !lists.registered.get() {
            return Err(raw);
        }
        // SAFETY: the stack is free and ours; its top word is unused.
        unsafe { link(raw.base).write(lists.heads[class].get()) };
        lists.heads[class].set(raw.base.as_ptr() as usize | usize::from(raw.guarded));
        lists.counts[class].set(count + 1);
        Ok(())
    })
}

/// Registers this thread's guard (see the module docs). Returns false if
/// the thread is exiting and its cache is closed.
pub(super) fn register() -> bool {
    let open = LISTS.with(|lists| lists.counts[0].get() != CLOSED);
    if open && DRAIN.try_with(|_| ()).is_ok() {
        LISTS.with(|lists| lists.registered.set(true));
        return true;
    }
    false
}

/// Takes up to `n` stacks of `class` off this thread's list.
pub(super) fn take_many(class: usize, n: usize) -> Vec<Raw> {
    core::iter::from_fn(|| pop(class)).take(n).collect()
}

/// The word below `base` where a free stack keeps the next entry.
///
/// # Safety
/// `base` is the base of a pooled stack that is free.
unsafe fn link(base: NonNull<u8>) -> *mut usize {
    // SAFETY: the top word of the stack's memory.
    unsafe { base.as_ptr().sub(size_of::<usize>()).cast() }
}

/// Hands an exiting thread's stacks to the global lists.
struct Drain;

impl Drop for Drain {
    fn drop(&mut self) {
        for class in 0..CLASSES {
            let stacks = take_many(class, usize::MAX);
            super::give_to_global(class, stacks);
            LISTS.with(|lists| lists.counts[class].set(CLOSED));
        }
    }
}
