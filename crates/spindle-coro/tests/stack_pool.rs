//! The stack pool hands stacks back and forth between threads and keeps
//! them: a thread's cached stacks survive the thread.

use spindle_coro::{Stack, StackPool};
use std::collections::HashSet;

/// A size class no other test here uses, so the counts are ours.
const SIZE: usize = 8 << 20;

#[test]
fn stacks_cached_by_an_exiting_thread_are_taken_again_elsewhere() {
    let pool = StackPool::global();
    let bases: HashSet<usize> = std::thread::spawn(move || {
        let stacks: Vec<_> = (0..100).map(|_| pool.take(SIZE).unwrap()).collect();
        stacks.iter().map(|s| s.base().as_ptr() as usize).collect()
        // Dropped here: 64 go to this thread's cache, the rest to the
        // global list; the cache drains to the global list at exit.
    })
    .join()
    .unwrap();
    assert_eq!(bases.len(), 100);
    // The same 100 stacks, none mapped anew.
    let again: Vec<_> = (0..100).map(|_| pool.take(SIZE).unwrap()).collect();
    let again: HashSet<usize> = again.iter().map(|s| s.base().as_ptr() as usize).collect();
    assert_eq!(again, bases);
}

#[test]
fn a_pooled_stack_is_usable_memory_of_its_class() {
    let stack = StackPool::global().take(20 * 1024).unwrap();
    assert_eq!(stack.size(), 32 * 1024);
    assert_eq!(stack.base().as_ptr() as usize % 16, 0);
    // The whole stack is ours to write.
    // SAFETY: `[limit, base)` is the stack's memory and nothing uses it.
    unsafe { std::ptr::write_bytes(stack.limit().as_ptr(), 0xA5, stack.size()) };
}

#[test]
fn upcoming_names_the_stacks_the_next_takes_return() {
    // Its own class, on its own thread: the cache is ours alone.
    const SIZE: usize = 4 << 20;
    std::thread::spawn(|| {
        let pool = StackPool::global();
        let held: Vec<_> = (0..4).map(|_| pool.take(SIZE).unwrap()).collect();
        drop(held);
        let (first, second) = (pool.upcoming(SIZE, 1), pool.upcoming(SIZE, 2));
        assert!(first.is_some() && second.is_some() && first != second);
        assert_eq!(pool.upcoming(SIZE, 0), None);
        assert_eq!(pool.upcoming(SIZE, 5), None, "only four are cached");
        assert_eq!(pool.upcoming(1, 1), None, "no such class");
        let next = pool.take(SIZE).unwrap();
        assert_eq!(Some(next.base()), first);
        assert_eq!(Some(pool.take(SIZE).unwrap().base()), second);
    })
    .join()
    .unwrap();
}
