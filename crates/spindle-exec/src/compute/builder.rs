//! [`ComputePoolBuilder`] and the [`PoolError`] it returns.

use super::ComputePool;
use super::worker::Shared;
use crate::policy::{Fifo, Policy};
use crate::thread_settings::{self, Checked, Invalid};
use core::fmt;
use std::error::Error;
use std::io;
use std::sync::Arc;
use std::thread;

pub(super) use crate::thread_settings::{MAX_STACK_SIZE, MAX_THREADS};

/// Thread names are `spindle-compute-0`, `spindle-compute-1`, ... unless
/// [`name`](ComputePoolBuilder::name) says otherwise.
const DEFAULT_NAME: &str = "spindle-compute";

/// Configures and builds a [`ComputePool`].
///
/// Every setting has a default: as many threads as
/// [`std::thread::available_parallelism`] reports (1 if it cannot tell, at
/// most [`ComputePool::MAX_THREADS`]), threads named `spindle-compute-<i>`,
/// the standard library's stack size, and a [`Fifo`] queue.
///
/// # Examples
/// ```
/// use spindle_exec::ComputePool;
/// let pool = ComputePool::builder().threads(3).name("render").stack_size(1 << 20).build()?;
/// assert_eq!(pool.threads(), 3);
///
/// // Bad settings are errors, not panics.
/// assert!(ComputePool::builder().threads(0).build().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ComputePoolBuilder<P: Policy = Fifo> {
    threads: Option<usize>,
    name: Option<String>,
    stack_size: Option<usize>,
    policy: P,
}

impl ComputePoolBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        ComputePoolBuilder {
            threads: None,
            name: None,
            stack_size: None,
            policy: Fifo::new(),
        }
    }
}

impl Default for ComputePoolBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Policy> ComputePoolBuilder<P> {
    /// How many worker threads to start: from 1 to
    /// [`ComputePool::MAX_THREADS`].
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Names the worker threads `<prefix>-0`, `<prefix>-1`, ... The prefix
    /// must not contain a NUL byte.
    pub fn name(mut self, prefix: impl Into<String>) -> Self {
        self.name = Some(prefix.into());
        self
    }

    /// The stack size of each worker thread, in bytes, at most
    /// [`ComputePool::MAX_STACK_SIZE`]. The system may round it up to its
    /// minimum or to whole pages.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Orders the pool's queue by `policy` instead of the current one.
    /// Tasks already in `policy` will run on the pool.
    pub fn policy<Q: Policy>(self, policy: Q) -> ComputePoolBuilder<Q> {
        let ComputePoolBuilder {
            threads,
            name,
            stack_size,
            policy: _,
        } = self;
        ComputePoolBuilder {
            threads,
            name,
            stack_size,
            policy,
        }
    }

    /// Checks the settings and starts the worker threads.
    ///
    /// # Errors
    /// [`PoolError::NoThreads`], [`PoolError::TooManyThreads`],
    /// [`PoolError::StackTooLarge`] and [`PoolError::InvalidName`] for bad
    /// settings; [`PoolError::Spawn`] if the system refused to start a
    /// thread, after the threads already started have been stopped.
    pub fn build(self) -> Result<ComputePool<P>, PoolError> {
        let Checked { threads, prefix } =
            thread_settings::check(self.threads, self.stack_size, self.name, DEFAULT_NAME)
                .map_err(PoolError::from)?;

        let shared = Arc::new(Shared::new(self.policy, threads));
        for index in 0..threads {
            let mut builder = thread::Builder::new().name(format!("{prefix}-{index}"));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            if let Err(err) = shared.spawn_worker(builder, index) {
                shared.begin_shutdown();
                shared.wait_for_exit();
                return Err(PoolError::Spawn(err));
            }
        }
        Ok(ComputePool::from_shared(shared))
    }
}

impl<P: Policy> fmt::Debug for ComputePoolBuilder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComputePoolBuilder")
            .field("threads", &self.threads)
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("policy", &core::any::type_name::<P>())
            .finish()
    }
}

/// Why a [`ComputePool`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// Zero threads were asked for; a pool needs at least one.
    NoThreads,
    /// More threads were asked for than [`ComputePool::MAX_THREADS`].
    TooManyThreads {
        /// The number asked for.
        requested: usize,
        /// The most allowed.
        max: usize,
    },
    /// A larger stack was asked for than [`ComputePool::MAX_STACK_SIZE`].
    StackTooLarge {
        /// The size asked for, in bytes.
        requested: usize,
        /// The most allowed, in bytes.
        max: usize,
    },
    /// The thread name prefix contains a NUL byte; it is handed back.
    InvalidName(String),
    /// The operating system refused to start a worker thread. The threads
    /// started before it have been stopped and joined.
    Spawn(io::Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::NoThreads => f.write_str("a compute pool needs at least one thread"),
            PoolError::TooManyThreads { requested, max } => {
                write!(
                    f,
                    "{requested} threads asked for a compute pool; the most allowed is {max}"
                )
            }
            PoolError::StackTooLarge { requested, max } => {
                write!(
                    f,
                    "a {requested}-byte worker stack asked for; the most allowed is {max}"
                )
            }
            PoolError::InvalidName(name) => {
                write!(f, "thread name prefix {name:?} contains a NUL byte")
            }
            PoolError::Spawn(_) => f.write_str("the system refused to start a worker thread"),
        }
    }
}

impl Error for PoolError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PoolError::Spawn(err) => Some(err),
            _ => None,
        }
    }
}

impl From<Invalid> for PoolError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::NoThreads => PoolError::NoThreads,
            Invalid::TooManyThreads { requested } => PoolError::TooManyThreads {
                requested,
                max: MAX_THREADS,
            },
            Invalid::StackTooLarge { requested } => PoolError::StackTooLarge {
                requested,
                max: MAX_STACK_SIZE,
            },
            Invalid::Name(prefix) => PoolError::InvalidName(prefix),
        }
    }
}
