//! A cache prefetch hint: tells the processor which line will be needed
//! soon, so that fetching it (and walking the page tables for it) overlaps
//! with other work.

/// Hints that the cache line holding `addr` will be read and written soon.
///
/// A prefetch never faults and has no effect a program can observe, so any
/// address will do, mapped or not, inside an allocation or not: a wrong
/// guess costs one useless fetch. It compiles to nothing on targets
/// without a prefetch instruction and under Miri.
#[inline(always)]
pub fn prefetch<T>(addr: *const T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetcht0` only hints the cache; it reads nothing the
    // program sees and cannot fault, whatever the address. (With the
    // `prfchw` feature, `_MM_HINT_ET0` becomes `prefetchw`.)
    unsafe {
        use core::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_ET0>(addr.cast());
    }
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    // SAFETY: as above, for `prfm`.
    unsafe {
        core::arch::asm!(
            "prfm pstl1keep, [{addr}]",
            addr = in(reg) addr,
            options(nostack, preserves_flags, readonly)
        );
    }
    #[cfg(any(not(any(target_arch = "x86_64", target_arch = "aarch64")), miri))]
    let _ = addr;
}
