//! Behaviour of `Backoff` in a real wait.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use spindle_core::Backoff;

#[test]
fn snooze_loop_sees_a_flag_set_by_another_thread() {
    let ready = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| ready.store(true, Ordering::Release));
        let mut backoff = Backoff::new();
        while !ready.load(Ordering::Acquire) {
            backoff.snooze();
        }
    });
    assert!(ready.into_inner());
}

#[test]
fn spin_between_cas_retries_lets_every_increment_land() {
    const THREADS: usize = 3;
    const ROUNDS: usize = if cfg!(miri) { 20 } else { 10_000 };
    let counter = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let mut backoff = Backoff::new();
                    let mut current = counter.load(Ordering::Relaxed);
                    while let Err(now) = counter.compare_exchange_weak(
                        current,
                        current + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        current = now;
                        backoff.spin();
                    }
                }
            });
        }
    });
    assert_eq!(counter.into_inner(), THREADS * ROUNDS);
}
