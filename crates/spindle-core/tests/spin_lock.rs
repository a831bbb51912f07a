//! Behaviour of `SpinLock` across threads, and its `Send`/`Sync` promises.
//!
//! What must *not* compile (a guard sent to another thread, a guard
//! outliving its lock, a lock over `Rc` shared) is checked by the
//! `compile_fail` examples on `SpinLockGuard`.
#![cfg(not(loom))]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use spindle_core::{CachePadded, SpinLock, SpinLockGuard};

const THREADS: usize = if cfg!(miri) { 3 } else { 4 };
const ROUNDS: usize = if cfg!(miri) { 30 } else { 20_000 };

fn assert_send<T: ?Sized + Send>() {}
fn assert_sync<T: ?Sized + Sync>() {}

#[test]
fn lock_is_send_and_sync_when_value_is_send_even_if_not_sync() {
    assert_send::<SpinLock<u64>>();
    assert_sync::<SpinLock<u64>>();
    assert_send::<SpinLock<Cell<u64>>>();
    assert_sync::<SpinLock<Cell<u64>>>();
    assert_sync::<SpinLock<[u8]>>();
}

#[test]
fn guard_is_sync_when_value_is_sync() {
    assert_sync::<SpinLockGuard<'static, u64>>();
    assert_sync::<SpinLockGuard<'static, [u8]>>();
}

#[test]
fn no_update_is_lost_when_threads_contend() {
    // A plain (non-atomic) read, a yield to widen the window, then a write:
    // without mutual exclusion, increments would be lost.
    let counter = SpinLock::new(0_usize);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for round in 0..ROUNDS {
                    let mut guard = counter.lock();
                    let seen = *guard;
                    if round % 64 == 0 {
                        thread::yield_now();
                    }
                    *guard = seen + 1;
                }
            });
        }
    });
    assert_eq!(counter.into_inner(), THREADS * ROUNDS);
}

#[test]
fn critical_sections_never_overlap() {
    let lock = SpinLock::new(());
    let inside = AtomicBool::new(false);
    let entries = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let _guard = lock.lock();
                    assert!(!inside.swap(true, Ordering::Relaxed), "two holders at once");
                    entries.fetch_add(1, Ordering::Relaxed);
                    inside.store(false, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(entries.into_inner(), THREADS * ROUNDS);
}

#[test]
fn try_lock_from_another_thread_fails_while_held() {
    let lock = SpinLock::new(1);
    let guard = lock.lock();
    thread::scope(|s| {
        s.spawn(|| {
            assert!(lock.is_locked());
            assert!(lock.try_lock().is_none());
        });
    });
    drop(guard);
    thread::scope(|s| {
        s.spawn(|| assert_eq!(lock.try_lock().map(|g| *g), Some(1)));
    });
}

#[test]
fn waiter_gets_the_lock_after_release_and_sees_the_holders_writes() {
    let lock = SpinLock::new(0);
    let mut guard = lock.lock();
    thread::scope(|s| {
        // The waiter starts while the lock is held, so it must wait for
        // `drop(guard)` and then see 42.
        let waiter = s.spawn(|| *lock.lock());
        *guard = 42;
        drop(guard);
        assert_eq!(waiter.join().unwrap(), 42);
    });
}

#[test]
fn threads_share_a_guard_to_read_through_it() {
    let lock = SpinLock::new(vec![1, 2, 3]);
    let guard = lock.lock();
    let sums: Vec<i32> = thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| guard.iter().sum())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(sums, [6, 6]);
    assert!(lock.is_locked());
}

#[test]
fn padded_locks_in_an_array_are_independent() {
    let locks: Vec<CachePadded<SpinLock<usize>>> = (0..THREADS)
        .map(|_| CachePadded::new(SpinLock::new(0)))
        .collect();
    thread::scope(|s| {
        for (i, lock) in locks.iter().enumerate() {
            s.spawn(move || {
                for _ in 0..ROUNDS {
                    *lock.lock() += i;
                }
            });
        }
    });
    for (i, lock) in locks.into_iter().enumerate() {
        assert_eq!(lock.into_inner().into_inner(), i * ROUNDS);
    }
}
