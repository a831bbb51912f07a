//! The guard-page fault handler on Windows: a vectored exception handler,
//! first in line, that reports faults in a registered guard page and lets
//! every other exception go on to the next handler.
//!
//! Windows runs exception handlers on the faulting stack itself (there is
//! no alternate stack). A guard page made with `PAGE_GUARD` turns into an
//! ordinary page when it fires, so the page below a full coroutine stack
//! is where the exception record and this handler go (see
//! `stack/os_windows.rs`); the report needs a few hundred bytes of it.
//!
//! `SetThreadStackGuarantee` is not called: it sizes the emergency area of
//! whichever stack the TEB describes when it is called, growing it inside
//! that stack's own reservation. It cannot add room below a coroutine's
//! guard page, and Rust's runtime already calls it for thread stacks.
//!
//! Under wine the handler does not get to run for an overflow: wine
//! refuses to push an exception record into the lowest page of the
//! reservation (the one-page guard) and ends the thread with its own
//! "stack overflow" message instead.

use super::{registry, report};
use std::sync::Once;
use windows_sys::Win32::Foundation::{
    EXCEPTION_ACCESS_VIOLATION, EXCEPTION_GUARD_PAGE, EXCEPTION_STACK_OVERFLOW,
    INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::WriteFile;
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::Diagnostics::Debug::{
    AddVectoredExceptionHandler, EXCEPTION_CONTINUE_SEARCH, EXCEPTION_POINTERS,
};
use windows_sys::Win32::System::Threading::GetCurrentThreadStackLimits;

static INSTALLED: Once = Once::new();

/// Installs the handler, once per process (vectored handlers are
/// process-wide, so threads need nothing of their own).
pub(crate) fn ensure_handler() {
    INSTALLED.call_once(|| {
        // SAFETY: `on_exception` has the signature of a vectored handler
        // and lives as long as the process; 1 puts it before the handlers
        // already installed (Rust's own prints a generic overflow message).
        unsafe { AddVectoredExceptionHandler(1, Some(on_exception)) };
    });
}

/// Reports a fault in a registered guard page (and aborts); passes on
/// everything else.
///
/// # Safety
/// Called by the system with valid exception pointers.
unsafe extern "system" fn on_exception(info: *mut EXCEPTION_POINTERS) -> i32 {
    // SAFETY: the system passes a valid record for the exception at hand.
    let record = unsafe { &*(*info).ExceptionRecord };
    let code = record.ExceptionCode;
    if ![
        EXCEPTION_STACK_OVERFLOW,
        EXCEPTION_ACCESS_VIOLATION,
        EXCEPTION_GUARD_PAGE,
    ]
    .contains(&code)
    {
        return EXCEPTION_CONTINUE_SEARCH;
    }
    let addr = if record.NumberParameters >= 2 {
        // The second parameter of these exceptions is the faulting address.
        record.ExceptionInformation[1]
    } else if code == EXCEPTION_STACK_OVERFLOW {
        // Some systems leave out the address of an overflow: it hit the
        // guard at the bottom of the running stack, which starts at the
        // TEB's DeallocationStack.
        let (mut low, mut high) = (0, 0);
        // SAFETY: two valid out-pointers.
        unsafe { GetCurrentThreadStackLimits(&mut low, &mut high) };
        low
    } else {
        return EXCEPTION_CONTINUE_SEARCH;
    };
    if let Some((base, limit)) = registry::find(addr) {
        // SAFETY: a registered stack's top is mapped memory; `report`
        // checks the header's magic before it trusts anything else.
        unsafe { report(base as *mut u8, limit, "guard page hit") };
    }
    EXCEPTION_CONTINUE_SEARCH
}

/// Writes to standard error with one system call, no allocation.
pub(crate) fn write_stderr(bytes: &[u8]) {
    // SAFETY: querying a standard handle has no preconditions.
    let handle = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    if handle.is_null() || handle == INVALID_HANDLE_VALUE {
        return;
    }
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut written = 0;
    // SAFETY: a valid buffer of at least `len` bytes and a valid
    // out-pointer; no overlapped I/O. A short or failed write only loses
    // text.
    unsafe {
        WriteFile(
            handle,
            bytes.as_ptr(),
            len,
            &mut written,
            core::ptr::null_mut(),
        )
    };
}
