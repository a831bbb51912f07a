//! The machine context switch, one file per ABI.
//!
//! Every backend provides the same seven items, with the same meaning:
//!
//! - `USES_ALLOCATION_BASE`: whether `init_stack` reads
//!   `Bounds::allocation_base` (computing it costs a little per coroutine).
//! - `TOP_RESERVED`: bytes at the top of every stack that the backend owns
//!   (at least the link to the resumer's stack pointer, which unwinders
//!   follow out of the coroutine). The generic code places its own data
//!   below them.
//! - `init_stack(bounds, sp, entry) -> sp`: writes the first frame of a fresh
//!   stack below the 16-byte aligned address `sp`, so that the first `resume`
//!   calls `entry(arg, base)` on the coroutine's stack.
//! - `resume(arg, sp, base) -> sp`: runs the coroutine whose saved stack
//!   pointer is `sp`, handing it `arg`, until it suspends (its new stack
//!   pointer comes back) or finishes (null comes back).
//! - `suspend(base) -> arg`: from inside the coroutine, returns to the
//!   resumer; returns the `arg` of the next `resume`.
//! - `finish(base) -> !`: from inside the coroutine, returns to the resumer
//!   for the last time; the stack is dead afterwards.
//! - `switch_out(base) -> arg`: `suspend` as a function (not inlined) that
//!   saves every callee-saved register and returns by a jump, for callers
//!   that reach the coroutine through a pointer (`Suspender::begin_suspend`).
//!
//! `arg` is a pointer-sized message: the generic code passes the address
//! of an exchange area in the resumer's frame, which stays still until the
//! coroutine switches back (values go both ways through it). `base` is the top (highest address) of the
//! coroutine's stack.
//!
//! Each backend also sets up the unwind information of its first frame so
//! that a backtrace taken inside a coroutine continues into the frames of
//! whoever resumed it.

/// Where a stack lies in memory, as the backends need it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// Top of the stack (highest address, exclusive), 16-byte aligned.
    pub(crate) base: *mut u8,
    /// Lowest usable address.
    pub(crate) limit: *mut u8,
    /// Lowest address of the whole reservation, guard pages included
    /// (Windows keeps it in the TEB as `DeallocationStack`); only filled
    /// in where the backend's `USES_ALLOCATION_BASE` says it reads it.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) allocation_base: *mut u8,
}

/// The first Rust function a coroutine runs: `entry(arg, base)` where `arg`
/// is the first `resume`'s argument and `base` the top of its stack.
pub(crate) type EntryFn = unsafe extern "C" fn(arg: usize, base: *mut u8) -> !;

cfg_if::cfg_if! {
    if #[cfg(all(target_arch = "x86_64", windows))] {
        mod x86_64_windows;
        pub(crate) use x86_64_windows::*;
        pub use x86_64_windows::switch_out;
    } else if #[cfg(all(target_arch = "x86_64", unix, not(target_vendor = "apple")))] {
        // ELF targets: the trampoline uses ELF section directives.
        mod x86_64_sysv;
        pub(crate) use x86_64_sysv::*;
        pub use x86_64_sysv::switch_out;
    } else if #[cfg(all(target_arch = "aarch64", any(target_os = "linux", target_os = "android")))] {
        mod aarch64;
        pub(crate) use aarch64::*;
        pub use aarch64::switch_out;
    } else {
        compile_error!("spindle-coro: unsupported target (x86-64 ELF System V, x86-64 Windows and aarch64 Linux are supported)");
    }
}
