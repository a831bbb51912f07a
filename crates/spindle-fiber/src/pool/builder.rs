//! [`FiberPoolBuilder`] and [`FiberPoolError`].

use core::fmt;
use std::error::Error;
use std::sync::Arc;

use spindle_exec::Spawner;

use super::FiberPool;
use crate::builder::{DEFAULT_STACK_SIZE, SpawnError};

/// How many fibers a pool has unless its builder says otherwise.
///
/// Naughty Dog's engine ran 160 fibers on 6 worker threads: each job that
/// waits keeps its fiber, so a pool needs many more fibers than threads.
/// 128 fibers of [`DEFAULT_STACK_SIZE`] reserve 8 MiB of address space, of
/// which the system commits only the pages the jobs touch.
pub const DEFAULT_POOL_FIBERS: usize = 128;

/// Configures a [`FiberPool`]: how many fibers, their stack size and name.
///
/// # Examples
///
/// ```
/// use spindle_exec::StealPool;
/// use spindle_fiber::FiberPool;
///
/// let executor = StealPool::new(2)?;
/// let pool = FiberPool::builder()
///     .fibers(32)
///     .stack_size(128 * 1024)
///     .name("jobs")
///     .build(&executor)?;
/// assert_eq!(pool.fibers(), 32);
/// let done = pool.submit_one(|| {
///     let fiber = spindle_fiber::current().unwrap();
///     assert!(fiber.name().unwrap().starts_with("jobs-"));
/// });
/// done.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct FiberPoolBuilder {
    fibers: usize,
    stack_size: usize,
    name: Arc<str>,
}

impl Default for FiberPoolBuilder {
    fn default() -> Self {
        FiberPoolBuilder {
            fibers: DEFAULT_POOL_FIBERS,
            stack_size: DEFAULT_STACK_SIZE,
            name: Arc::from("fiber-pool"),
        }
    }
}

impl FiberPoolBuilder {
    /// A builder with [`DEFAULT_POOL_FIBERS`] fibers of
    /// [`DEFAULT_STACK_SIZE`], named `fiber-pool-0`, `fiber-pool-1`, ...
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many fibers the pool has: at most that many jobs are in
    /// progress at once (running, or suspended in a wait). At least 1.
    pub fn fibers(mut self, fibers: usize) -> Self {
        self.fibers = fibers;
        self
    }

    /// Sets the stack size of each fiber, in bytes (see
    /// [`Builder::stack_size`](crate::Builder::stack_size)): every job runs
    /// on one of these stacks.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Names the fibers `{prefix}-0`, `{prefix}-1`, ...
    pub fn name(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.name = prefix.into();
        self
    }

    /// Spawns the pool's fibers on `spawner` and returns the pool.
    ///
    /// The fibers are pinned (each to the worker that first runs it), so a
    /// job may use thread-locals freely. Keep the executor running for as
    /// long as the pool: an executor that shuts down first cancels the
    /// pool's fibers, and jobs still queued then never run.
    ///
    /// # Errors
    /// [`FiberPoolError::NoFibers`] for `fibers(0)`;
    /// [`FiberPoolError::Spawn`] if a fiber's stack cannot be had (then the
    /// fibers spawned so far exit on their own).
    pub fn build<S: Spawner + ?Sized>(self, spawner: &S) -> Result<FiberPool, FiberPoolError> {
        if self.fibers == 0 {
            return Err(FiberPoolError::NoFibers);
        }
        FiberPool::start(self.fibers, self.stack_size, &self.name, spawner)
    }
}

/// Why a [`FiberPool`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum FiberPoolError {
    /// The builder asked for 0 fibers: such a pool could never run a job.
    NoFibers,
    /// A fiber could not be spawned (no stack of that size could be had).
    Spawn {
        /// Which fiber (`0..fibers`) failed.
        fiber: usize,
        /// How many fibers were asked for.
        fibers: usize,
        /// Why.
        error: SpawnError,
    },
}

impl fmt::Display for FiberPoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FiberPoolError::NoFibers => {
                f.write_str("a fiber pool needs at least one fiber (it was built with 0)")
            }
            FiberPoolError::Spawn {
                fiber,
                fibers,
                error,
            } => write!(
                f,
                "cannot spawn fiber {fiber} of a pool of {fibers}: {error}"
            ),
        }
    }
}

impl Error for FiberPoolError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            FiberPoolError::NoFibers => None,
            FiberPoolError::Spawn { error, .. } => Some(error),
        }
    }
}
