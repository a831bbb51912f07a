//! Allocation-free containers whose nodes the caller owns.
//!
//! An intrusive container does not store values: it threads a chain through
//! nodes that live wherever their owner put them (on a stack frame, in a
//! `Box`, in a pool, inside a bigger struct), using a [`Link`] field that
//! each node embeds. Pushing and popping allocate nothing and cannot fail,
//! which is what spindle's waiter lists need: a thread or fiber that waits
//! puts a node on its own stack into a queue, and whoever wakes it pops it.
//!
//! - [`IntrusiveList`]: singly linked list; push/pop at the front, insert
//!   after a node, remove by address (O(n)).
//! - [`IntrusiveQueue`]: FIFO; push at the back or front, pop at the front,
//!   append a whole queue, all O(1).
//! - [`IntrusiveStack`]: LIFO; push and pop, O(1).
//!
//! They are single-threaded: none is `Sync`. Each is `Send` when its nodes
//! are, so one can live inside a [`SpinLock`](crate::SpinLock) that threads
//! share.
//!
//! # Example
//!
//! ```
//! use spindle_core::intrusive::{Adapter, IntrusiveQueue, Link};
//! use std::cell::Cell;
//! use std::ptr::NonNull;
//!
//! // A node: the caller's data plus one link per container it may be in.
//! struct Waiter {
//!     id: u32,
//!     woken: Cell<bool>,
//!     link: Link<Waiter>,
//! }
//!
//! // An adapter names the link field a container uses.
//! struct WaiterLink;
//!
//! // SAFETY: `link` projects `node` to its own `link` field and does nothing else.
//! unsafe impl Adapter for WaiterLink {
//!     type Node = Waiter;
//!     unsafe fn link(node: NonNull<Waiter>) -> NonNull<Link<Waiter>> {
//!         // SAFETY: the caller guarantees `node` points to a live `Waiter`.
//!         unsafe { NonNull::new_unchecked(&raw mut (*node.as_ptr()).link) }
//!     }
//! }
//!
//! let waiters = [1, 2, 3].map(|id| Waiter { id, woken: Cell::new(false), link: Link::new() });
//! let mut queue = IntrusiveQueue::<WaiterLink>::new();
//! for waiter in &waiters {
//!     // SAFETY: (1) `waiters` outlives `queue` and never moves; (2) each link
//!     // is in no other container; (3) the nodes are only shared-borrowed and
//!     // everything runs on this thread.
//!     unsafe { queue.push_back(NonNull::from(waiter)) };
//! }
//!
//! // Wake the first waiter.
//! let first = queue.pop_front().unwrap();
//! // SAFETY: `first` points into `waiters`, alive and only shared-borrowed.
//! let first = unsafe { first.as_ref() };
//! first.woken.set(true);
//! assert_eq!(first.id, 1);
//! assert!(!first.link.is_linked());
//! assert_eq!(queue.len(), 2);
//! ```
//!
//! # Rules for nodes
//!
//! Every push is an `unsafe fn` whose caller promises, for the node it
//! pushes:
//!
//! 1. **Alive and in place.** The node stays alive and does not move until
//!    it leaves the container (popped, removed or cleared, possibly after
//!    `append`/`take` moved it to another container of the same kind).
//! 2. **One container per link.** The link that the adapter selects is in
//!    no container when pushed. A node with two links, and two adapters, may
//!    be in two containers at once.
//! 3. **Shared access only.** While linked, nothing creates a `&mut` to the
//!    node (the container writes its link), and nothing reads the link in a
//!    way that races with the container (another thread calling
//!    [`Link::is_linked`] without a lock that orders it with the container).
//!    Mutate the node's own data through cells or atomics meanwhile.
//!
//! # Invariants
//!
//! From those rules, each container keeps:
//!
//! - every node reachable from its head is alive, so its safe methods
//!   (`pop`, `remove`, `iter`, `append`, …) may follow the chain;
//! - a node's link is marked linked exactly while it is in a container
//!   (pushes set it, pops, removals and `clear` unset it); pushing a linked
//!   node panics in debug builds;
//! - `len` is the number of nodes in the chain; a queue's `tail` is the last
//!   of them and its `next` is `None`.
//!
//! Dropping a container does not touch its nodes, so the nodes may die
//! first; the price is that nodes still in it keep links marked as linked,
//! so `clear` a container first if its nodes will be pushed again.
//!
//! The containers hand out node addresses as `NonNull<Node>` (exactly the
//! pointers that were pushed). Dereferencing one is the caller's business,
//! with whatever rights the pointer carried when it was pushed: a pointer
//! made from `&node` allows reads, one from `Box::leak` allows taking the
//! box back once the node has left.
//!
//! The design note `README.md` beside this file says why it is built this
//! way.

mod iter;
mod link;
mod list;
mod queue;
mod stack;

pub use iter::Iter;
pub use link::{Adapter, Link};
pub use list::IntrusiveList;
pub use queue::IntrusiveQueue;
pub use stack::IntrusiveStack;
