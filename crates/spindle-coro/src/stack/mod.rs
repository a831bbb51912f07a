//! Stacks for coroutines: the [`Stack`] trait, a guarded [`DefaultStack`],
//! and the [`StackPool`] that [`Coroutine::new`](crate::Coroutine::new)
//! takes its stacks from.

mod error;
mod pool;

pub use error::StackError;
pub use pool::{PoolStats, PooledStack, StackPool, colour_of};

use crate::overflow;
use core::fmt;
use core::ptr::NonNull;

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        mod os_unix;
        use os_unix as os;
    } else if #[cfg(windows)] {
        mod os_windows;
        use os_windows as os;
    } else {
        compile_error!("spindle-coro: unsupported target (no stack allocator)");
    }
}

/// The stack size [`Coroutine::new`](crate::Coroutine::new) uses: 256 KiB of
/// address space, of which only the pages a coroutine touches take memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest stack the library hands out or accepts.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Memory a coroutine runs on.
///
/// Implement it to bring your own memory; the library implements it for
/// [`DefaultStack`] and [`PooledStack`]. A stack without a guard page gets
/// a canary word at [`limit`](Stack::limit); every switch out of its
/// coroutine checks that word and that the coroutine is not below the
/// limit. That reports most overflows (after they may have written below
/// the stack), but a frame that jumps over the canary without writing it
/// and returns before the next switch goes unseen: prefer guarded stacks.
///
/// # Safety
///
/// An implementation guarantees, for as long as the value lives:
/// - `[limit(), base())` is readable and writable memory that nothing else
///   uses, and it does not move when the value moves;
/// - `base()` is 16-byte aligned, `limit()` is 8-byte aligned and the two
///   are at least [`MIN_STACK_SIZE`] apart;
/// - the answers of all methods never change;
/// - `canary()` is an 8-aligned word, at `limit()` or just below it, that
///   is writable and used by nothing else while the value lives;
/// - if `is_guarded()` is true, a stack that keeps growing below `limit()`
///   faults before it leaves `[allocation_base(), base())` (with pages
///   larger than the stack's size class there may be usable memory in
///   between, which only delays the fault);
/// - the memory is never used for anything else, even if the value is
///   leaked rather than dropped (a leaked coroutine's frames stay on it).
pub unsafe trait Stack {
    /// The top of the stack (highest address, exclusive): stacks grow down.
    fn base(&self) -> NonNull<u8>;

    /// The lowest usable address.
    fn limit(&self) -> NonNull<u8>;

    /// The lowest address of the whole reservation, guard pages included.
    fn allocation_base(&self) -> NonNull<u8> {
        self.limit()
    }

    /// Whether an overflow hits a guard page below `limit()`.
    fn is_guarded(&self) -> bool {
        false
    }

    /// Where an unguarded stack's canary word goes: the first word an
    /// overflow writes. By default the lowest word of the stack, at
    /// `limit()`; a stack whose neighbour below keeps a word free for it
    /// (the pool's slabs) puts it there, so that the canary does not make
    /// the stack's lowest page resident.
    fn canary(&self) -> NonNull<u64> {
        self.limit().cast()
    }
}

/// A stack of its own mapping, with a guard page below it; unmapped on drop.
///
/// Pages are committed lazily: a coroutine that uses 4 KiB of a 1 MiB stack
/// costs one page of memory. Each `DefaultStack` costs two entries of the
/// process's mapping budget (`vm.max_map_count` on Linux); see
/// [`StackPool`] for stacks that scale past that.
pub struct DefaultStack {
    mapping: NonNull<u8>,
    len: usize,
}

impl DefaultStack {
    /// The usable size in bytes: `base - limit`.
    pub fn size(&self) -> usize {
        self.len - os::guard_size()
    }

    /// Maps a stack of at least `size` usable bytes (rounded up to pages).
    ///
    /// # Errors
    /// [`StackError`] if `size` is below [`MIN_STACK_SIZE`] or too large, or
    /// if the system refuses the memory.
    ///
    /// # Examples
    /// ```
    /// use spindle_coro::{Stack, stack::DefaultStack};
    /// let stack = DefaultStack::new(64 * 1024)?;
    /// assert!(stack.size() >= 64 * 1024 && stack.is_guarded());
    /// # Ok::<(), spindle_coro::StackError>(())
    /// ```
    pub fn new(size: usize) -> Result<Self, StackError> {
        let (mapping, len) = map_guarded(size)?;
        Ok(DefaultStack { mapping, len })
    }
}

/// Maps `size` usable bytes above a guard and registers the guard with
/// the overflow reporter. Returns the mapping and its length.
fn map_guarded(size: usize) -> Result<(NonNull<u8>, usize), StackError> {
    let guard = os::guard_size();
    let usable = round_to_pages(size)?;
    let len = usable
        .checked_add(guard)
        .ok_or(StackError::too_large(size))?;
    let mapping = os::map(len)?;
    // SAFETY: the lowest pages of a mapping we just made and nobody uses.
    if let Err(e) = unsafe { os::protect_guard(mapping, guard) } {
        // SAFETY: the whole fresh mapping, unused.
        unsafe { os::unmap(mapping, len) };
        return Err(e);
    }
    overflow::ensure_handler();
    overflow::register_guard(
        mapping.as_ptr() as usize,
        guard,
        mapping.as_ptr() as usize + len,
    );
    Ok((mapping, len))
}

fn round_to_pages(size: usize) -> Result<usize, StackError> {
    if size < MIN_STACK_SIZE {
        return Err(StackError::too_small(size));
    }
    let page = os::page_size();
    size.checked_next_multiple_of(page)
        .filter(|&s| s <= isize::MAX as usize / 2)
        .ok_or(StackError::too_large(size))
}

// SAFETY: the mapping is ours until drop; above the first page it is
// readable and writable, the first page is the guard.
unsafe impl Stack for DefaultStack {
    fn base(&self) -> NonNull<u8> {
        // SAFETY: one past the end of our mapping, which is not null.
        unsafe { self.mapping.add(self.len) }
    }
    fn limit(&self) -> NonNull<u8> {
        // SAFETY: inside our mapping.
        unsafe { self.mapping.add(os::guard_size()) }
    }
    fn allocation_base(&self) -> NonNull<u8> {
        self.mapping
    }
    fn is_guarded(&self) -> bool {
        true
    }
}

impl Drop for DefaultStack {
    fn drop(&mut self) {
        overflow::unregister_guard(self.mapping.as_ptr() as usize);
        // SAFETY: our whole mapping; no coroutine runs on it any more
        // (a coroutine owns its stack and drops it last).
        unsafe { os::unmap(self.mapping, self.len) };
    }
}

impl fmt::Debug for DefaultStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultStack")
            .field("base", &self.base())
            .field("size", &self.size())
            .finish()
    }
}

// SAFETY: a DefaultStack is plain memory that it owns alone.
unsafe impl Send for DefaultStack {}
// SAFETY: shared references only read addresses.
unsafe impl Sync for DefaultStack {}
