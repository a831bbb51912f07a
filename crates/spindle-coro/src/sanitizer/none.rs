//! No sanitizer: nothing to tell.

use crate::Stack;

pub(crate) struct Coroutine;
pub(crate) struct Resume;
pub(crate) struct Inner;
/// What a hook hands to its pair after the switch: nothing here.
pub(crate) struct Token;

impl Resume {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Resume
    }
}

impl Coroutine {
    /// Nothing to clear (ASAN clears its shadow of a reused stack).
    ///
    /// # Safety
    /// As ASAN's.
    #[inline(always)]
    pub(crate) unsafe fn prepare_stack(_bottom: *mut u8, _top: *mut u8) {}

    pub(crate) fn new() -> Self {
        Coroutine
    }
    #[inline(always)]
    pub(crate) unsafe fn before_resume<S: Stack>(&self, _: &Resume, _: &S) -> Token {
        Token
    }
    #[inline(always)]
    pub(crate) unsafe fn after_resume(_: Token, _finished: bool) {}
}

impl Inner {
    #[inline(always)]
    pub(crate) fn on_entry() -> Self {
        Inner
    }
    #[inline(always)]
    pub(crate) unsafe fn before_suspend(&self, _: &Resume) -> Token {
        Token
    }
    #[inline(always)]
    pub(crate) unsafe fn before_finish(&self, _: &Resume) {}
    #[inline(always)]
    pub(crate) unsafe fn after_suspend(&self, _: Token) {}
}
