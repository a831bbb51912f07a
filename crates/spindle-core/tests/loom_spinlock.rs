//! loom models of `SpinLock`: every interleaving of small programs.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p spindle-core --release --test loom_spinlock
//! ```
//!
//! The lock's value lives in loom's `UnsafeCell` (through the crate's shim),
//! so loom reports any access to it that the lock's `Acquire`/`Release` do
//! not order, and the counters below check that no update is lost.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use spindle_core::SpinLock;

/// Increments the counter behind `lock` with a separate read and write.
///
/// No yield sits between them: loom's cell already reports a read or write
/// that the lock does not order, and a yield inside the critical section
/// would let the spinning waiters run unboundedly long schedules.
fn increment(lock: &SpinLock<usize>) {
    let mut guard = lock.lock();
    let seen = *guard;
    *guard = seen + 1;
}

#[test]
fn two_threads_never_lose_an_increment() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(0));
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || increment(&lock))
        };
        increment(&lock);
        other.join().unwrap();
        assert_eq!(*lock.lock(), 2);
    });
}

#[test]
fn three_threads_never_lose_an_increment() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.max_branches = 100_000;
    model.check(|| {
        let lock = Arc::new(SpinLock::new(0));
        let others: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || increment(&lock))
            })
            .collect();
        increment(&lock);
        for other in others {
            other.join().unwrap();
        }
        assert_eq!(*lock.lock(), 3);
    });
}

#[test]
fn try_lock_succeeds_for_at_least_one_of_two_racers() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(0));
        let wins = Arc::new(AtomicUsize::new(0));
        let attempt = |lock: &SpinLock<usize>, wins: &AtomicUsize| {
            if let Some(mut guard) = lock.try_lock() {
                *guard += 1;
                wins.fetch_add(1, Ordering::Relaxed);
            }
        };
        let other = {
            let (lock, wins) = (Arc::clone(&lock), Arc::clone(&wins));
            thread::spawn(move || attempt(&lock, &wins))
        };
        attempt(&lock, &wins);
        other.join().unwrap();
        let wins = wins.load(Ordering::Relaxed);
        assert!(wins >= 1, "try_lock failed although the lock was free");
        assert_eq!(*lock.lock(), wins);
        assert!(!lock.is_locked());
    });
}
