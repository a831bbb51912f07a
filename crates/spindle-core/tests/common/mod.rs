//! Test nodes shared by the intrusive-container tests.
//!
//! Each test file is its own crate and uses only part of this module.
#![allow(dead_code)]

use std::cell::Cell;
use std::ptr::NonNull;

use spindle_core::intrusive::{Adapter, Link};

/// A node with two links, so it can be in two containers at once.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) value: u32,
    /// Mutable while linked, as rule 3 asks: through a cell.
    pub(crate) visits: Cell<u32>,
    pub(crate) a: Link<Node>,
    pub(crate) b: Link<Node>,
}

impl Node {
    pub(crate) fn new(value: u32) -> Self {
        Self {
            value,
            visits: Cell::new(0),
            a: Link::new(),
            b: Link::new(),
        }
    }

    pub(crate) fn ptr(&self) -> NonNull<Node> {
        NonNull::from(self)
    }
}

/// Selects `Node::a`.
pub(crate) struct ByA;

// SAFETY: `link` projects `node` to its own `a` field and does nothing else.
unsafe impl Adapter for ByA {
    type Node = Node;

    unsafe fn link(node: NonNull<Node>) -> NonNull<Link<Node>> {
        // SAFETY: the caller guarantees `node` points to a live `Node`, so the
        // projection stays inside it and is not null.
        unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).a) }
    }
}

/// Selects `Node::b`.
pub(crate) struct ByB;

// SAFETY: `link` projects `node` to its own `b` field and does nothing else.
unsafe impl Adapter for ByB {
    type Node = Node;

    unsafe fn link(node: NonNull<Node>) -> NonNull<Link<Node>> {
        // SAFETY: the caller guarantees `node` points to a live `Node`, so the
        // projection stays inside it and is not null.
        unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).b) }
    }
}

/// Reads the values of the nodes `nodes` yields.
///
/// # Safety
///
/// - Every pointer yielded points to a live `Node` that nothing mutably
///   borrows.
pub(crate) unsafe fn values(nodes: impl IntoIterator<Item = NonNull<Node>>) -> Vec<u32> {
    nodes
        .into_iter()
        // SAFETY: live and not mutably borrowed, by this function's contract.
        .map(|node| unsafe { node.as_ref() }.value)
        .collect()
}

/// Reads the value of `node`.
///
/// # Safety
///
/// - `node` points to a live `Node` that nothing mutably borrows.
pub(crate) unsafe fn value(node: NonNull<Node>) -> u32 {
    // SAFETY: live and not mutably borrowed, by this function's contract.
    unsafe { node.as_ref() }.value
}

/// `count` nodes valued `0..count`.
pub(crate) fn nodes(count: u32) -> Vec<Node> {
    (0..count).map(Node::new).collect()
}

/// A small deterministic generator (xorshift64*) for model tests.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        println!("seed = {seed:#x}");
        Self(seed | 1)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Model-test length: shorter under Miri, which is slow.
pub(crate) const STEPS: usize = if cfg!(miri) { 300 } else { 5_000 };
