//! Reporting stack overflows: a guard page hit (caught by a fault handler)
//! or a broken canary (found on a switch). Both print which coroutine
//! overflowed and how large its stack was, then abort the process: after
//! an overflow nothing on that thread can be trusted.
//!
//! Every coroutine writes a [`Header`] near the top of its stack with its
//! name and size, so the reporter needs no allocation and no lock: the
//! fault handler finds the stack from the faulting address through the
//! lock-free [`registry`] of slabs and guard pages, and reads the header.

mod registry;

pub(crate) use registry::{SlabLayout, register_guard, register_slab, unregister_guard};

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        mod handler_unix;
        pub(crate) use handler_unix::{ensure_handler, write_stderr};
    } else if #[cfg(windows)] {
        mod handler_windows;
        pub(crate) use handler_windows::{ensure_handler, write_stderr};
    } else {
        compile_error!("spindle-coro: unsupported target (no overflow handler)");
    }
}

use crate::arch::TOP_RESERVED;
use core::fmt::{self, Write};

/// Marks a live coroutine's header.
const MAGIC: u64 = 0x636f_726f_7574_696e; // "coroutin"

/// The word at the limit of an unguarded stack; if it changes, the stack
/// overflowed.
pub(crate) const CANARY: u64 = 0x5350_494e_444c_4521; // "SPINDLE!"

const NAME_MAX: usize = 48;

/// What a coroutine keeps at the top of its stack, under the arch area.
#[repr(C)]
pub(crate) struct Header {
    /// [`MAGIC`] while a coroutine owns the stack, so a fault report never
    /// trusts a stale or absent header.
    magic: u64,
    /// The canary of an unguarded stack, null for a guarded one.
    canary: *const u64,
    name_len: usize,
    name: [core::mem::MaybeUninit<u8>; NAME_MAX],
}

impl Header {
    /// Bytes the header takes at the top of a stack, alignment included.
    pub(crate) const SIZE: usize = size_of::<Header>().next_multiple_of(16);

    /// Writes the header of a coroutine named `name` on the stack `[.., base)`.
    ///
    /// # Safety
    /// `base` is the 16-byte aligned top of a writable stack with at least
    /// `TOP_RESERVED + Header::SIZE` bytes.
    #[inline]
    pub(crate) unsafe fn write(base: *mut u8, name: Option<&str>, canary: *const u64) {
        let name = name.unwrap_or("").as_bytes();
        // Truncate on a char boundary so the report stays valid UTF-8.
        let mut len = name.len().min(NAME_MAX);
        while len > 0 && len < name.len() && (name[len] & 0xC0) == 0x80 {
            len -= 1;
        }
        // SAFETY: the caller guarantees the memory; the place is aligned.
        // Field by field, so an unnamed coroutine writes no name bytes.
        unsafe {
            let header = Self::place(base);
            (&raw mut (*header).magic).write(MAGIC);
            (&raw mut (*header).canary).write(canary);
            (&raw mut (*header).name_len).write(len);
            if len > 0 {
                (&raw mut (*header).name)
                    .cast::<u8>()
                    .copy_from_nonoverlapping(name.as_ptr(), len);
            }
        }
    }

    /// # Safety
    /// As [`write`](Self::write).
    unsafe fn place(base: *mut u8) -> *mut Header {
        // SAFETY: the caller guarantees the memory below `base`.
        unsafe { base.sub(TOP_RESERVED + Self::SIZE).cast() }
    }

    /// Marks the stack at `base` as no longer holding a coroutine.
    ///
    /// # Safety
    /// A header was written there; the coroutine is not running.
    #[inline]
    pub(crate) unsafe fn retire(base: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { (&raw mut (*Self::place(base)).magic).write(0) };
    }

    /// The canary of the coroutine on the stack at `base` (null for a
    /// guarded stack).
    ///
    /// # Safety
    /// A header was written there.
    #[inline]
    pub(crate) unsafe fn canary(base: *mut u8) -> *const u64 {
        // SAFETY: forwarded from the caller.
        unsafe { (*Self::place(base)).canary }
    }

    fn name(&self) -> &str {
        let len = self.name_len.min(NAME_MAX);
        // Only the first `name_len` bytes were ever written.
        // SAFETY: `write` initialized them.
        let bytes = unsafe { core::slice::from_raw_parts(self.name.as_ptr().cast::<u8>(), len) };
        core::str::from_utf8(bytes).unwrap_or("?")
    }
}

/// Reports that the coroutine on the stack `[limit, base)` overflowed, and
/// aborts; returns only if no coroutine owns that stack. Allocates nothing
/// and takes no lock, so a signal handler may call it.
///
/// # Safety
/// `base` is the top of a stack: `[limit, base)` is mapped memory.
pub(crate) unsafe fn report(base: *mut u8, limit: usize, how: &str) {
    // SAFETY: the caller guarantees the memory; its words are plain data.
    let header = unsafe { &*Header::place(base) };
    // SAFETY: as above.
    if unsafe { (&raw const header.magic).read_volatile() } != MAGIC {
        return;
    }
    let mut buf = Buf {
        bytes: [0; 256],
        len: 0,
    };
    let name = header.name();
    let _ = if name.is_empty() {
        write!(buf, "\nspindle: an unnamed coroutine")
    } else {
        write!(buf, "\nspindle: coroutine '{name}'")
    };
    let _ = writeln!(
        buf,
        " overflowed its stack of {} bytes ({how}); aborting",
        base as usize - limit
    );
    write_stderr(&buf.bytes[..buf.len]);
    std::process::abort()
}

/// Checks an unguarded stack on a switch out of its coroutine: aborts with
/// a report if its canary is broken, or if the coroutine is below the
/// stack's limit right now. (Guarded stacks need no check: their guard
/// page does the job.)
///
/// This catches overflows that wrote the canary word or that are still
/// deep at the switch; a frame that jumped over the canary without writing
/// it and returned before the switch goes unnoticed, which is why pooled
/// stacks are guarded while the mapping budget lasts.
///
/// # Safety
/// `canary` is the canary of the stack at `base`, which carries a
/// [`Header`].
#[inline(never)]
pub(crate) unsafe fn check_unguarded(canary: *const u64, base: *mut u8) {
    let here = 0u8;
    let deep = (&raw const here).addr() < canary.addr();
    // SAFETY: the caller guarantees the canary is readable.
    if deep || unsafe { canary.read_volatile() } != CANARY {
        // SAFETY: forwarded.
        unsafe { canary_broken(canary, base) }
    }
}

#[cold]
#[inline(never)]
unsafe fn canary_broken(canary: *const u64, base: *mut u8) -> ! {
    let how = "stack canary overwritten, no guard page";
    // SAFETY: forwarded from `check_unguarded`'s caller.
    unsafe { report(base, canary as usize, how) };
    std::process::abort()
}

/// A fixed buffer for messages written where allocation is not allowed.
struct Buf {
    bytes: [u8; 256],
    len: usize,
}

impl Write for Buf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
