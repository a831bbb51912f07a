//! Behaviour of `IntrusiveList`.
#![cfg(not(loom))]

mod common;

use std::ptr::NonNull;

use common::{ByA, ByB, Node, Rng, STEPS, nodes, value, values};
use spindle_core::intrusive::{IntrusiveList, IntrusiveQueue};

/// Pushes every node of `nodes` to the front of a new list, in order.
///
/// # Safety
///
/// - `nodes` outlives the list's use of them, is not moved or mutably
///   borrowed meanwhile, and their `a` links are in no container.
unsafe fn list_of(nodes: &[Node]) -> IntrusiveList<ByA> {
    let mut list = IntrusiveList::new();
    for node in nodes {
        // SAFETY: (1) alive and in place, (2) `a` free, (3) only shared: this
        // function's contract; one thread.
        unsafe { list.push_front(node.ptr()) };
    }
    list
}

#[test]
fn push_front_then_iter_yields_reverse_push_order() {
    let nodes = nodes(4);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let list = unsafe { list_of(&nodes) };
    assert_eq!(list.len(), 4);
    assert!(!list.is_empty());
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, [3, 2, 1, 0]);
    assert_eq!(list.iter().len(), 4);
    assert_eq!(list.front(), Some(nodes[3].ptr()));
    assert!(nodes.iter().all(|n| n.a.is_linked() && !n.b.is_linked()));
}

#[test]
fn pop_front_returns_most_recent_and_unlinks_it() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes) };
    let mut popped = Vec::new();
    while let Some(node) = list.pop_front() {
        // SAFETY: `node` is in `nodes`, alive and only shared.
        assert!(!unsafe { node.as_ref() }.a.is_linked());
        // SAFETY: as above.
        popped.push(unsafe { value(node) });
    }
    assert_eq!(popped, [2, 1, 0]);
    assert!(list.is_empty());
    assert_eq!(list.len(), 0);
    assert_eq!(list.pop_front(), None);
}

#[test]
fn remove_unlinks_head_middle_and_tail() {
    let nodes = nodes(5);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes) }; // 4 3 2 1 0
    assert!(list.remove(nodes[4].ptr())); // head
    assert!(list.remove(nodes[2].ptr())); // middle
    assert!(list.remove(nodes[0].ptr())); // tail
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, [3, 1]);
    assert_eq!(list.len(), 2);
    for i in [0, 2, 4] {
        assert!(!nodes[i].a.is_linked());
    }
    assert!(nodes[1].a.is_linked() && nodes[3].a.is_linked());
}

#[test]
fn remove_of_absent_node_returns_false_and_changes_nothing() {
    let nodes = nodes(3);
    let stranger = Node::new(99);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes[..2]) };
    assert!(!list.remove(stranger.ptr()));
    assert!(!list.remove(nodes[2].ptr()));
    assert!(!list.remove(NonNull::dangling()));
    assert_eq!(list.len(), 2);
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, [1, 0]);
}

#[test]
fn removed_node_can_be_pushed_again() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes) };
    assert!(list.remove(nodes[1].ptr()));
    // SAFETY: `nodes[1]` left the list, so its link is free; it stays alive,
    // in place and shared.
    unsafe { list.push_front(nodes[1].ptr()) };
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, [1, 2, 0]);
}

#[test]
fn insert_after_places_node_right_behind_anchor() {
    let nodes = nodes(4);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes[..2]) }; // 1 0
    // SAFETY: (1) `nodes[1]` is in the list; (2) `nodes[2]` is alive, in
    // place, only shared, and its `a` link is free.
    unsafe { list.insert_after(nodes[1].ptr(), nodes[2].ptr()) }; // 1 2 0
    // SAFETY: as above, with the list's last node as anchor.
    unsafe { list.insert_after(nodes[0].ptr(), nodes[3].ptr()) }; // 1 2 0 3
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, [1, 2, 0, 3]);
    assert_eq!(list.len(), 4);
    assert!(list.remove(nodes[3].ptr()));
    // SAFETY: as above.
    assert_eq!(unsafe { values(&list) }, [1, 2, 0]);
}

#[test]
fn contains_tracks_membership() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes[..2]) };
    assert!(list.contains(nodes[0].ptr()));
    assert!(!list.contains(nodes[2].ptr()));
    list.pop_front();
    assert!(!list.contains(nodes[1].ptr()));
}

#[test]
fn clear_unlinks_every_node() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes) };
    list.clear();
    assert!(list.is_empty());
    assert!(nodes.iter().all(|n| !n.a.is_linked()));
}

#[test]
fn take_moves_all_nodes_and_leaves_the_list_empty() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes) };
    let taken = list.take();
    assert!(list.is_empty());
    assert_eq!(list.len(), 0);
    assert_eq!(taken.len(), 3);
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&taken) }, [2, 1, 0]);
    assert!(nodes.iter().all(|n| n.a.is_linked()));
}

#[test]
fn node_sits_in_two_containers_through_two_links() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let mut list = unsafe { list_of(&nodes) };
    let mut queue = IntrusiveQueue::<ByB>::new();
    for node in &nodes {
        // SAFETY: alive, in place, only shared; the `b` links are free (the
        // list uses `a`).
        unsafe { queue.push_back(node.ptr()) };
    }
    assert!(list.remove(nodes[1].ptr()));
    assert!(nodes[1].b.is_linked());
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, [2, 0]);
    // SAFETY: as above.
    assert_eq!(unsafe { values(&queue) }, [0, 1, 2]);
}

#[test]
fn node_data_may_change_through_cells_while_linked() {
    let nodes = nodes(3);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let list = unsafe { list_of(&nodes) };
    for node in &list {
        // SAFETY: `node` is in `nodes`, alive and only shared.
        let node = unsafe { node.as_ref() };
        node.visits.set(node.visits.get() + 1);
    }
    assert!(nodes.iter().all(|n| n.visits.get() == 1));
}

#[test]
fn boxed_nodes_come_back_as_boxes() {
    let mut list = IntrusiveList::<ByA>::new();
    for value in 0..4 {
        let node = NonNull::from(Box::leak(Box::new(Node::new(value))));
        // SAFETY: the leaked box lives, unmoved and reached only through the
        // list, until popped and freed below; fresh link; one thread.
        unsafe { list.push_front(node) };
    }
    let mut seen = Vec::new();
    while let Some(node) = list.pop_front() {
        // SAFETY: `node` came from `Box::leak` above and has left the list.
        let node = unsafe { Box::from_raw(node.as_ptr()) };
        seen.push(node.value);
    }
    assert_eq!(seen, [3, 2, 1, 0]);
}

#[test]
fn debug_lists_node_addresses() {
    let nodes = nodes(2);
    // SAFETY: `nodes` outlives the list, never moves, is only shared; fresh links.
    let list = unsafe { list_of(&nodes) };
    let expected = format!("[{:?}, {:?}]", nodes[1].ptr(), nodes[0].ptr());
    assert_eq!(format!("{list:?}"), expected);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic = "already in a container"]
fn pushing_a_linked_node_panics_in_debug_builds() {
    let node = Node::new(0);
    let mut list = IntrusiveList::<ByA>::new();
    // SAFETY: `node` outlives the list, never moves, is only shared; fresh link.
    unsafe { list.push_front(node.ptr()) };
    // SAFETY: deliberately breaks rule 2 to see the debug check fire; it
    // panics before anything is written, so nothing is corrupted.
    unsafe { list.push_front(node.ptr()) };
}

#[test]
fn random_operations_match_a_vec_model() {
    let nodes = nodes(16);
    let mut list = IntrusiveList::<ByA>::new();
    let mut model: Vec<u32> = Vec::new(); // front first
    let mut rng = Rng::new(0x5eed_0001);
    for _ in 0..STEPS {
        let i = rng.below(16) as u32;
        match rng.below(4) {
            0 | 1 if !model.contains(&i) => {
                // SAFETY: `nodes` outlives the list, never moves, is only
                // shared; node `i` is not in the list (checked against the
                // model), so its `a` link is free.
                unsafe { list.push_front(nodes[i as usize].ptr()) };
                model.insert(0, i);
            }
            2 => {
                // SAFETY: every node is in `nodes`, alive and only shared.
                let got = list.pop_front().map(|n| unsafe { value(n) });
                let want = (!model.is_empty()).then(|| model.remove(0));
                assert_eq!(got, want);
            }
            _ => {
                let removed = list.remove(nodes[i as usize].ptr());
                let position = model.iter().position(|&v| v == i);
                assert_eq!(removed, position.is_some());
                if let Some(p) = position {
                    model.remove(p);
                }
            }
        }
        assert_eq!(list.len(), model.len());
    }
    // SAFETY: every node is in `nodes`, alive and only shared.
    assert_eq!(unsafe { values(&list) }, model);
}
