//! A singly linked list of caller-owned nodes.

use core::fmt;
use core::marker::PhantomData;
use core::mem;
use core::ptr::NonNull;

use super::iter::Iter;
use super::link::{Adapter, link_of};

/// A singly linked (forward) list of nodes that the caller owns.
///
/// Nodes are added at the front or after a node already in the list, and
/// taken from the front or, by address, from anywhere
/// ([`remove`](Self::remove), O(n)). Nothing is allocated: each node carries
/// its own [`Link`](super::Link), found through the adapter `A`.
///
/// See the [module docs](super) for the rules a node follows while linked.
///
/// Dropping a list does not touch its nodes, so they may be dropped before
/// it; any still in it keep links marked as linked. [`clear`](Self::clear)
/// it first if those nodes will be pushed again.
///
/// # Examples
///
/// ```
/// use spindle_core::intrusive::{Adapter, IntrusiveList, Link};
/// use std::ptr::NonNull;
///
/// struct Item {
///     value: u32,
///     link: Link<Item>,
/// }
///
/// struct ItemLink;
///
/// // SAFETY: `link` projects `node` to its own `link` field and does nothing else.
/// unsafe impl Adapter for ItemLink {
///     type Node = Item;
///     unsafe fn link(node: NonNull<Item>) -> NonNull<Link<Item>> {
///         // SAFETY: the caller guarantees `node` points to a live `Item`.
///         unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).link) }
///     }
/// }
///
/// let items = [1, 2, 3].map(|value| Item { value, link: Link::new() });
/// let mut list = IntrusiveList::<ItemLink>::new();
/// for item in &items {
///     // SAFETY: `items` outlives `list` and is never moved or mutably
///     // borrowed; each link is in no other container; one thread.
///     unsafe { list.push_front(NonNull::from(item)) };
/// }
/// let values: Vec<u32> = list
///     .iter()
///     // SAFETY: every node lives in `items`, which is alive and only shared.
///     .map(|node| unsafe { node.as_ref() }.value)
///     .collect();
/// assert_eq!(values, [3, 2, 1]);
///
/// assert!(list.remove(NonNull::from(&items[1])));
/// assert!(!items[1].link.is_linked());
/// assert_eq!(list.len(), 2);
/// ```
pub struct IntrusiveList<A: Adapter> {
    /// The first node, `None` when empty.
    head: Option<NonNull<A::Node>>,
    /// Number of nodes in the chain from `head`.
    len: usize,
    /// The adapter is only a name for a link field.
    _adapter: PhantomData<fn() -> A>,
}

// SAFETY: the list holds node addresses and, by the push contracts, sole use
// of those nodes' links (`Link` is `Send + Sync`). Moving the list to another
// thread moves that use with it; that thread may then hand the nodes out,
// which is why the nodes must be `Send` too.
unsafe impl<A: Adapter> Send for IntrusiveList<A> where A::Node: Send {}

impl<A: Adapter> IntrusiveList<A> {
    /// Creates an empty list.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            head: None,
            len: 0,
            _adapter: PhantomData,
        }
    }

    /// Returns `true` if the list holds no node.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Returns the number of nodes in the list, in O(1).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns the first node, leaving it in the list.
    #[inline]
    pub fn front(&self) -> Option<NonNull<A::Node>> {
        self.head
    }

    /// Adds `node` at the front of the list, in O(1).
    ///
    /// # Safety
    ///
    /// 1. `node` points to a live `A::Node` that stays alive, and does not
    ///    move, until it leaves the list (by [`pop_front`](Self::pop_front),
    ///    [`remove`](Self::remove) or [`clear`](Self::clear), here or in a
    ///    list it was moved to by [`take`](Self::take)).
    /// 2. The node's link (the one `A` selects) is in no container now.
    /// 3. Until the node leaves, nothing creates a `&mut` to it, and nothing
    ///    touches its link in a way that races with this list.
    ///
    /// # Panics
    ///
    /// In debug builds, if the node's link is already linked (rule 2), before
    /// anything changes.
    #[inline]
    #[track_caller]
    pub unsafe fn push_front(&mut self, node: NonNull<A::Node>) {
        // SAFETY: `node` is live (rule 1).
        unsafe { link_of::<A>(node) }.attach(self.head);
        self.head = Some(node);
        self.len += 1;
    }

    /// Adds `node` right after `after`, which is in this list, in O(1).
    ///
    /// # Safety
    ///
    /// 1. `after` is in this list.
    /// 2. `node` follows rules 1–3 of [`push_front`](Self::push_front).
    ///
    /// # Panics
    ///
    /// In debug builds, if the node's link is already linked, before anything
    /// changes.
    #[inline]
    #[track_caller]
    pub unsafe fn insert_after(&mut self, after: NonNull<A::Node>, node: NonNull<A::Node>) {
        // SAFETY: `after` is in this list (rule 1), so it is live.
        let after = unsafe { link_of::<A>(after) };
        // SAFETY: `node` is live (rule 2).
        unsafe { link_of::<A>(node) }.attach(after.next());
        after.set_next(Some(node));
        self.len += 1;
    }

    /// Removes the first node and returns it, in O(1).
    ///
    /// The node has left the list: its owner may move or drop it again.
    #[inline]
    pub fn pop_front(&mut self) -> Option<NonNull<A::Node>> {
        let node = self.head?;
        // SAFETY: `node` is in this list, so it is live (push rule 1).
        self.head = unsafe { link_of::<A>(node) }.detach();
        self.len -= 1;
        Some(node)
    }

    /// Removes `node` from the list if it is there, in O(n): the list is
    /// singly linked, so finding the node before it means walking from the
    /// front. Returns whether it was found.
    ///
    /// `node` itself is only compared, never dereferenced, unless it is in
    /// the list: any address may be passed.
    pub fn remove(&mut self, node: NonNull<A::Node>) -> bool {
        let mut prev: Option<NonNull<A::Node>> = None;
        let mut cur = self.head;
        while let Some(current) = cur {
            // SAFETY: `current` is in this list, so it is live (push rule 1).
            let link = unsafe { link_of::<A>(current) };
            if current == node {
                let next = link.detach();
                match prev {
                    None => self.head = next,
                    // SAFETY: `prev` is in this list, so it is live.
                    Some(prev) => unsafe { link_of::<A>(prev) }.set_next(next),
                }
                self.len -= 1;
                return true;
            }
            prev = cur;
            cur = link.next();
        }
        false
    }

    /// Returns whether `node` is in this list, in O(n). `node` is only
    /// compared, never dereferenced.
    pub fn contains(&self, node: NonNull<A::Node>) -> bool {
        self.iter().any(|n| n == node)
    }

    /// Returns an iterator over the nodes, front to back.
    #[inline]
    pub fn iter(&self) -> Iter<'_, A> {
        // SAFETY: `head` starts the chain of the `len` live nodes of this list,
        // and the returned iterator borrows `self`, so the chain cannot change
        // while it lives.
        unsafe { Iter::new(self.head, self.len) }
    }

    /// Removes every node, unlinking each (O(n)); their owners may then move
    /// or drop them.
    pub fn clear(&mut self) {
        while self.pop_front().is_some() {}
    }

    /// Moves every node into a new list, in O(1), leaving this one empty.
    /// The nodes stay linked: they are now members of the returned list.
    #[inline]
    #[must_use = "the nodes stay linked in the returned list"]
    pub fn take(&mut self) -> Self {
        mem::take(self)
    }
}

impl<A: Adapter> Default for IntrusiveList<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, A: Adapter> IntoIterator for &'a IntrusiveList<A> {
    type Item = NonNull<A::Node>;
    type IntoIter = Iter<'a, A>;

    fn into_iter(self) -> Iter<'a, A> {
        self.iter()
    }
}

impl<A: Adapter> fmt::Debug for IntrusiveList<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
