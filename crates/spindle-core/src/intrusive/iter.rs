//! Iteration over the nodes of any intrusive container.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::ptr::NonNull;

use super::link::{Adapter, link_of};

/// An iterator over the nodes of an intrusive container, front to back,
/// yielding each node's address.
///
/// It borrows the container, so the container cannot change while it runs;
/// dereferencing the pointers it yields is up to the caller, with the
/// rights the caller had when it pushed them.
///
/// Made by `iter` on [`IntrusiveList`](super::IntrusiveList),
/// [`IntrusiveQueue`](super::IntrusiveQueue) and
/// [`IntrusiveStack`](super::IntrusiveStack).
pub struct Iter<'a, A: Adapter> {
    /// The node to yield next.
    next: Option<NonNull<A::Node>>,
    /// How many nodes are left, `next` included.
    remaining: usize,
    /// Borrows the container the nodes belong to.
    _container: PhantomData<&'a A::Node>,
}

impl<A: Adapter> Iter<'_, A> {
    /// Iterates over `len` nodes starting at `head`.
    ///
    /// # Safety
    ///
    /// - `head` starts a chain of exactly `len` live nodes linked through
    ///   `A`'s links, and the chain stays unchanged while the iterator lives
    ///   (the caller borrows the container that owns it for that long).
    #[inline]
    pub(crate) unsafe fn new(head: Option<NonNull<A::Node>>, len: usize) -> Self {
        Self {
            next: head,
            remaining: len,
            _container: PhantomData,
        }
    }
}

impl<A: Adapter> Iterator for Iter<'_, A> {
    type Item = NonNull<A::Node>;

    #[inline]
    fn next(&mut self) -> Option<NonNull<A::Node>> {
        let node = self.next?;
        // SAFETY: `node` is in the unchanged chain of live nodes that `new`'s
        // contract describes.
        self.next = unsafe { link_of::<A>(node) }.next();
        self.remaining -= 1;
        Some(node)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<A: Adapter> ExactSizeIterator for Iter<'_, A> {}

impl<A: Adapter> FusedIterator for Iter<'_, A> {}

impl<A: Adapter> Clone for Iter<'_, A> {
    fn clone(&self) -> Self {
        Self {
            next: self.next,
            remaining: self.remaining,
            _container: PhantomData,
        }
    }
}

impl<A: Adapter> fmt::Debug for Iter<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("next", &self.next)
            .field("remaining", &self.remaining)
            .finish()
    }
}
