//! The next slots of a worker: a small owner-only LIFO of tasks submitted
//! with [`Hint::Next`](crate::Hint::Next), run before anything queued.
//!
//! Go has one next slot; a fork-join tree then runs breadth first, because
//! each new spawn pushes the previous one to the back of the FIFO ring,
//! where the worker finds the *oldest* first. Keeping the last few in a
//! stack runs the newest (the smallest subtrees) first and leaves the
//! oldest (the largest) in the ring, where idle workers steal them: depth
//! first at home, breadth first for thieves, as in a Chase-Lev deque,
//! with few tasks alive at once. Thieves never see the stack, so while
//! another worker wants work its owner keeps only a few (`worker.rs`,
//! `SHARED_DEPTH`) and moves the oldest ([`NextStack::pop_oldest`]) to
//! its ring.

use core::cell::Cell;

use crate::task::TaskRef;

/// How many tasks the stack holds; a push beyond evicts the oldest.
pub(super) const DEPTH: usize = 64;

/// A task in the stack, and whether it is pinned to this worker.
type Entry = (TaskRef, bool);

pub(super) struct NextStack {
    slots: [Cell<Option<Entry>>; DEPTH],
    /// Index of the oldest entry.
    start: Cell<usize>,
    len: Cell<usize>,
}

impl NextStack {
    pub(super) const fn new() -> Self {
        NextStack {
            slots: [const { Cell::new(None) }; DEPTH],
            start: Cell::new(0),
            len: Cell::new(0),
        }
    }

    /// Pushes a task as the newest; returns the oldest if the stack was
    /// full (the caller queues it).
    #[inline(always)]
    pub(super) fn push(&self, task: TaskRef, pinned: bool) -> Option<Entry> {
        let (start, len) = (self.start.get(), self.len.get());
        if len == DEPTH {
            // The newest goes where the oldest was, which leaves.
            self.start.set((start + 1) % DEPTH);
            return self.slots[start].replace(Some((task, pinned)));
        }
        self.slots[(start + len) % DEPTH].set(Some((task, pinned)));
        self.len.set(len + 1);
        None
    }

    /// Takes the newest task.
    pub(super) fn pop(&self) -> Option<Entry> {
        let len = self.len.get().checked_sub(1)?;
        self.len.set(len);
        self.slots[(self.start.get() + len) % DEPTH].take()
    }

    /// Takes the oldest task.
    pub(super) fn pop_oldest(&self) -> Option<Entry> {
        let (start, len) = (self.start.get(), self.len.get());
        let len = len.checked_sub(1)?;
        self.start.set((start + 1) % DEPTH);
        self.len.set(len);
        self.slots[start].take()
    }

    pub(super) fn len(&self) -> usize {
        self.len.get()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len.get() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Task, TaskVTable};
    use core::ptr::NonNull;

    static VTABLE: TaskVTable = TaskVTable {
        run: |_| {},
        cancel: |_| {},
    };

    fn tasks(n: usize) -> Vec<Task> {
        (0..n).map(|_| Task::new(&VTABLE)).collect()
    }

    fn task_ref(task: &Task) -> TaskRef {
        // SAFETY: the nodes outlive the test and are in no queue; the
        // vtable does nothing.
        unsafe { TaskRef::from_raw(NonNull::from(task)) }
    }

    #[test]
    fn pops_newest_first_and_evicts_the_oldest() {
        let nodes = tasks(DEPTH + 3);
        let stack = NextStack::new();
        let mut evicted = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            if let Some((task, pinned)) = stack.push(task_ref(node), i % 2 == 0) {
                evicted.push((task.as_ptr(), pinned));
            }
        }
        let at = |i: usize| NonNull::from(&nodes[i]);
        assert_eq!(evicted, [(at(0), true), (at(1), false), (at(2), true)]);
        let mut popped = Vec::new();
        while let Some((task, pinned)) = stack.pop() {
            popped.push((task.as_ptr(), pinned));
        }
        let expected: Vec<_> = (3..DEPTH + 3).rev().map(|i| (at(i), i % 2 == 0)).collect();
        // Put two back, and take the oldest first, from the other end.
        for (i, node) in nodes.iter().enumerate().take(2) {
            assert!(stack.push(task_ref(node), i == 0).is_none());
        }
        assert_eq!(stack.len(), 2);
        let oldest = stack
            .pop_oldest()
            .map(|(task, pinned)| (task.as_ptr(), pinned));
        assert_eq!(oldest, Some((at(0), true)));
        assert_eq!(stack.pop().map(|(task, _)| task.as_ptr()), Some(at(1)));
        assert_eq!(popped, expected);
        assert!(stack.is_empty());
    }
}
