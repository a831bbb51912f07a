//! [`Generator`]: an [`Iterator`] written as a function that gives values.

use crate::coroutine::{Coroutine, CoroutineResult, Suspender};
use crate::stack::{DEFAULT_STACK_SIZE, PooledStack, Stack, StackError, StackPool};
use core::alloc::Layout;
use core::fmt;
use core::iter::FusedIterator;

/// An iterator whose items a function produces with [`Yielder::give`], on
/// its own stack.
///
/// The function is `'static`, like a coroutine's (see [`Coroutine`] for
/// why): move what it needs into it.
///
/// # Examples
/// ```
/// use spindle_coro::{Generator, Yielder};
/// fn walk(tree: &[u32], at: usize, out: &Yielder<u32>) {
///     if at < tree.len() {
///         walk(tree, 2 * at + 1, out);
///         out.give(tree[at]);
///         walk(tree, 2 * at + 2, out);
///     }
/// }
/// let tree = vec![4, 2, 6, 1, 3, 5, 7];
/// let in_order: Vec<_> = Generator::new(move |out| walk(&tree, 0, out)).collect();
/// assert_eq!(in_order, [1, 2, 3, 4, 5, 6, 7]);
/// ```
pub struct Generator<T, S: Stack = PooledStack> {
    coroutine: Coroutine<(), T, (), S>,
}

/// What a [`Generator`]'s function gives its items to.
#[repr(transparent)]
pub struct Yielder<T> {
    suspender: Suspender<(), T>,
}

impl<T> Yielder<T> {
    /// Hands `item` to the iterator's consumer; returns when the next item
    /// is asked for.
    pub fn give(&self, item: T) {
        self.suspender.suspend(item)
    }

    fn wrap(suspender: &Suspender<(), T>) -> &Yielder<T> {
        // SAFETY: `Yielder` is a transparent wrapper of `Suspender`.
        unsafe { &*core::ptr::from_ref(suspender).cast::<Yielder<T>>() }
    }
}

impl<T> Generator<T> {
    /// A generator running `f` on a pooled stack.
    ///
    /// # Panics
    /// If no stack can be had; [`Generator::try_new`] returns the error.
    #[track_caller]
    pub fn new<F: FnOnce(&Yielder<T>) + 'static>(f: F) -> Self {
        match Self::try_new(f) {
            Ok(generator) => generator,
            Err(e) => panic!("spindle: cannot create a generator: {e}"),
        }
    }

    /// A generator running `f` on a pooled stack.
    ///
    /// # Errors
    /// [`StackError`] if no stack can be had.
    pub fn try_new<F: FnOnce(&Yielder<T>) + 'static>(f: F) -> Result<Self, StackError> {
        Self::with_stack(StackPool::global().take(DEFAULT_STACK_SIZE)?, f)
    }
}

impl<T, S: Stack + 'static> Generator<T, S> {
    /// A generator running `f` on `stack`.
    ///
    /// # Errors
    /// [`StackError`] if `f` does not fit in a quarter of the stack.
    pub fn with_stack<F: FnOnce(&Yielder<T>) + 'static>(
        stack: S,
        f: F,
    ) -> Result<Self, StackError> {
        let body = move |s: &Suspender<(), T>, ()| f(Yielder::wrap(s));
        Ok(Generator {
            coroutine: Coroutine::create(stack, None, Layout::new::<()>(), body)?.0,
        })
    }
}

impl<T, S: Stack> Iterator for Generator<T, S> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.coroutine.is_finished() {
            return None;
        }
        match self.coroutine.resume(()) {
            CoroutineResult::Yield(item) => Some(item),
            CoroutineResult::Return(()) => None,
        }
    }
}

impl<T, S: Stack> FusedIterator for Generator<T, S> {}

impl<T, S: Stack> fmt::Debug for Generator<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("finished", &self.coroutine.is_finished())
            .finish()
    }
}

impl<T> fmt::Debug for Yielder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}
