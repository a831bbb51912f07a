//! The fiber the current thread runs, found through spindle-exec's current
//! task (its memory is the fiber's: [`FiberMemory`]), what code on a fiber
//! does with it ([`yield_now`], [`park`], [`current`], [`current_waker`],
//! and the [`Blocker`] that makes [`spindle_exec::wait`] suspend the
//! fiber), and the never-inlined thread-local that marks threads and
//! installs that blocker.

use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Waker};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Wake;
use std::thread::{self, Thread};

use spindle_coro::coroutine::{SPLIT_SUSPEND, switch_out};
use spindle_exec::{
    Blocker, Suspension, TaskId, TaskMemory, block_on, set_blocker, with_current_task,
};

use crate::fiber::FiberMemory;
use crate::local::Locals;

/// What a thread knows about fibers.
struct ThreadState {
    /// This thread's mark (0 until first needed): unique among all threads
    /// the process ever had, unlike a thread-local's address.
    mark: Cell<u64>,
    /// The blocker installed before ours, for `wait` outside any fiber.
    previous_blocker: Cell<Option<&'static dyn Blocker>>,
}

std::thread_local! {
    /// Read and written only by the never-inlined functions of this module,
    /// so that a movable fiber that changed threads reads its new thread's
    /// (DESIGN.md, decision 4).
    static THREAD: ThreadState = const {
        ThreadState {
            mark: Cell::new(0),
            previous_blocker: Cell::new(None),
        }
    };
}

/// The mark of a thread whose thread-locals are already gone.
/// Every thread in its teardown gets this one, so it never counts as a
/// pinned fiber's own thread (see `FiberFuture`).
pub(crate) const TORN_DOWN: u64 = u64::MAX - 1;

impl ThreadState {
    /// This thread's mark; the first call installs the fiber blocker.
    #[inline]
    fn mark(&self) -> u64 {
        let mark = self.mark.get();
        if mark != 0 {
            return mark;
        }
        self.first_mark()
    }

    #[cold]
    #[inline(never)]
    fn first_mark(&self) -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mark = NEXT.fetch_add(1, Ordering::Relaxed);
        self.mark.set(mark);
        self.previous_blocker.set(set_blocker(Some(&FiberBlocker)));
        mark
    }
}

/// A mark unique to the calling thread (see [`ThreadState::mark`]); the
/// first call on a thread installs the fiber blocker there. Every poll of
/// a fiber calls it.
#[inline(never)]
pub(crate) fn thread_mark() -> u64 {
    THREAD.try_with(ThreadState::mark).unwrap_or(TORN_DOWN)
}

/// The memory of the fiber running on this thread: the memory of the task
/// being polled, if that task is a fiber. One thread-local read, in
/// spindle-exec's never-inlined accessor.
#[inline]
pub(crate) fn current_memory() -> Option<&'static FiberMemory> {
    let memory = FiberMemory::current()?;
    // SAFETY: the current task is polled below us on this thread and keeps
    // its memory in place while it lives, which is longer than any frame of
    // its fiber. The `'static` lifetime does not escape this crate's
    // callers, who use it while they run on the fiber.
    Some(unsafe { memory.as_ref() })
}

/// Whether the calling code runs on a fiber.
pub fn is_fiber() -> bool {
    current_memory().is_some()
}

/// Lets other fibers run: the current fiber goes to the back of its
/// executor's queue (of its worker's pinned queue, for a pinned fiber).
/// Outside a fiber, yields the thread ([`std::thread::yield_now`]).
///
/// # Examples
///
/// ```
/// use spindle_exec::ManualExecutor;
/// use std::sync::{Arc, Mutex};
///
/// let executor = ManualExecutor::new();
/// let log = Arc::new(Mutex::new(Vec::new()));
/// for name in ["a", "b"] {
///     let log = log.clone();
///     spindle_fiber::spawn(&executor, move || {
///         for i in 0..2 {
///             log.lock().unwrap().push(format!("{name}{i}"));
///             spindle_fiber::yield_now();
///         }
///     });
/// }
/// executor.run_all();
/// assert_eq!(*log.lock().unwrap(), ["a0", "b0", "a1", "b1"]);
/// ```
#[inline]
pub fn yield_now() {
    // One thread-local read finds the fiber and asks its task to run again
    // after what is queued; inlined down to the switch (see `Core::suspend`).
    match FiberMemory::current_yielding() {
        // SAFETY: as in `current_memory`.
        Some(memory) => unsafe { memory.as_ref() }.suspend(),
        None => thread::yield_now(),
    }
}

/// Suspends the current fiber until its waker ([`current_waker`]) is
/// woken. Outside a fiber, parks the thread ([`std::thread::park`]).
///
/// A wake that comes while the fiber runs, before it parks, is not lost:
/// `park` then returns soon. Like `thread::park`, it may also return
/// without a wake of its own (a waker the fiber handed out earlier, to a
/// future it waited for, may fire late): call it in a loop that checks a
/// condition.
///
/// # Examples
///
/// ```
/// use spindle_exec::StealPool;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let pool = StealPool::new(2)?;
/// let done = Arc::new(AtomicBool::new(false));
/// let flag = done.clone();
/// let fiber = spindle_fiber::spawn(&pool, move || {
///     let waker = spindle_fiber::current_waker();
///     std::thread::spawn(move || {
///         flag.store(true, Ordering::Release);
///         waker.wake();
///     });
///     while !done.load(Ordering::Acquire) {
///         spindle_fiber::park();
///     }
/// });
/// fiber.join().unwrap();
/// # Ok::<(), spindle_exec::StealPoolError>(())
/// ```
#[inline]
pub fn park() {
    match current_memory() {
        Some(memory) => memory.suspend(),
        None => thread::park(),
    }
}

/// The waker that unparks the caller: the current fiber's (which schedules
/// it on its executor), or, outside a fiber, one that unparks the thread.
///
/// In a destructor run while a fiber that was dropped suspended unwinds,
/// it is a waker that does nothing: that fiber never runs again.
pub fn current_waker() -> Waker {
    let Some(memory) = current_memory() else {
        return Waker::from(Arc::new(ThreadWaker(thread::current())));
    };
    // SAFETY: `memory` is the running fiber's (we are on it), and the
    // borrowed waker is cloned before this function returns.
    let waker = unsafe { memory.waker() };
    waker.map_or_else(|| Waker::noop().clone(), Waker::clone)
}

/// Unparks a thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The identity of a fiber: its task id and name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fiber {
    id: TaskId,
    name: Option<Arc<str>>,
}

impl Fiber {
    /// The fiber's id (its task's: unique in the process).
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The fiber's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Debug for Fiber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fiber")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// The fiber the caller runs on, or `None` outside a fiber.
///
/// # Examples
///
/// ```
/// use spindle_exec::ManualExecutor;
///
/// let executor = ManualExecutor::new();
/// let fiber = spindle_fiber::Builder::new()
///     .name("reader")
///     .spawn(&executor, || spindle_fiber::current().unwrap().name().map(str::to_owned))?;
/// executor.run_all();
/// assert_eq!(fiber.join().unwrap().as_deref(), Some("reader"));
/// assert!(spindle_fiber::current().is_none());
/// # Ok::<(), spindle_fiber::SpawnError>(())
/// ```
pub fn current() -> Option<Fiber> {
    if !is_fiber() {
        return None;
    }
    with_current_task(|task| {
        task.map(|task| Fiber {
            id: task.id(),
            name: task.name_arc().cloned(),
        })
    })
}

/// Makes [`spindle_exec::wait`] suspend the current fiber; installed on
/// every thread that runs a fiber.
struct FiberBlocker;

impl Blocker for FiberBlocker {
    fn block(&self, mut future: Pin<&mut dyn Future<Output = ()>>) {
        // A fiber that a drop unwinds cannot suspend: a destructor that
        // waits there blocks the thread, as it would outside any fiber.
        let Some(memory) = Self::resumable() else {
            // Not on a fiber: what was installed before us, or park.
            let previous = THREAD.try_with(|t| t.previous_blocker.get()).ok().flatten();
            return match previous {
                Some(blocker) => blocker.block(future),
                None => block_on(future),
            };
        };
        loop {
            // SAFETY: we are the running fiber, and the waker reference
            // ends with the poll, before we suspend.
            let Some(waker) = (unsafe { memory.waker() }) else {
                unreachable!("a running fiber that is not unwinding has a waker")
            };
            let mut cx = Context::from_waker(waker);
            if future.as_mut().poll(&mut cx).is_ready() {
                return;
            }
            // Woken (through the task's waker, which the poll registered):
            // the task is polled, which resumes us here.
            memory.suspend();
        }
    }

    /// The running fiber's: `wait` then switches from its caller's frame.
    /// None where the split suspension is not available (ThreadSanitizer
    /// builds): `block` then suspends the fiber.
    unsafe fn suspension(&self) -> Option<Suspension> {
        if !SPLIT_SUSPEND {
            return None;
        }
        let memory = Self::resumable()?;
        // SAFETY: a resumable fiber's waker is set while it runs.
        let waker = unsafe { memory.waker() }.map(NonNull::from)?;
        // SAFETY: `wait` calls this on the running fiber, whose memory
        // outlives the wait; `waker` is the current poll's, valid until the
        // fiber suspends (in `before_switch`); `after_switch` returns each
        // next poll's; the three calls suspend the fiber as `suspend` does
        // (its task is polled again once its waker is woken), and
        // `switch_out` is a C function.
        Some(unsafe {
            Suspension::new(
                NonNull::from(memory).cast(),
                waker,
                before_switch,
                switch_out,
                after_switch,
            )
        })
    }
}

impl FiberBlocker {
    /// The running fiber's memory, if it can suspend: `None` off fibers and
    /// while a drop unwinds the fiber.
    fn resumable() -> Option<&'static FiberMemory> {
        // SAFETY: the fiber calls this while it runs (as `waker` asks).
        current_memory().filter(|memory| unsafe { memory.waker() }.is_some())
    }
}

/// `Suspension::before` of a fiber: `context` is its [`FiberMemory`].
///
/// # Safety
/// As `Suspension::new` asks: called by the fiber whose memory it is.
unsafe fn before_switch(context: NonNull<()>) -> *mut u8 {
    // SAFETY: the running fiber's memory, alive while it runs.
    let memory = unsafe { context.cast::<FiberMemory>().as_ref() };
    // SAFETY: the fiber itself, right before `switch_out`.
    unsafe { memory.begin_suspend() }
}

/// `Suspension::after` of a fiber: the waker of the poll that resumed it.
///
/// # Safety
/// As `Suspension::new` asks: right after `switch_out` returned `resumed`.
unsafe fn after_switch(context: NonNull<()>, resumed: usize) -> NonNull<Waker> {
    // SAFETY: as in `before_switch`.
    let memory = unsafe { context.cast::<FiberMemory>().as_ref() };
    // SAFETY: right after the switch `before_switch` began.
    unsafe { memory.end_suspend(resumed) }
}

/// Runs `f` with the current fiber's locals, if the caller runs on a fiber.
pub(crate) fn with_locals<R>(f: impl FnOnce(&Locals) -> R) -> Option<R> {
    current_memory().map(|memory| f(memory.locals()))
}
