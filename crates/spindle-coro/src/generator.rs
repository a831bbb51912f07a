//! [`Generator`]: an [`Iterator`] written as a function that gives values.

use crate::coroutine::{Coroutine, CoroutineResult, Suspender};
use crate::stack::{DEFAULT_STACK_SIZE, PooledStack, Stack, StackError, StackPool};
use core::fmt;
use core::iter::FusedIterator;

/// An iterator whose items a function produces with [`Yielder::give`], on
/// its own stack.
///
/// # Examples
/// ```
/// use spindle_coro::Generator;
/// fn walk(tree: &[u32], at: usize, out: &spindle_coro::Yielder<u32>) {
///     if at < tree.len() {
///         walk(tree, 2 * at + 1, out);
///         out.give(tree[at]);
///         walk(tree, 2 * at + 2, out);
///     }
/// }
/// let tree = [4, 2, 6, 1, 3, 5, 7];
/// let in_order: Vec<_> = Generator::scoped(|out| walk(&tree, 0, out)).collect();
/// assert_eq!(in_order, [1, 2, 3, 4, 5, 6, 7]);
/// ```
pub struct Generator<'f, T, S: Stack = PooledStack> {
    coroutine: Coroutine<(), T, (), S>,
    _function: core::marker::PhantomData<&'f ()>,
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

impl<T> Generator<'static, T> {
    /// A generator running `f` on a pooled stack.
    ///
    /// # Panics
    /// If no stack can be had; [`Generator::try_new`] returns the error.
    #[track_caller]
    pub fn new<F: FnOnce(&Yielder<T>) + 'static>(f: F) -> Self {
        Self::unwrap(Self::try_new(f))
    }

    /// A generator running `f` on a pooled stack.
    ///
    /// # Errors
    /// [`StackError`] if no stack can be had.
    pub fn try_new<F: FnOnce(&Yielder<T>) + 'static>(f: F) -> Result<Self, StackError> {
        let stack = StackPool::global().take(DEFAULT_STACK_SIZE)?;
        Self::build(stack, f)
    }
}

impl<'f, T> Generator<'f, T> {
    /// A generator whose function may borrow from the caller's frame.
    ///
    /// `f` must be `Send`. That is not because it moves to another thread
    /// (it does not) but because it keeps a generator from capturing the
    /// [`Yielder`] or [`Suspender`] of the coroutine it runs in (neither
    /// is `Send`): suspending that one from this generator's stack would
    /// switch away the wrong stack.
    ///
    /// ```compile_fail
    /// use spindle_coro::Generator;
    /// let outer = Generator::new(|out: &spindle_coro::Yielder<u8>| {
    ///     let inner = Generator::scoped(|_: &spindle_coro::Yielder<u8>| out.give(1));
    ///     inner.for_each(drop);
    /// });
    /// ```
    ///
    /// # Panics
    /// If no stack can be had.
    #[track_caller]
    pub fn scoped<F: FnOnce(&Yielder<T>) + Send + 'f>(f: F) -> Self {
        let stack = StackPool::global().take(DEFAULT_STACK_SIZE);
        Self::unwrap(stack.and_then(|stack| Self::build(stack, f)))
    }

    #[track_caller]
    fn unwrap(generator: Result<Self, StackError>) -> Self {
        match generator {
            Ok(generator) => generator,
            Err(e) => panic!("spindle: cannot create a generator: {e}"),
        }
    }
}

impl<T, S: Stack> Generator<'static, T, S> {
    /// A generator running `f` on `stack`.
    ///
    /// # Errors
    /// [`StackError`] if `f` does not fit in a quarter of the stack.
    pub fn with_stack<F: FnOnce(&Yielder<T>) + 'static>(
        stack: S,
        f: F,
    ) -> Result<Self, StackError> {
        Self::build(stack, f)
    }
}

impl<'f, T, S: Stack> Generator<'f, T, S> {
    // Sound because every caller makes `f` either `'static` or `Send`, so
    // it cannot hold the suspender of an enclosing coroutine.
    fn build<F: FnOnce(&Yielder<T>) + 'f>(stack: S, f: F) -> Result<Self, StackError> {
        let body = move |s: &Suspender<(), T>, ()| f(Yielder::wrap(s));
        // `Generator<'f>` keeps what `f` borrows borrowed while it lives.
        let coroutine = Coroutine::create(stack, None, body)?;
        Ok(Generator {
            coroutine,
            _function: core::marker::PhantomData,
        })
    }
}

impl<T, S: Stack> Iterator for Generator<'_, T, S> {
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

impl<T, S: Stack> FusedIterator for Generator<'_, T, S> {}

impl<T, S: Stack> fmt::Debug for Generator<'_, T, S> {
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
