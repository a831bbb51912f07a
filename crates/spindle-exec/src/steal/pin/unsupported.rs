//! Targets without a pinning backend: every request is refused.

use std::io;

pub(crate) const SUPPORTED: bool = false;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "pinning threads to CPUs is not implemented for this target",
    )
}

pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    Err(unsupported())
}

pub(crate) fn pin_current_thread(_cpu: usize) -> io::Result<()> {
    Err(unsupported())
}
