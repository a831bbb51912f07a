//! Padding a value to its own cache line(s).

use core::fmt;
use core::ops::{Deref, DerefMut};

/// Pads and aligns a value to the length of a cache line, so that it never
/// shares one with its neighbours.
///
/// Two values that different threads write to, placed side by side, make the
/// cores fight over the one cache line that holds both ("false sharing"),
/// although they never touch each other's data. Wrapping each in
/// `CachePadded` gives it a line of its own.
///
/// The alignment is:
///
/// - 128 bytes on x86-64 and powerpc64: x86 cores since Sandy Bridge prefetch
///   cache lines in adjacent pairs, so two 64-byte lines behave as one
///   128-byte unit; POWER lines are 128 bytes.
/// - 128 bytes on aarch64: Apple's M-series and some server cores have
///   128-byte lines.
/// - 64 bytes everywhere else.
///
/// The size of `CachePadded<T>` is the size of `T` rounded up to that
/// alignment.
///
/// # Examples
///
/// ```
/// use spindle_core::CachePadded;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// // Head and tail indexes of a queue, updated by different threads.
/// struct Indexes {
///     head: CachePadded<AtomicUsize>,
///     tail: CachePadded<AtomicUsize>,
/// }
///
/// let indexes = Indexes {
///     head: CachePadded::new(AtomicUsize::new(0)),
///     tail: CachePadded::new(AtomicUsize::new(0)),
/// };
/// indexes.tail.fetch_add(1, Ordering::Relaxed); // `Deref` reaches the atomic
///
/// let head = &*indexes.head as *const AtomicUsize as usize;
/// let tail = &*indexes.tail as *const AtomicUsize as usize;
/// assert!(head.abs_diff(tail) >= 64);
/// assert_eq!(head % align_of::<CachePadded<u8>>(), 0);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    ),
    repr(align(128))
)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )),
    repr(align(64))
)]
pub struct CachePadded<T> {
    value: T,
}

impl<T> CachePadded<T> {
    /// Pads and aligns `value` to the length of a cache line.
    ///
    /// ```
    /// use spindle_core::CachePadded;
    ///
    /// let padded = CachePadded::new(7_u8);
    /// assert_eq!(*padded, 7);
    /// ```
    #[inline]
    pub const fn new(value: T) -> Self {
        Self { value }
    }

    /// Returns the inner value.
    ///
    /// ```
    /// use spindle_core::CachePadded;
    ///
    /// let padded = CachePadded::new(String::from("spindle"));
    /// assert_eq!(padded.into_inner(), "spindle");
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for CachePadded<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> From<T> for CachePadded<T> {
    #[inline]
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for CachePadded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachePadded")
            .field("value", &self.value)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::CachePadded;

    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    ))]
    const LINE: usize = 128;
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )))]
    const LINE: usize = 64;

    #[test]
    fn small_value_fills_exactly_one_line() {
        assert_eq!(align_of::<CachePadded<u8>>(), LINE);
        assert_eq!(size_of::<CachePadded<u8>>(), LINE);
    }

    #[test]
    fn large_value_rounds_up_to_whole_lines() {
        assert_eq!(size_of::<CachePadded<[u8; LINE + 1]>>(), 2 * LINE);
    }

    #[test]
    fn array_neighbours_start_on_separate_lines() {
        let pair = [CachePadded::new(1_u8), CachePadded::new(2_u8)];
        let a = &*pair[0] as *const u8 as usize;
        let b = &*pair[1] as *const u8 as usize;
        assert_eq!(a % LINE, 0);
        assert_eq!(b - a, LINE);
    }

    #[test]
    fn deref_mut_reaches_the_value() {
        let mut padded = CachePadded::from(vec![1, 2]);
        padded.push(3);
        assert_eq!(padded.into_inner(), [1, 2, 3]);
    }

    #[test]
    fn debug_shows_the_value() {
        assert_eq!(
            format!("{:?}", CachePadded::new(5)),
            "CachePadded { value: 5 }"
        );
    }

    #[test]
    fn default_pads_the_default() {
        let padded: CachePadded<u32> = CachePadded::default();
        assert_eq!(*padded, 0);
    }
}
