//! loom models of `SpinLock`: the interleavings of small programs.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p spindle-core --release --test loom_spinlock
//! ```
//!
//! The lock's value lives in loom's `UnsafeCell` (through the crate's shim),
//! so loom reports any access to it that the lock's `Acquire`/`Release` do
//! not order, and the counters below check that no update is lost. Each
//! model fails if the guard releases with `Relaxed`, or if `try_lock`'s
//! compare-exchange is split into a load and a store (both tried by hand
//! when the models were written).
#![cfg(loom)]

use std::collections::BTreeSet;
use std::sync::Mutex;

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

/// Three spawned threads each append their id under the lock; the main
/// thread only joins. Every run must end with all three ids (no lost
/// update), and across the runs loom must have tried all six acquisition
/// orders, so the preemption bound below cannot silently shrink the search.
///
/// A preemption bound of 1 keeps the model to milliseconds and still reaches
/// every order; with bound 2 the spinning waiters exceed loom's branch limit.
#[test]
fn three_threads_acquire_in_every_order_without_losing_an_update() {
    static ORDERS: Mutex<BTreeSet<Vec<usize>>> = Mutex::new(BTreeSet::new());

    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let lock = Arc::new(SpinLock::new(Vec::new()));
        let threads: Vec<_> = (0..3)
            .map(|id| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || lock.lock().push(id))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let order = lock.lock().clone();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2], "an update was lost: {order:?}");
        ORDERS.lock().unwrap().insert(order);
    });
    let orders = ORDERS.lock().unwrap();
    assert_eq!(orders.len(), 6, "orders explored: {orders:?}");
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
