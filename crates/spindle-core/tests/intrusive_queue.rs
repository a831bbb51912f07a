//! Behaviour of `IntrusiveQueue`.
#![cfg(not(loom))]

mod common;

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::thread;

use common::{ByA, Node, Rng, STEPS, nodes, value, values};
use spindle_core::intrusive::IntrusiveQueue;
use spindle_core::{Backoff, SpinLock};

/// Pushes every node of `nodes` to the back of a new queue, in order.
///
/// # Safety
///
/// - `nodes` outlives the queue's use of them, is not moved or mutably
///   borrowed meanwhile, and their `a` links are in no container.
unsafe fn queue_of(nodes: &[Node]) -> IntrusiveQueue<ByA> {
    let mut queue = IntrusiveQueue::new();
    for node in nodes {
        // SAFETY: (1) alive and in place, (2) `a` free, (3) only shared: this
        // function's contract; one thread.
        unsafe { queue.push_back(node.ptr()) };
    }
    queue
}

#[test]
fn push_back_then_pop_front_is_fifo() {
    let nodes = nodes(5);
    // SAFETY: `nodes` outlives the queue, never moves, is only shared; fresh links.
    let mut queue = unsafe { queue_of(&nodes) };
    assert_eq!(queue.len(), 5);
    let mut popped = Vec::new();
    while let Some(node) = queue.pop_front() {
        // SAFETY: `node` is in `nodes`, alive and only shared.
        popped.push(unsafe { value(node) });
    }
    assert_eq!(popped, [0, 1, 2, 3, 4]);
    assert!(queue.is_empty());
    assert_eq!((queue.front(), queue.back()), (None, None));
    assert!(nodes.iter().all(|n| !n.a.is_linked()));
}

#[test]
fn push_front_jumps_the_line() {
    let nodes = nodes(4);
    // SAFETY: `nodes` outlives the queue, never moves, is only shared; fresh links.
    let mut queue = unsafe { queue_of(&nodes[..2]) };
    // SAFETY: alive, in place, only shared; `a` links free.
    unsafe {
        queue.push_front(nodes[2].ptr());
        queue.push_back(nodes[3].ptr());
    }
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&queue) }, [2, 0, 1, 3]);
    assert_eq!(queue.back(), Some(nodes[3].ptr()));
}

#[test]
fn push_front_on_empty_queue_sets_both_ends() {
    let node = Node::new(7);
    let other = Node::new(8);
    let mut queue = IntrusiveQueue::<ByA>::new();
    // SAFETY: `node` outlives the queue, never moves, is only shared; fresh link.
    unsafe { queue.push_front(node.ptr()) };
    assert_eq!(queue.front(), Some(node.ptr()));
    assert_eq!(queue.back(), Some(node.ptr()));
    // SAFETY: as above, for `other`.
    unsafe { queue.push_back(other.ptr()) };
    // SAFETY: both nodes are alive and only shared.
    assert_eq!(unsafe { values(&queue) }, [7, 8]);
}

#[test]
fn front_and_back_follow_pops_down_to_empty() {
    let nodes = nodes(2);
    // SAFETY: `nodes` outlives the queue, never moves, is only shared; fresh links.
    let mut queue = unsafe { queue_of(&nodes) };
    assert_eq!(queue.front(), Some(nodes[0].ptr()));
    assert_eq!(queue.back(), Some(nodes[1].ptr()));
    queue.pop_front();
    assert_eq!(queue.front(), Some(nodes[1].ptr()));
    assert_eq!(queue.back(), Some(nodes[1].ptr()));
    queue.pop_front();
    assert_eq!((queue.front(), queue.back()), (None, None));
    // The emptied queue works again: `tail` was reset with `head`.
    // SAFETY: `nodes[0]` left the queue, so its link is free.
    unsafe { queue.push_back(nodes[0].ptr()) };
    assert_eq!(queue.front(), queue.back());
}

#[test]
fn append_joins_two_queues_in_order() {
    let nodes = nodes(5);
    // SAFETY: `nodes` outlives both queues, never moves, is only shared; each
    // node goes into one queue.
    let (mut first, mut second) = unsafe { (queue_of(&nodes[..2]), queue_of(&nodes[2..])) };
    first.append(&mut second);
    assert!(second.is_empty());
    assert_eq!(second.back(), None);
    assert_eq!(first.len(), 5);
    assert_eq!(first.back(), Some(nodes[4].ptr()));
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&first) }, [0, 1, 2, 3, 4]);
    // The tail moved too: a push lands after the appended nodes.
    let extra = Node::new(5);
    // SAFETY: `extra` outlives `first`, never moves, is only shared; fresh link.
    unsafe { first.push_back(extra.ptr()) };
    // SAFETY: as above.
    assert_eq!(unsafe { values(&first) }, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn append_with_an_empty_side_keeps_every_node() {
    let nodes = nodes(2);
    // SAFETY: `nodes` outlives the queues, never moves, is only shared; fresh links.
    let mut full = unsafe { queue_of(&nodes) };
    let mut empty = IntrusiveQueue::<ByA>::new();
    full.append(&mut empty);
    assert_eq!(full.len(), 2);
    empty.append(&mut full);
    assert!(full.is_empty());
    assert_eq!(empty.len(), 2);
    assert_eq!(empty.back(), Some(nodes[1].ptr()));
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&empty) }, [0, 1]);
}

#[test]
fn take_hands_over_all_nodes_in_order() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the queue, never moves, is only shared; fresh links.
    let mut queue = unsafe { queue_of(&nodes) };
    let mut taken = queue.take();
    assert!(queue.is_empty());
    assert_eq!(queue.back(), None);
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&taken) }, [0, 1, 2]);
    taken.clear();
    assert!(nodes.iter().all(|n| !n.a.is_linked()));
}

#[test]
fn random_operations_match_a_vecdeque_model() {
    let nodes = nodes(16);
    let mut queue = IntrusiveQueue::<ByA>::new();
    let mut spare = IntrusiveQueue::<ByA>::new();
    let mut model: VecDeque<u32> = VecDeque::new();
    let mut spare_model: VecDeque<u32> = VecDeque::new();
    let mut rng = Rng::new(0x5eed_0002);
    let free = |model: &VecDeque<u32>, spare: &VecDeque<u32>, i: u32| {
        !model.contains(&i) && !spare.contains(&i)
    };
    for _ in 0..STEPS {
        let i = rng.below(16) as u32;
        match rng.below(6) {
            0 | 1 if free(&model, &spare_model, i) => {
                // SAFETY: `nodes` outlives both queues, never moves, is only
                // shared; node `i` is in neither queue (checked against the
                // models), so its `a` link is free.
                unsafe { queue.push_back(nodes[i as usize].ptr()) };
                model.push_back(i);
            }
            2 if free(&model, &spare_model, i) => {
                // SAFETY: as above.
                unsafe { queue.push_front(nodes[i as usize].ptr()) };
                model.push_front(i);
            }
            3 if free(&model, &spare_model, i) => {
                // SAFETY: as above.
                unsafe { spare.push_back(nodes[i as usize].ptr()) };
                spare_model.push_back(i);
            }
            4 => {
                queue.append(&mut spare);
                model.append(&mut spare_model);
            }
            _ => {
                // SAFETY: every node is in `nodes`, alive and only shared.
                let got = queue.pop_front().map(|n| unsafe { value(n) });
                assert_eq!(got, model.pop_front());
            }
        }
        assert_eq!(queue.len(), model.len());
        assert_eq!(spare.len(), spare_model.len());
        // SAFETY: as above.
        let end = queue.back().map(|n| unsafe { value(n) });
        assert_eq!(end, model.back().copied());
    }
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert!(unsafe { values(&queue) }.iter().eq(model.iter()));
}

#[test]
fn queue_under_spin_lock_hands_boxed_nodes_between_threads() {
    const PRODUCERS: u32 = 3;
    const PER_PRODUCER: u32 = if cfg!(miri) { 20 } else { 2_000 };
    let queue = SpinLock::new(IntrusiveQueue::<ByA>::new());
    let received = thread::scope(|s| {
        for producer in 0..PRODUCERS {
            let queue = &queue;
            s.spawn(move || {
                for seq in 0..PER_PRODUCER {
                    let node = Box::new(Node::new(producer * 1_000_000 + seq));
                    let node = NonNull::from(Box::leak(node));
                    // SAFETY: the leaked box lives, unmoved and reached only
                    // through the queue, until the consumer pops and frees it;
                    // fresh link; the lock orders every access to the links.
                    unsafe { queue.lock().push_back(node) };
                }
            });
        }
        let consumer = s.spawn(|| {
            let mut received = Vec::new();
            let mut backoff = Backoff::new();
            while received.len() < (PRODUCERS * PER_PRODUCER) as usize {
                let popped = queue.lock().pop_front();
                match popped {
                    Some(node) => {
                        // SAFETY: `node` came from `Box::leak` in a producer and
                        // has left the queue; the lock ordered its writes
                        // before this read.
                        let node = unsafe { Box::from_raw(node.as_ptr()) };
                        received.push(node.value);
                        backoff.reset();
                    }
                    None => backoff.snooze(),
                }
            }
            received
        });
        consumer.join().unwrap()
    });
    assert!(queue.lock().is_empty());
    for producer in 0..PRODUCERS {
        let mine: Vec<u32> = received
            .iter()
            .filter(|&&v| v / 1_000_000 == producer)
            .map(|&v| v % 1_000_000)
            .collect();
        assert_eq!(
            mine,
            (0..PER_PRODUCER).collect::<Vec<_>>(),
            "producer {producer}"
        );
    }
}
