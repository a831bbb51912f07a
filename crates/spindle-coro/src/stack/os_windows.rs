//! Stack memory from `VirtualAlloc` (Windows).
//!
//! - Memory is reserved and committed at once. Committing charges the
//!   system's commit limit (RAM plus page file) for the whole stack, but
//!   physical pages are still given on first touch, as with `mmap`.
//!   Committing lazily (the way thread stacks grow) would need the stack to
//!   be touched top-down only, which the [`Stack`](super::Stack) contract
//!   does not promise: the canary at the limit of an unguarded stack is
//!   written first.
//! - The guard is `PAGE_READWRITE | PAGE_GUARD`, not `PAGE_NOACCESS`. A
//!   fault in a `PAGE_NOACCESS` page below a full stack leaves the system
//!   nowhere to write the exception record (it is pushed onto the faulting
//!   stack), and the process dies without a word. A guard page raises
//!   `STATUS_GUARD_PAGE_VIOLATION` (or `STATUS_STACK_OVERFLOW`, when the
//!   TEB says the stack is the running one) and turns into an ordinary
//!   page as it does, which leaves one page for the exception record and
//!   the overflow reporter. This is how Windows guards thread stacks. The
//!   guard fires once; the reporter aborts the process on the first hit.
//! - Reservations start at multiples of the allocation granularity
//!   (64 KiB), so a small stack wastes address space up to the next one;
//!   64-bit address space makes that cheap.

use super::StackError;
use core::ffi::c_void;
use core::ptr::NonNull;
use std::sync::OnceLock;
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_GUARD, PAGE_READWRITE, VirtualAlloc, VirtualFree,
    VirtualProtect,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: SYSTEM_INFO is a plain C struct, valid when zeroed.
        let mut info: SYSTEM_INFO = unsafe { core::mem::zeroed() };
        // SAFETY: `info` is a valid out-pointer.
        unsafe { GetSystemInfo(&mut info) };
        match info.dwPageSize {
            0 => 4096,
            n => n as usize,
        }
    })
}

/// Bytes of guard below each guarded stack: three pages, because Windows
/// (and wine) will not raise a stack overflow into the lowest page of a
/// reservation; the pages above it give the exception record and the
/// handler room to run.
pub(crate) fn guard_size() -> usize {
    3 * page_size()
}

/// How many separate mappings the system lets this process hold: Windows
/// has no `vm.max_map_count`, only the address space limits it.
pub(crate) fn mapping_limit() -> usize {
    usize::MAX / 4
}

/// Reserves and commits `len` bytes of readable and writable memory.
pub(crate) fn map(len: usize) -> Result<NonNull<u8>, StackError> {
    // SAFETY: a new reservation at an address of the system's choosing
    // touches no existing memory.
    let p = unsafe {
        VirtualAlloc(
            core::ptr::null(),
            len,
            MEM_RESERVE | MEM_COMMIT,
            PAGE_READWRITE,
        )
    };
    NonNull::new(p.cast()).ok_or_else(|| StackError::os("VirtualAlloc", len))
}

/// Makes `[ptr, ptr + len)` a guard: the first access faults.
///
/// # Safety
/// The range is page-aligned and inside a mapping from [`map`] that no one
/// uses.
pub(crate) unsafe fn protect_guard(ptr: NonNull<u8>, len: usize) -> Result<(), StackError> {
    let mut old = 0;
    // SAFETY: the caller guarantees the range is ours and unused; `old` is
    // a valid out-pointer.
    let ok = unsafe {
        VirtualProtect(
            ptr.as_ptr().cast::<c_void>(),
            len,
            PAGE_READWRITE | PAGE_GUARD,
            &mut old,
        )
    };
    if ok == 0 {
        return Err(StackError::os("VirtualProtect", len));
    }
    Ok(())
}

/// Returns memory from [`map`] to the system.
///
/// # Safety
/// `[ptr, ptr + len)` is a whole mapping from [`map`], no longer used.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // A release frees the whole reservation and must be given length 0.
    let _ = len;
    // SAFETY: the caller guarantees the reservation is ours and unused. A
    // failure could only mean a bad address, which the caller rules out.
    unsafe { VirtualFree(ptr.as_ptr().cast::<c_void>(), 0, MEM_RELEASE) };
}
