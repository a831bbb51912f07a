//! [`TaskMemory`]: where a task's one allocation lives, for callers who
//! bring their own memory; [`Heap`] is the default.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::alloc;

use crate::context::current_memory;

/// Memory for a task's single allocation (node, state, executor handle,
/// future, output), for a caller who brings its own: a fiber puts its task
/// at the top of its own stack, so a parked fiber costs one page.
///
/// The task moves the `TaskMemory` value into the place it was given and
/// gives it back to [`release`](Self::release) once the task is gone.
///
/// # Safety
///
/// An implementation guarantees that a place returned by
/// [`place`](Self::place) is valid for reads and writes of `layout`, is
/// aligned to `layout.align()`, is used by nothing else, and does not move
/// or become invalid until `release` is called with it, even while the
/// value itself is moved (into that very place: it must not point into
/// itself). If the task is leaked, the memory must stay valid forever.
pub unsafe trait TaskMemory: Send + Sized + 'static {
    /// A place for a task of `layout`, or `None` if this memory cannot hold
    /// one.
    fn place(&mut self, layout: Layout) -> Option<NonNull<u8>>;

    /// Takes the memory back. Called once, with the place and layout of the
    /// task, after the task's last use of it.
    ///
    /// # Safety
    /// The caller no longer uses `place`, which `self.place(layout)`
    /// returned.
    unsafe fn release(self, place: NonNull<u8>, layout: Layout);

    /// Where a task that this thread spawns soon after this one, in memory
    /// of this type, will most likely be placed, if this memory can tell:
    /// the next task, or one a little later (the memory picks how far a
    /// join should look ahead). Asked once, right after
    /// [`place`](Self::place). The default tells nothing.
    ///
    /// A join reads its task's header anyway; it then starts fetching this
    /// address as well, so a loop that joins tasks in the order they were
    /// spawned finds each task already on its way to the cache. This
    /// matters where tasks are far apart in memory: a fiber's task lies on
    /// its own stack page, whose page-table entry is rarely cached by the
    /// time it is joined. A wrong guess costs one useless prefetch.
    #[inline]
    fn next_place_hint(&self, layout: Layout) -> Option<NonNull<u8>> {
        let _ = layout;
        None
    }

    /// The memory of the task being polled on this thread, if that task
    /// was placed in memory of this type; `None` outside any task (and
    /// inside a [`block_on`](crate::block_on), which hides the task).
    ///
    /// This is how a runtime that brings its own memory keeps a record per
    /// task and finds it from the task's code: a fiber's memory points at
    /// the fiber's state, which `yield_now` and `park` need. One
    /// thread-local read, through a never-inlined function (DESIGN.md,
    /// decision 4). Not meant to be overridden.
    ///
    /// The pointer is valid while that poll lasts; the memory is the one
    /// moved into the task at spawn, and is only read through it.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::{Heap, ManualExecutor, TaskBuilder, TaskMemory, spawn};
    ///
    /// let executor = ManualExecutor::new();
    /// let task = TaskBuilder::new()
    ///     .spawn_in(&executor, async { Heap::current().is_some() }, Heap)
    ///     .unwrap();
    /// executor.run_all();
    /// assert!(task.join().unwrap());
    /// assert!(Heap::current().is_none());
    /// ```
    #[inline]
    fn current() -> Option<NonNull<Self>> {
        current_memory::<Self, false>()
    }

    /// [`current`](Self::current), and if it finds the memory, also asks
    /// the task to yield after this poll, as
    /// [`request_yield`](crate::request_yield) does; with `None`, asks
    /// nothing. For a stackful task's `yield_now`: one thread-local read
    /// finds its record and asks for the yield. Not meant to be overridden.
    #[inline]
    fn current_yielding() -> Option<NonNull<Self>> {
        current_memory::<Self, true>()
    }
}

/// The global allocator: what [`spawn`](crate::spawn) uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heap;

// SAFETY: each place is a fresh allocation of the global allocator, freed
// only by `release`.
unsafe impl TaskMemory for Heap {
    #[inline]
    fn place(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // A task always has a non-zero size (its header).
        debug_assert!(layout.size() > 0);
        // SAFETY: the layout's size is not zero.
        let ptr = unsafe { alloc::alloc(layout) };
        Some(NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout)))
    }

    #[inline]
    unsafe fn release(self, place: NonNull<u8>, layout: Layout) {
        // SAFETY: `place` came from `alloc` with this layout.
        unsafe { alloc::dealloc(place.as_ptr(), layout) }
    }
}
