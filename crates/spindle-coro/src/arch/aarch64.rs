//! Context switch for aarch64 (AAPCS64) on Linux and the other ELF Unixes.
//!
//! Stack of a fresh coroutine, as `init_stack` leaves it:
//!
//! ```text
//! base      +--------------------------+ (16-byte aligned)
//!           | 0 (end of frame chain)   |  base - 8
//!           | link: resumer's sp       |  base - 16, written by every resume
//!           | generic data (header, F) |
//! sp_start  +--------------------------+ (16-byte aligned)
//!           | 0 (padding)              |  sp + 24
//!           | entry fn      (-> x19)   |  sp + 16
//!           | trampoline    (-> pc)    |  sp + 8
//! sp  ----> | base - 16     (-> x29)   |  sp + 0
//!           +--------------------------+
//! ```
//!
//! A suspended coroutine (and a resumer waiting for it) keeps a 32-byte
//! frame at its saved stack pointer, pushed by `resume`/`suspend`. Its
//! first two words are an AAPCS64 frame record (fp, return address):
//!
//! ```text
//!           | padding                  |  sp + 24
//!           | x19                      |  sp + 16
//!           | resume address           |  sp + 8
//! sp  ----> | x29 (fp)                 |  sp + 0
//! ```
//!
//! While a coroutine runs, its stack looks like this:
//!
//! ```text
//! base      +--------------------------+
//!           | 0                        |
//!           | link ------------------------> resumer's frame (above)
//!           | generic data (header, F) |
//! sp_start  +--------------------------+ <-- CFA of the resumer = link + 32
//!           | entry's frame ...        |     (x29 of the trampoline frame
//!           | ...                      |      = base - 16, the link slot)
//! ```
//!
//! Switching is "push x29, our continuation and x19, publish sp, load the
//! other side's x29, continuation and x19 from its frame, pop that frame
//! and branch". Every other callee-saved register (x20-x28 and d8-d15,
//! which `clobber_abi("C")` already covers because it treats v8-v15 as
//! wholly clobbered) is declared clobbered, so the compiler saves only what
//! is live. x19 and x29 cannot be asm operands (LLVM reserves x19 as its
//! base pointer, x29 is the frame pointer), hence the frame. x18 is a
//! temporary on Linux and `clobber_abi("C")` clobbers it.
//!
//! Frames are only ever written at or above sp (the push moves sp first)
//! and read before sp moves above them, so a signal handler running on the
//! current stack at any point of a switch cannot overwrite one.
//!
//! One switch is 9 instructions (`finish` 5), a resume + suspend round
//! trip 18.
//!
//! # Why `br` and not `blr`/`ret`
//! Both directions branch with `br`, which leaves the return-address stack
//! alone: a switch neither pushes an entry that is never popped nor pops
//! one that belongs to the other stack, so each side's returns stay
//! predicted as well as they would be without coroutines, and each `br`
//! has a fixed target per call site, which the indirect predictor learns.
//! Pairing `blr` (resume) with `ret` (suspend) would save the `adr` in
//! `resume` but mispredicts the `ret` whenever the coroutine does not
//! suspend at the call depth it was resumed at. The entry call in the
//! trampoline is a `blr`, once per coroutine, so that `entry` gets a real
//! return address for the unwinder and stays a valid BTI `bti c` target.
//! (The `br` targets carry no `bti j`: Rust does not enable BTI by
//! default; a build with `-Zbranch-protection=bti` would need one at
//! each continuation.)
//!
//! # Unwinding
//! While the coroutine runs, the link slot holds the resumer's sp, and the
//! trampoline's x29 points at the link slot (`init_stack` puts `base - 16`
//! in the fresh frame's x29 word). The trampoline's CFI computes its caller's
//! frame from it: CFA = [x29] + 32, x29 at CFA - 32, the return address
//! (x30) at CFA - 24 and x19 at CFA - 16, which lets unwinders walk from
//! the coroutine into the function that resumed it.

use super::{Bounds, EntryFn};
use core::arch::{asm, global_asm};

pub(crate) const USES_ALLOCATION_BASE: bool = false;
pub(crate) const TOP_RESERVED: usize = 16;

global_asm!(
    ".pushsection .text.spindle_coro_0_1_trampoline_aarch64,\"ax\",%progbits",
    ".balign 4",
    ".globl spindle_coro_0_1_trampoline_aarch64",
    ".hidden spindle_coro_0_1_trampoline_aarch64",
    ".type spindle_coro_0_1_trampoline_aarch64,%function",
    "spindle_coro_0_1_trampoline_aarch64:",
    ".cfi_startproc",
    // On entry (from `resume`): sp = sp_start, x0 = first resume argument,
    // x1 = base, x19 = entry fn, x29 = base - 16 (the link slot).
    // CFA = [x29] + 32: DW_CFA_def_cfa_expression, 5 bytes:
    // DW_OP_breg29 (x29) 0, DW_OP_deref, DW_OP_plus_uconst 32.
    ".cfi_escape 0x0f, 0x05, 0x8d, 0x00, 0x06, 0x23, 0x20",
    ".cfi_offset x29, -32", // the resumer's fp
    ".cfi_offset x30, -24", // its resume address, our "return address"
    ".cfi_offset x19, -16", // its x19
    // entry(arg = x0, base = x1), which never returns. `blr` would push
    // the return-address predictor with an entry no `ret` ever takes; set
    // lr by hand (for unwinders) and branch instead.
    "adr x30, 2f",
    "br x19",
    "2:",
    "brk #0", // unreachable
    ".cfi_endproc",
    ".size spindle_coro_0_1_trampoline_aarch64, . - spindle_coro_0_1_trampoline_aarch64",
    ".popsection",
);

unsafe extern "C" {
    fn spindle_coro_0_1_trampoline_aarch64();
}

/// Writes the first frame below `sp` and clears the word at `base - 8`.
///
/// # Safety
/// `sp` is 16-byte aligned, inside the stack described by `bounds`, with at
/// least 32 writable bytes below it; the `TOP_RESERVED` bytes under
/// `bounds.base` are writable and not used by anyone else.
pub(crate) unsafe fn init_stack(bounds: &Bounds, sp: *mut u8, entry: EntryFn) -> *mut u8 {
    let base = bounds.base.cast::<usize>();
    let sp = sp.cast::<usize>();
    // SAFETY: the caller guarantees 32 writable, aligned bytes below `sp`
    // and the reserved, aligned words below `base`.
    unsafe {
        base.sub(1).write(0); // ends the frame-pointer chain
        sp.sub(1).write(0);
        sp.sub(2).write(entry as *const () as usize);
        sp.sub(3)
            .write(spindle_coro_0_1_trampoline_aarch64 as *const () as usize);
        sp.sub(4).write(base.sub(2) as usize);
        sp.sub(4).cast()
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
    // stack at `base`; x19 and x29 are saved and restored by hand, every
    // other register the switch clobbers is declared; sp stays 16-aligned.
    unsafe {
        asm!(
            "adr x3, 2f",               // our continuation
            "stp x29, x3, [sp, #-32]!", // push fp and continuation
            "str x19, [sp, #16]",       // and x19 (sp + 24 is padding)
            "mov x3, sp",               // (sp cannot be stored directly)
            "str x3, [x1, #-16]",       // link slot := our sp
            "ldp x29, x3, [x2]",        // the coroutine's fp and continuation
            "ldr x19, [x2, #16]",       // its x19
            "add sp, x2, #32",          // onto its stack, frame popped
            "br x3",                    // its continuation (or the trampoline)
            "2:",                       // back: x0 = arg, x2 = its sp or 0
            inout("x0") arg => _,
            in("x1") base,
            inout("x2") sp => out_sp,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    out_sp
}

/// The switch out of a running coroutine, with x1 = base, ending at the
/// label `2:` where it is resumed with x0 = arg: `suspend`'s and
/// `switch_out`'s.
macro_rules! switch_to_resumer {
    () => {
        concat!(
            "adr x3, 2f\n",               // our continuation
            "stp x29, x3, [sp, #-32]!\n", // push fp and continuation
            "str x19, [sp, #16]\n",       // and x19
            "mov x2, sp\n",               // our sp, for the resumer
            "ldr x3, [x1, #-16]\n",       // the resumer's sp, from the link slot
            "ldp x29, x4, [x3]\n",        // its fp and continuation
            "ldr x19, [x3, #16]\n",       // its x19
            "add sp, x3, #32\n",          // onto its stack, frame popped
            "br x4\n",                    // into `resume`, after its `br`
            "2:",
        )
    };
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
            switch_to_resumer!(), // resumed at its end: x0 = arg
            lateout("x0") in_arg,
            in("x1") base,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
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
            "ldr x3, [x1, #-16]", // the resumer's sp, from the link slot
            "ldp x29, x4, [x3]",  // its fp and continuation
            "ldr x19, [x3, #16]", // its x19
            "add sp, x3, #32",    // onto its stack, frame popped
            "br x4",              // into `resume` with x2 = 0: finished
            in("x1") base,
            in("x2") 0usize,
            options(noreturn),
        );
    }
}

/// `suspend` as a function the caller's own frame calls: it saves every
/// callee-saved general and vector register (the caller's code expects
/// them kept; control registers are not switched, as in `suspend`) and, once
/// resumed, returns `arg` with a `br` to the link register, not a `ret`:
/// the return-stack predictor then still holds the entry that the resumer
/// pushed, so the resumer's own `ret`s stay predicted when it is back.
///
/// # Safety
/// As `suspend`.
// SAFETY (naked): the body is the whole function and follows the AAPCS64
// C ABI: it keeps every callee-saved register it and the other side
// touch, and leaves the stack pointer as a return would.
#[unsafe(naked)]
pub unsafe extern "C" fn switch_out(base: *mut u8) -> usize {
    core::arch::naked_asm!(
        // x0 = base, x30 = our return address.
        "stp x29, x30, [sp, #-16]!",
        "stp x27, x28, [sp, #-16]!",
        "stp x25, x26, [sp, #-16]!",
        "stp x23, x24, [sp, #-16]!",
        "stp x21, x22, [sp, #-16]!",
        "stp x19, x20, [sp, #-16]!",
        "stp d14, d15, [sp, #-16]!",
        "stp d12, d13, [sp, #-16]!",
        "stp d10, d11, [sp, #-16]!",
        "stp d8, d9, [sp, #-16]!",
        "mov x1, x0",         // base, where `suspend` has it
        switch_to_resumer!(), // resumed at its end (frame popped): x0 = arg
        "ldp d8, d9, [sp], #16",
        "ldp d10, d11, [sp], #16",
        "ldp d12, d13, [sp], #16",
        "ldp d14, d15, [sp], #16",
        "ldp x19, x20, [sp], #16",
        "ldp x21, x22, [sp], #16",
        "ldp x23, x24, [sp], #16",
        "ldp x25, x26, [sp], #16",
        "ldp x27, x28, [sp], #16",
        "ldp x29, x30, [sp], #16",
        "br x30",
    )
}

/// x19 and x29 are the registers this file saves by hand, and the one place
/// a mistake with them shows is right after the switch: any epilogue on the
/// way out restores them from its own frame and hides it (which is why
/// `tests/callee_saved` misses such mistakes). So each side notes them just
/// before and just after its switch. Nothing is live across the switches
/// below (every static is reached out of line, so not even an address), so
/// the compiler has no reason to put anything in x19 (the only
/// callee-saved register not declared clobbered), and the two sides enter
/// with different x19: a pattern for the resumer, the entry address for
/// the coroutine.
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// Before x29, before x19, after x29, after x19, of each side.
    static RESUMER: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
    static COROUTINE: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
    static BASE: AtomicUsize = AtomicUsize::new(0);
    static SP: AtomicUsize = AtomicUsize::new(0);
    const X19_PATTERN: usize = 0x1919_1919_1919_1919;

    /// x29 and x19 as they are now.
    #[inline(always)]
    fn fp_x19() -> (usize, usize) {
        let (fp, x19);
        // SAFETY: reads two registers, touches nothing else.
        unsafe {
            asm!(
                "mov {x19}, x19", // x19 first: {fp} may be x19
                "mov {fp}, x29",  // the frame pointer
                fp = out(reg) fp,
                x19 = out(reg) x19,
                options(nomem, nostack, preserves_flags),
            );
        }
        (fp, x19)
    }

    /// Where `note` writes.
    #[derive(Clone, Copy)]
    enum Moment {
        ResumerBefore,
        ResumerAfter,
        CoroutineBefore,
        CoroutineAfter,
    }

    // The statics are reached only through these, out of line, so that no
    // address of a static is kept in x19 across a switch.
    #[inline(never)]
    fn note(moment: Moment, (fp, x19): (usize, usize)) {
        let to = match moment {
            Moment::ResumerBefore => &RESUMER[..2],
            Moment::ResumerAfter => &RESUMER[2..],
            Moment::CoroutineBefore => &COROUTINE[..2],
            Moment::CoroutineAfter => &COROUTINE[2..],
        };
        to[0].store(fp, Relaxed);
        to[1].store(x19, Relaxed);
    }

    #[inline(never)]
    fn base() -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(BASE.load(Relaxed))
    }

    /// The saved sp and the base, in one call: nothing to keep in between.
    #[inline(never)]
    fn sp_and_base() -> (*mut u8, *mut u8) {
        (
            core::ptr::with_exposed_provenance_mut(SP.load(Relaxed)),
            base(),
        )
    }

    #[inline(never)]
    fn set_sp(sp: *mut u8) {
        SP.store(sp.expose_provenance(), Relaxed);
    }

    /// The coroutine: notes, suspends once, notes, finishes.
    ///
    /// # Safety
    /// Called only by the trampoline, on the stack whose base is `base()`.
    unsafe extern "C" fn entry(_: usize, _: *mut u8) -> ! {
        note(Moment::CoroutineBefore, fp_x19());
        // SAFETY: we run on the coroutine stack at `base()`.
        unsafe { suspend(base()) };
        note(Moment::CoroutineAfter, fp_x19());
        // SAFETY: as above; nothing on this stack is used afterwards.
        unsafe { finish(base()) }
    }

    /// Resumes the coroutine whose sp is in `SP`, noting x29 and x19.
    extern "C" fn resume_noting() {
        note(Moment::ResumerBefore, fp_x19());
        // SAFETY: `SP` comes from `init_stack` or the last resume of the
        // stack at `base()`, and `entry` follows the protocol.
        let new_sp = unsafe {
            let (sp, base) = sp_and_base();
            resume(0, sp, base)
        };
        let seen = fp_x19();
        set_sp(new_sp);
        note(Moment::ResumerAfter, seen);
    }

    /// Calls `resume_noting` with x19 = `X19_PATTERN`.
    fn resume_with_x19_pattern() {
        // SAFETY: we save and restore x19 around the call, and declare
        // every other register the call may change; sp stays 16-aligned.
        unsafe {
            asm!(
                "str x19, [sp, #-16]!", // save x19
                "mov x19, x9",          // the pattern
                "blr x10",              // resume_noting()
                "ldr x19, [sp], #16",   // restore x19
                in("x9") X19_PATTERN,
                in("x10") resume_noting as extern "C" fn(),
                clobber_abi("C"),
            );
        }
    }

    fn seen(side: &[AtomicUsize; 4]) -> [usize; 4] {
        side.each_ref().map(|a| a.load(Relaxed))
    }

    #[test]
    fn x19_and_x29_survive_a_switch_in_both_directions() {
        let mut memory = vec![0u128; 16 * 1024 / 16];
        let range = memory.as_mut_ptr_range();
        let (limit, base) = (range.start.cast::<u8>(), range.end.cast::<u8>());
        let bounds = Bounds {
            base,
            limit,
            allocation_base: limit,
        };
        // SAFETY: 16 KiB of 16-aligned memory that outlives the coroutine;
        // the first frame goes well below the reserved top.
        let sp = unsafe { init_stack(&bounds, base.wrapping_sub(64), entry) };
        BASE.store(base.expose_provenance(), Relaxed);
        set_sp(sp);
        for _ in 0..2 {
            resume_with_x19_pattern();
            let [fp0, x19_0, fp1, x19_1] = seen(&RESUMER);
            assert_eq!(x19_0, X19_PATTERN, "test setup: x19 untouched on entry");
            assert_eq!((fp1, x19_1), (fp0, x19_0), "resumer's x29, x19");
        }
        assert!(sp_and_base().0.is_null(), "the coroutine finished");
        let [fp0, x19_0, fp1, x19_1] = seen(&COROUTINE);
        assert_ne!(x19_0, X19_PATTERN, "test setup: the sides differ in x19");
        assert_eq!((fp1, x19_1), (fp0, x19_0), "coroutine's x29, x19");
        drop(memory);
    }
}
