//! A fiber as an async task: [`FiberFuture`] resumes the fiber's coroutine
//! each time the task is polled, and the task lives at the top of the
//! fiber's own stack ([`FiberMemory`]).
//!
//! ```text
//! pooled stack, top (high addresses) first
//! +-------------------------------------+ base
//! | coroutine header, fiber function    |  spindle-coro's
//! +-------------------------------------+
//! | the task (spindle-exec's RawTask):  |  the region spindle-coro reserves
//! |   header, executor handle,          |
//! |   FiberFuture { core, coroutine },  |
//! |   FiberMemory { the stack itself }  |
//! | frames_gone flag                    |
//! +-------------------------------------+
//! | the fiber's frames ...              |
//! v                                     v limit
//! ```
//!
//! One allocation-free spawn (the stack comes from the pool's per-thread
//! cache) and one page for a parked fiber: its task and its frames share
//! the stack's top page.
//!
//! Everything async tasks do for wakes, joins, panics and cancellation is
//! the async task's: a wake schedules the task, the poll resumes the fiber,
//! the fiber suspends when it waits and the poll returns `Pending`.

use core::alloc::Layout;
use core::cell::Cell;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use spindle_coro::stack::PooledStack;
use spindle_coro::{Coroutine, CoroutineResult, Stack, Suspender};
use spindle_exec::TaskMemory;

use crate::current::{self, Running};
use crate::local::Locals;

/// Why a fiber suspended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Suspend {
    /// To let others run: the poll wakes the task at once.
    Yield,
    /// Until its waker fires.
    Park,
}

/// `Core::home` of a movable fiber.
const MOVABLE: u64 = u64::MAX;
/// `Core::home` of a pinned fiber that has not run yet.
const UNSTARTED: u64 = 0;

/// The suspender type of every fiber: its input is the core (which never
/// changes), its yield the reason.
pub(crate) type FiberSuspender = Suspender<NonNull<Core>, Suspend>;

/// What code running on a fiber reaches through the thread's current
/// fiber pointer.
pub(crate) struct Core {
    /// Set by the fiber's first frame; valid while the coroutine lives.
    suspender: Cell<*const FiberSuspender>,
    /// The context of the poll that resumed the fiber: valid while the
    /// fiber runs (the poll waits in `resume` meanwhile).
    cx: Cell<*mut Context<'static>>,
    /// The thread a pinned fiber lives on ([`current::thread_mark`]),
    /// [`UNSTARTED`] before its first run, or [`MOVABLE`].
    home: Cell<u64>,
    /// The fiber's `fiber_local!` values.
    pub(crate) locals: Locals,
}

impl Core {
    /// Suspends the fiber that runs this code (it owns this core).
    pub(crate) fn suspend(&self, why: Suspend) {
        let suspender = self.suspender.get();
        // SAFETY: only the fiber itself calls this, while it runs; its
        // first frame set the suspender, which lives as long as that frame.
        unsafe { (*suspender).suspend(why) };
    }

    /// The context of the poll that resumed the fiber.
    ///
    /// # Safety
    /// Called by the fiber itself, while it runs, and the reference is
    /// dropped before it suspends.
    #[expect(
        clippy::mut_from_ref,
        reason = "the context is the poll's, lent to the fiber while it runs"
    )]
    pub(crate) unsafe fn context(&self) -> &mut Context<'static> {
        // SAFETY: the poll that resumed us stored it and waits in `resume`
        // until we suspend; the caller gives the reference up by then.
        unsafe { &mut *self.cx.get() }
    }
}

/// The future an executor polls for a fiber: each poll resumes the fiber
/// until it suspends or returns.
pub(crate) struct FiberFuture<T: 'static> {
    core: Core,
    /// `ManuallyDrop`: a pinned fiber stopped on a thread other than its
    /// own is leaked instead of unwound there (see `Drop`).
    coroutine: ManuallyDrop<Coroutine<NonNull<Core>, Suspend, T, FiberStack>>,
    leaked: bool,
}

// SAFETY: the coroutine (not `Send`: its frames may hold anything) is only
// resumed or unwound on its home thread once it has started (checked in
// `poll` and `drop`), or anywhere if the spawner declared it movable (an
// `unsafe` promise that its frames may move). Before its first run its
// stack holds only the fiber's function, which is `Send`.
unsafe impl<T: Send> Send for FiberFuture<T> {}

impl<T: 'static> FiberFuture<T> {
    /// Creates a fiber that runs `f` on `stack`, and the memory that holds
    /// its task. `task_layout` is the layout the task will ask for.
    pub(crate) fn new<F>(
        stack: PooledStack,
        name: Option<&str>,
        movable: bool,
        task_layout: Layout,
        f: F,
    ) -> Result<(Self, FiberMemory), spindle_coro::StackError>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        // The task, then the flag that tells the memory whether the
        // coroutine's frames are gone, then the stack's colour.
        let flag_offset = task_layout
            .size()
            .next_multiple_of(align_of::<Cell<bool>>());
        let reserved = Layout::from_size_align(
            flag_offset + size_of::<Cell<bool>>() + colour(stack.base()),
            task_layout.align().max(16),
        )
        .expect("a task's layout plus one flag is a layout");
        let view = FiberStack::of(&stack);
        let mut builder = spindle_coro::coroutine::Builder::new();
        if let Some(name) = name {
            builder = builder.name(name);
        }
        let (coroutine, region) =
            builder.spawn_reserving(view, reserved, move |suspender, core: NonNull<Core>| {
                // SAFETY: the poll passes its own core, which outlives the
                // coroutine (it is dropped after it, in the same future).
                let core = unsafe { core.as_ref() };
                core.suspender.set(suspender);
                // Dropped here, on the fiber, also when it panics or is
                // unwound by a drop: fiber-locals end with their fiber.
                let _locals = core.locals.guard();
                f()
            })?;
        // SAFETY: `region` is `reserved.size()` bytes of the stack, ours;
        // the flag lies inside it, aligned.
        let flag = unsafe {
            let flag = region.add(flag_offset).cast::<Cell<bool>>();
            flag.write(Cell::new(false));
            flag
        };
        coroutine.stack().frames_gone.set(flag.as_ptr());
        let future = FiberFuture {
            core: Core {
                suspender: Cell::new(ptr::null()),
                cx: Cell::new(ptr::null_mut()),
                home: Cell::new(if movable { MOVABLE } else { UNSTARTED }),
                locals: Locals::new(),
            },
            coroutine: ManuallyDrop::new(coroutine),
            leaked: false,
        };
        let memory = FiberMemory {
            stack: ManuallyDrop::new(stack),
            region,
            task_layout,
            frames_gone: flag,
        };
        Ok((future, memory))
    }

    /// Gives up the coroutine without unwinding it: its stack is leaked
    /// (the memory sees its frames are not gone).
    fn leak(&mut self) {
        self.leaked = true;
    }
}

impl<T: 'static> Future for FiberFuture<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: nothing is moved out; the coroutine is pinned in place by
        // its own stack anyway (the future never moves: the task holds it).
        let this = unsafe { self.get_unchecked_mut() };
        if this.leaked {
            panic!("spindle: polled a fiber that was given up");
        }
        let running = Running::enter(&this.core);
        let home = this.core.home.get();
        if home == UNSTARTED {
            this.core.home.set(running.thread());
        } else if home != MOVABLE && home != running.thread() {
            drop(running);
            this.leak();
            panic!(
                "spindle: a pinned fiber was run on another thread than its own \
                 (its executor has no addressable workers, or sent it elsewhere); \
                 its stack is leaked. Spawn it on an executor that implements \
                 `Executor::worker_index`/`submit_to`, or as movable"
            );
        }
        this.core.cx.set(ptr::from_mut(cx).cast());
        // A panic of the fiber comes out of `resume`; `running` is dropped
        // on the way (the current fiber is reset).
        let resumed = this.coroutine.resume(NonNull::from(&this.core));
        drop(running);
        match resumed {
            CoroutineResult::Yield(Suspend::Yield) => {
                // The task runs again after what is queued: told to the
                // spindle task that polls us, or as a wake during our poll.
                if !spindle_exec::request_yield() {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            CoroutineResult::Yield(Suspend::Park) => Poll::Pending,
            CoroutineResult::Return(output) => Poll::Ready(output),
        }
    }
}

impl<T: 'static> Drop for FiberFuture<T> {
    fn drop(&mut self) {
        if self.leaked {
            return;
        }
        let home = self.core.home.get();
        let started_elsewhere = home != MOVABLE
            && home != UNSTARTED
            && !self.coroutine.is_finished()
            && home != current::thread_mark();
        if started_elsewhere {
            // Unwinding it here would run its destructors on a thread it
            // does not live on (its executor shut down and a wake on
            // another thread cancelled it). Leak it instead.
            return;
        }
        // SAFETY: dropped once, here; the core outlives it (fields drop
        // after `drop`, and the coroutine never sees the core after it).
        unsafe { ManuallyDrop::drop(&mut self.coroutine) };
    }
}

/// Bytes to shift a fiber's task and frames down by, from its stack's
/// address: 0 to 960 in steps of a cache line.
///
/// Stacks are page-aligned, so without it every fiber's hot lines (task
/// header, first frames) would sit at the same offset in their pages and
/// compete for the same few sets of the caches: with a thousand fibers
/// taking turns, each turn missed the L1 and L2 caches. Sixteen colours
/// spread them over sixteen times the sets, and still leave a parked
/// fiber's task and frames on its stack's top page.
fn colour(base: NonNull<u8>) -> usize {
    const LINE: usize = 64;
    const COLOURS: usize = 16;
    let page = base.as_ptr() as usize >> 12;
    // Fibonacci hashing: neighbouring stacks get unrelated colours.
    let hash = page.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    (hash >> (usize::BITS - COLOURS.trailing_zeros())) * LINE
}

/// The part of a pooled stack a fiber's coroutine runs on: the whole
/// stack, whose top region the coroutine keeps for the task. It owns
/// nothing: the [`FiberMemory`] in that task owns the stack.
pub(crate) struct FiberStack {
    base: NonNull<u8>,
    limit: NonNull<u8>,
    allocation_base: NonNull<u8>,
    canary: NonNull<u64>,
    guarded: bool,
    /// Set on drop: a coroutine drops its stack only once no frames are
    /// left on it. Null until the flag is placed.
    frames_gone: Cell<*mut Cell<bool>>,
}

impl FiberStack {
    fn of(stack: &PooledStack) -> Self {
        FiberStack {
            base: stack.base(),
            limit: stack.limit(),
            allocation_base: stack.allocation_base(),
            canary: stack.canary(),
            guarded: stack.is_guarded(),
            frames_gone: Cell::new(ptr::null_mut()),
        }
    }
}

// SAFETY: the bounds are those of a `PooledStack` that the fiber's
// `FiberMemory` owns and keeps (or leaks) until after the coroutine on
// this view is gone: the memory is released only once the task is freed,
// which drops the future (and the coroutine) first, and it is leaked when
// the flag says frames are left. The region the coroutine reserves inside
// it is the coroutine's own to hand out.
unsafe impl Stack for FiberStack {
    fn base(&self) -> NonNull<u8> {
        self.base
    }
    fn limit(&self) -> NonNull<u8> {
        self.limit
    }
    fn allocation_base(&self) -> NonNull<u8> {
        self.allocation_base
    }
    fn is_guarded(&self) -> bool {
        self.guarded
    }
    fn canary(&self) -> NonNull<u64> {
        self.canary
    }
}

impl Drop for FiberStack {
    fn drop(&mut self) {
        let flag = self.frames_gone.get();
        if !flag.is_null() {
            // SAFETY: the flag lives in the task region of the stack, which
            // outlives the coroutine (see the `Stack` impl).
            unsafe { (*flag).set(true) };
        }
    }
}

/// A fiber's task memory: the region at the top of its stack; owns the
/// stack, and gives it back to the pool when the task is freed (or leaks
/// it, if the coroutine was leaked with frames on it).
pub(crate) struct FiberMemory {
    stack: ManuallyDrop<PooledStack>,
    region: NonNull<u8>,
    task_layout: Layout,
    frames_gone: NonNull<Cell<bool>>,
}

// SAFETY: the stack is `Send`; the pointers are into it, and only the
// task's owner (one thread at a time) uses them.
unsafe impl Send for FiberMemory {}

// SAFETY: the region is the task layout's size, aligned for it (reserved
// by `FiberFuture::new` with that layout), inside a stack that stays
// mapped until `release` (or forever, if leaked), and the coroutine never
// writes it.
unsafe impl TaskMemory for FiberMemory {
    fn place(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        (layout.size() <= self.task_layout.size() && layout.align() <= self.task_layout.align())
            .then_some(self.region)
    }

    unsafe fn release(self, _place: NonNull<u8>, _layout: Layout) {
        drop(self);
    }
}

impl Drop for FiberMemory {
    fn drop(&mut self) {
        // SAFETY: the flag is in the stack, which we still own.
        let frames_gone = unsafe { self.frames_gone.as_ref() }.get();
        if frames_gone {
            // SAFETY: dropped once, here; nothing uses the stack any more.
            unsafe { ManuallyDrop::drop(&mut self.stack) };
        }
        // Otherwise frames are left that can never end: the stack must
        // never be reused, so it stays out of the pool.
    }
}
