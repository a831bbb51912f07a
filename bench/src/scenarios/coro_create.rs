//! `coro_create`: create a coroutine on a pooled stack, run it to
//! completion, drop it.
//!
//! corosensei has no pool of its own; it gets the same treatment by
//! reusing one stack through `with_stack` / `into_stack`, which is what a
//! user would write.

use crate::harness::{Config, System, compare};
use std::hint::black_box;

const OPS: usize = 1_000_000;
const STACK: usize = spindle_coro::stack::DEFAULT_STACK_SIZE;

pub(crate) fn run(config: &Config) {
    let mut stack = Some(corosensei::stack::DefaultStack::new(STACK).expect("corosensei stack"));
    compare(
        config,
        "coro_create",
        config.ops(OPS),
        vec![
            System::new("spindle", |n| {
                for i in 0..n {
                    let mut co = spindle_coro::Coroutine::<usize, (), usize>::new(|_, x| x + 1);
                    black_box(co.resume(black_box(i)));
                }
            }),
            System::new("corosensei", |n| {
                for i in 0..n {
                    let mut co = corosensei::Coroutine::<usize, (), usize, _>::with_stack(
                        stack.take().expect("stack returned"),
                        |_, x| x + 1,
                    );
                    black_box(co.resume(black_box(i)));
                    stack = Some(co.into_stack());
                }
            }),
        ],
    );
}
