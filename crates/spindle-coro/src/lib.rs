//! Stackful coroutines: a function on its own stack that can suspend
//! itself anywhere, and be resumed later.
//!
//! ```
//! use spindle_coro::{Coroutine, CoroutineResult, Generator};
//!
//! // A coroutine: values go in with `resume` and come out with `suspend`.
//! let mut doubler = Coroutine::new(|suspender, mut x: u32| loop {
//!     x = suspender.suspend(x * 2);
//! });
//! assert_eq!(doubler.resume(1), CoroutineResult::<u32, ()>::Yield(2));
//! assert_eq!(doubler.resume(5), CoroutineResult::Yield(10));
//!
//! // A generator is an iterator written as a loop.
//! let squares = Generator::new(|out| (1..=4u64).for_each(|i| out.give(i * i)));
//! assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9, 16]);
//! ```
//!
//! # What is in here
//! - [`Coroutine`] and its [`Suspender`]; [`Generator`]. Their functions,
//!   inputs and stacks are `'static`, because a suspended coroutine can be
//!   leaked with its frames alive.
//! - [`Stack`], the trait for a coroutine's memory, with the guarded
//!   [`DefaultStack`](stack::DefaultStack) and the [`StackPool`] that
//!   coroutines use unless given a stack. Running out of memory is a
//!   [`StackError`], never a panic inside the library.
//! - The context switch, hand-written for x86-64 System V, x86-64
//!   Microsoft and aarch64, with unwind information so that backtraces
//!   taken inside a coroutine continue into the code that resumed it.
//!
//! # What a switch preserves
//! Every register the platform's calling convention calls callee-saved,
//! plus, on Windows, the MXCSR and x87 control words and the TEB's stack
//! fields. On System V and aarch64 the floating-point control state
//! (MXCSR, x87 control word, FPCR) is not switched, as in the C
//! libraries' own coroutines: a coroutine that changes the rounding mode
//! changes it for its resumer too.
//!
//! # Stack overflow
//! A coroutine that runs into its stack's guard page is reported on
//! standard error, by name and stack size, and the process aborts. Past
//! the process's mapping budget, pooled stacks have no guard page; every
//! switch out of a coroutine on one checks a canary word at the stack's
//! limit and the coroutine's depth instead, which catches most overflows
//! but not one that skips the canary and returns before the switch.
//!
//! # Thread-locals
//! A coroutine stays on the thread that created it ([`Coroutine`] is not
//! `Send`): Rust code may keep the address of a thread-local across a call,
//! and a coroutine moved to another thread while suspended would go on
//! using the old thread's.
//!
//! # Sanitizers
//! Built with `-Zsanitizer=address` or `-Zsanitizer=thread`, every switch
//! is announced to ASAN or TSAN, which then follow coroutine stacks.
#![deny(unsafe_op_in_unsafe_fn)]

mod arch;
pub mod coroutine;
mod generator;
mod overflow;
mod sanitizer;
pub mod stack;

pub use coroutine::{Coroutine, CoroutineResult, Suspender};
pub use generator::{Generator, Yielder};
pub use stack::{Stack, StackError, StackPool};
