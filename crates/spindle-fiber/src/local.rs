//! Fiber-local storage: [`fiber_local!`](crate::fiber_local) and its
//! [`LocalKey`].
//!
//! Each key gets an index, the first time it is used; each fiber has a
//! vector of boxed values indexed by it, made on the fiber's first use of
//! any key. A read is an index and a type check: no map, no hashing.

use core::any::Any;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One fiber's (or thread's) fiber-local values, by key index.
pub(crate) struct Locals {
    slots: UnsafeCell<Vec<Option<Box<dyn Any>>>>,
}

impl Locals {
    pub(crate) const fn new() -> Self {
        Locals {
            slots: UnsafeCell::new(Vec::new()),
        }
    }

    /// The value at `index`, made by `init` if there is none yet.
    ///
    /// The reference stays valid until [`clear`](Self::clear): values are
    /// boxed, and a slot is written only while empty.
    fn get_or_init<T: 'static>(&self, index: usize, init: fn() -> T) -> *const T {
        if let Some(value) = self.get::<T>(index) {
            return value;
        }
        // Outside any borrow of `slots`: `init` may use other keys.
        let value: Box<dyn Any> = Box::new(init());
        // SAFETY: no reference into the vector itself is alive (only into
        // boxes it owns); `Locals` is used by one thread at a time.
        let slots = unsafe { &mut *self.slots.get() };
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        // `init` may have filled the slot itself (recursively): keep that
        // value, as `thread_local!` does for lazy keys, and drop ours only
        // once no borrow of the vector is left (its destructor may use
        // keys, and grow the vector).
        let (kept, spare) = match &slots[index] {
            Some(existing) => (&**existing as *const dyn Any, Some(value)),
            None => {
                let kept: *const dyn Any = &**slots[index].insert(value);
                (kept, None)
            }
        };
        drop(spare);
        kept.cast()
    }

    fn get<T: 'static>(&self, index: usize) -> Option<*const T> {
        // SAFETY: as in `get_or_init`: a shared look at the vector.
        let slots = unsafe { &*self.slots.get() };
        let value = slots.get(index)?.as_ref()?;
        let value = value
            .downcast_ref::<T>()
            .expect("a fiber-local key always stores its own type");
        Some(value)
    }

    /// Drops every value. Values whose destructors use keys again make new
    /// ones, dropped in turn (a bounded number of rounds, then leaked, as
    /// `thread_local!` bounds it).
    pub(crate) fn clear(&self) {
        // SAFETY: a shared look at the vector, dropped at once.
        if unsafe { &*self.slots.get() }.capacity() == 0 {
            // Never used (most fibers): nothing to drop, nothing to free.
            return;
        }
        for _ in 0..8 {
            // SAFETY: taken out whole, so no reference into it remains;
            // values dropped below may refill the (new, empty) vector.
            let values = core::mem::take(unsafe { &mut *self.slots.get() });
            if values.is_empty() {
                return;
            }
            drop(values);
        }
        // SAFETY: as above.
        core::mem::forget(core::mem::take(unsafe { &mut *self.slots.get() }));
    }

    /// Clears the values when dropped: the fiber's first frame holds it.
    pub(crate) fn guard(&self) -> ClearOnDrop<'_> {
        ClearOnDrop(self)
    }
}

/// See [`Locals::guard`].
pub(crate) struct ClearOnDrop<'a>(&'a Locals);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

std::thread_local! {
    /// Fiber-locals of code that runs on no fiber: each thread has its own.
    static THREAD_LOCALS: Locals = const { Locals::new() };
}

/// A fiber-local key, made by [`fiber_local!`](crate::fiber_local): each
/// fiber sees its own value, made by the initializer on its first access
/// and dropped when the fiber ends. Code that runs on no fiber sees a
/// value of its thread's, like a `thread_local!`.
///
/// A fiber that moves between threads (spawned movable) keeps its values.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// The key's index plus one; 0 until first used.
    index: AtomicUsize,
    _value: PhantomData<fn() -> T>,
}

impl<T: 'static> LocalKey<T> {
    /// A key whose values `init` makes. Use [`fiber_local!`](crate::fiber_local).
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey {
            init,
            index: AtomicUsize::new(0),
            _value: PhantomData,
        }
    }

    fn index(&self) -> usize {
        match self.index.load(Ordering::Relaxed) {
            0 => self.assign_index(),
            n => n - 1,
        }
    }

    #[cold]
    fn assign_index(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .index
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh - 1,
            // Another thread assigned one first (an index is wasted).
            Err(won) => won - 1,
        }
    }

    /// Calls `f` with the current fiber's value (the thread's, outside a
    /// fiber), made first if this is the fiber's first access.
    ///
    /// # Panics
    /// On a thread whose thread-locals are being destroyed, outside any
    /// fiber (as `LocalKey::with` of `std`).
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let index = self.index();
        let value = crate::current::with_locals(|locals| locals.get_or_init(index, self.init))
            .unwrap_or_else(|| THREAD_LOCALS.with(|locals| locals.get_or_init(index, self.init)));
        // SAFETY: the value is boxed in the locals of the fiber (or thread)
        // that runs this code, which outlive the call: they are cleared
        // only when the fiber's (thread's) code has ended.
        f(unsafe { &*value })
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Declares fiber-local statics: each fiber gets its own value, made on
/// first access by the initializer and dropped when the fiber ends.
/// Outside a fiber the key works like a `thread_local!`.
///
/// # Examples
///
/// ```
/// use spindle_exec::ManualExecutor;
/// use std::cell::Cell;
///
/// spindle_fiber::fiber_local! {
///     /// Requests this fiber has served.
///     static SERVED: Cell<u32> = Cell::new(0);
/// }
///
/// let executor = ManualExecutor::new();
/// let fibers: Vec<_> = (1..=3)
///     .map(|n| {
///         spindle_fiber::spawn(&executor, move || {
///             for _ in 0..n {
///                 SERVED.with(|s| s.set(s.get() + 1));
///                 spindle_fiber::yield_now(); // the others run in between
///             }
///             SERVED.with(Cell::get)
///         })
///     })
///     .collect();
/// executor.run_all();
/// let served: Vec<u32> = fibers.into_iter().map(|f| f.join().unwrap()).collect();
/// assert_eq!(served, [1, 2, 3]);
/// ```
#[macro_export]
macro_rules! fiber_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new({
                fn init() -> $t {
                    $init
                }
                init
            });
        )+
    };
}
