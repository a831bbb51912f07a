//! Microsoft x64: rbx, rbp, rdi, rsi, r12-r15, xmm6-xmm15 (all 128 bits),
//! the control bits of MXCSR and the x87 control word. Also: the TEB's
//! stack fields follow the stack that runs.

use spindle_coro::{Coroutine, Stack};
use std::arch::asm;
use std::ffi::c_void;

/// MXCSR bits that are callee-saved: DAZ, exception masks, rounding, FZ.
/// The six status flags below them are volatile.
const MXCSR_CONTROL: u32 = 0xffc0;
/// x87 control word bits: exception masks, precision and rounding.
const FPCW_CONTROL: u16 = 0x0f3f;

/// What `call_with_pattern` loads and reads back. `repr(C)`: the asm
/// block uses the field offsets 0, 64, 224 and 228.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Registers {
    /// rbx, rbp, rdi, rsi, r12, r13, r14, r15.
    general: [u64; 8],
    /// xmm6..xmm15, low half first.
    xmm: [[u64; 2]; 10],
    mxcsr: u32,
    fpcw: u16,
}

impl Registers {
    /// The pattern of `seed`: general registers seed + 1..=8, xmm6..15
    /// halves seed + 0x100.., and rounding modes (MXCSR and x87) and x87
    /// precision picked by bits 12-13 of the seed, so that two seeds that
    /// differ there differ in every register.
    pub(crate) fn pattern(seed: u64) -> Self {
        let mode = ((seed >> 12) & 3) as u16;
        Registers {
            general: std::array::from_fn(|i| seed + 1 + i as u64),
            xmm: std::array::from_fn(|i| {
                let i = i as u64;
                [seed + 0x100 + 2 * i, (seed + 0x101 + 2 * i) << 32]
            }),
            // All exceptions masked (as by default), rounding = mode.
            mxcsr: 0x1f80 | u32::from(mode) << 13,
            // All exceptions masked, rounding = mode, precision: 64 bits
            // when mode is 0, else 53 bits (never the reserved 01).
            fpcw: 0x003f | (mode << 10) | if mode == 0 { 0x300 } else { 0x200 },
        }
    }
}

/// Loads the pattern of `seed`, calls `f(arg)`, and returns the registers
/// as they are after the call (control bits only for MXCSR and the x87
/// control word). Restores the caller's MXCSR and x87 control word.
///
/// # Safety
/// `f(arg)` must be safe to call.
pub(crate) unsafe fn call_with_pattern(
    seed: u64,
    f: extern "C" fn(*mut c_void),
    arg: *mut c_void,
) -> Registers {
    let pattern = Registers::pattern(seed);
    let mut out = Registers {
        general: [0; 8],
        xmm: [[0; 2]; 10],
        mxcsr: 0,
        fpcw: 0,
    };
    // SAFETY: rbx and rbp are pushed and popped, MXCSR and the x87 control
    // word saved and restored, every other register we or the call touch
    // is declared. rsp is 16-aligned at the asm's start, so after two
    // pushes and 64 bytes it is again at the call, with the 32 bytes of
    // shadow space the callee owns at [rsp, rsp + 32).
    unsafe {
        asm!(
            "push rbx",                 // callee-saved, cannot be declared
            "push rbp",                 // callee-saved, cannot be declared
            "sub rsp, 64",              // shadow space + our slots
            "mov [rsp + 32], r8",       // the out pointer
            "stmxcsr [rsp + 40]",       // the caller's MXCSR
            "fnstcw [rsp + 44]",        // the caller's x87 control word
            "mov rbx, [rdx]",           // load the pattern: rbx
            "mov rbp, [rdx + 8]",       // rbp
            "mov rdi, [rdx + 16]",      // rdi
            "mov rsi, [rdx + 24]",      // rsi
            "mov r12, [rdx + 32]",      // r12
            "mov r13, [rdx + 40]",      // r13
            "mov r14, [rdx + 48]",      // r14
            "mov r15, [rdx + 56]",      // r15
            "movdqu xmm6, [rdx + 64]",  // xmm6
            "movdqu xmm7, [rdx + 80]",  // xmm7
            "movdqu xmm8, [rdx + 96]",  // xmm8
            "movdqu xmm9, [rdx + 112]", // xmm9
            "movdqu xmm10, [rdx + 128]", // xmm10
            "movdqu xmm11, [rdx + 144]", // xmm11
            "movdqu xmm12, [rdx + 160]", // xmm12
            "movdqu xmm13, [rdx + 176]", // xmm13
            "movdqu xmm14, [rdx + 192]", // xmm14
            "movdqu xmm15, [rdx + 208]", // xmm15
            "ldmxcsr [rdx + 224]",      // MXCSR
            "fldcw [rdx + 228]",        // x87 control word
            "mov rcx, r11",             // the argument
            "call r10",                 // f(arg)
            "mov [rip + {returned}], rax", // f's result, for `returned()`
            "mov rax, [rsp + 32]",      // the out pointer
            "mov [rax], rbx",           // read back: rbx
            "mov [rax + 8], rbp",       // rbp
            "mov [rax + 16], rdi",      // rdi
            "mov [rax + 24], rsi",      // rsi
            "mov [rax + 32], r12",      // r12
            "mov [rax + 40], r13",      // r13
            "mov [rax + 48], r14",      // r14
            "mov [rax + 56], r15",      // r15
            "movdqu [rax + 64], xmm6",  // xmm6
            "movdqu [rax + 80], xmm7",  // xmm7
            "movdqu [rax + 96], xmm8",  // xmm8
            "movdqu [rax + 112], xmm9", // xmm9
            "movdqu [rax + 128], xmm10", // xmm10
            "movdqu [rax + 144], xmm11", // xmm11
            "movdqu [rax + 160], xmm12", // xmm12
            "movdqu [rax + 176], xmm13", // xmm13
            "movdqu [rax + 192], xmm14", // xmm14
            "movdqu [rax + 208], xmm15", // xmm15
            "stmxcsr [rax + 224]",      // MXCSR
            "fnstcw [rax + 228]",       // x87 control word
            "ldmxcsr [rsp + 40]",       // the caller's MXCSR back
            "fldcw [rsp + 44]",         // the caller's x87 control word back
            "add rsp, 64",              // our slots
            "pop rbp",                  // the caller's rbp
            "pop rbx",                  // the caller's rbx
            in("rdx") &raw const pattern,
            in("r8") &raw mut out,
            in("r10") f,
            in("r11") arg,
            returned = sym crate::RETURNED,
            out("rdi") _, out("rsi") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            out("xmm6") _, out("xmm7") _, out("xmm8") _, out("xmm9") _, out("xmm10") _,
            out("xmm11") _, out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            clobber_abi("C"),
        );
    }
    out.mxcsr &= MXCSR_CONTROL;
    out.fpcw &= FPCW_CONTROL;
    out
}

/// The TEB's description of the running stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StackFields {
    base: usize,
    limit: usize,
    deallocation: usize,
    guaranteed: u32,
}

impl StackFields {
    fn current() -> Self {
        let (base, limit, deallocation, guaranteed): (usize, usize, usize, u32);
        // SAFETY: reads of the running thread's TEB, which gs points at.
        unsafe {
            asm!(
                "mov {base}, gs:[0x08]",     // StackBase
                "mov {limit}, gs:[0x10]",    // StackLimit
                "mov {dealloc}, gs:[0x1478]", // DeallocationStack
                "mov {guar:e}, gs:[0x1748]", // GuaranteedStackBytes
                base = out(reg) base,
                limit = out(reg) limit,
                dealloc = out(reg) deallocation,
                guar = out(reg) guaranteed,
                options(nostack, readonly, preserves_flags),
            );
        }
        StackFields {
            base,
            limit,
            deallocation,
            guaranteed,
        }
    }

    /// What a coroutine on `stack` should see when it starts.
    fn of<S: Stack>(stack: &S) -> Self {
        StackFields {
            base: stack.base().as_ptr() as usize,
            limit: stack.limit().as_ptr() as usize,
            deallocation: stack.allocation_base().as_ptr() as usize,
            guaranteed: 0,
        }
    }
}

#[link(name = "kernel32")]
unsafe extern "system" {
    fn SetThreadStackGuarantee(size: *mut u32) -> i32;
}

/// Asks the system to keep `bytes` for overflow handling on the running
/// stack; this writes the TEB's GuaranteedStackBytes.
fn set_stack_guarantee(bytes: u32) {
    let mut size = bytes;
    // SAFETY: a valid in/out pointer.
    let ok = unsafe { SetThreadStackGuarantee(&mut size) };
    assert_ne!(ok, 0, "SetThreadStackGuarantee failed");
}

type Co = Coroutine<(), StackFields, ()>;

#[test]
fn the_teb_describes_the_running_stack_and_is_restored_after_a_switch() {
    let mut outer: Co = Coroutine::new(|s, ()| {
        let own = StackFields::current();
        s.suspend(own);
        let mut inner: Co = Coroutine::new(|s, ()| {
            s.suspend(StackFields::current());
        });
        let inner_saw = inner.resume(()).as_yield();
        assert_eq!(
            inner_saw,
            Some(StackFields::of(inner.stack())),
            "inside the inner coroutine"
        );
        assert_eq!(
            StackFields::current(),
            own,
            "outer, after the inner suspended"
        );
        assert!(inner.resume(()).as_return().is_some());
        assert_eq!(
            StackFields::current(),
            own,
            "outer, after the inner finished"
        );
        // A change made while a coroutine runs stays with its stack.
        set_stack_guarantee(16 * 1024);
        s.suspend(StackFields::current());
        assert_eq!(
            StackFields::current().guaranteed,
            16 * 1024,
            "outer, resumed after the change"
        );
    });
    let thread = StackFields::current();
    let outer_saw = outer.resume(()).as_yield();
    assert_eq!(
        outer_saw,
        Some(StackFields::of(outer.stack())),
        "inside the outer coroutine"
    );
    assert_eq!(
        StackFields::current(),
        thread,
        "thread, after the outer suspended"
    );
    let outer_changed = outer.resume(()).as_yield().unwrap();
    assert_eq!(outer_changed.guaranteed, 16 * 1024);
    assert_eq!(
        StackFields::current(),
        thread,
        "thread, after the change in the outer"
    );
    assert!(outer.resume(()).as_return().is_some());
    assert_eq!(
        StackFields::current(),
        thread,
        "thread, after the outer finished"
    );
}
