//! Behaviour of `IntrusiveStack`.
#![cfg(not(loom))]

mod common;

use std::ptr::NonNull;

use common::{ByA, Node, Rng, STEPS, nodes, value, values};
use spindle_core::intrusive::IntrusiveStack;

/// Pushes every node of `nodes` onto a new stack, in order.
///
/// # Safety
///
/// - `nodes` outlives the stack's use of them, is not moved or mutably
///   borrowed meanwhile, and their `a` links are in no container.
unsafe fn stack_of(nodes: &[Node]) -> IntrusiveStack<ByA> {
    let mut stack = IntrusiveStack::new();
    for node in nodes {
        // SAFETY: (1) alive and in place, (2) `a` free, (3) only shared: this
        // function's contract; one thread.
        unsafe { stack.push(node.ptr()) };
    }
    stack
}

#[test]
fn pop_returns_nodes_in_lifo_order() {
    let nodes = nodes(4);
    // SAFETY: `nodes` outlives the stack, never moves, is only shared; fresh links.
    let mut stack = unsafe { stack_of(&nodes) };
    assert_eq!(stack.len(), 4);
    let mut popped = Vec::new();
    while let Some(node) = stack.pop() {
        // SAFETY: `node` is in `nodes`, alive and only shared.
        popped.push(unsafe { value(node) });
    }
    assert_eq!(popped, [3, 2, 1, 0]);
    assert!(stack.is_empty());
    assert!(nodes.iter().all(|n| !n.a.is_linked()));
}

#[test]
fn peek_shows_the_top_without_removing_it() {
    let nodes = nodes(2);
    let mut stack = IntrusiveStack::<ByA>::new();
    assert_eq!(stack.peek(), None);
    // SAFETY: `nodes` outlives the stack, never moves, is only shared; fresh links.
    unsafe { stack.push(nodes[0].ptr()) };
    assert_eq!(stack.peek(), Some(nodes[0].ptr()));
    // SAFETY: as above.
    unsafe { stack.push(nodes[1].ptr()) };
    assert_eq!(stack.peek(), Some(nodes[1].ptr()));
    assert_eq!(stack.len(), 2);
}

#[test]
fn iter_runs_top_to_bottom() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the stack, never moves, is only shared; fresh links.
    let stack = unsafe { stack_of(&nodes) };
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&stack) }, [2, 1, 0]);
    assert_eq!(stack.iter().size_hint(), (3, Some(3)));
}

#[test]
fn take_and_clear_empty_the_stack() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the stack, never moves, is only shared; fresh links.
    let mut stack = unsafe { stack_of(&nodes) };
    let mut taken = stack.take();
    assert!(stack.is_empty());
    assert_eq!(taken.len(), 3);
    assert!(nodes.iter().all(|n| n.a.is_linked()));
    taken.clear();
    assert!(taken.is_empty());
    assert!(nodes.iter().all(|n| !n.a.is_linked()));
}

#[test]
fn popped_node_can_be_pushed_again() {
    let node = Node::new(1);
    let mut stack = IntrusiveStack::<ByA>::new();
    for _ in 0..3 {
        // SAFETY: `node` outlives the stack, never moves, is only shared; its
        // link is free (fresh, then popped each round).
        unsafe { stack.push(node.ptr()) };
        assert_eq!(stack.pop(), Some(node.ptr()));
    }
    assert!(stack.is_empty());
}

#[test]
fn boxed_nodes_come_back_as_boxes() {
    let mut stack = IntrusiveStack::<ByA>::new();
    for value in 0..3 {
        let node = NonNull::from(Box::leak(Box::new(Node::new(value))));
        // SAFETY: the leaked box lives, unmoved and reached only through the
        // stack, until popped and freed below; fresh link; one thread.
        unsafe { stack.push(node) };
    }
    let mut seen = Vec::new();
    while let Some(node) = stack.pop() {
        // SAFETY: `node` came from `Box::leak` above and has left the stack.
        seen.push(unsafe { Box::from_raw(node.as_ptr()) }.value);
    }
    assert_eq!(seen, [2, 1, 0]);
}

#[test]
fn random_operations_match_a_vec_model() {
    let nodes = nodes(16);
    let mut stack = IntrusiveStack::<ByA>::new();
    let mut model: Vec<u32> = Vec::new(); // top last
    let mut rng = Rng::new(0x5eed_0003);
    for _ in 0..STEPS {
        let i = rng.below(16) as u32;
        if rng.below(2) == 0 && !model.contains(&i) {
            // SAFETY: `nodes` outlives the stack, never moves, is only shared;
            // node `i` is not on the stack (checked against the model), so its
            // `a` link is free.
            unsafe { stack.push(nodes[i as usize].ptr()) };
            model.push(i);
        } else {
            // SAFETY: every node is in `nodes`, alive and only shared.
            let got = stack.pop().map(|n| unsafe { value(n) });
            assert_eq!(got, model.pop());
        }
        assert_eq!(stack.len(), model.len());
        // SAFETY: as above.
        let end = stack.peek().map(|n| unsafe { value(n) });
        assert_eq!(end, model.last().copied());
    }
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert!(unsafe { values(&stack) }.iter().eq(model.iter().rev()));
}
