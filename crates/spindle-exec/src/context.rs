//! [`TaskContext`]: what every task carries (an id, an optional name, and
//! the slots that structured concurrency fills), and [`with_current_task`]
//! to read the running task's.

use core::any::{Any, TypeId};
use core::cell::Cell;
use core::fmt;
use core::num::NonZeroU64;
use core::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::async_task::{Header, TaskMemory};

/// A task's identity: unique among the tasks of a process, never 0.
///
/// Ids are handed out in blocks per thread, so spawning on several threads
/// touches no shared counter: an id says nothing about spawn order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    /// Ids a thread takes from the global counter at a time.
    const BLOCK: u64 = 1024;

    /// A fresh id. Never inlined, as every thread-local access of the
    /// library (DESIGN.md, decision 4).
    #[inline(never)]
    pub(crate) fn next() -> TaskId {
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        std::thread_local! {
            /// The next id of this thread's block, and the block's end.
            static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let take_block = || {
            let start = NEXT_BLOCK.fetch_add(Self::BLOCK, Ordering::Relaxed);
            // 2^64 ids at 1 ns each last 584 years.
            assert!(
                start < u64::MAX - Self::BLOCK,
                "spindle: task ids exhausted"
            );
            start
        };
        let id = BLOCK
            .try_with(|block| {
                let (mut next, mut end) = block.get();
                if next == end {
                    next = take_block();
                    end = next + Self::BLOCK;
                }
                block.set((next + 1, end));
                next
            })
            // During thread teardown: one id from the counter, a block wasted.
            .unwrap_or_else(|_| take_block());
        TaskId(NonZeroU64::new(id).expect("ids start at 1"))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a task carries besides its work: its [`TaskId`], an optional name,
/// a deadline, and two slots that the structured-concurrency layer fills
/// (a cancellation token and the scope the task belongs to).
///
/// Set when the task is spawned (by a [`TaskBuilder`](crate::TaskBuilder)
/// or a fiber builder) and fixed from then on. Read the running task's with
/// [`with_current_task`]. A task with no name, deadline or slots costs 16
/// bytes for its context; the rest lives in one allocation made only when
/// one of them is set.
pub struct TaskContext {
    id: TaskId,
    extra: Option<Box<Extra>>,
}

/// The optional parts of a context.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) scope: Option<Arc<dyn Any + Send + Sync>>,
}

impl Extra {
    #[inline]
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.deadline.is_none()
            && self.cancel.is_none()
            && self.scope.is_none()
    }
}

impl TaskContext {
    /// A context with a fresh id and the given optional parts. Inlined, so
    /// that a spawn that sets none of them (they are constants then) tests
    /// and drops nothing.
    #[inline]
    pub(crate) fn new(extra: Extra) -> Self {
        let extra = if extra.is_empty() {
            // All `None`: nothing to drop, so skip the drop's tests.
            core::mem::forget(extra);
            None
        } else {
            Some(Box::new(extra))
        };
        TaskContext {
            id: TaskId::next(),
            extra,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.extra.as_ref()?.name.as_deref()
    }

    /// The name as the shared string it is stored as (cloning it is cheap).
    pub fn name_arc(&self) -> Option<&Arc<str>> {
        self.extra.as_ref()?.name.as_ref()
    }

    /// When the task should be done by, if it was given a deadline.
    /// Recorded, not enforced: enforcing is the job of whoever set it.
    pub fn deadline(&self) -> Option<Instant> {
        self.extra.as_ref()?.deadline
    }

    /// The task's cancellation token, as the structured-concurrency layer
    /// stored it (it downcasts to its own type).
    pub fn cancel_token(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.extra.as_ref()?.cancel.as_deref()
    }

    /// The scope the task was spawned in, as the structured-concurrency
    /// layer stored it.
    pub fn scope(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.extra.as_ref()?.scope.as_deref()
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("id", &self.id)
            .field("name", &self.name())
            .field("deadline", &self.deadline())
            .field("has_cancel_token", &self.cancel_token().is_some())
            .field("has_scope", &self.scope().is_some())
            .finish()
    }
}

/// The task a thread is polling.
struct Current {
    /// Its header (its context, and where its memory is), null between
    /// tasks.
    task: Cell<*const Header>,
    /// Set by [`request_yield`] during the poll.
    yield_requested: Cell<bool>,
}

std::thread_local! {
    /// Read and written only through the never-inlined functions below: a
    /// movable fiber may read it on another thread than its last read
    /// (DESIGN.md, decision 4).
    static CURRENT: Current = const {
        Current { task: Cell::new(ptr::null()), yield_requested: Cell::new(false) }
    };
}

/// Makes `task` the current one until the guard ends, which puts back the
/// one before (tasks may run inside tasks: an inline run, a `block_on` in
/// a task).
pub(crate) struct CurrentGuard(*const Header);

impl CurrentGuard {
    /// # Safety
    /// `task` is a live task that outlives the guard, which is ended or
    /// dropped on this thread.
    #[inline(never)]
    pub(crate) unsafe fn enter(task: NonNull<Header>) -> CurrentGuard {
        // During thread teardown there is no current task to record.
        CurrentGuard(
            CURRENT
                .try_with(|c| c.task.replace(task.as_ptr()))
                .unwrap_or(ptr::null()),
        )
    }

    /// Ends the poll: puts back the previous task and tells whether the
    /// poll asked to yield (see [`request_yield`]).
    #[inline(never)]
    pub(crate) fn end(self) -> bool {
        let previous = self.0;
        core::mem::forget(self);
        CURRENT
            .try_with(|c| {
                c.task.set(previous);
                c.yield_requested.replace(false)
            })
            .unwrap_or(false)
    }
}

impl Drop for CurrentGuard {
    /// Only if the runner itself unwinds (it catches the poll's panics).
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| {
            c.task.set(self.0);
            c.yield_requested.set(false);
        });
    }
}

/// Hides the current task while a `block_on` polls a future of its own
/// on this thread: that future is not the task, and a [`request_yield`]
/// in it must not be taken for the task's (the future would never be
/// woken).
pub(crate) struct OutsideTask(*const Header);

impl OutsideTask {
    #[inline(never)]
    pub(crate) fn enter() -> OutsideTask {
        OutsideTask(
            CURRENT
                .try_with(|c| c.task.replace(ptr::null()))
                .unwrap_or(ptr::null()),
        )
    }
}

impl Drop for OutsideTask {
    #[inline(never)]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.task.set(self.0));
    }
}

/// The memory of the task being polled on this thread, if it is an `M`
/// (see [`TaskMemory::current`]); with `REQUEST_YIELD`, also asks that
/// task to yield, as [`request_yield`] does.
///
/// Generic, so that the type to compare with is a constant in each copy
/// and the thread-local access keeps no argument alive around it.
#[inline(never)]
pub(crate) fn current_memory<M: TaskMemory, const REQUEST_YIELD: bool>() -> Option<NonNull<M>> {
    let current = CURRENT.try_with(ptr::from_ref).ok()?;
    // SAFETY: this thread's `CURRENT`, alive for this call (it was not being
    // destroyed: `try_with` succeeded), and no reference to it is held
    // elsewhere (only `Cell`s, accessed by value).
    let current = unsafe { &*current };
    let task = NonNull::new(current.task.get().cast_mut())?;
    // SAFETY: a non-null task was set by a `CurrentGuard`, alive while the
    // task runs below us on this stack.
    let memory = unsafe { Header::memory(task, TypeId::of::<M>()) }?;
    if REQUEST_YIELD {
        current.yield_requested.set(true);
    }
    Some(memory.cast())
}

/// Asks the spindle task being polled on this thread to be resubmitted at
/// the back of its executor's queue after this poll, as if it had woken
/// itself; returns `false`, and does nothing, when no spindle task is
/// being polled here (then wake the task's waker instead).
///
/// For a future that yields: call it, then return `Poll::Pending`. It saves
/// the atomic operations of a self-wake (one read-modify-write of the
/// task's state instead of three); a fiber's `yield_now` uses it.
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, request_yield, spawn};
/// use std::future::{Future, poll_fn};
/// use std::task::Poll;
///
/// /// Pending once, letting the others run.
/// fn yield_once() -> impl Future<Output = ()> {
///     let mut yielded = false;
///     poll_fn(move |cx| {
///         if yielded {
///             return Poll::Ready(());
///         }
///         yielded = true;
///         if !request_yield() {
///             cx.waker().wake_by_ref();
///         }
///         Poll::Pending
///     })
/// }
///
/// let executor = ManualExecutor::new();
/// let task = spawn(&executor, async { yield_once().await; "done" });
/// assert_eq!(executor.run_all(), 2);
/// assert_eq!(task.join().unwrap(), "done");
/// ```
#[inline(never)]
pub fn request_yield() -> bool {
    CURRENT
        .try_with(|c| {
            let polling = !c.task.get().is_null();
            if polling {
                c.yield_requested.set(true);
            }
            polling
        })
        .unwrap_or(false)
}

/// Calls `f` with the context of the task that the current thread is
/// running (an async task being polled, or a fiber), or `None` outside any
/// task.
///
/// # Examples
///
/// ```
/// use spindle_exec::{ManualExecutor, TaskBuilder, with_current_task};
///
/// let executor = ManualExecutor::new();
/// let task = TaskBuilder::new().name("indexer").spawn(&executor, async {
///     with_current_task(|task| task.and_then(|t| t.name()).map(str::to_owned))
/// });
/// executor.run_all();
/// assert_eq!(task.join().unwrap().as_deref(), Some("indexer"));
/// assert!(with_current_task(|task| task.is_none()));
/// ```
#[inline(never)]
pub fn with_current_task<R>(f: impl FnOnce(Option<&TaskContext>) -> R) -> R {
    let current = CURRENT.try_with(|c| c.task.get()).unwrap_or(ptr::null());
    // SAFETY: a non-null pointer was set by a `CurrentGuard` whose task
    // outlives it, and the guard is still alive (it resets the pointer when
    // dropped, on this thread): the task is running below us on this stack.
    f(unsafe { current.as_ref() }.map(|task| &task.context))
}
