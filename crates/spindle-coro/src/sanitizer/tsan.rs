//! ThreadSanitizer: each coroutine is a TSAN fiber; every switch names the
//! fiber we go to, so TSAN keeps a separate shadow stack and clock per
//! coroutine and orders what happens before and after a switch.

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
    pub(crate) fn new() -> Self {
        // SAFETY: no preconditions.
        Coroutine {
            fiber: unsafe { __tsan_create_fiber(0) },
        }
    }

    /// # Safety
    /// Called right before switching to this coroutine.
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
    pub(crate) unsafe fn after_resume(_: Token, _finished: bool) {}
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        // SAFETY: the coroutine is not running, so its fiber is not current.
        unsafe { __tsan_destroy_fiber(self.fiber) };
    }
}

impl Inner {
    pub(crate) fn on_entry() -> Self {
        Inner
    }

    /// # Safety
    /// Called right before switching back to the resumer of `resume`.
    pub(crate) unsafe fn before_suspend(&self, resume: &Resume, _finishing: bool) -> Token {
        // SAFETY: the resumer's fiber is alive: it waits for us.
        unsafe { __tsan_switch_to_fiber(resume.resumer.get(), 0) };
        Token
    }

    /// # Safety
    /// Called right after being resumed.
    pub(crate) unsafe fn after_suspend(&self, _: Token) {}
}
