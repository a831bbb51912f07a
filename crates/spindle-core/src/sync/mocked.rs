//! loom's models of the primitives, used under `--cfg loom`.
//!
//! Every atomic access, spin hint and yield below is a point where loom may
//! switch threads, and every cell access is checked against the
//! happens-before relation, so a missing `Acquire`/`Release` is reported as
//! a data race.

/// Atomic types and orderings.
pub(crate) mod atomic {
    pub(crate) use loom::sync::atomic::{AtomicBool, Ordering};
}

/// Spin-loop hints.
pub(crate) mod hint {
    /// Emits one loom spin hint, whatever `n` is.
    ///
    /// Each loom hint is a scheduling point, and loom explores every choice at
    /// every such point: a burst of `n` would multiply the state space by `n`
    /// and find nothing one hint does not.
    pub(crate) fn spin_burst(_n: u32) {
        loom::hint::spin_loop();
    }
}

/// Thread scheduling.
pub(crate) mod thread {
    pub(crate) use loom::thread::yield_now;
}

/// Cells whose accesses loom can check.
pub(crate) mod cell {
    pub use loom::cell::UnsafeCell;
}
