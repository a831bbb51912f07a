//! AAPCS64: x19-x29 (x29 is the frame pointer) and d8-d15, the low 64 bits
//! of v8-v15.

use std::arch::asm;
use std::ffi::c_void;

#[derive(Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Registers {
    /// x19..x29, at offsets 0..88.
    general: [u64; 11],
    /// d8..d15 as bits, at offsets 88..152.
    float: [u64; 8],
}

impl Registers {
    /// What `call_with_pattern(seed, ..)` loads: x19..x29 = seed + 1..11,
    /// d8..d15 = seed + 12..19 (as bit patterns).
    pub(crate) fn pattern(seed: u64) -> Self {
        Registers {
            general: std::array::from_fn(|i| seed + 1 + i as u64),
            float: std::array::from_fn(|i| seed + 12 + i as u64),
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
    let mut out = Registers {
        general: [0; 11],
        float: [0; 8],
    };
    // SAFETY: we save and restore x19 and x29 ourselves (they cannot be
    // operands) and declare every other register we or the call touch
    // (clobber_abi("C") covers v8-v15 whole); sp stays 16-aligned.
    unsafe {
        asm!(
            "stp x19, x29, [sp, #-32]!", // save what we may not declare
            "str x1, [sp, #16]",         // keep `out` across the call
            "add x19, x2, #1",           // x19..x29 = seed + 1..11
            "add x20, x2, #2",
            "add x21, x2, #3",
            "add x22, x2, #4",
            "add x23, x2, #5",
            "add x24, x2, #6",
            "add x25, x2, #7",
            "add x26, x2, #8",
            "add x27, x2, #9",
            "add x28, x2, #10",
            "add x29, x2, #11",          // the frame pointer too
            "add x9, x2, #12", "fmov d8, x9", // d8..d15 = seed + 12..19
            "add x9, x2, #13", "fmov d9, x9",
            "add x9, x2, #14", "fmov d10, x9",
            "add x9, x2, #15", "fmov d11, x9",
            "add x9, x2, #16", "fmov d12, x9",
            "add x9, x2, #17", "fmov d13, x9",
            "add x9, x2, #18", "fmov d14, x9",
            "add x9, x2, #19", "fmov d15, x9",
            "blr x3",                    // f(arg = x0)
            "adrp x9, {returned}",       // f's result, for `returned()`
            "str x0, [x9, :lo12:{returned}]",
            "ldr x9, [sp, #16]",         // out
            "stp x19, x20, [x9]",        // general[0..2]
            "stp x21, x22, [x9, #16]",   // general[2..4], and so on
            "stp x23, x24, [x9, #32]",
            "stp x25, x26, [x9, #48]",
            "stp x27, x28, [x9, #64]",
            "str x29, [x9, #80]",        // general[10]
            "stp d8, d9, [x9, #88]",     // float[0..2]
            "stp d10, d11, [x9, #104]",  // float[2..4], and so on
            "stp d12, d13, [x9, #120]",
            "stp d14, d15, [x9, #136]",
            "ldp x19, x29, [sp], #32",   // restore ours
            in("x0") arg,
            in("x1") &raw mut out,
            in("x2") seed,
            in("x3") f,
            returned = sym crate::RETURNED,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    out
}
