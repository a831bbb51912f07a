//! Context switch for the Microsoft x64 calling convention (Windows).
//!
//! Callee-saved state: rbx, rbp, rdi, rsi, r12-r15, xmm6-xmm15 (all 128
//! bits), the control bits of MXCSR and the x87 control word, and five
//! fields of the Thread Environment Block (TEB, at `gs:0`) that must
//! describe the stack that is running:
//!
//! - `StackBase` (`gs:[0x08]`) and `StackLimit` (`gs:[0x10]`): the
//!   exception dispatcher rejects frames outside them, so a panic could
//!   not unwind on a coroutine stack without them;
//! - `DeallocationStack` (`gs:[0x1478]`) and `GuaranteedStackBytes`
//!   (`gs:[0x1748]`, a u32 followed by 4 bytes of padding, saved as one
//!   word): the stack-overflow logic of the kernel and of wine reads them;
//! - `ExceptionList` (`gs:[0x00]`): unused by 64-bit Windows, but wine
//!   chains handlers of its own there and, while dispatching an
//!   exception, calls every one whose address is below the frame being
//!   searched. On a coroutine stack that lies above the thread's stack,
//!   the thread's handlers would be called for the coroutine's panics
//!   (which then fail to start), so each stack keeps its own list, and a
//!   fresh one starts empty (`!0`).
//!
//! The top of every stack (`TOP_RESERVED`) holds a record in the shape of
//! an x64 machine frame, which the trampoline's unwind information reads
//! (see "Unwinding" below):
//!
//! ```text
//! base      +--------------------------------+ (16-byte aligned)
//!           | 0 (padding)                    |  base - 8
//!           | 0 (SS slot, unused)            |  base - 16
//!           | link: resumer's saved sp (RSP) |  base - 24, written by every resume
//!           | 0 (EFLAGS slot, unused)        |  base - 32
//!           | 0 (CS slot, unused)            |  base - 40
//! record -> | resumer-frame address (RIP)    |  base - 48, written by init_stack
//!           +--------------------------------+
//!           | generic data (header, F)       |
//! sp_start  +--------------------------------+ (16-byte aligned)
//! ```
//!
//! A side that switches away (the resumer in `resume`, the coroutine in
//! `suspend`) pushes a switch frame of nine words and stores its stack
//! pointer; the side that switches in jumps to the continuation in that
//! frame, which pops the rest. Both sides use the same frame:
//!
//! ```text
//!           | continuation address     |  sp + 64
//!           | rbp                      |  sp + 56
//!           | rbx                      |  sp + 48
//!           | TEB StackBase            |  sp + 40
//!           | TEB StackLimit           |  sp + 32
//!           | TEB DeallocationStack    |  sp + 24
//!           | TEB GuaranteedStackBytes |  sp + 16
//!           | TEB ExceptionList        |  sp + 8
//! sp  ----> | MXCSR (u32), x87 CW (u16)|  sp + 0
//! ```
//!
//! So each stack keeps its own TEB values while it is switched away, and
//! whoever switches in puts back its own: correct however coroutines nest,
//! and changes made while a stack runs (`SetThreadStackGuarantee`, a
//! kernel moving `StackLimit`) stay with that stack. The TEB words travel
//! through scratch registers: `push`/`pop` with a `gs:` memory operand
//! made a resume/suspend round trip about 20% slower.
//!
//! The other callee-saved registers are declared clobbered instead of
//! saved, so the compiler saves only what is live, once per enclosing
//! function: rdi, rsi and r12-r15 by name, xmm6-xmm15 by
//! `clobber_abi("C")`, which on Windows covers all of xmm0-xmm15 (the
//! upper halves of ymm6-ymm15 are volatile, and a clobber cannot name
//! half a register).
//!
//! A fresh stack, as `init_stack` leaves it, carries a switch frame whose
//! continuation is the trampoline, with the coroutine's TEB values:
//!
//! ```text
//! sp_start  +--------------------------+ (16-byte aligned)
//!           | trampoline address       |  sp + 64
//!           | 0                        |  sp + 56
//!           | entry fn                 |  sp + 48
//!           | StackBase = base         |  sp + 40
//!           | StackLimit = limit       |  sp + 32
//!           | DeallocationStack        |  sp + 24  (allocation_base)
//!           | GuaranteedStackBytes = 0 |  sp + 16
//!           | ExceptionList = !0       |  sp + 8
//! sp  ----> | unused: the coroutine    |  sp + 0
//!           | starts with the resumer's|
//!           | MXCSR and x87 CW         |
//!           | (8 bytes of room)        |  sp - 8
//!           +--------------------------+
//! ```
//!
//! The trampoline installs the TEB values, moves rsp down to `sp - 8`
//! (16-byte aligned) and calls `entry(arg, base)`: the four words above
//! rsp are spent by then and serve as the callee's 32-byte shadow space.
//!
//! # Unwinding
//!
//! Windows unwinders (`RtlVirtualUnwind`, which `std::backtrace` and the
//! exception dispatcher use) read the SEH unwind codes of each function.
//! The trampoline's codes say: frame register rbp (which it points at the
//! record, and every callee preserves), then `UWOP_PUSH_MACHFRAME`, which
//! loads RIP from `[record]` and RSP from `[record + 24]`, the link. RIP is
//! the body of `spindle_coro_0_1_resumer_frame_x86_64_windows`, a function that
//! never runs: its prologue is the second half of the switch frame's
//! pushes, so its unwind codes (skip 48 bytes, pop rbx, pop rbp, return)
//! take the unwinder from the resumer's saved sp to the continuation of
//! the resumer, with the resumer's rsp, rbx and rbp, as if the resumer had
//! called it. From there the resumer's own unwind information applies.
//! Every resume writes the link anyway, so this costs nothing per switch.
//!
//! A running coroutine, as an unwinder walks it:
//!
//! ```text
//!  coroutine's stack                        resumer's stack
//!  base - 24 | link | ---------+            | continuation | -> its RIP
//!  base - 48 | RIP  | = resumed_at          | rbp, rbx     | -> restored
//!            ^ rbp |           |            | 5 TEB words, |
//!  trampoline frame (rbp)      +----------> | MXCSR, x87 CW|  <- saved sp
//!  entry frame ...                          (its frames continue above)
//!  running code (rsp)
//! ```
//!
//! The continuation starts with `ldmxcsr`, not with a `pop`, `add rsp` or
//! `ret`: unwinders that see those at an address take it for an epilogue.

use super::{Bounds, EntryFn};
use core::arch::{asm, global_asm};

pub(crate) const USES_ALLOCATION_BASE: bool = true;
pub(crate) const TOP_RESERVED: usize = 48;

global_asm!(
    ".text",
    ".balign 16",
    ".globl spindle_coro_0_1_trampoline_x86_64_windows",
    ".def spindle_coro_0_1_trampoline_x86_64_windows", // a COFF function symbol:
    ".scl 2",                                          // external,
    ".type 32",                                        // of type function
    ".endef",
    "spindle_coro_0_1_trampoline_x86_64_windows:",
    ".seh_proc spindle_coro_0_1_trampoline_x86_64_windows",
    // Entered by `resume`'s jmp with rsp = the fresh sp (8 mod 16),
    // rcx = first resume argument, rdx = base.
    ".seh_pushframe",       // unwinding ends with RIP = [rsp], RSP = [rsp + 24]...
    "lea rbp, [rdx - 48]",  // rbp -> the record; callees preserve it.
    ".seh_setframe rbp, 0", // ...where rsp = rbp: the record.
    ".seh_endprologue",
    "mov rax, [rsp + 8]",   // initial ExceptionList (empty)
    "mov gs:[0x00], rax",   // into the TEB
    "mov rax, [rsp + 16]",  // GuaranteedStackBytes (+ padding)
    "mov gs:[0x1748], rax", // into the TEB
    "mov rax, [rsp + 24]",  // DeallocationStack
    "mov gs:[0x1478], rax", // into the TEB
    "mov rax, [rsp + 32]",  // StackLimit
    "mov gs:[0x10], rax",   // into the TEB
    "mov rax, [rsp + 40]",  // StackBase
    "mov gs:[0x08], rax",   // into the TEB
    "sub rsp, 8",           // 16-byte aligned; [rsp, rsp + 32) is spent
    // entry(arg = rcx, base = rdx), which never returns: a pushed return
    // address (for unwinders) and a jump rather than a `call`, which would
    // leave the return-stack predictor an entry no `ret` ever takes.
    "lea rax, [rip + 2f]",
    "push rax",       // as a `call` would: entry sees rsp = 8 mod 16
    "jmp [rsp + 64]", // the entry fn, which `call [rsp + 56]` would use
    "2:",
    "ud2", // keeps the return address inside this function
    ".seh_endproc",
    //
    ".balign 16",
    ".globl spindle_coro_0_1_resumer_frame_x86_64_windows",
    ".def spindle_coro_0_1_resumer_frame_x86_64_windows", // a COFF function symbol:
    ".scl 2",                                             // external,
    ".type 32",                                           // of type function
    ".endef",
    "spindle_coro_0_1_resumer_frame_x86_64_windows:",
    ".seh_proc spindle_coro_0_1_resumer_frame_x86_64_windows",
    // Never runs. Its prologue repeats the second half of the pushes of a
    // switch frame (the caller's "call" is `resume` pushing its
    // continuation), so its unwind codes undo them.
    "push rbp",           // sp + 56 of the switch frame
    ".seh_pushreg rbp",   // unwind: pop rbp
    "push rbx",           // sp + 48
    ".seh_pushreg rbx",   // unwind: pop rbx
    "sub rsp, 48",        // the five TEB words and MXCSR/x87 CW
    ".seh_stackalloc 48", // unwind: skip them
    ".seh_endprologue",
    ".globl spindle_coro_0_1_resumed_at_x86_64_windows",
    "spindle_coro_0_1_resumed_at_x86_64_windows:", // the RIP of every record
    "ud2",                                         // not reached
    ".seh_endproc",
);

unsafe extern "C" {
    fn spindle_coro_0_1_trampoline_x86_64_windows();
    fn spindle_coro_0_1_resumed_at_x86_64_windows();
}

/// Writes the record at the top of the stack and the first switch frame
/// below `sp`.
///
/// # Safety
/// - `bounds` describes the stack `sp` is in, and its top `TOP_RESERVED`
///   bytes are ours to write;
/// - `sp` is 16-byte aligned with at least 80 writable bytes below it.
pub(crate) unsafe fn init_stack(bounds: &Bounds, sp: *mut u8, entry: EntryFn) -> *mut u8 {
    let record = bounds.base.wrapping_sub(TOP_RESERVED).cast::<usize>();
    let frame = sp.wrapping_sub(72).cast::<usize>();
    let resumed_at = spindle_coro_0_1_resumed_at_x86_64_windows as *const () as usize;
    let trampoline = spindle_coro_0_1_trampoline_x86_64_windows as *const () as usize;
    // SAFETY: the caller guarantees the six words of the record and the
    // nine words of the frame are ours; both are 8-aligned.
    unsafe {
        record.write(resumed_at); // RIP
        record.add(1).write(0); // CS
        record.add(2).write(0); // EFLAGS
        record.add(3).write(0); // RSP: the link, set by every resume
        record.add(4).write(0); // SS
        record.add(5).write(0); // padding
        frame.write(0); // MXCSR/x87 CW: not loaded by the trampoline
        frame.add(1).write(!0); // ExceptionList: empty
        frame.add(2).write(0); // GuaranteedStackBytes: the system default
        frame.add(3).write(bounds.allocation_base as usize); // DeallocationStack
        frame.add(4).write(bounds.limit as usize); // StackLimit
        frame.add(5).write(bounds.base as usize); // StackBase
        frame.add(6).write(entry as *const () as usize); // rbx slot
        frame.add(7).write(0); // rbp slot
        frame.add(8).write(trampoline); // continuation
    }
    frame.cast()
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
    // stack at `base`; everything the switch clobbers is declared, and the
    // switch frame restores rbx, rbp, MXCSR, x87 CW and the TEB fields.
    unsafe {
        asm!(
            "lea rax, [rip + 2f]",        // our continuation
            "push rax",                   // into the switch frame, top word
            "push rbp",                   // callee-saved, cannot be declared
            "push rbx",                   // callee-saved, cannot be declared
            "mov rax, gs:[0x08]",         // our TEB StackBase
            "mov r9, gs:[0x10]",          // StackLimit
            "mov r10, gs:[0x1478]",       // DeallocationStack
            "mov r11, gs:[0x1748]",       // GuaranteedStackBytes
            "mov rsi, gs:[0x00]",         // ExceptionList
            "push rax",                   // sp + 40: StackBase
            "push r9",                    // sp + 32: StackLimit
            "push r10",                   // sp + 24: DeallocationStack
            "push r11",                   // sp + 16: GuaranteedStackBytes
            "push rsi",                   // sp + 8: ExceptionList
            "sub rsp, 8",                 // room for
            "stmxcsr [rsp]",              // MXCSR
            "fnstcw [rsp + 4]",           // and the x87 control word
            "mov [rdx - 24], rsp",        // link := our sp
            "mov rsp, r8",                // onto the coroutine's stack
            "jmp qword ptr [rsp + 64]",   // its continuation (or the trampoline)
            "2:",                         // back: rcx = arg, r8 = its sp or 0
            "ldmxcsr [rsp]",              // our MXCSR
            "fldcw [rsp + 4]",            // our x87 control word
            "mov rsi, [rsp + 8]",         // our ExceptionList
            "mov r11, [rsp + 16]",        // GuaranteedStackBytes
            "mov r10, [rsp + 24]",        // DeallocationStack
            "mov r9, [rsp + 32]",         // StackLimit
            "mov rax, [rsp + 40]",        // StackBase
            "mov gs:[0x00], rsi",         // into the TEB: ExceptionList
            "mov gs:[0x1748], r11",       // GuaranteedStackBytes
            "mov gs:[0x1478], r10",       // DeallocationStack
            "mov gs:[0x10], r9",          // StackLimit
            "mov gs:[0x08], rax",         // StackBase
            "add rsp, 48",                // past MXCSR/x87 CW and the TEB words
            "pop rbx",                    // our rbx
            "pop rbp",                    // our rbp
            "add rsp, 8",                 // drop the continuation address
            inout("rcx") arg => _,
            inout("rdx") base => _,
            inout("r8") sp => out_sp,
            out("rdi") _, out("rsi") _, // callee-saved on Windows
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("C"), // on Windows: xmm6-xmm15 too, see above
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
    // holds the sp of the resumer, which waits in `resume`; what the switch
    // clobbers is declared, the switch frame restores the rest.
    unsafe {
        asm!(
            "lea rax, [rip + 2f]",        // our continuation
            "push rax",                   // into the switch frame, top word
            "push rbp",                   // callee-saved, cannot be declared
            "push rbx",                   // callee-saved, cannot be declared
            "mov rax, gs:[0x08]",         // our TEB StackBase
            "mov r9, gs:[0x10]",          // StackLimit
            "mov r10, gs:[0x1478]",       // DeallocationStack
            "mov r11, gs:[0x1748]",       // GuaranteedStackBytes
            "mov rsi, gs:[0x00]",         // ExceptionList
            "push rax",                   // sp + 40: StackBase
            "push r9",                    // sp + 32: StackLimit
            "push r10",                   // sp + 24: DeallocationStack
            "push r11",                   // sp + 16: GuaranteedStackBytes
            "push rsi",                   // sp + 8: ExceptionList
            "sub rsp, 8",                 // room for
            "stmxcsr [rsp]",              // MXCSR
            "fnstcw [rsp + 4]",           // and the x87 control word
            "mov r8, rsp",                // our sp, for the resumer
            "mov rsp, [rdx - 24]",        // the resumer's stack (the link)
            "jmp qword ptr [rsp + 64]",   // its continuation in `resume`
            "2:",                         // resumed: rcx = arg, rdx = base
            "ldmxcsr [rsp]",              // our MXCSR
            "fldcw [rsp + 4]",            // our x87 control word
            "mov rsi, [rsp + 8]",         // our ExceptionList
            "mov r11, [rsp + 16]",        // GuaranteedStackBytes
            "mov r10, [rsp + 24]",        // DeallocationStack
            "mov r9, [rsp + 32]",         // StackLimit
            "mov rax, [rsp + 40]",        // StackBase
            "mov gs:[0x00], rsi",         // into the TEB: ExceptionList
            "mov gs:[0x1748], r11",       // GuaranteedStackBytes
            "mov gs:[0x1478], r10",       // DeallocationStack
            "mov gs:[0x10], r9",          // StackLimit
            "mov gs:[0x08], rax",         // StackBase
            "add rsp, 48",                // past MXCSR/x87 CW and the TEB words
            "pop rbx",                    // our rbx
            "pop rbp",                    // our rbp
            "add rsp, 8",                 // drop the continuation address
            lateout("rcx") in_arg,
            inout("rdx") base => _,
            out("r8") _,
            out("rdi") _, out("rsi") _, // callee-saved on Windows
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("C"), // on Windows: xmm6-xmm15 too, see above
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
    // The resumer's continuation restores its own TEB fields.
    unsafe {
        asm!(
            "mov rsp, [rdx - 24]",        // the resumer's stack (the link)
            "xor r8d, r8d",               // sp = null: finished
            "jmp qword ptr [rsp + 64]",   // its continuation in `resume`
            in("rdx") base,
            options(noreturn),
        );
    }
}

/// `suspend` as a function the caller's own frame calls: it saves every
/// callee-saved register (rdi, rsi, r12-r15 and xmm6-xmm15 besides those of
/// the switch frame: the caller's code expects them kept) and, once
/// resumed, returns `arg` by a jump to its return address, not a `ret`:
/// the return-stack predictor then still holds the entry that the resumer
/// pushed, so the resumer's own `ret`s stay predicted when it is back.
///
/// # Safety
/// As `suspend`.
// SAFETY (naked): the body is the whole function and follows the Microsoft x64
// C ABI: it keeps every callee-saved register it and the other side
// touch, and leaves the stack pointer as a return would.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_out(base: *mut u8) -> usize {
    core::arch::naked_asm!(
        // rcx = base; [rsp] = our return address.
        "push rdi",
        "push rsi",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "sub rsp, 160",
        "movups [rsp], xmm6",
        "movups [rsp + 16], xmm7",
        "movups [rsp + 32], xmm8",
        "movups [rsp + 48], xmm9",
        "movups [rsp + 64], xmm10",
        "movups [rsp + 80], xmm11",
        "movups [rsp + 96], xmm12",
        "movups [rsp + 112], xmm13",
        "movups [rsp + 128], xmm14",
        "movups [rsp + 144], xmm15",
        "mov rdx, rcx", // base, where `suspend` has it
        // From here to the label: `suspend`'s switch frame, word for word.
        "lea rax, [rip + 2f]",
        "push rax",
        "push rbp",
        "push rbx",
        "mov rax, gs:[0x08]",
        "mov r9, gs:[0x10]",
        "mov r10, gs:[0x1478]",
        "mov r11, gs:[0x1748]",
        "mov rsi, gs:[0x00]",
        "push rax",
        "push r9",
        "push r10",
        "push r11",
        "push rsi",
        "sub rsp, 8",
        "stmxcsr [rsp]",
        "fnstcw [rsp + 4]",
        "mov r8, rsp",              // our sp, for the resumer
        "mov rsp, [rdx - 24]",      // the resumer's stack (the link)
        "jmp qword ptr [rsp + 64]", // its continuation in `resume`
        "2:",                       // resumed: rcx = arg
        "ldmxcsr [rsp]",
        "fldcw [rsp + 4]",
        "mov rsi, [rsp + 8]",
        "mov r11, [rsp + 16]",
        "mov r10, [rsp + 24]",
        "mov r9, [rsp + 32]",
        "mov rax, [rsp + 40]",
        "mov gs:[0x00], rsi",
        "mov gs:[0x1748], r11",
        "mov gs:[0x1478], r10",
        "mov gs:[0x10], r9",
        "mov gs:[0x08], rax",
        "add rsp, 48",
        "pop rbx",
        "pop rbp",
        "add rsp, 8", // the continuation address
        "mov rax, rcx",
        "movups xmm6, [rsp]",
        "movups xmm7, [rsp + 16]",
        "movups xmm8, [rsp + 32]",
        "movups xmm9, [rsp + 48]",
        "movups xmm10, [rsp + 64]",
        "movups xmm11, [rsp + 80]",
        "movups xmm12, [rsp + 96]",
        "movups xmm13, [rsp + 112]",
        "movups xmm14, [rsp + 128]",
        "movups xmm15, [rsp + 144]",
        "add rsp, 160",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rsi",
        "pop rdi",
        "pop rcx",
        "jmp rcx",
    )
}
