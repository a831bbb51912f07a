//! `mutex`: 4 workers each lock one shared mutex, increment the count it
//! guards and unlock it, 250k times; per lock.
//!
//! The calling thread joins the four and checks the final count. Every
//! run makes its own mutex. spindle (`spindle_sync::Mutex`, blocking
//! `lock()`), std (`std::sync::Mutex`) and parking_lot run the workers as
//! four OS threads; spindle's fibers as four fibers on the 2-worker pool,
//! with the same blocking `lock()` (the fiber suspends, not its worker);
//! tokio as four tasks on its runtime, with `tokio::sync::Mutex`'s
//! `lock().await`; may as four coroutines, with `may::sync::Mutex`.

use super::runtimes;
use crate::harness::{Config, System, compare};
use std::sync::Arc;

const LOCKS: usize = 1_000_000;
/// The workers contending for the mutex (BENCH.md: 4).
const CONTENDERS: usize = 4;

/// How many of the `n` locks contender `c` takes.
fn share(c: usize, n: usize) -> u64 {
    ((c + 1) * n / CONTENDERS - c * n / CONTENDERS) as u64
}

/// Panics unless the count is the number of locks taken.
fn check(system: &str, n: usize, count: u64) {
    assert_eq!(
        count, n as u64,
        "mutex/{system}: the count is {count} after {n} increments"
    );
}

/// Runs the contenders as OS threads, each calling `increment` its share
/// of times, and checks `count()` after.
fn on_threads(system: &str, n: usize, increment: impl Fn() + Sync, count: impl FnOnce() -> u64) {
    let increment = &increment;
    std::thread::scope(|scope| {
        for c in 0..CONTENDERS {
            scope.spawn(move || {
                for _ in 0..share(c, n) {
                    increment();
                }
            });
        }
    });
    check(system, n, count());
}

pub(crate) fn run(config: &Config) {
    let spindle = runtimes::spindle();
    let tokio = runtimes::tokio();
    runtimes::may();
    compare(
        config,
        "mutex",
        config.ops(LOCKS),
        vec![
            System::new("spindle", |n| {
                let mutex = spindle_sync::Mutex::new(0_u64);
                on_threads("spindle", n, || *mutex.lock() += 1, || *mutex.lock());
            }),
            System::new("std", |n| {
                let mutex = std::sync::Mutex::new(0_u64);
                on_threads(
                    "std",
                    n,
                    || *mutex.lock().expect("std mutex") += 1,
                    || *mutex.lock().expect("std mutex"),
                );
            }),
            System::new("parking_lot", |n| {
                let mutex = parking_lot::Mutex::new(0_u64);
                on_threads("parking_lot", n, || *mutex.lock() += 1, || *mutex.lock());
            }),
            System::new("spindle-fiber", |n| {
                let mutex = Arc::new(spindle_sync::Mutex::new(0_u64));
                let contenders: Vec<_> = (0..CONTENDERS)
                    .map(|c| {
                        let mutex = Arc::clone(&mutex);
                        spindle_fiber::spawn(spindle, move || {
                            for _ in 0..share(c, n) {
                                *mutex.lock() += 1;
                            }
                        })
                    })
                    .collect();
                for contender in contenders {
                    contender.join().expect("spindle fiber");
                }
                check("spindle-fiber", n, *mutex.lock());
            }),
            System::new("tokio", |n| {
                let mutex = Arc::new(tokio::sync::Mutex::new(0_u64));
                let contenders: Vec<_> = (0..CONTENDERS)
                    .map(|c| {
                        let mutex = Arc::clone(&mutex);
                        tokio.spawn(async move {
                            for _ in 0..share(c, n) {
                                *mutex.lock().await += 1;
                            }
                        })
                    })
                    .collect();
                tokio.block_on(async {
                    for contender in contenders {
                        contender.await.expect("tokio task");
                    }
                });
                check("tokio", n, *mutex.blocking_lock());
            }),
            System::new("may", |n| {
                let mutex = Arc::new(may::sync::Mutex::new(0_u64));
                let contenders: Vec<_> = (0..CONTENDERS)
                    .map(|c| {
                        let mutex = Arc::clone(&mutex);
                        may::go!(move || {
                            for _ in 0..share(c, n) {
                                *mutex.lock().expect("may mutex") += 1;
                            }
                        })
                    })
                    .collect();
                for contender in contenders {
                    contender.join().expect("may coroutine");
                }
                check("may", n, *mutex.lock().expect("may mutex"));
            }),
        ],
    );
    runtimes::shutdown_spindle(spindle);
    drop(tokio);
}
