//! Telling AddressSanitizer and ThreadSanitizer about stack switches.
//!
//! `build.rs` sets `spindle_asan` or `spindle_tsan` when the crate is built
//! with `-Zsanitizer=address` or `-Zsanitizer=thread`; otherwise every hook
//! is an empty inline function.
//!
//! Three pieces of state, each where its lifetime is:
//! - [`Coroutine`], in the coroutine (the TSAN fiber);
//! - [`Resume`], in the resumer's frame for one resume (the TSAN fiber to
//!   return to);
//! - [`Inner`], on the coroutine's stack (the bounds of the resumer's
//!   stack, which ASAN reports on each switch in).

cfg_if::cfg_if! {
    if #[cfg(spindle_asan)] {
        mod asan;
        pub(crate) use asan::*;
    } else if #[cfg(spindle_tsan)] {
        mod tsan;
        pub(crate) use tsan::*;
    } else {
        mod none;
        pub(crate) use none::*;
    }
}
