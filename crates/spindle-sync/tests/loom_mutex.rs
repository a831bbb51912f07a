//! Loom models of `Mutex`: the fast path, queuing and waking, hand-off
//! (under loom a waiter starves at its first lost race) and cancellation,
//! checking mutual exclusion through a loom cell that only the lock's
//! owner touches.
//!
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p spindle-sync --release --test loom_mutex
//!
//! Models with two threads run at the preemption bound of the environment
//! (`LOOM_MAX_PREEMPTIONS`); models with three at most 2. With three
//! threads and bound 3, loom keeps two spinning waiters of the waiter
//! list's `SpinLock` yielding to each other while the preempted holder
//! never runs again, until the branch limit: a plain three-thread
//! `SpinLock` model does the same (spindle-core's `loom_spinlock.rs` notes
//! it at bound 2 for its own spin loop).
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use spindle_sync::{Mutex, MutexGuard};

/// A model with two threads: the environment's preemption bound.
fn model2(f: impl Fn() + Sync + Send + 'static) {
    loom::model::Builder::new().check(f);
}

/// A model with three threads: a preemption bound of at most 2 (see the
/// file's docs).
fn model3(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |bound| bound.min(2)));
    builder.check(f);
}

/// A mutex over nothing, and a counter that loom checks for concurrent
/// access: only the mutex's owner may touch it.
struct Shared {
    mutex: Mutex<()>,
    count: UnsafeCell<u32>,
}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            mutex: Mutex::new(()),
            count: UnsafeCell::new(0),
        })
    }

    /// Increments the counter; the caller owns the lock.
    fn bump(&self, _owner: &MutexGuard<'_, ()>) {
        // SAFETY: the guard proves we own the lock; loom reports any
        // access that is not ordered after the previous owner's.
        self.count.with_mut(|count| unsafe { *count += 1 });
    }

    fn count(&self) -> u32 {
        let _owner = self.mutex.lock();
        // SAFETY: as in `bump`.
        self.count.with(|count| unsafe { *count })
    }

    /// Checks the end state: unlocked, usable, and `expected` sections.
    fn check(&self, expected: u32) {
        assert!(!self.mutex.is_locked());
        assert!(self.mutex.try_lock().is_some());
        assert_eq!(self.count(), expected);
    }
}

fn spawn_locker(shared: &Arc<Shared>, rounds: usize) -> thread::JoinHandle<()> {
    let shared = Arc::clone(shared);
    thread::spawn(move || {
        for _ in 0..rounds {
            let guard = shared.mutex.lock();
            shared.bump(&guard);
        }
    })
}

/// A thread that polls a lock future once and drops it: returns the
/// sections it ran (1 if the first poll locked, else 0).
fn spawn_quitter(shared: &Arc<Shared>) -> thread::JoinHandle<u32> {
    let shared = Arc::clone(shared);
    thread::spawn(move || {
        let mut lock = pin!(shared.mutex.lock_async());
        let mut cx = Context::from_waker(Waker::noop());
        if let std::task::Poll::Ready(guard) = lock.as_mut().poll(&mut cx) {
            shared.bump(&guard);
            return 1;
        }
        // Queued: let the unlock reach us before we give up (loom
        // explores no alternative to a yield, but DPOR reorders the
        // racing accesses around it).
        thread::yield_now();
        0 // dropped while queued (and maybe woken, or handed the lock)
    })
}

#[test]
fn two_lockers_exclude_each_other() {
    model2(|| {
        let shared = Shared::new();
        let other = spawn_locker(&shared, 1);
        let guard = shared.mutex.lock();
        shared.bump(&guard);
        drop(guard);
        other.join().unwrap();
        shared.check(2);
    });
}

#[test]
fn three_lockers_exclude_each_other() {
    model3(|| {
        let shared = Shared::new();
        let lockers = [spawn_locker(&shared, 1), spawn_locker(&shared, 1)];
        let guard = shared.mutex.lock();
        shared.bump(&guard);
        drop(guard);
        for locker in lockers {
            locker.join().unwrap();
        }
        shared.check(3);
    });
}

/// Relocking at once makes the other waiter lose a race after its wake:
/// under loom it starves at once, and the next unlock hands it the lock.
#[test]
fn a_relocking_owner_hands_the_lock_to_a_starving_waiter() {
    model2(|| {
        let shared = Shared::new();
        let other = spawn_locker(&shared, 1);
        for _ in 0..2 {
            let guard = shared.mutex.lock();
            shared.bump(&guard);
        }
        other.join().unwrap();
        shared.check(3);
    });
}

#[test]
fn unlock_fair_hands_the_lock_over() {
    model2(|| {
        let shared = Shared::new();
        let other = spawn_locker(&shared, 1);
        let guard = shared.mutex.lock();
        shared.bump(&guard);
        MutexGuard::unlock_fair(guard);
        other.join().unwrap();
        shared.check(2);
    });
}

/// A lock future polled once and dropped, racing an unlock that may wake
/// it (or hand it the lock): the wake or the lock must reach the other
/// locker.
#[test]
fn a_dropped_lock_future_passes_on_its_wake() {
    model3(|| {
        let shared = Shared::new();
        let held = shared.mutex.lock();
        let quitter = spawn_quitter(&shared);
        let other = spawn_locker(&shared, 1);
        drop(held);
        let quitter_got = quitter.join().unwrap();
        other.join().unwrap();
        shared.check(1 + quitter_got);
    });
}

/// A lock future polled once, then dropped, racing an `unlock_fair` that
/// may hand it the lock: if it was handed the lock, its drop must unlock.
#[test]
fn a_dropped_lock_future_that_was_handed_the_lock_unlocks() {
    model2(|| {
        let shared = Shared::new();
        let held = shared.mutex.lock();
        let quitter = spawn_quitter(&shared);
        shared.bump(&held);
        MutexGuard::unlock_fair(held);
        let guard = shared.mutex.lock();
        shared.bump(&guard);
        drop(guard);
        let quitter_got = quitter.join().unwrap();
        shared.check(2 + quitter_got);
    });
}
