//! Per-thread free lists of pooled stacks, threaded through the free
//! stacks themselves.
//!
//! For each size class a thread keeps a head and a count in one
//! const-initialized thread-local without a destructor, so the fast paths
//! are a few loads and stores with no lazy-initialization check. A list
//! entry is a stack's base address with its [`Kind`](super::Kind) in the
//! two low bits (bases are 16-byte aligned); a free stack keeps the entry of the next
//! one in the word just below its base, which no one else uses while the
//! stack is free.
//!
//! Stacks must not be stranded when a thread exits:
//! 1. counts start at [`UNREGISTERED`], which refuses pushes as a full list
//!    does, so a thread's first push (and its first take, which finds the
//!    list empty) goes through the slow path; that registers a [`Drain`]
//!    guard (a thread-local with a destructor) and sets the counts to 0;
//! 2. the guard's destructor moves every cached stack to the global lists
//!    and closes the cache by setting every count to [`CLOSED`];
//! 3. a closed cache refuses pushes, so stacks freed later in the thread's
//!    teardown go to the global lists directly.
//!
//! So the one comparison `count >= LIMIT` on the push path covers a full
//! list, an unregistered thread and an exiting one.

use super::{CLASSES, Kind, Raw};
use core::cell::Cell;
use core::ptr::NonNull;

/// Stacks a thread keeps per class before handing half to the global list.
pub(super) const LIMIT: usize = 64;
/// A count no list reaches: the cache of an exiting thread.
const CLOSED: usize = usize::MAX;
/// A count no list reaches: a thread whose [`Drain`] is not registered.
const UNREGISTERED: usize = usize::MAX - 1;
/// Lists per thread: a power of two at least [`CLASSES`], so indexing with
/// `class & (SLOTS - 1)` needs no bounds check.
const SLOTS: usize = CLASSES.next_power_of_two();

struct Lists {
    heads: [Cell<usize>; SLOTS],
    counts: [Cell<usize>; SLOTS],
}

thread_local! {
    static LISTS: Lists = const {
        Lists {
            heads: [const { Cell::new(0) }; SLOTS],
            counts: [const { Cell::new(UNREGISTERED) }; SLOTS],
        }
    };
    static DRAIN: Drain = const { Drain };
}

/// Takes a stack of `class` from this thread's list.
// Never inlined, as every thread-local access of the library: code on a
// movable fiber (DESIGN.md, decision 4) may take a stack, suspend, move to
// another thread and take one again; inlined, the compiler could reuse the
// first thread's list address.
#[inline(never)]
pub(super) fn pop(class: usize) -> Option<Raw> {
    let class = class & (SLOTS - 1);
    LISTS.with(|lists| {
        let head = lists.heads[class].get();
        let base = NonNull::new((head & !3) as *mut u8)?;
        // SAFETY: a listed stack is free and keeps its successor's entry
        // in the word below its base.
        let next = unsafe { link(base).read() };
        lists.heads[class].set(next);
        lists.counts[class].set(lists.counts[class].get() - 1);
        Some(Raw {
            base,
            kind: Kind::from_bits(head),
        })
    })
}

/// Puts a free stack of `class` on this thread's list; hands it back if
/// the list is full or closed, or the thread has not registered its guard.
// Never inlined: see `pop`.
#[inline(never)]
pub(super) fn push(class: usize, raw: Raw) -> Result<(), Raw> {
    let class = class & (SLOTS - 1);
    LISTS.with(|lists| {
        let count = lists.counts[class].get();
        if count >= LIMIT {
            return Err(raw);
        }
        // SAFETY: the stack is free and ours; its top word is unused.
        unsafe { link(raw.base).write(lists.heads[class].get()) };
        let entry = raw.base.as_ptr() as usize | raw.kind as usize;
        lists.heads[class].set(entry);
        lists.counts[class].set(count + 1);
        Ok(())
    })
}

/// Registers this thread's guard (see the module docs). Returns false if
/// the thread is exiting and its cache is closed.
pub(super) fn register() -> bool {
    let open = LISTS.with(|lists| lists.counts[0].get() != CLOSED);
    if !open || DRAIN.try_with(|_| ()).is_err() {
        return false;
    }
    LISTS.with(|lists| {
        for count in &lists.counts {
            if count.get() == UNREGISTERED {
                count.set(0);
            }
        }
    });
    true
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
        }
        LISTS.with(|lists| lists.counts.iter().for_each(|count| count.set(CLOSED)));
    }
}
