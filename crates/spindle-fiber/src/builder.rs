//! Spawning fibers: [`spawn`] and the [`Builder`].

use core::fmt;
use std::error::Error;
use std::sync::Arc;

use spindle_coro::{StackError, StackPool};
use spindle_exec::{Hint, JoinHandle, Spawner, TaskBuilder};

use crate::fiber::{FiberFuture, FiberMemory, FiberSpawn};

/// The stack size of a fiber unless its [`Builder`] says otherwise:
/// 256 KiB of address space, of which a fiber uses (and the system
/// commits) only the pages it touches: a parked fiber that called little
/// holds one page whatever its size. Room enough for a panic that prints a
/// backtrace in a debug or sanitizer build (64 KiB was not). Holding
/// hundreds of thousands of fibers at once takes smaller stacks (16 KiB):
/// the address space and the mapping budget are per byte of stack size.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Spawns a fiber that runs `f` on `spawner`, and returns the handle for
/// its output.
///
/// The fiber is pinned to the worker thread that first runs it (see the
/// [crate docs](crate#thread-locals-and-pinning)). A panic in `f` is
/// caught and handed to the [`JoinHandle`] as a
/// [`JoinError`](spindle_exec::JoinError) carrying the payload; re-raise it
/// with `std::panic::resume_unwind(error.into_panic())` if you want.
///
/// # Panics
/// If no stack can be had (the error [`Builder::spawn`] returns instead).
///
/// # Examples
///
/// ```
/// use spindle_exec::StealPool;
///
/// let pool = StealPool::new(2)?;
/// let fibers: Vec<_> = (0..10_u64).map(|i| spindle_fiber::spawn(&pool, move || i * i)).collect();
/// let sum: u64 = fibers.into_iter().map(|f| f.join().unwrap()).sum();
/// assert_eq!(sum, 285);
/// # Ok::<(), spindle_exec::StealPoolError>(())
/// ```
#[track_caller]
pub fn spawn<S, F, T>(spawner: &S, f: F) -> JoinHandle<T>
where
    S: Spawner + ?Sized,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(spawner, f) {
        Ok(handle) => handle,
        Err(e) => panic!("spindle: cannot spawn a fiber: {e}"),
    }
}

/// Configures a fiber before spawning it: name, stack size, and whether it
/// may move between threads.
///
/// # Examples
///
/// ```
/// use spindle_exec::StealPool;
///
/// let pool = StealPool::new(2)?;
/// let fiber = spindle_fiber::Builder::new()
///     .name("parser")
///     .stack_size(256 * 1024)
///     .spawn(&pool, || spindle_fiber::current().unwrap().name().unwrap().len())?;
/// assert_eq!(fiber.join().unwrap(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    name: Option<Arc<str>>,
    stack_size: usize,
    movable: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            name: None,
            stack_size: DEFAULT_STACK_SIZE,
            movable: false,
        }
    }
}

impl Builder {
    /// A builder for a pinned fiber with no name and [`DEFAULT_STACK_SIZE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the fiber: [`current`](crate::current) and its task context
    /// report it, and so does a stack-overflow message (its first 48
    /// bytes).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the stack size in bytes; it is rounded up to the stack pool's
    /// size class (powers of two from 16 KiB).
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = size;
        self
    }

    /// Lets the fiber move between the executor's threads: it may resume
    /// on another worker after any suspension (a yield, a wait, a park).
    ///
    /// # Safety
    ///
    /// The fiber's code must tolerate its frames moving to another thread
    /// at every suspension point. Across a suspension it must not hold:
    /// - a reference to a thread-local (`thread_local!` values, or
    ///   anything derived from one: Rust may keep a thread-local's address
    ///   in a register across a call, so even code that looks fine can read
    ///   the old thread's);
    /// - a value that is not `Send` (an `Rc` shared with the old thread, a
    ///   `MutexGuard`, a thread id taken to mean "this thread").
    ///
    /// The compiler cannot check this for a stackful fiber, whose whole
    /// stack moves: hence `unsafe`. A fiber that only waits through
    /// spindle's primitives and keeps its data in its own frames and in
    /// [`fiber_local!`](crate::fiber_local) values is fine.
    pub unsafe fn movable(mut self) -> Self {
        self.movable = true;
        self
    }

    /// Spawns the fiber on `spawner`.
    ///
    /// # Errors
    /// [`SpawnError`] if no stack of that size can be had (out of memory or
    /// mappings, or a size out of range), or if the fiber's output type is
    /// too large for a quarter of its stack (it lives at the stack's top
    /// until joined).
    pub fn spawn<S, F, T>(self, spawner: &S, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        S: Spawner + ?Sized,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // The stack, and the one this thread's spawn after next will get:
        // a join of this fiber prefetches that one's task (see
        // `FiberMemory::next_place_hint`).
        let (stack, later) = StackPool::global()
            .take_looking_ahead(self.stack_size, 2)
            .map_err(SpawnError)?;
        let task_layout = TaskBuilder::task_layout::<S, FiberFuture<T>, FiberMemory>();
        let spawn = FiberSpawn {
            name: self.name.as_deref(),
            movable: self.movable,
            task_layout,
            later_stack: later,
        };
        let (future, memory) = FiberFuture::new(stack, spawn, f).map_err(SpawnError)?;
        // On one of the executor's workers, the new fiber runs as soon as
        // its spawner waits or yields (Go's `go`): a fork-join tree runs
        // depth first and holds few stacks at once; from outside, it
        // queues fairly.
        let hint = match spawner.worker_index() {
            Some(_) => Hint::Next,
            None => Hint::Back,
        };
        let mut task = TaskBuilder::new().hint(hint);
        if let Some(name) = self.name {
            task = task.name(name);
        }
        if !self.movable {
            task = task.pinned();
        }
        match task.spawn_in(spawner, future, memory) {
            Ok(handle) => Ok(handle),
            Err(_) => unreachable!("the stack region was reserved for this task's layout"),
        }
    }
}

/// Why a fiber could not be spawned: its stack could not be had, or was
/// too small for the fiber's own data.
pub struct SpawnError(StackError);

impl SpawnError {
    /// The stack error behind it.
    pub fn stack_error(&self) -> &StackError {
        &self.0
    }
}

impl fmt::Debug for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpawnError").field(&self.0).finish()
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no stack for the fiber: {}", self.0)
    }
}

impl Error for SpawnError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
