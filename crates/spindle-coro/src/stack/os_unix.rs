//! Stack memory from `mmap` (Unix).

use super::StackError;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use spindle_core::CachePadded;
use std::sync::OnceLock;

#[inline]
pub(crate) fn page_size() -> usize {
    // On a line of its own: every spawn reads it, and a neighbour written
    // often (a lock) would make each read a miss on another core's line.
    static PAGE: CachePadded<AtomicUsize> = CachePadded::new(AtomicUsize::new(0));
    match PAGE.load(Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
                n if n > 0 => n as usize,
                _ => 4096,
            };
            PAGE.store(page, Relaxed);
            page
        }
        page => page,
    }
}

/// Bytes of guard below each guarded stack: one page, enough for a fault.
#[inline]
pub(crate) fn guard_size() -> usize {
    page_size()
}

/// How many memory mappings the kernel lets this process hold.
pub(crate) fn mapping_limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            // Systems without the file have no such small limit.
            .unwrap_or(usize::MAX / 4)
    })
}

/// Reserves `len` bytes of lazily committed, readable and writable memory.
pub(crate) fn map(len: usize) -> Result<NonNull<u8>, StackError> {
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing touches no existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | map_stack(),
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(StackError::os("mmap", len));
    }
    Ok(NonNull::new(p.cast()).expect("mmap returned null without failing"))
}

/// Makes `[ptr, ptr + len)` inaccessible: a guard.
///
/// # Safety
/// The range is page-aligned and inside a mapping from [`map`] that no one
/// uses.
pub(crate) unsafe fn protect_guard(ptr: NonNull<u8>, len: usize) -> Result<(), StackError> {
    // SAFETY: the caller guarantees the range is ours and unused.
    if unsafe { libc::mprotect(ptr.as_ptr().cast(), len, libc::PROT_NONE) } != 0 {
        return Err(StackError::os("mprotect", len));
    }
    Ok(())
}

/// Returns memory from [`map`] to the system.
///
/// # Safety
/// `[ptr, ptr + len)` is a whole mapping from [`map`], no longer used.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: the caller guarantees the mapping is ours and unused. A
    // failure could only mean a bad range, which the caller rules out.
    unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn map_stack() -> libc::c_int {
    libc::MAP_STACK
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn map_stack() -> libc::c_int {
    0
}
