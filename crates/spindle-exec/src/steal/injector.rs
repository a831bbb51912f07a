//! [`LockedQueue`]: a mutex around an intrusive task queue, with its
//! length mirrored in an atomic so that workers can see it is empty
//! without taking the lock.
//!
//! Three kinds exist in a pool: the *injector*, one per pool, which every
//! thread outside the pool submits to and every worker takes from in
//! batches; one *spill* per worker, where the older half of its full ring
//! goes, which it takes back in batches and other workers steal from; and
//! one *inbox* per worker, for tasks sent to that worker alone
//! ([`StealPool::submit_to`](super::StealPool::submit_to)), which only its
//! worker takes from.
//!
//! A mutex is the simple, correct choice for now: each lock is taken once
//! per batch or for one outside submission (which also wakes a worker, the
//! larger cost), critical sections are O(1) (see
//! [`pop_batch`](LockedQueue::pop_batch)), and linking nodes allocates
//! nothing. An uncontended `std` mutex costs two atomic operations. A
//! lock-free MPMC queue can replace the injector behind this interface if
//! the `spawn_join` numbers ask for it.

use super::sync::atomic::{AtomicUsize, Ordering};
use super::sync::{Mutex, MutexGuard};
use crate::task::{Task, TaskLinks, TaskRef};
use core::fmt;
use core::ptr::NonNull;
use spindle_core::CachePadded;
use spindle_core::intrusive::IntrusiveQueue;
use std::sync::PoisonError;

/// A queue of tasks behind a mutex; see the [module docs](self).
pub(crate) struct LockedQueue {
    /// `inner.queue.len()`, stored under the lock after every change, read
    /// without it.
    len: CachePadded<AtomicUsize>,
    inner: Mutex<Inner>,
}

/// What the lock guards.
pub(crate) struct Inner {
    queue: IntrusiveQueue<TaskLinks>,
    /// Set once, when the pool closes; pushes fail from then on.
    closed: bool,
    /// How many tasks were pushed one by one (submissions); batches (a
    /// ring's overflow) are not counted.
    accepted: u64,
}

impl Inner {
    /// Whether no task waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Refuses every later push. The caller checked the queue is empty.
    pub(crate) fn close(&mut self) {
        debug_assert!(self.queue.is_empty());
        self.closed = true;
    }
}

impl LockedQueue {
    pub(crate) fn new() -> Self {
        LockedQueue {
            len: CachePadded::new(AtomicUsize::new(0)),
            inner: Mutex::new(Inner {
                queue: IntrusiveQueue::new(),
                closed: false,
                accepted: 0,
            }),
        }
    }

    /// Our critical sections do not panic (a debug assertion in the
    /// intrusive queue aside, which only a broken `TaskRef` trips); the
    /// queue stays consistent, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many tasks wait: exact under the lock, a snapshot otherwise.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no task seems to wait (see [`len`](Self::len)).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn publish_len(&self, inner: &Inner) {
        self.len.store(inner.queue.len(), Ordering::Relaxed);
    }

    /// Queues one submitted task, at the front if `front`. Hands it back if
    /// the queue is closed.
    pub(crate) fn push(&self, task: TaskRef, front: bool) -> Result<(), TaskRef> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(task);
        }
        let node = task.into_raw();
        // SAFETY: a `TaskRef` guarantees the node stays valid and unmoved
        // until it is run or cancelled, and that it is in no other queue;
        // it stays here until popped and turned back into a `TaskRef`.
        unsafe {
            if front {
                inner.queue.push_front(node);
            } else {
                inner.queue.push_back(node);
            }
        }
        inner.accepted += 1;
        self.publish_len(&inner);
        Ok(())
    }

    /// Appends a batch (the older half of a full ring), in order. Hands it
    /// back if the queue is closed.
    pub(crate) fn push_batch(
        &self,
        mut batch: IntrusiveQueue<TaskLinks>,
    ) -> Result<(), IntrusiveQueue<TaskLinks>> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(batch);
        }
        inner.queue.append(&mut batch);
        self.publish_len(&inner);
        Ok(())
    }

    /// Takes the front task and hands up to `max - 1` more to `place`, in
    /// order. A node `place` hands back, and every node after it, stays
    /// queued.
    ///
    /// The lock is held only to take the whole queue and, if some is left,
    /// to put the rest back in front of whatever was pushed meanwhile: two
    /// O(1) critical sections, however long the batch. (Popping node by
    /// node under the lock made the other workers' pushes wait on it, and
    /// sleep in the kernel.) While the rest is out, the queue looks
    /// emptier than it is; so the second return value says whether tasks
    /// were put back, and then the caller must wake a worker as for any new
    /// work (sleep protocol, step 1).
    pub(crate) fn pop_batch(
        &self,
        max: usize,
        mut place: impl FnMut(NonNull<Task>) -> Result<(), NonNull<Task>>,
    ) -> (Option<TaskRef>, bool) {
        let mut taken = {
            let mut inner = self.lock();
            let taken = inner.queue.take();
            self.publish_len(&inner);
            taken
        };
        let Some(first) = taken.pop_front() else {
            return (None, false);
        };
        for _ in 1..max {
            let Some(node) = taken.pop_front() else {
                break;
            };
            if let Err(node) = place(node) {
                // SAFETY: the node just left `taken`; it goes back with the
                // same right.
                unsafe { taken.push_front(node) };
                break;
            }
        }
        let put_back = !taken.is_empty();
        if put_back {
            let mut inner = self.lock();
            debug_assert!(!inner.closed, "closed while a worker ran");
            let mut newer = inner.queue.take();
            taken.append(&mut newer);
            inner.queue = taken;
            self.publish_len(&inner);
        }
        // SAFETY: only `TaskRef`s go into the queue (`push`, `push_batch`),
        // and the node left it, so the right to run it moves on.
        (Some(unsafe { TaskRef::from_raw(first) }), put_back)
    }

    /// Takes every task, in order.
    pub(crate) fn take_all(&self) -> IntrusiveQueue<TaskLinks> {
        let mut inner = self.lock();
        let all = inner.queue.take();
        self.publish_len(&inner);
        all
    }

    /// How many tasks were submitted here one by one.
    pub(crate) fn accepted(&self) -> u64 {
        self.lock().accepted
    }
}

impl fmt::Debug for LockedQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockedQueue")
            .field("len", &self.len())
            .finish()
    }
}

/// Turns every node of a detached queue back into a `TaskRef`, in order.
pub(crate) fn drain(mut queue: IntrusiveQueue<TaskLinks>) -> impl Iterator<Item = TaskRef> {
    core::iter::from_fn(move || {
        // SAFETY: the queues passed here hold only nodes that came from
        // `TaskRef`s, each owned by the queue alone.
        queue
            .pop_front()
            .map(|node| unsafe { TaskRef::from_raw(node) })
    })
}
