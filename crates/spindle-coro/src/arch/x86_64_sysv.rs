//! Context switch for x86-64 System V on ELF systems (Linux, the BSDs).
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
//! 1. `resume` pushes rbp, rbx and the address of its continuation, stores
//!    its sp in the link slot, loads the coroutine's sp, pops the
//!    coroutine's continuation and jumps there.
//! 2. `suspend` does the same the other way, handing its sp back in rdx;
//!    `finish` hands back a null sp and saves nothing.
//! 3. Every continuation pops rbx and rbp. The trampoline is jumped to the
//!    same way and finds the entry function where rbx would be.
//!
//! Every other callee-saved register is declared clobbered, so the
//! compiler saves only what is live. Both directions `jmp` through a
//! register rather than pairing a `call` with a `ret`: a coroutine usually
//! returns from a few functions between a resume and its next suspend,
//! and a `ret` that crosses stacks would leave the return-stack predictor
//! off by one for all of them. Each jump site is predicted on its own by
//! the branch target buffer.
//!
//! While the coroutine runs, the link slot holds the resumer's sp. The
//! trampoline's CFI computes its caller's frame from it: CFA = [link] + 24,
//! the return address at CFA - 24, rbx at CFA - 16, rbp at CFA - 8, which
//! lets unwinders walk from the coroutine into the function that resumed it.

use super::{Bounds, EntryFn};
use core::arch::{asm, global_asm};

pub(crate) const USES_ALLOCATION_BASE: bool = false;
pub(crate) const TOP_RESERVED: usize = 16;

global_asm!(
    ".pushsection .text.spindle_coro_0_1_trampoline_x86_64,\"ax\",@progbits",
    ".balign 16",
    ".globl spindle_coro_0_1_trampoline_x86_64",
    ".hidden spindle_coro_0_1_trampoline_x86_64",
    ".type spindle_coro_0_1_trampoline_x86_64,@function",
    "spindle_coro_0_1_trampoline_x86_64:",
    ".cfi_startproc",
    // Jumped to by the first `resume`: rdi = its argument, rsi = base,
    // rsp = sp_start - 16 (16-aligned, [rsp] = entry fn).
    "lea rbp, [rsi - 16]", // rbp -> link slot; callees preserve it.
    // CFA = [rbp] + 24: DW_CFA_def_cfa_expression, 5 bytes:
    // DW_OP_breg6 (rbp) 0, DW_OP_deref, DW_OP_plus_uconst 24.
    ".cfi_escape 0x0f, 0x05, 0x76, 0x00, 0x06, 0x23, 0x18",
    ".cfi_offset rip, -24",
    ".cfi_offset rbx, -16",
    ".cfi_offset rbp, -8",
    // entry(arg = rdi, base = rsi), which never returns. A `call` would
    // leave an entry in the return-stack predictor that no `ret` ever
    // takes, costing a mispredicted return per finished coroutine; a
    // pushed return address (for unwinders) and a jump leave none.
    "lea rax, [rip + 2f]",
    "push rax",
    "jmp [rsp + 8]",
    "2:",
    "ud2",
    ".cfi_endproc",
    ".size spindle_coro_0_1_trampoline_x86_64, . - spindle_coro_0_1_trampoline_x86_64",
    ".popsection",
);

unsafe extern "C" {
    fn spindle_coro_0_1_trampoline_x86_64();
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
            .write(spindle_coro_0_1_trampoline_x86_64 as *const () as usize);
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
pub(crate) unsafe fn resume(arg: usize, sp: *mut u8, base: *mut u8) -> *mut u8 {
    let out_sp: *mut u8;
    // SAFETY: the caller guarantees that `sp` is a suspended context of the
    // stack at `base`; everything the switch clobbers is declared.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",            // our continuation
            "mov [rsi - 16], rsp", // link slot := our sp
            "mov rsp, rdx",        // onto the coroutine's stack
            "pop rax",
            "jmp rax",             // its continuation (or the trampoline)
            "2:",                  // back: rdi = arg, rdx = its sp or 0
            "pop rbx",
            "pop rbp",
            inout("rdi") arg => _,
            inout("rsi") base => _,
            inout("rdx") sp => out_sp,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("C"),
        );
    }
    out_sp
}

/// Returns from the running coroutine to its resumer.
///
/// # Safety
/// Called on the coroutine's own stack, whose top is `base`, while it runs.
#[inline(always)]
pub(crate) unsafe fn suspend(base: *mut u8) -> usize {
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
            "pop rax",
            "jmp rax",
            "2:",                  // resumed: rdi = arg, rsi = base
            "pop rbx",
            "pop rbp",
            lateout("rdi") in_arg,
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
pub(crate) unsafe fn finish(base: *mut u8) -> ! {
    // SAFETY: as in `suspend`; we never come back, so nothing is saved.
    unsafe {
        asm!(
            "mov rsp, [rsi - 16]",
            "xor edx, edx", // sp = null: finished
            "pop rax",
            "jmp rax",
            in("rsi") base,
            options(noreturn),
        );
    }
}

/// `suspend` as a function the caller's own frame calls: it saves every
/// callee-saved general and vector register (the caller's code expects
/// them kept; control registers are not switched, as in `suspend`) and, once
/// resumed, returns `arg` by a jump to its return address, not a `ret`:
/// the return-stack predictor then still holds the entry that the resumer
/// pushed, so the resumer's own `ret`s stay predicted when it is back.
///
/// # Safety
/// As `suspend`.
// SAFETY (naked): the body is the whole function and follows the System V
// C ABI: it keeps every callee-saved register it and the other side
// touch, and leaves the stack pointer as a return would.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_out(base: *mut u8) -> usize {
    core::arch::naked_asm!(
        // rdi = base; [rsp] = our return address.
        "push r15",
        "push r14",
        "push r13",
        "push r12",
        "push rbp",
        "push rbx",
        "lea rax, [rip + 2f]",
        "push rax",            // our continuation: the frame `resume` jumps to
        "mov rdx, rsp",        // our sp, for the resumer
        "mov rsp, [rdi - 16]", // the resumer's stack, at its continuation
        "pop rax",
        "jmp rax",
        "2:", // resumed: rdi = arg
        "mov rax, rdi",
        "pop rbx",
        "pop rbp",
        "pop r12",
        "pop r13",
        "pop r14",
        "pop r15",
        "pop rcx",
        "jmp rcx",
    )
}
