//! The guard-page fault handler on Unix: SIGSEGV/SIGBUS on an alternate
//! signal stack (the faulting stack is full). Faults outside our guard
//! pages go to the handler that was installed before ours.

use super::{registry, report};
use core::cell::Cell;
use core::mem::MaybeUninit;
use std::sync::{Once, OnceLock};

/// The actions that were installed before ours, for SIGSEGV and SIGBUS.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();
const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];
const ALT_STACK_SIZE: usize = 64 * 1024;

thread_local! {
    static READY: Cell<bool> = const { Cell::new(false) };
}

/// Installs the handler (once per process) and makes sure the calling
/// thread has an alternate signal stack (once per thread). Never inlined,
/// as every thread-local access of the library (DESIGN.md, decision 4).
#[inline(never)]
pub(crate) fn ensure_handler() {
    if !READY.get() {
        install_on_this_thread();
    }
}

#[cold]
fn install_on_this_thread() {
    // First: the alternate stack comes from the pool, whose slow path
    // calls back here.
    READY.set(true);
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Publish the previous actions before ours can run, so a fault on
        // another thread always finds where to forward.
        let previous = SIGNALS.map(|signal| {
            // SAFETY: a zeroed sigaction is a valid out-parameter.
            let mut old = unsafe { zeroed::<libc::sigaction>() };
            // SAFETY: querying only; `old` is a valid out-pointer.
            unsafe { libc::sigaction(signal, core::ptr::null(), &mut old) };
            old
        });
        let _ = PREVIOUS.set(previous);
        for signal in SIGNALS {
            // SAFETY: zeroed is a valid sigaction, filled in below.
            let mut new = unsafe { zeroed::<libc::sigaction>() };
            new.sa_sigaction = on_fault as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: a valid action whose handler has the SA_SIGINFO
            // signature.
            unsafe { libc::sigaction(signal, &new, core::ptr::null_mut()) };
        }
    });
    ensure_alt_stack();
}

/// Threads started by Rust's std already have an alternate stack; others
/// (started from C, say) get one that lives as long as the thread.
fn ensure_alt_stack() {
    // SAFETY: a zeroed stack_t is a valid out-parameter.
    let mut current = unsafe { zeroed::<libc::stack_t>() };
    // SAFETY: querying only; `current` is a valid out-pointer.
    unsafe { libc::sigaltstack(core::ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let Ok(memory) = crate::stack::StackPool::global().take(ALT_STACK_SIZE) else {
        return; // no worse than without the handler: a plain SIGSEGV
    };
    use crate::Stack;
    let stack = libc::stack_t {
        ss_sp: memory.limit().as_ptr().cast(),
        ss_flags: 0,
        ss_size: memory.size(),
    };
    // The thread may use the alternate stack until it exits, so the memory
    // is never given back (64 KiB per thread that did not come from std).
    core::mem::forget(memory);
    // SAFETY: `stack` describes memory that stays valid forever.
    unsafe { libc::sigaltstack(&stack, core::ptr::null_mut()) };
}

extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some((base, limit)) = registry::find(addr) {
        // SAFETY: a registered stack's top is mapped memory; `report`
        // checks the header's magic before it trusts anything else.
        unsafe { report(base as *mut u8, limit, "guard page hit") };
    }
    forward(signal, info, context);
}

/// Hands a fault that is not ours to the previous handler.
fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = SIGNALS.iter().position(|&s| s == signal).unwrap_or(0);
    let Some(previous) = PREVIOUS.get().map(|p| p[index]) else {
        return; // not installed yet: nothing of ours can have faulted
    };
    match previous.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // Restore the default and return: the fault happens again and
            // kills the process as it would have without us.
            // SAFETY: `previous` is a sigaction the system gave us.
            unsafe { libc::sigaction(signal, &previous, core::ptr::null_mut()) };
        }
        handler if previous.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: the previous handler was installed with SA_SIGINFO,
            // so it has this signature.
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { core::mem::transmute(handler) };
            handler(signal, info, context);
        }
        handler => {
            // SAFETY: without SA_SIGINFO a handler takes the signal number.
            let handler: extern "C" fn(libc::c_int) = unsafe { core::mem::transmute(handler) };
            handler(signal);
        }
    }
}

/// Writes to standard error with one system call, no allocation.
pub(crate) fn write_stderr(bytes: &[u8]) {
    // SAFETY: a valid buffer; a short or failed write only loses text.
    unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
}

/// A zeroed C struct.
///
/// # Safety
/// All-zero bytes are a valid `T` (true of libc's plain C structs).
unsafe fn zeroed<T>() -> T {
    // SAFETY: forwarded from the caller.
    unsafe { MaybeUninit::zeroed().assume_init() }
}
