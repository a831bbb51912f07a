//! [`Sleepers`]: which workers of a compute pool wait on their condvar.

/// `pos[w]` for a worker that is not in the set.
const AWAKE: usize = usize::MAX;

/// The set of sleeping workers, by index: O(1) to add one, to take the
/// most recent one (any sleeper can run a task from the shared queue) and
/// to take one named worker out (the one a pinned task was sent to).
///
/// A stack of indices plus each worker's position in it. Both are sized
/// for every worker up front, so nothing here allocates after `new`.
/// Read and written only under the pool's lock.
pub(super) struct Sleepers {
    /// The sleeping workers, most recent last.
    stack: Vec<usize>,
    /// Where each worker sits in `stack`, or `AWAKE`.
    pos: Box<[usize]>,
}

impl Sleepers {
    pub(super) fn new(workers: usize) -> Self {
        Sleepers {
            stack: Vec::with_capacity(workers),
            pos: vec![AWAKE; workers].into_boxed_slice(),
        }
    }

    /// How many workers sleep.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.stack.len()
    }

    /// Whether `worker` is in the set.
    pub(super) fn contains(&self, worker: usize) -> bool {
        self.pos[worker] != AWAKE
    }

    /// Adds `worker`, which must not be in the set.
    pub(super) fn push(&mut self, worker: usize) {
        debug_assert!(!self.contains(worker), "worker {worker} sleeps twice");
        self.pos[worker] = self.stack.len();
        // Within the capacity reserved in `new`: every worker is in the
        // set at most once.
        self.stack.push(worker);
    }

    /// Takes out the worker that went to sleep last, if any.
    pub(super) fn pop(&mut self) -> Option<usize> {
        let worker = self.stack.pop()?;
        self.pos[worker] = AWAKE;
        Some(worker)
    }

    /// Takes `worker` out; returns whether it was in the set.
    pub(super) fn remove(&mut self, worker: usize) -> bool {
        let at = self.pos[worker];
        if at == AWAKE {
            return false;
        }
        self.pos[worker] = AWAKE;
        self.stack.swap_remove(at);
        if let Some(&moved) = self.stack.get(at) {
            self.pos[moved] = at;
        }
        true
    }

    /// Takes every worker out.
    pub(super) fn clear(&mut self) {
        for worker in self.stack.drain(..) {
            self.pos[worker] = AWAKE;
        }
    }
}

#[cfg(test)]
mod test {
    use super::Sleepers;

    #[test]
    fn pop_takes_the_latest_and_remove_keeps_the_rest_findable() {
        let mut set = Sleepers::new(5);
        for worker in [3, 0, 4, 1] {
            set.push(worker);
        }
        assert!(set.remove(0));
        assert!(!set.remove(0));
        assert!(!set.remove(2));
        assert_eq!(set.len(), 3);
        // 1 moved into 0's place; it must still be found there.
        assert!(set.remove(1));
        assert!(set.contains(3) && set.contains(4) && !set.contains(1));
        assert_eq!(set.pop(), Some(4));
        set.push(2);
        assert_eq!(set.pop(), Some(2));
        assert_eq!(set.pop(), Some(3));
        assert_eq!(set.pop(), None);
    }

    #[test]
    fn clear_wakes_everyone() {
        let mut set = Sleepers::new(3);
        (0..3).for_each(|w| set.push(w));
        set.clear();
        assert_eq!(set.len(), 0);
        assert!((0..3).all(|w| !set.contains(w)));
        // Everyone can sleep again.
        (0..3).for_each(|w| set.push(w));
        assert_eq!(set.len(), 3);
    }
}
