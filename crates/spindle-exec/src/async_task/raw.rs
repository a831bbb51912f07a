//! The task allocation and the functions that run, cancel and free it.
//!
//! One allocation per task, `RawTask<F, E, M>`, placed by its
//! [`TaskMemory`] `M` (the heap, unless the spawner brings memory):
//!
//! ```text
//! RawTask<F, E, M>  (#[repr(C)])
//! +--------------------------------------+  <- NonNull<Task> = NonNull<Header>
//! | Header                               |     = NonNull<RawTask<F, E, M>>
//! |   task: Task  (executor's node)      |
//! |   state: State                       |
//! |   join_waker: UnsafeCell<Option<Waker>>
//! |   vtable: &'static RawVTable         |
//! |   home: worker pinned to, or a mark  |
//! |   context: TaskContext               |
//! |   next_hint: a later task's place    |
//! +--------------------------------------+
//! | executor: E   (a clone, for wakes)   |
//! +--------------------------------------+
//! | stage: UnsafeCell<Stage<F>>          |
//! |   Pending(F) | Finished(Result) | Consumed
//! +--------------------------------------+
//! | memory: M     (gives the place back) |
//! +--------------------------------------+
//! ```
//!
//! Every pointer to the task is the place's own pointer, cast: the executor
//! holds it as a `NonNull<Task>`, wakers and the `JoinHandle` as a
//! `NonNull<Header>`. None is ever re-derived from a reference to a field,
//! so each keeps the provenance of the whole allocation.

use core::alloc::Layout;
use core::any::{Any, TypeId};
use core::future::Future;
use core::mem::{self, ManuallyDrop};
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll, Waker};
use std::panic::catch_unwind;

use super::error::JoinError;
use super::memory::TaskMemory;
use super::state::{State, ToIdle, ToRunning};
use super::waker;
use crate::context::{CurrentGuard, TaskContext};
use crate::executor::{Executor, PinnedHome};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::cell::UnsafeCell;
use crate::task::{Hint, Task, TaskRef, TaskVTable};

/// The type-erased operations that wakers and the `JoinHandle` call.
pub(crate) struct RawVTable {
    /// Submits a new `TaskRef` to the task's executor.
    ///
    /// Safety: the caller holds a reference, and has just set `SCHEDULED`
    /// on an idle task, adding the reference the `TaskRef` now owns.
    pub(crate) schedule: unsafe fn(NonNull<Header>, Hint),
    /// Moves the result out of the stage into `*dst`, an
    /// `Option<Result<T, JoinError>>` for the task's output type `T` that
    /// holds `None` (overwritten without being dropped); leaves it `None`
    /// if the result was taken already.
    ///
    /// Safety: the caller owns the stage after `COMPLETE` (state.rs) and
    /// `dst` is valid for writes of that type.
    pub(crate) take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops the future, stores the cancellation and completes the task.
    ///
    /// Safety: the caller holds `RUNNING` and a reference.
    pub(crate) cancel: unsafe fn(NonNull<Header>),
    /// Frees the task.
    ///
    /// Safety: the caller dropped the last reference.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// The type of the task's [`TaskMemory`], and where in the task the
    /// memory lies: for [`TaskMemory::current`].
    memory_type: TypeId,
    memory_offset: usize,
}

/// The part of a task that does not depend on its future or executor.
#[repr(C)]
pub(crate) struct Header {
    /// The executor's node. First, so that a `NonNull<Task>` is a
    /// `NonNull<Header>` and a `NonNull<RawTask<F, E>>`.
    task: Task,
    pub(crate) state: State,
    /// The waker of whoever awaits the `JoinHandle`; its owner is given in
    /// state.rs.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    pub(crate) vtable: &'static RawVTable,
    /// The worker a pinned task runs on, or [`UNPINNED`] / [`UNBOUND`].
    /// Written once, by the first run, before the task can be woken (the
    /// state word's transitions order it before any `schedule`).
    home: AtomicUsize,
    pub(crate) context: TaskContext,
    /// Where the spawner's next task will likely be
    /// ([`TaskMemory::next_place_hint`]), 0 if unknown: a join prefetches
    /// it. Written before the task is shared, then only read.
    pub(crate) next_hint: usize,
}

/// `Header::home` of a task that may run anywhere.
const UNPINNED: usize = usize::MAX;
/// `Header::home` of a pinned task that has not run yet.
const UNBOUND: usize = usize::MAX - 1;

impl Header {
    /// The task's memory, if its type is `memory_type`.
    ///
    /// # Safety
    /// - `ptr` is a live task.
    #[inline]
    pub(crate) unsafe fn memory(ptr: NonNull<Header>, memory_type: TypeId) -> Option<NonNull<()>> {
        // SAFETY: the task is live (the caller's promise).
        let vtable = unsafe { ptr.as_ref() }.vtable;
        // SAFETY: the offset is that of the `memory` field of the task's own
        // type (`RawTask::RAW_VTABLE`), and `ptr` carries the provenance of
        // the whole task (module docs).
        (vtable.memory_type == memory_type)
            .then(|| unsafe { ptr.byte_add(vtable.memory_offset) }.cast())
    }

    /// Drops one reference, freeing the task if it was the last.
    ///
    /// # Safety
    /// - `ptr` is a live task and the caller owns one of its references,
    ///   which it gives up here: it must not touch the task afterwards.
    #[inline]
    pub(crate) unsafe fn drop_ref(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the task alive for this call.
        let header = unsafe { ptr.as_ref() };
        let dealloc = header.vtable.dealloc;
        if header.state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { dealloc(ptr) }
        }
    }
}

/// The future, then its result.
enum Stage<F: Future> {
    Pending(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole task, in its one allocation.
#[repr(C)]
pub(crate) struct RawTask<F: Future, E, M> {
    header: Header,
    executor: E,
    stage: UnsafeCell<Stage<F>>,
    /// Taken out by `dealloc`, which gives it the place back.
    memory: ManuallyDrop<M>,
}

/// How a task is spawned, apart from its future and executor.
pub(crate) struct Spawn<M> {
    pub(crate) context: TaskContext,
    pub(crate) pinned: bool,
    pub(crate) memory: M,
}

impl<F, E, M> RawTask<F, E, M>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + 'static,
    M: TaskMemory,
{
    const TASK_VTABLE: TaskVTable = TaskVTable {
        run: Self::run,
        cancel: Self::cancel_queued,
    };

    const RAW_VTABLE: RawVTable = RawVTable {
        schedule: Self::schedule,
        take_output: Self::take_output,
        cancel: Self::cancel_running,
        dealloc: Self::dealloc,
        memory_type: TypeId::of::<M>(),
        // `ManuallyDrop<M>` is `repr(transparent)`: the `M` starts there.
        memory_offset: mem::offset_of!(Self, memory),
    };

    /// Allocates a task in the state `SCHEDULED | JOIN_HANDLE` with two
    /// references: one for the `TaskRef` the caller submits, one for its
    /// `JoinHandle`. Hands future and memory back if the memory has no
    /// room.
    pub(crate) fn allocate(
        future: F,
        executor: E,
        spawn: Spawn<M>,
    ) -> Result<NonNull<Header>, (F, M)> {
        let Spawn {
            context,
            pinned,
            mut memory,
        } = spawn;
        let Some(place) = memory.place(Layout::new::<Self>()) else {
            return Err((future, memory));
        };
        let next_hint = memory
            .next_place_hint(Layout::new::<Self>())
            .map_or(0, |next| next.as_ptr() as usize);
        let place = place.cast::<Self>();
        // SAFETY: `TaskMemory` makes the place valid and aligned for a
        // `Self`, ours alone until `release`.
        unsafe {
            place.write(RawTask {
                header: Header {
                    task: Task::new(&Self::TASK_VTABLE),
                    state: State::new(),
                    join_waker: UnsafeCell::new(None),
                    vtable: &Self::RAW_VTABLE,
                    home: AtomicUsize::new(if pinned { UNBOUND } else { UNPINNED }),
                    context,
                    next_hint,
                },
                executor,
                stage: UnsafeCell::new(Stage::Pending(future)),
                memory: ManuallyDrop::new(memory),
            })
        };
        // `header` is the first field of a `repr(C)` struct: same address.
        Ok(place.cast())
    }

    /// `TaskVTable::run`: polls the future once.
    ///
    /// # Safety
    /// - `task` comes from a `TaskRef` of this task type, consumed by this
    ///   call (it owns one reference).
    unsafe fn run(task: NonNull<Task>) {
        let ptr: NonNull<Header> = task.cast();
        // SAFETY: the `TaskRef`'s reference keeps the task alive until the
        // `drop_ref` or `dealloc` below, after which `this` is not used.
        let this = unsafe { ptr.cast::<Self>().as_ref() };
        if let ToRunning::Stale = this.header.state.transition_to_running() {
            // SAFETY: we own the `TaskRef`'s reference.
            return unsafe { Header::drop_ref(ptr) };
        }
        if this.header.home.load(Ordering::Relaxed) == UNBOUND {
            // The first run of a pinned task: the executor picks its home
            // (here, or a less loaded worker), if it can send tasks there.
            let (home, elsewhere) = match this.executor.bind_pinned() {
                None => (UNPINNED, false),
                Some(PinnedHome::Here(home)) => (home, false),
                Some(PinnedHome::Elsewhere(home)) => (home, true),
            };
            this.header.home.store(home, Ordering::Relaxed);
            if elsewhere {
                // SAFETY: we hold `RUNNING` and the `TaskRef`'s reference;
                // nothing ran yet, so the task can start there instead.
                return unsafe { Self::requeue(ptr) };
            }
        }
        // SAFETY: the task outlives the guard, dropped in this function.
        let current = unsafe { CurrentGuard::enter(ptr) };

        // SAFETY: the waker borrows the `TaskRef`'s reference, which we hold
        // until after the poll; `ManuallyDrop` keeps it from dropping it.
        let waker = unsafe { waker::borrowed(ptr) };
        let mut cx = Context::from_waker(&waker);
        let polled = this.stage.with_mut(|stage| {
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: we hold `RUNNING`, so the stage is ours, and it is
                // `Pending` (only `COMPLETE` follows any other variant).
                let Stage::Pending(future) = (unsafe { &mut *stage }) else {
                    unreachable!("a task without a future was polled")
                };
                // SAFETY: the future is never moved: it lives in the task's
                // allocation until dropped in place (`drop_future`, `dealloc`).
                unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
            }))
        });
        // A future that is done is dropped while its task is still the
        // current one: its destructors run as part of the task (a fiber's,
        // for one, find the fiber's own locals).
        let dropped = match polled {
            Ok(Poll::Pending) => Ok(()),
            // SAFETY: we hold `RUNNING` and a reference; the stage is
            // `Pending` until this drop.
            _ => unsafe { Self::drop_future(ptr) },
        };
        let yielded = current.end();

        match polled {
            // SAFETY: we hold `RUNNING` and the `TaskRef`'s reference.
            Ok(Poll::Pending) if yielded => unsafe { Self::requeue(ptr) },
            Ok(Poll::Pending) => match this.header.state.transition_to_idle() {
                ToIdle::Idle => {}
                // SAFETY: that was the last reference.
                ToIdle::IdleLastRef => unsafe { Self::dealloc(ptr) },
                ToIdle::Rescheduled => {
                    // SAFETY: the transition set up `schedule`'s reference;
                    // ours keeps the task alive while `submit` runs, even if
                    // the executor cancels the new `TaskRef` at once.
                    // Woken while it ran (a yield, usually): after the
                    // others, or a yielding task would never let them run.
                    unsafe { Self::schedule(ptr, Hint::Back) };
                    // SAFETY: we own the `TaskRef`'s reference.
                    unsafe { Header::drop_ref(ptr) };
                }
                ToIdle::Cancelled => {
                    // SAFETY: we hold `RUNNING` and a reference; then we give
                    // the reference up.
                    unsafe {
                        Self::cancel_running(ptr);
                        Header::drop_ref(ptr);
                    }
                }
                ToIdle::Yielded => unreachable!("only `transition_to_yielded` yields"),
            },
            Ok(Poll::Ready(output)) => {
                // A panic while dropping the finished future is lost: the
                // output stands.
                if let Err(lost) = dropped {
                    drop_quietly(lost);
                }
                // SAFETY: we hold `RUNNING` and a reference; the future was
                // dropped above.
                unsafe {
                    Self::finish(ptr, Ok(output));
                    Header::drop_ref(ptr);
                }
            }
            Err(payload) => {
                // The first panic is the one reported.
                if let Err(again) = dropped {
                    drop_quietly(again);
                }
                // SAFETY: as above.
                unsafe {
                    Self::finish(ptr, Err(JoinError::panic(payload)));
                    Header::drop_ref(ptr);
                }
            }
        }
    }

    /// Gives the running task back to its executor, still scheduled, to
    /// the back of its queue: after a poll that asked to yield, or before
    /// a first poll that belongs on another worker
    /// ([`Executor::bind_pinned`]). If it was aborted meanwhile, cancels it.
    ///
    /// # Safety
    /// - The caller holds `RUNNING` and a reference (a `TaskRef`'s), and
    ///   the stage is `Pending`.
    #[inline]
    unsafe fn requeue(ptr: NonNull<Header>) {
        // SAFETY: a reference keeps the task alive.
        let header = unsafe { ptr.as_ref() };
        match header.state.transition_to_yielded() {
            // SAFETY: the transition kept `SCHEDULED` and handed our
            // reference to the `TaskRef` that `schedule` submits home.
            ToIdle::Yielded => unsafe { Self::schedule(ptr, Hint::Back) },
            // SAFETY: we still hold `RUNNING` and the reference, which we
            // give up after the cancel.
            ToIdle::Cancelled => unsafe {
                Self::cancel_running(ptr);
                Header::drop_ref(ptr);
            },
            _ => unreachable!("a yield either stays scheduled or is cancelled"),
        }
    }

    /// `TaskVTable::cancel`: the executor will never run this `TaskRef`.
    ///
    /// # Safety
    /// As [`run`](Self::run).
    unsafe fn cancel_queued(task: NonNull<Task>) {
        let ptr: NonNull<Header> = task.cast();
        // SAFETY: the `TaskRef`'s reference keeps the task alive.
        let header = unsafe { ptr.as_ref() };
        if let ToRunning::Run = header.state.transition_to_running() {
            // SAFETY: we now hold `RUNNING`, and a reference.
            unsafe { Self::cancel_running(ptr) };
        }
        // SAFETY: we own the `TaskRef`'s reference.
        unsafe { Header::drop_ref(ptr) };
    }

    /// `RawVTable::cancel`: drops the future and completes the task as
    /// cancelled (or as panicked, if the future's destructor panics).
    ///
    /// # Safety
    /// - The caller holds `RUNNING` and a reference.
    unsafe fn cancel_running(ptr: NonNull<Header>) {
        // As in `run`: the future's destructors run as part of its task,
        // whatever thread or task cancels it.
        // SAFETY: the caller's reference keeps the task alive for the guard.
        let current = unsafe { CurrentGuard::enter(ptr) };
        // SAFETY: the caller holds `RUNNING` and a reference, and the stage
        // is `Pending`: what `drop_future` asks.
        let dropped = unsafe { Self::drop_future(ptr) };
        current.end();
        let result = match dropped {
            Ok(()) => JoinError::cancelled(),
            Err(payload) => JoinError::panic(payload),
        };
        // SAFETY: forwarded from the caller.
        unsafe { Self::finish(ptr, Err(result)) };
    }

    /// Drops the pinned future in place, catching a panic of its destructor.
    /// Leaves the stage dropped: [`finish`](Self::finish) must follow.
    ///
    /// # Safety
    /// - The caller holds `RUNNING` and a reference; the stage is `Pending`.
    unsafe fn drop_future(ptr: NonNull<Header>) -> Result<(), Box<dyn Any + Send>> {
        // SAFETY: a reference keeps the task alive.
        let this = unsafe { ptr.cast::<Self>().as_ref() };
        this.stage.with_mut(|stage| {
            // SAFETY: `RUNNING` makes the stage ours; dropping in place keeps
            // the pinning promise. `finish` overwrites the dropped value
            // without reading it.
            catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(stage) }))
        })
    }

    /// Stores the result, completes the task and tells the joiner.
    ///
    /// # Safety
    /// - The caller holds `RUNNING` and a reference, and the stage was just
    ///   dropped by [`drop_future`](Self::drop_future).
    unsafe fn finish(ptr: NonNull<Header>, result: Result<F::Output, JoinError>) {
        // SAFETY: a reference keeps the task alive.
        let this = unsafe { ptr.cast::<Self>().as_ref() };
        // SAFETY: the stage is ours (`RUNNING`) and holds no live value.
        this.stage
            .with_mut(|stage| unsafe { ptr::write(stage, Stage::Finished(result)) });

        let prev = this.header.state.transition_to_complete();
        if !prev.has_join_handle() {
            // Nobody will read the result, and it is ours (state.rs): drop it.
            // SAFETY: as above; outputs are not pinned, so moving is fine.
            let result = this
                .stage
                .with_mut(|stage| unsafe { mem::replace(&mut *stage, Stage::Consumed) });
            drop_quietly(result);
        } else if prev.has_join_waker() {
            this.header.join_waker.with(|waker| {
                // SAFETY: the cell is shared read-only while `JOIN_WAKER` is
                // set and the task complete; the handle writes it no more.
                if let Some(waker) = unsafe { &*waker } {
                    waker.wake_by_ref();
                }
            });
        }
    }

    /// `RawVTable::schedule`.
    ///
    /// # Safety
    /// See [`RawVTable::schedule`].
    unsafe fn schedule(ptr: NonNull<Header>, hint: Hint) {
        // SAFETY: the caller's reference keeps the task alive for this call.
        let this = unsafe { ptr.cast::<Self>().as_ref() };
        // SAFETY: the task lives in a `Box` that does not move and is freed
        // only when the last reference (including the new `TaskRef`'s) is
        // gone; the caller's transition set `SCHEDULED` (on an idle task,
        // or while it ran and the runner now resubmits it), and one
        // `TaskRef` exists per `SCHEDULED` (state.rs, "Invariants"); `run` and
        // `cancel_queued` may run on any thread (`F: Send`, `E: Sync`).
        let task = unsafe { TaskRef::from_raw(ptr.cast()) };
        let home = this.header.home.load(Ordering::Relaxed);
        if home >= UNBOUND {
            return this.executor.submit(task, hint);
        }
        if let Err(refused) = this.executor.submit_to(home, task, hint) {
            // An executor that named this worker must take tasks for it;
            // one that breaks that still gets the task, wherever it runs.
            this.executor.submit(refused.into_task(), hint);
        }
    }

    /// `RawVTable::take_output`.
    ///
    /// # Safety
    /// See [`RawVTable::take_output`].
    unsafe fn take_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: the caller holds a reference.
        let this = unsafe { ptr.cast::<Self>().as_ref() };
        let dst = dst.cast::<Option<Result<F::Output, JoinError>>>();
        this.stage.with_mut(|stage| {
            // SAFETY: the caller owns the stage, which is `Finished` or
            // `Consumed` after `COMPLETE` (nothing pinned is moved), and
            // `dst` is valid for this type.
            unsafe {
                debug_assert!(!matches!(*stage, Stage::Pending(_)));
                // Moves the result out, then marks the stage consumed
                // without dropping it: only the result is copied, not the
                // whole stage (a fiber's future is larger than its output).
                if let Stage::Finished(result) = &*stage {
                    let result = ptr::read(result);
                    ptr::write(stage, Stage::Consumed);
                    dst.write(Some(result));
                }
            }
        });
    }

    /// `RawVTable::dealloc`: frees the task, dropping whatever it still
    /// holds (the future if it never finished, an untaken result, the join
    /// waker, the executor clone), then gives the place back.
    ///
    /// # Safety
    /// See [`RawVTable::dealloc`].
    unsafe fn dealloc(ptr: NonNull<Header>) {
        let this = ptr.cast::<Self>().as_ptr();
        // A destructor that panics (an unfinished future's, or the
        // output's) has no one to report to here (a waker or handle being
        // dropped, anywhere): swallowed, and the memory goes back anyway.
        // SAFETY: the pointer is the place `allocate` wrote, with its whole
        // provenance, and nobody else refers to the task now.
        let future_dropped = unsafe { Self::drop_unfinished(ptr) };
        // SAFETY: as above. The memory is read out once the future is gone
        // (`ManuallyDrop`: the in-place drop skips it), and released after
        // the last use of the place.
        let memory = unsafe { ManuallyDrop::into_inner(ptr::read(&(*this).memory)) };
        // SAFETY: as above; dropped once, here.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(this) }));
        // SAFETY: as above: the place is no longer used.
        unsafe { memory.release(ptr.cast(), Layout::new::<Self>()) };
        if let Err(payload) = future_dropped {
            drop_quietly(payload);
        }
        if let Err(payload) = dropped {
            drop_quietly(payload);
        }
    }

    /// Drops the future of a task freed before it finished, as part of the
    /// task (as `cancel_running` does), while the task is still whole; the
    /// stage is then `Consumed`, even if the destructor panicked.
    ///
    /// # Safety
    /// - Nobody else refers to the task.
    unsafe fn drop_unfinished(ptr: NonNull<Header>) -> Result<(), Box<dyn Any + Send>> {
        // SAFETY: the task is whole, and ours alone.
        let this = unsafe { ptr.cast::<Self>().as_ref() };
        let unfinished = this.stage.with(|stage| {
            // SAFETY: as above.
            matches!(unsafe { &*stage }, Stage::Pending(_))
        });
        if !unfinished {
            return Ok(());
        }
        // SAFETY: the task outlives the guard, which ends below.
        let current = unsafe { CurrentGuard::enter(ptr) };
        let dropped = this.stage.with_mut(|stage| {
            // SAFETY: the stage is ours; dropped in place (the pinning
            // promise).
            let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(stage) }));
            // SAFETY: overwritten without reading the dropped value.
            unsafe { ptr::write(stage, Stage::Consumed) };
            dropped
        });
        current.end();
        dropped
    }
}

/// Drops `value`, swallowing a panic of its destructor (and leaking the
/// panic's payload if dropping that panics too): for values dropped on the
/// executor's thread, whose destructor has no one to report to.
fn drop_quietly<T>(value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value)))
        && let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload)))
    {
        mem::forget(again);
    }
}
