//! `switch`: one resume + suspend round trip.

use crate::harness::{Config, System, compare};
use std::hint::black_box;

const OPS: usize = 10_000_000;

pub(crate) fn run(config: &Config) {
    let mut spindle = spindle_coro::Coroutine::<usize, usize, ()>::new(|s, mut x| {
        loop {
            x = s.suspend(black_box(x));
        }
    });
    let mut corosensei = corosensei::Coroutine::<usize, usize, ()>::new(|y, mut x| {
        loop {
            x = y.suspend(black_box(x));
        }
    });
    compare(
        config,
        "switch",
        config.ops(OPS),
        vec![
            System::new("spindle", |n| {
                for i in 0..n {
                    black_box(spindle.resume(i));
                }
            }),
            System::new("corosensei", |n| {
                for i in 0..n {
                    black_box(corosensei.resume(i));
                }
            }),
        ],
    );
}
