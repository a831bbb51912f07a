//! The link field a node embeds, and the adapter that finds it.

use core::cell::Cell;
use core::fmt;
use core::ptr::NonNull;

/// The field that lets a node of type `T` sit in one intrusive container.
///
/// Embed one `Link<T>` in the node struct for each container the node may be
/// in at the same time, and write an [`Adapter`] for each. A link holds the
/// address of the next node and whether it is in a container now; it is
/// written only through a container, through cells, so the owner of the node
/// may keep shared references to it while it is linked.
///
/// # Examples
///
/// ```
/// use spindle_core::intrusive::Link;
///
/// struct Waiter {
///     id: u64,
///     queue_link: Link<Waiter>,
/// }
///
/// let waiter = Waiter { id: 1, queue_link: Link::new() };
/// assert!(!waiter.queue_link.is_linked());
/// # assert_eq!(waiter.id, 1);
/// ```
pub struct Link<T> {
    /// The node after this one, `None` at the end (and while unlinked).
    next: Cell<Option<NonNull<T>>>,
    /// Whether a container holds this link now.
    linked: Cell<bool>,
}

// SAFETY: a `Link` is two plain values (an address and a flag) with no
// meaning on its own; sending it sends nothing else.
unsafe impl<T> Send for Link<T> {}

// SAFETY: through `&Link` safe code can only read (`is_linked`, `Debug`); the
// writes happen inside container operations, and every push makes its
// caller promise that nothing touches the link in a way that races with the
// container while the node is linked. Without this impl every node would
// be `!Sync`, and the nodes spindle's primitives share between threads
// could not be.
unsafe impl<T> Sync for Link<T> {}

impl<T> Link<T> {
    /// Creates a link that is in no container.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            next: Cell::new(None),
            linked: Cell::new(false),
        }
    }

    /// Returns whether a container holds this link now.
    ///
    /// Reading it while the node is linked is allowed only where it cannot
    /// race with the container (same thread, or under the same lock).
    #[inline]
    pub fn is_linked(&self) -> bool {
        self.linked.get()
    }

    /// The node after this one.
    #[inline]
    pub(crate) fn next(&self) -> Option<NonNull<T>> {
        self.next.get()
    }

    /// Points this (linked) link at `next`.
    #[inline]
    pub(crate) fn set_next(&self, next: Option<NonNull<T>>) {
        self.next.set(next);
    }

    /// Marks the link as linked, followed by `next`.
    ///
    /// # Panics
    ///
    /// In debug builds, if the link is linked already: a broken push
    /// contract, caught before anything is written.
    #[inline]
    #[track_caller]
    pub(crate) fn attach(&self, next: Option<NonNull<T>>) {
        debug_assert!(
            !self.linked.get(),
            "intrusive: node pushed while its link is already in a container"
        );
        self.linked.set(true);
        self.next.set(next);
    }

    /// Marks the link as unlinked and returns the node that followed it.
    #[inline]
    pub(crate) fn detach(&self) -> Option<NonNull<T>> {
        self.linked.set(false);
        self.next.take()
    }
}

impl<T> Default for Link<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Link<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("linked", &self.linked.get())
            .field("next", &self.next.get())
            .finish()
    }
}

/// Finds the [`Link`] inside a node: the intrusive containers' only way to
/// reach their nodes.
///
/// An adapter is a type with no values, one per link field: a node with two
/// links (say, one for a wait queue and one for a timer list) has two
/// adapters, and each container names the one it uses,
/// `IntrusiveQueue<ByQueueLink>`.
///
/// Links point at *nodes*, not at other links, so the containers never have
/// to go from a link back to its node (no `container_of` offset
/// arithmetic): the adapter only projects a node pointer to a field.
///
/// # Safety
///
/// An implementation promises that, for any `node` pointing to a live
/// `Self::Node`, [`link`](Adapter::link):
///
/// 1. returns a pointer to a `Link<Self::Node>` field *inside* `*node`,
///    derived from `node` (a field projection such as
///    `&raw mut (*node.as_ptr()).link` is);
/// 2. returns the same field on every call;
/// 3. does nothing else: no reads or writes of the node, no panics.
///
/// # Examples
///
/// ```
/// use spindle_core::intrusive::{Adapter, Link};
/// use std::ptr::NonNull;
///
/// struct Timer {
///     deadline: u64,
///     link: Link<Timer>,
/// }
///
/// struct TimerLink;
///
/// // SAFETY: `link` projects `node` to its own `link` field and does nothing
/// // else.
/// unsafe impl Adapter for TimerLink {
///     type Node = Timer;
///
///     unsafe fn link(node: NonNull<Timer>) -> NonNull<Link<Timer>> {
///         // SAFETY: the caller guarantees `node` points to a live `Timer`,
///         // so the projection stays inside it and cannot be null.
///         unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).link) }
///     }
/// }
///
/// let timer = Timer { deadline: 3, link: Link::new() };
/// let mut timers = spindle_core::intrusive::IntrusiveStack::<TimerLink>::new();
/// // SAFETY: `timer` outlives `timers`, never moves and is only shared; its
/// // link is in no other container; one thread.
/// unsafe { timers.push(NonNull::from(&timer)) };
/// assert!(timer.link.is_linked());
/// // SAFETY: the popped pointer is `&timer`'s, alive and only shared.
/// assert_eq!(unsafe { timers.pop().unwrap().as_ref() }.deadline, 3);
/// ```
pub unsafe trait Adapter {
    /// The node type that holds the link.
    type Node;

    /// Returns a pointer to the link inside `node`.
    ///
    /// # Safety
    ///
    /// - `node` points to a live `Self::Node`.
    unsafe fn link(node: NonNull<Self::Node>) -> NonNull<Link<Self::Node>>;
}

/// Returns a shared reference to the link of `node`.
///
/// # Safety
///
/// - `node` points to a `A::Node` that stays live for `'a` (true of every
///   node in a container, by the push contracts).
#[inline]
pub(crate) unsafe fn link_of<'a, A: Adapter>(node: NonNull<A::Node>) -> &'a Link<A::Node> {
    // SAFETY: `node` is live (our caller's promise), so `A::link` may be
    // called and returns an in-bounds pointer to the node's link (the
    // `Adapter` contract). A shared reference to it is sound even while the
    // node's owner holds `&Node`, because every field of `Link` is a `Cell`.
    unsafe { A::link(node).as_ref() }
}
