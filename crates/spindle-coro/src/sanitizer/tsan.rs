//! ThreadSanitizer: each coroutine is a TSAN fiber; every switch names the
//! fiber we go to, so TSAN keeps a separate shadow stack and clock per
//! coroutine and orders what happens before and after a switch.
//!
//! The hooks are `#[inline(always)]` for a reason beyond speed: TSAN
//! tracks calls on the current fiber's shadow stack, so no instrumented
//! function may return between `__tsan_switch_to_fiber` and the stack
//! switch itself (it would pop the other fiber's shadow stack).

use crate::Stack;
use core::cell::Cell;
use core::ffi::c_void;
use core::ptr;

unsafe extern "C" {
    fn __tsan_get_current_fiber() -> *mut c_void;
    fn __tsan_create_fiber(flags: u32) -> *mut c_void;
    fn __tsan_destroy_fiber(fiber: *mut c_void);
    fn __tsan_switch_to_fiber(fiber: *mut c_void, flags: u32);
}

pub(crate) struct Coroutine {
    fiber: *mut c_void,
}

/// The fiber of the resumer, to switch back to.
pub(crate) struct Resume {
    resumer: Cell<*mut c_void>,
}

impl Resume {
    pub(crate) fn new() -> Self {
        Resume {
            resumer: Cell::new(ptr::null_mut()),
        }
    }
}

pub(crate) struct Inner;
/// What a hook hands to its pair after the switch: nothing here.
pub(crate) struct Token;

impl Coroutine {
    /// Nothing to clear (ASAN clears its shadow of a reused stack).
    ///
    /// # Safety
    /// As ASAN's.
    #[inline(always)]
    pub(crate) unsafe fn prepare_stack(_bottom: *mut u8, _top: *mut u8) {}

    pub(crate) fn new() -> Self {
        // SAFETY: no preconditions.
        Coroutine {
            fiber: unsafe { __tsan_create_fiber(0) },
        }
    }

    /// # Safety
    /// Called right before switching to this coroutine.
    #[inline(always)]
    pub(crate) unsafe fn before_resume<S: Stack>(&self, resume: &Resume, _: &S) -> Token {
        // SAFETY: our fiber lives until drop; switching announces the jump.
        unsafe {
            resume.resumer.set(__tsan_get_current_fiber());
            __tsan_switch_to_fiber(self.fiber, 0);
        }
        Token
    }

    /// # Safety
    /// Called right after coming back.
    #[inline(always)]
    pub(crate) unsafe fn after_resume(_: Token, _finished: bool) {}
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        // SAFETY: the coroutine is not running, so its fiber is not current.
        unsafe { __tsan_destroy_fiber(self.fiber) };
    }
}

impl Inner {
    #[inline(always)]
    pub(crate) fn on_entry() -> Self {
        Inner
    }

    /// # Safety
    /// Called right before switching back to the resumer of `resume`.
    #[inline(always)]
    pub(crate) unsafe fn before_suspend(&self, resume: &Resume) -> Token {
        // SAFETY: the resumer's fiber is alive: it waits for us.
        unsafe { __tsan_switch_to_fiber(resume.resumer.get(), 0) };
        Token
    }

    /// # Safety
    /// Called right before the last switch back to the resumer.
    #[inline(always)]
    pub(crate) unsafe fn before_finish(&self, resume: &Resume) {
        // SAFETY: as `before_suspend`.
        unsafe { self.before_suspend(resume) };
    }

    /// # Safety
    /// Called right after being resumed.
    #[inline(always)]
    pub(crate) unsafe fn after_suspend(&self, _: Token) {}
}
