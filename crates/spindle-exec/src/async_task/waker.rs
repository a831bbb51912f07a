//! The task's `Waker`: a pointer to its header and one reference.
//!
//! One vtable serves every task type: the waker needs only the state word
//! and the header's `schedule` and `dealloc`, so it is not generic (less
//! code per spawned future type, and `will_wake` compares equal across
//! clones of one task's waker).

use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::Header;
use crate::task::Hint;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_waker, wake, wake_by_ref, drop_waker);

/// The waker handed to the future while it is polled. It borrows the
/// runner's reference instead of owning one, so polling costs no reference
/// count traffic; `ManuallyDrop` keeps it from giving that reference up.
/// Clones own a reference each, as usual.
///
/// # Safety
/// - `ptr` is a live task, kept alive by a reference the caller owns for as
///   long as the returned waker is used.
pub(crate) unsafe fn borrowed(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(ptr.as_ptr().cast_const().cast(), &VTABLE);
    // SAFETY: `VTABLE`'s functions uphold the `RawWaker` contract for a data
    // pointer to a live task header whose reference the waker owns (or, here,
    // borrows from the caller, who keeps it alive).
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

/// The task of a waker's data pointer.
///
/// # Safety
/// - `data` is a waker's data pointer, made by [`borrowed`] or [`clone_waker`].
unsafe fn header(data: *const ()) -> NonNull<Header> {
    // SAFETY: the pointer is a task's header pointer, never null; casting it
    // back keeps its provenance.
    unsafe { NonNull::new_unchecked(data.cast_mut().cast()) }
}

/// # Safety
/// `data` is a live waker's data pointer (it owns or borrows a reference).
unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the task alive.
    unsafe { header(data).as_ref() }.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

/// # Safety
/// `data` is the data pointer of a waker that owns a reference, consumed
/// here.
unsafe fn wake(data: *const ()) {
    // SAFETY: the waker's reference keeps the task alive through the wake
    // (also while the executor's `submit` runs); then it is dropped.
    unsafe {
        wake_by_ref(data);
        drop_waker(data);
    }
}

/// # Safety
/// `data` is a live waker's data pointer.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker keeps the task alive for this call.
    let ptr = unsafe { header(data) };
    // SAFETY: as above.
    let header = unsafe { ptr.as_ref() };
    if header.state.wake_by_ref() {
        // SAFETY: the state moved idle -> scheduled and added the `TaskRef`'s
        // reference; the waker's own reference outlives `submit`.
        // A task woken while idle (by the task that completed what it
        // waited for, usually) runs next, where the executor has a next
        // slot: its data is still warm and a fork-join tree runs depth
        // first. Starvation is the executor's to bound (the work-stealing
        // pool runs at most 8 next-slot tasks in a row).
        unsafe { (header.vtable.schedule)(ptr, Hint::Next) };
    }
}

/// # Safety
/// `data` is the data pointer of a waker that owns a reference, consumed
/// here.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: we own the waker's reference and give it up.
    unsafe { Header::drop_ref(header(data)) };
}
