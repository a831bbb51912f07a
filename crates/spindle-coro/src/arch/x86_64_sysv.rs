//! Context switch for x86-64 System V (Linux, the BSDs, macOS).
//!
//! Stack of a fresh coroutine, as `init_stack` leaves it:
//!
//! ```text
//! base      +--------------------------+ (16-byte aligned)
//!           | 0 (end of frame chain)   |  base - 8
//!           | link: resumer's sp       |  base - 16, written by every resume
//!           | generic data (header, F) |
//! sp_start  +--------------------------+ (16-byte aligned)
//!           | 0 (padding)              |
//!           | entry fn                 |
//! sp  ----> | trampoline address       |
//!           +--------------------------+
//! ```
//!
//! A suspended coroutine, and a resumer waiting for one, keep three words
//! at their saved stack pointer:
//!
//! ```text
//!           | rbp                      |  sp + 16
//!           | rbx                      |  sp + 8
//! sp  ----> | continuation address     |  sp + 0
//! ```
//!
//! 1. `resume` pushes rbp and rbx and `call`s through the coroutine's saved
//!    sp, which points at the coroutine's continuation; the `call` pushes
//!    the resumer's own continuation. The coroutine's sp travels in rdx.
//! 2. Every continuation of a coroutine (and its trampoline) starts on the
//!    resumer's stack: it stores that sp in the link slot, moves onto its
//!    own stack past the continuation word, and pops its rbx and rbp.
//! 3. `suspend` pushes rbp, rbx and its continuation, hands its sp back in
//!    rdx, loads the link and `ret`s into the resumer, which pops rbx and
//!    rbp. `finish` does the same with a null sp and nothing saved.
//!
//! Every other callee-saved register is declared clobbered, so the
//! compiler saves only what is live. The `call`/`ret` pair keeps the CPU's
//! return-stack predictor right; the `call` into the coroutine is
//! predicted per resume site.
//!
//! While the coroutine runs, the link slot holds the resumer's sp. The
//! trampoline's CFI computes its caller's frame from it: CFA = [link] + 24,
//! the return address at CFA - 24, rbx at CFA - 16, rbp at CFA - 8, which
//! lets unwinders walk from the coroutine into the function that resumed it.

use super::{Bounds, EntryFn};
use core::arch::{asm, global_asm};

pub(crate) const TOP_RESERVED: usize = 16;

global_asm!(
    ".pushsection .text.spindle_coro_trampoline_x86_64,\"ax\",@progbits",
    ".balign 16",
    ".globl spindle_coro_trampoline_x86_64",
    ".hidden spindle_coro_trampoline_x86_64",
    ".type spindle_coro_trampoline_x86_64,@function",
    "spindle_coro_trampoline_x86_64:",
    ".cfi_startproc",
    // Called by the first `resume`: rdi = its argument, rsi = base,
    // rdx = our sp (pointing at this trampoline's address).
    "mov [rsi - 16], rsp", // link slot := the resumer's sp
    "lea rsp, [rdx + 8]",  // onto our stack: [rsp] = entry fn, 16-aligned
    "lea rbp, [rsi - 16]", // rbp -> link slot; callees preserve it.
    // CFA = [rbp] + 24: DW_CFA_def_cfa_expression, 5 bytes:
    // DW_OP_breg6 (rbp) 0, DW_OP_deref, DW_OP_plus_uconst 24.
    ".cfi_escape 0x0f, 0x05, 0x76, 0x00, 0x06, 0x23, 0x18",
    ".cfi_offset rip, -24",
    ".cfi_offset rbx, -16",
    ".cfi_offset rbp, -8",
    "call [rsp]", // entry(arg = rdi, base = rsi); never returns.
    "ud2",
    ".cfi_endproc",
    ".size spindle_coro_trampoline_x86_64, . - spindle_coro_trampoline_x86_64",
    ".popsection",
);

unsafe extern "C" {
    fn spindle_coro_trampoline_x86_64();
}

/// Writes the first frame below `sp`.
///
/// # Safety
/// `sp` is 16-byte aligned, inside the stack described by `bounds`, with at
/// least 24 writable bytes below it.
pub(crate) unsafe fn init_stack(bounds: &Bounds, sp: *mut u8, entry: EntryFn) -> *mut u8 {
    let sp = sp.cast::<usize>();
    // SAFETY: the caller guarantees 24 writable, aligned bytes below `sp`,
    // and `bounds.base` is the top of the same stack, whose top word is
    // the backend's (TOP_RESERVED).
    unsafe {
        bounds.base.cast::<usize>().sub(1).write(0);
        sp.sub(1).write(0);
        sp.sub(2).write(entry as *const () as usize);
        sp.sub(3)
            .write(spindle_coro_trampoline_x86_64 as *const () as usize);
        sp.sub(3).cast()
    }
}

/// Runs the coroutine suspended at `sp` until it suspends or finishes.
///
/// # Safety
/// `sp` is the stack pointer a fresh `init_stack` or the last `resume` of
/// this same stack returned; `base` is that stack's top. The coroutine's
/// code upholds the protocol of this module.
#[inline(always)]
pub(crate) unsafe fn resume(arg: usize, sp: *mut u8, base: *mut u8) -> (usize, *mut u8) {
    let out_arg: usize;
    let out_sp: *mut u8;
    // SAFETY: the caller guarantees that `sp` is a suspended context of the
    // stack at `base`; everything the switch clobbers is declared.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "call [rdx]", // into the coroutine's continuation (step 1)
            "pop rbx",    // back: rdi = arg, rdx = its sp or 0
            "pop rbp",
            inout("rdi") arg => out_arg,
            inout("rsi") base => _,
            inout("rdx") sp => out_sp,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("C"),
        );
    }
    (out_arg, out_sp)
}

/// Returns from the running coroutine to its resumer.
///
/// # Safety
/// Called on the coroutine's own stack, whose top is `base`, while it runs.
#[inline(always)]
pub(crate) unsafe fn suspend(arg: usize, base: *mut u8) -> usize {
    let in_arg: usize;
    // SAFETY: we run on the coroutine stack at `base`, so its link slot
    // holds the sp of the resumer, which waits in `resume`.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",            // our continuation
            "mov rdx, rsp",        // our sp, for the resumer
            "mov rsp, [rsi - 16]", // the resumer's stack, at its continuation
            "ret",                 // pairs with the resumer's `call`
            "2:",                  // resumed, on the resumer's stack (step 2)
            "mov [rsi - 16], rsp", // link slot := the resumer's sp
            "lea rsp, [rdx + 8]",  // back onto our stack
            "pop rbx",
            "pop rbp",
            inout("rdi") arg => in_arg,
            inout("rsi") base => _,
            out("rdx") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("C"),
        );
    }
    in_arg
}

/// Returns to the resumer for the last time.
///
/// # Safety
/// As [`suspend`]; nothing on this stack may be used afterwards.
#[inline(always)]
pub(crate) unsafe fn finish(arg: usize, base: *mut u8) -> ! {
    // SAFETY: as in `suspend`; we never come back, so nothing is saved.
    unsafe {
        asm!(
            "mov rsp, [rsi - 16]",
            "xor edx, edx", // sp = null: finished
            "ret",          // pairs with the resumer's `call`
            in("rdi") arg,
            in("rsi") base,
            options(noreturn),
        );
    }
}
