//! A FIFO queue of caller-owned nodes.

use core::fmt;
use core::marker::PhantomData;
use core::mem;
use core::ptr::NonNull;

use super::iter::Iter;
use super::link::{Adapter, link_of};

/// A first-in first-out queue of nodes that the caller owns.
///
/// A singly linked list with a tail pointer: nodes go in at the back (or,
/// to jump the line, at the front) and come out at the front, all in O(1);
/// two queues join in O(1) with [`append`](Self::append). Nothing is
/// allocated: each node carries its own [`Link`](super::Link), found through
/// the adapter `A`. This is the shape of a waiter list.
///
/// See the [module docs](super) for the rules a node follows while linked.
///
/// Dropping a queue does not touch its nodes, so they may be dropped before
/// it; any still in it keep links marked as linked. [`clear`](Self::clear)
/// it first if those nodes will be pushed again.
///
/// # Examples
///
/// ```
/// use spindle_core::intrusive::{Adapter, IntrusiveQueue, Link};
/// use std::ptr::NonNull;
///
/// struct Job {
///     id: u32,
///     link: Link<Job>,
/// }
///
/// struct JobLink;
///
/// // SAFETY: `link` projects `node` to its own `link` field and does nothing else.
/// unsafe impl Adapter for JobLink {
///     type Node = Job;
///     unsafe fn link(node: NonNull<Job>) -> NonNull<Link<Job>> {
///         // SAFETY: the caller guarantees `node` points to a live `Job`.
///         unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).link) }
///     }
/// }
///
/// // Boxed nodes: the queue passes ownership along with the pointer.
/// let mut queue = IntrusiveQueue::<JobLink>::new();
/// for id in 1..=3 {
///     let job = Box::new(Job { id, link: Link::new() });
///     // SAFETY: the leaked box lives, unmoved and only reached through the
///     // queue, until popped below; its link is fresh; one thread.
///     unsafe { queue.push_back(NonNull::from(Box::leak(job))) };
/// }
/// let mut order = Vec::new();
/// while let Some(job) = queue.pop_front() {
///     // SAFETY: `job` came from `Box::leak` above and has left the queue.
///     let job = unsafe { Box::from_raw(job.as_ptr()) };
///     order.push(job.id);
/// }
/// assert_eq!(order, [1, 2, 3]);
/// ```
pub struct IntrusiveQueue<A: Adapter> {
    /// The first node, `None` exactly when `tail` is `None`.
    head: Option<NonNull<A::Node>>,
    /// The last node; its link's `next` is `None`.
    tail: Option<NonNull<A::Node>>,
    /// Number of nodes in the chain from `head` to `tail`.
    len: usize,
    /// The adapter is only a name for a link field.
    _adapter: PhantomData<fn() -> A>,
}

// SAFETY: as for `IntrusiveList`: the queue holds node addresses and sole use
// of their (`Send + Sync`) links; the thread it moves to may hand the nodes
// out, so they must be `Send`.
unsafe impl<A: Adapter> Send for IntrusiveQueue<A> where A::Node: Send {}

impl<A: Adapter> IntrusiveQueue<A> {
    /// Creates an empty queue.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            head: None,
            tail: None,
            len: 0,
            _adapter: PhantomData,
        }
    }

    /// Returns `true` if the queue holds no node.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Returns the number of nodes in the queue, in O(1).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns the node that [`pop_front`](Self::pop_front) would return.
    #[inline]
    pub fn front(&self) -> Option<NonNull<A::Node>> {
        self.head
    }

    /// Returns the most recently pushed-back node.
    #[inline]
    pub fn back(&self) -> Option<NonNull<A::Node>> {
        self.tail
    }

    /// Adds `node` at the back of the queue, in O(1).
    ///
    /// # Safety
    ///
    /// 1. `node` points to a live `A::Node` that stays alive, and does not
    ///    move, until it leaves the queue (by [`pop_front`](Self::pop_front)
    ///    or [`clear`](Self::clear), here or in a queue it was moved to by
    ///    [`append`](Self::append) or [`take`](Self::take)).
    /// 2. The node's link (the one `A` selects) is in no container now.
    /// 3. Until the node leaves, nothing creates a `&mut` to it, and nothing
    ///    touches its link in a way that races with this queue.
    ///
    /// # Panics
    ///
    /// In debug builds, if the node's link is already linked (rule 2), before
    /// anything changes.
    #[inline]
    #[track_caller]
    pub unsafe fn push_back(&mut self, node: NonNull<A::Node>) {
        // SAFETY: `node` is live (rule 1).
        unsafe { link_of::<A>(node) }.attach(None);
        match self.tail {
            None => self.head = Some(node),
            // SAFETY: `tail` is in this queue, so it is live.
            Some(tail) => unsafe { link_of::<A>(tail) }.set_next(Some(node)),
        }
        self.tail = Some(node);
        self.len += 1;
    }

    /// Adds `node` at the front of the queue, in O(1): it is popped next.
    ///
    /// # Safety
    ///
    /// `node` follows rules 1–3 of [`push_back`](Self::push_back).
    ///
    /// # Panics
    ///
    /// In debug builds, if the node's link is already linked, before anything
    /// changes.
    #[inline]
    #[track_caller]
    pub unsafe fn push_front(&mut self, node: NonNull<A::Node>) {
        // SAFETY: `node` is live (rule 1 of `push_back`).
        unsafe { link_of::<A>(node) }.attach(self.head);
        self.head = Some(node);
        if self.tail.is_none() {
            self.tail = Some(node);
        }
        self.len += 1;
    }

    /// Removes the front node and returns it, in O(1).
    ///
    /// The node has left the queue: its owner may move or drop it again.
    #[inline]
    pub fn pop_front(&mut self) -> Option<NonNull<A::Node>> {
        let node = self.head?;
        // SAFETY: `node` is in this queue, so it is live (push rule 1).
        self.head = unsafe { link_of::<A>(node) }.detach();
        if self.head.is_none() {
            self.tail = None;
        }
        self.len -= 1;
        Some(node)
    }

    /// Moves every node of `other` to the back of this queue, in order, in
    /// O(1), leaving `other` empty.
    ///
    /// ```
    /// # use spindle_core::intrusive::{Adapter, IntrusiveQueue, Link};
    /// # use std::ptr::NonNull;
    /// # struct N { link: Link<N> }
    /// # struct L;
    /// # // SAFETY: projects to the node's own `link` field.
    /// # unsafe impl Adapter for L {
    /// #     type Node = N;
    /// #     unsafe fn link(n: NonNull<N>) -> NonNull<Link<N>> {
    /// #         // SAFETY: the caller guarantees `n` is live.
    /// #         unsafe { NonNull::new_unchecked(&raw mut (*n.as_ptr()).link) }
    /// #     }
    /// # }
    /// let nodes = [(); 3].map(|()| N { link: Link::new() });
    /// let (mut first, mut second) = (IntrusiveQueue::<L>::new(), IntrusiveQueue::<L>::new());
    /// // SAFETY: `nodes` outlives both queues, is never moved or mutably
    /// // borrowed, and each link goes into one queue only; one thread.
    /// unsafe {
    ///     first.push_back(NonNull::from(&nodes[0]));
    ///     second.push_back(NonNull::from(&nodes[1]));
    ///     second.push_back(NonNull::from(&nodes[2]));
    /// }
    /// first.append(&mut second);
    /// assert!(second.is_empty());
    /// assert!(first.iter().eq(nodes.iter().map(NonNull::from)));
    /// ```
    pub fn append(&mut self, other: &mut Self) {
        let Some(other_head) = other.head else {
            return;
        };
        match self.tail {
            None => self.head = Some(other_head),
            // SAFETY: `tail` is in this queue, so it is live.
            Some(tail) => unsafe { link_of::<A>(tail) }.set_next(Some(other_head)),
        }
        self.tail = other.tail;
        self.len += other.len;
        *other = Self::new();
    }

    /// Returns an iterator over the nodes, front to back.
    #[inline]
    pub fn iter(&self) -> Iter<'_, A> {
        // SAFETY: `head` starts the chain of the `len` live nodes of this
        // queue, and the returned iterator borrows `self`, so the chain cannot
        // change while it lives.
        unsafe { Iter::new(self.head, self.len) }
    }

    /// Removes every node, unlinking each (O(n)); their owners may then move
    /// or drop them.
    pub fn clear(&mut self) {
        while self.pop_front().is_some() {}
    }

    /// Moves every node into a new queue, in O(1), leaving this one empty:
    /// the "take all" of a waiter list. The nodes stay linked: they are now
    /// members of the returned queue.
    #[inline]
    #[must_use = "the nodes stay linked in the returned queue"]
    pub fn take(&mut self) -> Self {
        mem::take(self)
    }
}

impl<A: Adapter> Default for IntrusiveQueue<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, A: Adapter> IntoIterator for &'a IntrusiveQueue<A> {
    type Item = NonNull<A::Node>;
    type IntoIter = Iter<'a, A>;

    fn into_iter(self) -> Iter<'a, A> {
        self.iter()
    }
}

impl<A: Adapter> fmt::Debug for IntrusiveQueue<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
