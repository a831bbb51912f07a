//! A fiber as an async task: [`FiberFuture`] resumes the fiber's coroutine
//! each time the task is polled, and the task lives at the top of the
//! fiber's own stack, in a [`FiberMemory`] that also keeps what the fiber's
//! own code needs (its suspender, the poll's context, its locals).
//!
//! ```text
//! pooled stack, top (high addresses) first
//! +-------------------------------------+ base
//! | coroutine header, fiber function    |  spindle-coro's
//! +-------------------------------------+
//! | (colour: 0 to 31 cache lines)       |  the region spindle-coro reserves
//! | frames_gone flag, fiber-locals      |
//! | the task (spindle-exec's RawTask):  |
//! |   header, executor handle,          |
//! |   FiberFuture { home, coroutine },  |
//! |   FiberMemory { suspender, waker, …}|
//! +-------------------------------------+  <- a cache line boundary
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
//!
//! # The hot path of a yield
//!
//! A yield runs: the task's `run` (spindle-exec), which polls the
//! future; the poll checks the thread ([`current::thread_mark`]) and
//! resumes the coroutine with the poll's context as input; the fiber's
//! `yield_now` finds its memory with one thread-local read
//! ([`TaskMemory::current_yielding`], which also asks the task to yield)
//! and suspends. So that a thousand fibers taking turns stay in the
//! caches, what a yield touches is packed: the task starts on a cache
//! line, its header's hot fields share the first line, and the future's
//! and the memory's hot fields (`home`, the coroutine's stack pointer and
//! base; `suspender`, `waker`) come first in each.

use core::alloc::Layout;
use core::cell::Cell;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll, Waker};

use spindle_coro::stack::{PooledStack, colour_of};
use spindle_coro::{Coroutine, CoroutineResult, Stack, Suspender};
use spindle_exec::TaskMemory;

use crate::current;
use crate::local::Locals;

/// `FiberFuture::home` of a movable fiber.
const MOVABLE: u64 = u64::MAX;
/// `FiberFuture::home` of a pinned fiber that has not run yet.
const UNSTARTED: u64 = 0;
/// `FiberFuture::home` of a pinned fiber that started on a thread in its
/// teardown ([`current::TORN_DOWN`]): a mark no thread has, so it never
/// runs again, anywhere.
const NOWHERE: u64 = u64::MAX - 2;

/// A cache line: the task's alignment on the stack.
const LINE: usize = 64;

/// What each resume hands the fiber: the waker of the poll that resumes it
/// (valid until the fiber suspends again). The waker, not the poll's
/// `Context`: the fiber builds a `Context` of its own for each future it
/// polls, so two `&mut Context` to one never exist at once (a future that
/// calls [`current_waker`](crate::current_waker) while it is polled).
type Resume = NonNull<Waker>;

/// The suspender type of every fiber. It yields nothing: the poll needs to
/// know nothing (a `yield_now` asks spindle-exec for the yield itself,
/// before it suspends).
pub(crate) type FiberSuspender = Suspender<Resume, ()>;

/// What a spawn asks of a fiber besides its stack and function.
pub(crate) struct FiberSpawn<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) movable: bool,
    /// The layout the task will ask for.
    pub(crate) task_layout: Layout,
    /// The stack this thread's spawn after next will likely take
    /// ([`StackPool::take_looking_ahead`](spindle_coro::StackPool::take_looking_ahead)).
    pub(crate) later_stack: Option<NonNull<u8>>,
}

/// The future an executor polls for a fiber: each poll resumes the fiber
/// until it suspends or returns.
#[repr(C)]
pub(crate) struct FiberFuture<T: 'static> {
    /// The thread a pinned fiber lives on ([`current::thread_mark`]),
    /// [`UNSTARTED`] before its first run, [`NOWHERE`], or [`MOVABLE`].
    home: u64,
    leaked: bool,
    /// `ManuallyDrop`: a pinned fiber stopped on a thread other than its
    /// own is leaked instead of unwound there (see `Drop`).
    coroutine: ManuallyDrop<Coroutine<Resume, (), T, FiberStack>>,
}

// SAFETY: the coroutine (not `Send`: its frames may hold anything) is only
// resumed or unwound on its home thread once it has started (checked in
// `poll` and `drop`), or anywhere if the spawner declared it movable (an
// `unsafe` promise that its frames may move). Before its first run its
// stack holds only the fiber's function, which is `Send`.
unsafe impl<T: Send> Send for FiberFuture<T> {}

impl<T: 'static> FiberFuture<T> {
    /// Creates a fiber that runs `f` on `stack`, and the memory that holds
    /// its task, as `spawn` asks.
    pub(crate) fn new<F>(
        stack: PooledStack,
        spawn: FiberSpawn<'_>,
        f: F,
    ) -> Result<(Self, FiberMemory), spindle_coro::StackError>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let FiberSpawn {
            name,
            movable,
            task_layout,
            later_stack,
        } = spawn;
        // The task (on a cache line), then the fiber-locals, then the flag
        // that tells the memory whether the coroutine's frames are gone,
        // then the stack's colour.
        let locals_offset = task_layout.size().next_multiple_of(align_of::<Locals>());
        let flag_offset = locals_offset + size_of::<Locals>();
        let reserved = Layout::from_size_align(
            flag_offset + size_of::<Cell<bool>>() + stack.colour(),
            task_layout.align().max(LINE),
        )
        .expect("a task's layout plus the locals and a flag is a layout");
        let view = FiberStack::of(&stack);
        let mut builder = spindle_coro::coroutine::Builder::new();
        if let Some(name) = name {
            builder = builder.name(name);
        }
        let (coroutine, region) =
            builder.spawn_reserving(view, reserved, move |suspender, waker: Resume| {
                // The first resume runs in the task's first poll, so the
                // task's memory is this fiber's (`None` only while the
                // thread's thread-locals are being destroyed).
                let memory = current::current_memory()
                    .expect("spindle: a fiber started outside its task's poll");
                memory.suspender.set(suspender);
                memory.waker.set(waker.as_ptr());
                // Dropped here, on the fiber, also when it panics or is
                // unwound by a drop: fiber-locals end with their fiber.
                let _locals = memory.locals().guard();
                f()
            })?;
        // SAFETY: `region` is `reserved.size()` bytes of the stack, ours,
        // aligned for the locals; they and the flag lie inside it, aligned.
        let (locals, flag) = unsafe {
            let locals = region.add(locals_offset).cast::<Locals>();
            locals.write(Locals::new());
            let flag = region.add(flag_offset).cast::<Cell<bool>>();
            flag.write(Cell::new(false));
            (locals, flag)
        };
        coroutine.stack().frames_gone.set(flag.as_ptr());
        let future = FiberFuture {
            home: if movable { MOVABLE } else { UNSTARTED },
            leaked: false,
            coroutine: ManuallyDrop::new(coroutine),
        };
        // The fiber spawned with `later_stack` puts its task as far below
        // that stack's colour as ours lies below our stack's.
        let depth = stack.base().as_ptr() as usize - stack.colour() - region.as_ptr() as usize;
        let later_place = later_stack
            .and_then(|base| NonNull::new(base.as_ptr().wrapping_sub(colour_of(base) + depth)));
        let memory = FiberMemory {
            suspender: Cell::new(ptr::null()),
            waker: Cell::new(ptr::null()),
            locals,
            stack: ManuallyDrop::new(stack),
            region,
            task_layout,
            frames_gone: flag,
            later_place,
        };
        Ok((future, memory))
    }

    /// Gives up the coroutine without unwinding it: its stack is leaked
    /// (the memory sees its frames are not gone), and so are its locals.
    fn leak(&mut self) {
        self.leaked = true;
    }
}

impl<T: 'static> Future for FiberFuture<T> {
    type Output = T;

    // Inlined into the task's `run`, which saves the registers the switch
    // clobbers anyway: one prologue per poll instead of two.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: nothing is moved out; the coroutine is pinned in place by
        // its own stack anyway (the future never moves: the task holds it).
        let this = unsafe { self.get_unchecked_mut() };
        if this.leaked {
            panic!("spindle: polled a fiber that was given up");
        }
        // Also installs the fiber blocker, on a thread's first fiber.
        let thread = current::thread_mark();
        // At home: one comparison (no home is ever `TORN_DOWN`, see below).
        if this.home != thread {
            if this.home == UNSTARTED {
                // A thread in teardown has no mark of its own: a fiber that
                // starts there gets a home no thread has.
                this.home = if thread == current::TORN_DOWN {
                    NOWHERE
                } else {
                    thread
                };
            } else if this.home != MOVABLE {
                this.leak();
                panic!(
                    "spindle: a pinned fiber was run on another thread than its own \
                     (its executor has no addressable workers, or sent it elsewhere); \
                     its stack is leaked. Spawn it on an executor that implements \
                     `Executor::worker_index`/`submit_to`, or as movable"
                );
            }
        }
        // The fiber keeps the context until it suspends (it waits in its
        // frames meanwhile); a panic of the fiber comes out of `resume`.
        match this.coroutine.resume(NonNull::from(cx.waker())) {
            // Waits or yields: a `yield_now` asked the task that polls us
            // to run again after what is queued (`current_yielding`) before
            // it suspended; a wait registered the waker.
            CoroutineResult::Yield(()) => Poll::Pending,
            CoroutineResult::Return(output) => Poll::Ready(output),
        }
    }
}

impl<T: 'static> Drop for FiberFuture<T> {
    fn drop(&mut self) {
        if self.leaked {
            return;
        }
        let home = self.home;
        let here = current::thread_mark();
        let started_elsewhere = home != MOVABLE
            && home != UNSTARTED
            && !self.coroutine.is_finished()
            && (home != here || here == current::TORN_DOWN);
        if started_elsewhere {
            // Unwinding it here would run its destructors on a thread it
            // does not live on (its executor shut down and a wake on
            // another thread cancelled it). Leak it instead.
            return;
        }
        // SAFETY: dropped once, here; the memory (and the locals) outlive
        // it: they are released after the future, when the task is freed.
        unsafe { ManuallyDrop::drop(&mut self.coroutine) };
    }
}

/// The part of a pooled stack a fiber's coroutine runs on: the whole
/// stack, whose top region the coroutine keeps for the task. It owns
/// nothing: the [`FiberMemory`] in that task owns the stack. `base` first:
/// it is what every resume reads.
#[repr(C)]
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
///
/// It lies inside the task, which code on the fiber finds through
/// spindle-exec ([`TaskMemory::current`]): so it also keeps what that code
/// needs, hot fields first.
#[repr(C)]
pub(crate) struct FiberMemory {
    /// Set by the fiber's first frame; valid while the coroutine lives.
    suspender: Cell<*const FiberSuspender>,
    /// The waker of the poll that resumed the fiber: valid while the fiber
    /// runs (the poll waits in `resume` meanwhile). Set by the fiber from
    /// each resume's input; null while it is suspended, and so while a
    /// drop unwinds it: no poll runs it then.
    waker: Cell<*const Waker>,
    /// The fiber's `fiber_local!` values, beside the task (not in it: the
    /// task's memory is moved out of it before it is released).
    locals: NonNull<Locals>,
    stack: ManuallyDrop<PooledStack>,
    region: NonNull<u8>,
    task_layout: Layout,
    frames_gone: NonNull<Cell<bool>>,
    /// Where the fiber this thread spawns two spawns later will likely put
    /// its task (see `next_place_hint`).
    later_place: Option<NonNull<u8>>,
}

impl FiberMemory {
    /// Suspends the fiber that runs this code (its task lives here).
    ///
    /// Inlined into `yield_now` and `park`, and they into their callers:
    /// the fiber then resumes in the frame that suspended it, with no
    /// return in between, so the processor's return-address predictions
    /// stay right on both stacks (a return right after a switch is always
    /// mispredicted; two of them per yield cost more than the rest of it).
    #[inline]
    pub(crate) fn suspend(&self) {
        let suspender = self.suspender.get();
        self.waker.set(ptr::null());
        // SAFETY: only the fiber itself calls this, while it runs; its
        // first frame set the suspender, which lives as long as that frame
        // (so at least until this suspension returns or unwinds).
        let waker = unsafe { (*suspender).suspend(()) };
        self.waker.set(waker.as_ptr());
    }

    /// [`suspend`](Self::suspend) up to its switch, which the caller makes
    /// with [`switch_out`](spindle_coro::coroutine::switch_out) on the base
    /// this returns.
    ///
    /// # Safety
    /// Called by the fiber itself, while it runs; followed by that switch
    /// and then [`end_suspend`](Self::end_suspend).
    pub(crate) unsafe fn begin_suspend(&self) -> *mut u8 {
        let suspender = self.suspender.get();
        self.waker.set(ptr::null());
        // SAFETY: as in `suspend`; the caller switches next.
        unsafe { (*suspender).begin_suspend(()) }
    }

    /// The end of a suspension `begin_suspend` began: takes what the switch
    /// returned and returns the waker of the poll that resumed the fiber.
    ///
    /// # Safety
    /// Called right after the switch returned `resumed`.
    pub(crate) unsafe fn end_suspend(&self, resumed: usize) -> NonNull<Waker> {
        // SAFETY: as in `suspend`, after the switch.
        let waker = unsafe { (*self.suspender.get()).end_suspend(resumed) };
        self.waker.set(waker.as_ptr());
        waker
    }

    /// The waker of the poll that resumed the fiber (it schedules the
    /// fiber's task); `None` while a drop unwinds the fiber.
    ///
    /// # Safety
    /// Called by the fiber itself, while it runs, and the reference is
    /// dropped before it suspends.
    pub(crate) unsafe fn waker(&self) -> Option<&Waker> {
        // SAFETY: the poll that resumed us lent it and waits in `resume`
        // until we suspend; the caller gives the reference up by then.
        unsafe { self.waker.get().as_ref() }
    }

    /// The fiber's `fiber_local!` values.
    pub(crate) fn locals(&self) -> &Locals {
        // SAFETY: written by `FiberFuture::new`, dropped only by our `drop`.
        unsafe { self.locals.as_ref() }
    }
}

// SAFETY: the stack is `Send`; the pointers are into it. The cells and the
// locals are used by the fiber's own code (on the thread it runs on, one
// at a time) and by our `drop`, after the fiber is gone.
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

    /// Where the fiber spawned here two spawns later (with a stack of this
    /// size) puts its task: on the stack the pool said this thread would
    /// take then, found when this fiber's stack was taken.
    ///
    /// Two ahead, not one: a join that then misses on its own task takes
    /// less time than the page walk and the miss of the next one (on this
    /// machine's VM, 100,000 fibers joined in spawn order: about 390 ns per
    /// join with no hint or one ahead, 290 with two, 350 with three).
    fn next_place_hint(&self, _layout: Layout) -> Option<NonNull<u8>> {
        self.later_place
    }
}

impl Drop for FiberMemory {
    fn drop(&mut self) {
        // SAFETY: the flag is in the stack, which we still own.
        let frames_gone = unsafe { self.frames_gone.as_ref() }.get();
        if frames_gone {
            // SAFETY: dropped once, here; nothing uses the stack any more:
            // the fiber's frames, which used the locals, are gone (its
            // first frame cleared them on the way out).
            unsafe {
                ptr::drop_in_place(self.locals.as_ptr());
                ManuallyDrop::drop(&mut self.stack);
            }
        }
        // Otherwise frames are left that can never end: the stack must
        // never be reused, so it stays out of the pool, and so do the
        // locals those frames may still refer to.
    }
}
