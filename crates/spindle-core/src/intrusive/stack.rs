//! A LIFO stack of caller-owned nodes.

use core::fmt;
use core::ptr::NonNull;

use super::iter::Iter;
use super::link::Adapter;
use super::list::IntrusiveList;

/// A last-in first-out stack of nodes that the caller owns.
///
/// The front of an [`IntrusiveList`] under stack names: [`push`](Self::push)
/// and [`pop`](Self::pop) in O(1), and no operation in the middle. Nothing
/// is allocated: each node carries its own [`Link`](super::Link), found
/// through the adapter `A`.
///
/// See the [module docs](super) for the rules a node follows while linked.
///
/// Dropping a stack does not touch its nodes, so they may be dropped before
/// it; any still in it keep links marked as linked. [`clear`](Self::clear)
/// it first if those nodes will be pushed again.
///
/// # Examples
///
/// ```
/// use spindle_core::intrusive::{Adapter, IntrusiveStack, Link};
/// use std::ptr::NonNull;
///
/// struct Frame {
///     depth: u32,
///     link: Link<Frame>,
/// }
///
/// struct FrameLink;
///
/// // SAFETY: `link` projects `node` to its own `link` field and does nothing else.
/// unsafe impl Adapter for FrameLink {
///     type Node = Frame;
///     unsafe fn link(node: NonNull<Frame>) -> NonNull<Link<Frame>> {
///         // SAFETY: the caller guarantees `node` points to a live `Frame`.
///         unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).link) }
///     }
/// }
///
/// let frames = [0, 1, 2].map(|depth| Frame { depth, link: Link::new() });
/// let mut stack = IntrusiveStack::<FrameLink>::new();
/// for frame in &frames {
///     // SAFETY: `frames` outlives `stack` and is never moved or mutably
///     // borrowed; each link is in no other container; one thread.
///     unsafe { stack.push(NonNull::from(frame)) };
/// }
/// let top = stack.pop().unwrap();
/// // SAFETY: `top` points into `frames`, alive and only shared.
/// assert_eq!(unsafe { top.as_ref() }.depth, 2);
/// assert_eq!(stack.len(), 2);
/// ```
pub struct IntrusiveStack<A: Adapter> {
    /// The stack's top is the list's front.
    list: IntrusiveList<A>,
}

impl<A: Adapter> IntrusiveStack<A> {
    /// Creates an empty stack.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            list: IntrusiveList::new(),
        }
    }

    /// Returns `true` if the stack holds no node.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Returns the number of nodes on the stack, in O(1).
    #[inline]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Returns the top node, leaving it on the stack.
    #[inline]
    pub fn peek(&self) -> Option<NonNull<A::Node>> {
        self.list.front()
    }

    /// Puts `node` on top of the stack, in O(1).
    ///
    /// # Safety
    ///
    /// 1. `node` points to a live `A::Node` that stays alive, and does not
    ///    move, until it leaves the stack (by [`pop`](Self::pop) or
    ///    [`clear`](Self::clear), here or in a stack it was moved to by
    ///    [`take`](Self::take)).
    /// 2. The node's link (the one `A` selects) is in no container now.
    /// 3. Until the node leaves, nothing creates a `&mut` to it, and nothing
    ///    touches its link in a way that races with this stack.
    ///
    /// # Panics
    ///
    /// In debug builds, if the node's link is already linked (rule 2), before
    /// anything changes.
    #[inline]
    #[track_caller]
    pub unsafe fn push(&mut self, node: NonNull<A::Node>) {
        // SAFETY: rules 1–3 are `IntrusiveList::push_front`'s, and the list is
        // only ever emptied through this stack's `pop`, `clear` and `take`.
        unsafe { self.list.push_front(node) }
    }

    /// Removes the top node and returns it, in O(1).
    ///
    /// The node has left the stack: its owner may move or drop it again.
    #[inline]
    pub fn pop(&mut self) -> Option<NonNull<A::Node>> {
        self.list.pop_front()
    }

    /// Returns an iterator over the nodes, top to bottom.
    #[inline]
    pub fn iter(&self) -> Iter<'_, A> {
        self.list.iter()
    }

    /// Removes every node, unlinking each (O(n)); their owners may then move
    /// or drop them.
    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// Moves every node into a new stack, in O(1), leaving this one empty.
    /// The nodes stay linked: they are now members of the returned stack.
    #[inline]
    #[must_use = "the nodes stay linked in the returned stack"]
    pub fn take(&mut self) -> Self {
        Self {
            list: self.list.take(),
        }
    }
}

impl<A: Adapter> Default for IntrusiveStack<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, A: Adapter> IntoIterator for &'a IntrusiveStack<A> {
    type Item = NonNull<A::Node>;
    type IntoIter = Iter<'a, A>;

    fn into_iter(self) -> Iter<'a, A> {
        self.iter()
    }
}

impl<A: Adapter> fmt::Debug for IntrusiveStack<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
