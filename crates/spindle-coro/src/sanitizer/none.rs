//! No sanitizer: nothing to tell.

use crate::Stack;

#[derive(Default)]
pub(crate) struct Coroutine;
#[derive(Default)]
pub(crate) struct Resume;
pub(crate) struct Inner;

impl Coroutine {
    pub(crate) fn new() -> Self {
        Coroutine
    }
    #[inline(always)]
    pub(crate) unsafe fn before_resume<S: Stack>(&self, _: &Resume, _: &S) {}
    #[inline(always)]
    pub(crate) unsafe fn after_resume(_: (), _finished: bool) {}
}

impl Inner {
    #[inline(always)]
    pub(crate) fn on_entry() -> Self {
        Inner
    }
    #[inline(always)]
    pub(crate) unsafe fn before_suspend(&self, _: &Resume, _finishing: bool) {}
    #[inline(always)]
    pub(crate) unsafe fn after_suspend(&self, _: ()) {}
}
