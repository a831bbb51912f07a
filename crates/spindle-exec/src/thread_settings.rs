//! The thread settings both pools' builders accept, checked in one place.

use std::thread;

/// Most worker threads a pool may have.
pub(crate) const MAX_THREADS: usize = 4096;
/// Largest worker stack a pool accepts (std's rounding can panic past it).
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// What is wrong with a builder's thread settings.
pub(crate) enum Invalid {
    NoThreads,
    TooManyThreads {
        requested: usize,
    },
    StackTooLarge {
        requested: usize,
    },
    /// A NUL in the name prefix, on which `std::thread::Builder` panics.
    Name(String),
}

/// Settings that passed [`check`].
pub(crate) struct Checked {
    pub(crate) threads: usize,
    pub(crate) prefix: String,
}

/// Checks a builder's settings; `None` means the default.
pub(crate) fn check(
    threads: Option<usize>,
    stack_size: Option<usize>,
    name: Option<String>,
    default_name: &str,
) -> Result<Checked, Invalid> {
    let threads = threads.unwrap_or_else(default_threads);
    if threads == 0 {
        return Err(Invalid::NoThreads);
    }
    if threads > MAX_THREADS {
        return Err(Invalid::TooManyThreads { requested: threads });
    }
    if let Some(requested) = stack_size
        && requested > MAX_STACK_SIZE
    {
        return Err(Invalid::StackTooLarge { requested });
    }
    let prefix = name.unwrap_or_else(|| default_name.to_owned());
    if prefix.contains('\0') {
        return Err(Invalid::Name(prefix));
    }
    Ok(Checked { threads, prefix })
}

/// The machine's parallelism, or 1 if it cannot be known.
fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}
