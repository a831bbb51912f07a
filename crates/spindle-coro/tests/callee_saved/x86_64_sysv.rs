//! System V: rbx, rbp and r12-r15 (no vector register is callee-saved).

use std::arch::asm;
use std::ffi::c_void;

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Registers {
    general: [u64; 6],
}

impl Registers {
    /// What `call_with_pattern(seed, ..)` loads: rbx = seed + 1, rbp =
    /// seed + 2, r12..r15 = seed + 3..6.
    pub(crate) fn pattern(seed: u64) -> Self {
        Registers {
            general: std::array::from_fn(|i| seed + 1 + i as u64),
        }
    }
}

/// Loads the pattern of `seed`, calls `f(arg)`, and returns the registers
/// as they are after the call.
///
/// # Safety
/// `f(arg)` must be safe to call.
pub(crate) unsafe fn call_with_pattern(
    seed: u64,
    f: extern "C" fn(*mut c_void),
    arg: *mut c_void,
) -> Registers {
    let mut out = Registers { general: [0; 6] };
    // SAFETY: we save and restore rbx and rbp ourselves and declare every
    // other register we or the call touch; the stack stays 16-aligned.
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "push rsi",          // out
            "push rdx",          // seed
            "mov rbx, [rsp]", "add rbx, 1",
            "mov rbp, [rsp]", "add rbp, 2",
            "mov r12, [rsp]", "add r12, 3",
            "mov r13, [rsp]", "add r13, 4",
            "mov r14, [rsp]", "add r14, 5",
            "mov r15, [rsp]", "add r15, 6",
            "call rcx",
            "mov [rip + {returned}], rax", // f's result, for `returned()`
            "mov rax, [rsp + 8]",
            "mov [rax], rbx",
            "mov [rax + 8], rbp",
            "mov [rax + 16], r12",
            "mov [rax + 24], r13",
            "mov [rax + 32], r14",
            "mov [rax + 40], r15",
            "add rsp, 16",
            "pop rbp",
            "pop rbx",
            in("rdi") arg,
            in("rsi") out.general.as_mut_ptr(),
            in("rdx") seed,
            in("rcx") f,
            returned = sym crate::RETURNED,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("C"),
        );
    }
    out
}
