//! [`StealPoolBuilder`] and the [`StealPoolError`] it returns.

use super::StealPool;
use super::pin;
use super::shared::Shared;
use super::worker::{PinRequest, Startup, worker_main};
use crate::thread_settings::{self, Checked, Invalid};
use core::fmt;
use std::error::Error;
use std::io;
use std::sync::{Arc, mpsc};
use std::thread;

pub(super) use crate::thread_settings::{MAX_STACK_SIZE, MAX_THREADS};

/// Thread names are `spindle-steal-0`, `spindle-steal-1`, ... unless
/// [`name`](StealPoolBuilder::name) says otherwise.
const DEFAULT_NAME: &str = "spindle-steal";

/// Configures and builds a [`StealPool`].
///
/// Every setting has a default: as many threads as
/// [`std::thread::available_parallelism`] reports (1 if it cannot tell, at
/// most [`StealPool::MAX_THREADS`]), threads named `spindle-steal-<i>`, the
/// standard library's stack size, and no pinning.
///
/// # Examples
/// ```
/// use spindle_exec::StealPool;
/// let pool = StealPool::builder().threads(3).name("sim").stack_size(1 << 20).build()?;
/// assert_eq!(pool.threads(), 3);
///
/// // Bad settings are errors, not panics.
/// assert!(StealPool::builder().threads(0).build().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct StealPoolBuilder {
    threads: Option<usize>,
    name: Option<String>,
    stack_size: Option<usize>,
    pin_workers: bool,
}

impl StealPoolBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many worker threads to start: from 1 to
    /// [`StealPool::MAX_THREADS`].
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
    /// [`StealPool::MAX_STACK_SIZE`]. The system may round it up to its
    /// minimum or to whole pages.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Whether to pin each worker thread to one CPU: worker `i` to the
    /// `i`-th CPU the building thread may run on (wrapping around when
    /// there are more workers than CPUs). Off by default.
    ///
    /// Pinning is all or nothing: if the target has no pinning backend or
    /// the system refuses to pin a worker, [`build`](Self::build) fails
    /// rather than hand back a pool that is not what was asked for (a
    /// benchmark would silently measure something else). Supported on
    /// Linux and Android (`sched_setaffinity`) and Windows
    /// (`SetThreadAffinityMask`, within the process's processor group).
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin_workers = pin;
        self
    }

    /// Checks the settings and starts the worker threads.
    ///
    /// # Errors
    /// [`StealPoolError::NoThreads`], [`StealPoolError::TooManyThreads`],
    /// [`StealPoolError::StackTooLarge`] and
    /// [`StealPoolError::InvalidName`] for bad settings;
    /// [`StealPoolError::PinUnsupported`], [`StealPoolError::CpuQuery`] or
    /// [`StealPoolError::Pin`] if pinning was asked for and cannot be done;
    /// [`StealPoolError::Spawn`] if the system refused to start a thread.
    /// Threads already started are stopped and joined before the error is
    /// returned.
    pub fn build(self) -> Result<StealPool, StealPoolError> {
        let Checked { threads, prefix } =
            thread_settings::check(self.threads, self.stack_size, self.name, DEFAULT_NAME)
                .map_err(StealPoolError::from)?;
        let cpus = if self.pin_workers {
            if !pin::SUPPORTED {
                return Err(StealPoolError::PinUnsupported);
            }
            let cpus = pin::allowed_cpus().map_err(StealPoolError::CpuQuery)?;
            if cpus.is_empty() {
                return Err(StealPoolError::CpuQuery(io::Error::other(
                    "the thread may run on no CPU",
                )));
            }
            cpus
        } else {
            Vec::new()
        };

        let shared = Arc::new(Shared::new(threads));
        let (report_tx, report_rx) = mpsc::channel();
        for index in 0..threads {
            let mut builder = thread::Builder::new().name(format!("{prefix}-{index}"));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let startup = Startup {
                pin: (!cpus.is_empty()).then(|| PinRequest {
                    cpu: cpus[index % cpus.len()],
                    report: report_tx.clone(),
                }),
            };
            let worker_shared = Arc::clone(&shared);
            match builder.spawn(move || worker_main(worker_shared, index, startup)) {
                Ok(handle) => shared.add_handle(handle),
                Err(err) => {
                    shared.idle.forget(threads - index);
                    stop(&shared);
                    return Err(StealPoolError::Spawn(err));
                }
            }
        }
        drop(report_tx);
        if !cpus.is_empty() {
            let mut failure = None;
            for _ in 0..threads {
                let (worker, result) = match report_rx.recv() {
                    Ok(report) => report,
                    // Every worker reports before it does anything else.
                    Err(_) => break,
                };
                if let Err(source) = result
                    && failure.is_none()
                {
                    let cpu = cpus[worker % cpus.len()];
                    failure = Some(StealPoolError::Pin {
                        worker,
                        cpu,
                        source,
                    });
                }
            }
            if let Some(err) = failure {
                stop(&shared);
                return Err(err);
            }
        }
        Ok(StealPool::from_shared(shared))
    }
}

/// Shuts down and joins a pool that will not be handed out.
fn stop(shared: &Shared) {
    shared.begin_shutdown();
    shared.wait_for_exit();
}

/// Why a [`StealPool`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum StealPoolError {
    /// Zero threads were asked for; a pool needs at least one.
    NoThreads,
    /// More threads were asked for than [`StealPool::MAX_THREADS`].
    TooManyThreads {
        /// The number asked for.
        requested: usize,
        /// The most allowed.
        max: usize,
    },
    /// A larger stack was asked for than [`StealPool::MAX_STACK_SIZE`].
    StackTooLarge {
        /// The size asked for, in bytes.
        requested: usize,
        /// The most allowed, in bytes.
        max: usize,
    },
    /// The thread name prefix contains a NUL byte; it is handed back.
    InvalidName(String),
    /// The operating system refused to start a worker thread.
    Spawn(io::Error),
    /// [`pin_workers`](StealPoolBuilder::pin_workers) was asked for on a
    /// target that has no pinning backend.
    PinUnsupported,
    /// Pinning was asked for, but the system would not say which CPUs the
    /// building thread may run on.
    CpuQuery(io::Error),
    /// The system refused to pin a worker thread to its CPU.
    Pin {
        /// The worker's index.
        worker: usize,
        /// The CPU it was to run on.
        cpu: usize,
        /// The system's reason.
        source: io::Error,
    },
}

impl fmt::Display for StealPoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StealPoolError::NoThreads => f.write_str("a steal pool needs at least one thread"),
            StealPoolError::TooManyThreads { requested, max } => write!(
                f,
                "{requested} threads asked for a steal pool; the most allowed is {max}"
            ),
            StealPoolError::StackTooLarge { requested, max } => write!(
                f,
                "a {requested}-byte worker stack asked for; the most allowed is {max}"
            ),
            StealPoolError::InvalidName(name) => {
                write!(f, "thread name prefix {name:?} contains a NUL byte")
            }
            StealPoolError::Spawn(_) => f.write_str("the system refused to start a worker thread"),
            StealPoolError::PinUnsupported => {
                f.write_str("pinning workers to CPUs is not supported on this target")
            }
            StealPoolError::CpuQuery(_) => {
                f.write_str("could not learn which CPUs the workers may be pinned to")
            }
            StealPoolError::Pin { worker, cpu, .. } => {
                write!(f, "could not pin worker {worker} to CPU {cpu}")
            }
        }
    }
}

impl Error for StealPoolError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StealPoolError::Spawn(err)
            | StealPoolError::CpuQuery(err)
            | StealPoolError::Pin { source: err, .. } => Some(err),
            _ => None,
        }
    }
}

impl From<Invalid> for StealPoolError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::NoThreads => StealPoolError::NoThreads,
            Invalid::TooManyThreads { requested } => StealPoolError::TooManyThreads {
                requested,
                max: MAX_THREADS,
            },
            Invalid::StackTooLarge { requested } => StealPoolError::StackTooLarge {
                requested,
                max: MAX_STACK_SIZE,
            },
            Invalid::Name(prefix) => StealPoolError::InvalidName(prefix),
        }
    }
}
