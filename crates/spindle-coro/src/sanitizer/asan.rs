//! AddressSanitizer: announce each switch with the bounds of the stack we
//! go to, and confirm it once there, so ASAN tracks the right stack.

use crate::Stack;
use core::cell::Cell;
use core::ffi::c_void;
use core::ptr;

unsafe extern "C" {
    fn __sanitizer_start_switch_fiber(
        fake_stack_save: *mut *mut c_void,
        bottom: *const c_void,
        size: usize,
    );
    fn __sanitizer_finish_switch_fiber(
        fake_stack_save: *mut c_void,
        bottom_old: *mut *const c_void,
        size_old: *mut usize,
    );
    fn __asan_unpoison_memory_region(addr: *const c_void, size: usize);
}

/// What `before_suspend` hands to `after_suspend`: the fake stack ASAN
/// saved for us.
pub(crate) type Token = *mut c_void;

pub(crate) struct Coroutine;
pub(crate) struct Resume;

impl Resume {
    pub(crate) fn new() -> Self {
        Resume
    }
}

/// The resumer's stack, learned on every switch into the coroutine.
pub(crate) struct Inner {
    bottom: Cell<*const c_void>,
    size: Cell<usize>,
}

impl Coroutine {
    pub(crate) fn new() -> Self {
        Coroutine
    }

    /// Clears what earlier coroutines left in ASAN's shadow of a stack
    /// about to get a new one: the redzones of frames that never returned
    /// (every coroutine's first frame jumps away instead), which a new
    /// coroutine's data and frames, laid out differently, may overlap.
    ///
    /// # Safety
    /// `[bottom, top)` is a stack with no live frames on it.
    pub(crate) unsafe fn prepare_stack(bottom: *mut u8, top: *mut u8) {
        // SAFETY: the range is the caller's stack memory.
        unsafe {
            __asan_unpoison_memory_region(
                bottom.cast_const().cast(),
                top as usize - bottom as usize,
            )
        };
    }

    /// # Safety
    /// Called right before switching onto `stack`.
    #[inline(always)]
    pub(crate) unsafe fn before_resume<S: Stack>(&self, _: &Resume, stack: &S) -> *mut c_void {
        let mut fake = ptr::null_mut();
        let (bottom, top) = (stack.limit().as_ptr(), stack.base().as_ptr());
        let size = top as usize - bottom as usize;
        // SAFETY: valid out-pointer; the bounds are the target stack's.
        unsafe { __sanitizer_start_switch_fiber(&mut fake, bottom.cast_const().cast(), size) };
        fake
    }

    /// # Safety
    /// Called right after coming back, with `before_resume`'s token.
    #[inline(always)]
    pub(crate) unsafe fn after_resume(fake: *mut c_void, _finished: bool) {
        // SAFETY: `fake` is what our `start` saved.
        unsafe { __sanitizer_finish_switch_fiber(fake, ptr::null_mut(), ptr::null_mut()) };
    }
}

impl Inner {
    #[inline(always)]
    pub(crate) fn on_entry() -> Self {
        let inner = Inner {
            bottom: Cell::new(ptr::null()),
            size: Cell::new(0),
        };
        // SAFETY: first code on a fresh coroutine stack; no fake stack yet.
        unsafe { inner.after_suspend(ptr::null_mut()) };
        inner
    }

    /// # Safety
    /// Called right before switching back to the resumer.
    #[inline(always)]
    pub(crate) unsafe fn before_suspend(&self, _: &Resume) -> *mut c_void {
        let mut fake = ptr::null_mut();
        // SAFETY: the bounds are the resumer's, reported by ASAN itself.
        unsafe { __sanitizer_start_switch_fiber(&mut fake, self.bottom.get(), self.size.get()) };
        fake
    }

    /// Right before the last switch back: ASAN frees this coroutine's fake
    /// stack (where ASAN may keep its locals), so nothing in it may be
    /// touched afterwards, which is why this returns nothing.
    ///
    /// # Safety
    /// Called right before `finish`, which must use no local that lives in
    /// memory (only values in registers or plain stack slots).
    #[inline(always)]
    pub(crate) unsafe fn before_finish(&self, _: &Resume) {
        // SAFETY: the bounds are the resumer's; null frees our fake stack.
        unsafe {
            __sanitizer_start_switch_fiber(ptr::null_mut(), self.bottom.get(), self.size.get())
        };
    }

    /// # Safety
    /// Called right after being resumed, with `before_suspend`'s token.
    #[inline(always)]
    pub(crate) unsafe fn after_suspend(&self, fake: *mut c_void) {
        let (mut bottom, mut size) = (ptr::null(), 0);
        // SAFETY: valid out-pointers; `fake` is what our `start` saved.
        unsafe { __sanitizer_finish_switch_fiber(fake, &mut bottom, &mut size) };
        self.bottom.set(bottom);
        self.size.set(size);
    }
}
