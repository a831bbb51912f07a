//! `WaitGroup`: waits for every `done`; in fibers, threads and async tasks,
//! plus hand-polled futures for the orderings timing makes rare.
#![cfg(not(loom))]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    BLOCKING, World, counting_waker, install_faults,
    newcomer_between_wake_rounds_waits_for_the_next, poll, run_async, run_blocking, scaled,
};
use spindle_core::fault::{self};
use spindle_sync::{WaitGroup, WaitGroupGuard, WaitGroupWaitFuture};

const WORKERS: usize = 6;
const WAITERS: usize = 3;

/// Parties below `WORKERS` do some work and call `done`; the others wait
/// and must see all the work.
fn check_wait_sees_every_done(world: World, faults: bool) {
    for _ in 0..scaled(20) {
        let group = Arc::new(WaitGroup::new());
        group.add(WORKERS);
        let work = Arc::new(AtomicUsize::new(0));
        let (g, w) = (Arc::clone(&group), Arc::clone(&work));
        let seen: Vec<usize> = if world == World::Async {
            run_async(WORKERS + WAITERS, move |i| {
                let (g, w) = (Arc::clone(&g), Arc::clone(&w));
                async move {
                    if i < WORKERS {
                        w.fetch_add(1, Ordering::Relaxed);
                        g.done();
                    } else {
                        g.wait_async().await;
                    }
                    w.load(Ordering::Relaxed)
                }
            })
        } else {
            run_blocking(world, WORKERS + WAITERS, move |i| {
                install_faults(faults);
                if i < WORKERS {
                    w.fetch_add(1, Ordering::Relaxed);
                    g.done();
                } else if i == WORKERS {
                    assert!(g.wait_timeout(Duration::from_secs(60)));
                } else {
                    g.wait();
                }
                fault::set_injector(None);
                w.load(Ordering::Relaxed)
            })
        };
        assert!(
            seen[WORKERS..].iter().all(|&s| s == WORKERS),
            "{world:?}: {seen:?}"
        );
        assert_eq!(group.count(), 0);
        assert!(group.try_wait());
    }
}

#[test]
fn wait_returns_after_every_done_fibers() {
    check_wait_sees_every_done(World::Fibers, false);
}

#[test]
fn wait_returns_after_every_done_threads() {
    check_wait_sees_every_done(World::Threads, false);
}

#[test]
fn wait_returns_after_every_done_with_faults_injected_threads() {
    check_wait_sees_every_done(World::Threads, true);
}

#[test]
fn wait_returns_after_every_done_async() {
    check_wait_sees_every_done(World::Async, false);
}

#[test]
fn guards_count_until_dropped_also_in_scoped_threads() {
    let group = WaitGroup::new();
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let task: WaitGroupGuard<'_> = group.enter();
            let done = &done;
            s.spawn(move || {
                done.fetch_add(1, Ordering::Relaxed);
                drop(task);
            });
        }
        group.wait();
        assert_eq!(done.load(Ordering::Relaxed), 4);
    });
}

#[test]
fn wait_blocks_until_the_last_done() {
    let group = WaitGroup::new();
    let (wakes, waker) = counting_waker();
    let mut empty = pin!(group.wait_async());
    assert!(poll(empty.as_mut(), &waker).is_ready(), "zero at the start");
    group.add(2);
    let mut wait = pin!(group.wait_async());
    assert!(poll(wait.as_mut(), &waker).is_pending());
    group.done();
    assert_eq!(wakes.wakes(), 0);
    assert!(poll(wait.as_mut(), &waker).is_pending());
    group.done();
    assert_eq!(wakes.wakes(), 1);
    assert!(poll(wait.as_mut(), &waker).is_ready());
}

/// A new round (`add` from zero) and a new waiter slipped in between the
/// wake rounds of the zero before: the old waiters all wake, the new one
/// waits for its own round.
#[test]
fn waiter_of_a_new_round_is_not_woken_by_the_previous_zero() {
    let group: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    group.add(1);
    newcomer_between_wake_rounds_waits_for_the_next(
        || group.wait_async(),
        || group.add(1),
        || group.done(),
        || group.count() == 1,
    );
}

#[test]
fn done_without_add_panics_and_leaves_zero() {
    let group = WaitGroup::new();
    let result = catch_unwind(AssertUnwindSafe(|| group.done()));
    assert!(result.is_err());
    assert_eq!(group.count(), 0);
    assert!(group.try_wait());
    group.add(1);
    group.done();
}

#[test]
fn add_overflow_panics_and_leaves_the_count() {
    let group = WaitGroup::new();
    group.add(usize::MAX);
    let result = catch_unwind(AssertUnwindSafe(|| group.add(1)));
    assert!(result.is_err());
    assert_eq!(group.count(), usize::MAX);
}

#[test]
fn wait_timeout_reports_whether_the_count_reached_zero() {
    for world in BLOCKING {
        let group = Arc::new(WaitGroup::new());
        group.add(1);
        let g = Arc::clone(&group);
        let results = run_blocking(world, 2, move |i| {
            if i == 0 {
                let before = g.wait_timeout(Duration::from_millis(20));
                g.done();
                before
            } else {
                g.wait_timeout(Duration::from_secs(60))
            }
        });
        assert_eq!(results, [false, true], "{world:?}");
    }
}

#[test]
fn wait_group_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<WaitGroup>();
    send_sync::<WaitGroupGuard<'static>>();
    send::<WaitGroupWaitFuture<'static>>();
}
