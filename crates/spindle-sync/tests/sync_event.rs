//! `Event`: set once, wait many; in fibers, threads and async tasks, plus
//! hand-polled futures for the orderings that timing would make rare.
#![cfg(not(loom))]

mod common;

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    BLOCKING, World, counting_waker, install_faults,
    newcomer_between_wake_rounds_waits_for_the_next, poll, run_async, run_blocking, scaled,
};
use spindle_core::fault::{self};
use spindle_sync::{Event, EventWaitFuture};

/// Party 0 sets (after writing a value); the others wait, must see the
/// value, and a wait after the set returns at once.
fn check_set_wakes_all(world: World, faults: bool) {
    for _ in 0..scaled(20) {
        let event = Arc::new(Event::new());
        let value = Arc::new(AtomicUsize::new(0));
        let (e, v) = (Arc::clone(&event), Arc::clone(&value));
        let seen = move |i: usize| {
            install_faults(faults);
            match i {
                0 => {
                    v.store(42, Ordering::Relaxed);
                    e.set();
                }
                1 => assert!(e.wait_timeout(Duration::from_secs(60))),
                _ => e.wait(),
            }
            assert!(e.is_set());
            while !e.try_wait() {} // only an injected fault fails it
            fault::set_injector(None);
            v.load(Ordering::Relaxed)
        };
        let seen: Vec<usize> = if world == World::Async {
            let (e, v) = (Arc::clone(&event), Arc::clone(&value));
            run_async(8, move |i| {
                let (e, v) = (Arc::clone(&e), Arc::clone(&v));
                async move {
                    if i == 0 {
                        v.store(42, Ordering::Relaxed);
                        e.set();
                    } else {
                        e.wait_async().await;
                    }
                    v.load(Ordering::Relaxed)
                }
            })
        } else {
            run_blocking(world, 8, seen)
        };
        assert!(seen.iter().all(|&s| s == 42), "{world:?}: {seen:?}");
        assert!(event.is_set() && event.try_wait());
        event.wait();
    }
}

#[test]
fn set_wakes_every_waiter_and_later_waits_return_at_once_fibers() {
    check_set_wakes_all(World::Fibers, false);
}

#[test]
fn set_wakes_every_waiter_and_later_waits_return_at_once_threads() {
    check_set_wakes_all(World::Threads, false);
}

#[test]
fn set_wakes_every_waiter_and_later_waits_return_at_once_with_faults_injected_threads() {
    check_set_wakes_all(World::Threads, true);
}

#[test]
fn set_wakes_every_waiter_and_later_waits_return_at_once_async() {
    check_set_wakes_all(World::Async, false);
}

#[test]
fn set_wakes_every_registered_waiter_over_several_rounds() {
    let event = Event::new();
    let (wakes, waker) = counting_waker();
    // More than one wake batch (32).
    let mut waits: Vec<_> = (0..70).map(|_| Box::pin(event.wait_async())).collect();
    for wait in &mut waits {
        assert!(poll(wait.as_mut(), &waker).is_pending());
    }
    assert!(!event.try_wait());
    event.set();
    assert_eq!(wakes.wakes(), 70);
    for wait in &mut waits {
        assert!(poll(wait.as_mut(), &waker).is_ready());
    }
    let mut later = pin!(event.wait_async());
    assert!(poll(later.as_mut(), &waker).is_ready());
}

#[test]
fn woken_wait_completes_even_if_reset_follows() {
    let event = Event::new();
    let (wakes, waker) = counting_waker();
    let mut early = pin!(event.wait_async());
    assert!(poll(early.as_mut(), &waker).is_pending());
    event.set();
    event.reset();
    assert!(!event.is_set());
    assert_eq!(wakes.wakes(), 1);
    assert!(poll(early.as_mut(), &waker).is_ready());
    let mut late = pin!(event.wait_async());
    assert!(poll(late.as_mut(), &waker).is_pending());
    event.set();
    assert!(poll(late.as_mut(), &waker).is_ready());
}

/// A reset and a new waiter slipped in between the rounds of one `set`
/// (from a waker, which runs with the lock released) are not woken by it.
#[test]
fn waiter_registered_after_reset_is_not_woken_by_the_earlier_set() {
    let event: &'static Event = Box::leak(Box::new(Event::new()));
    newcomer_between_wake_rounds_waits_for_the_next(
        || event.wait_async(),
        || event.reset(),
        || event.set(),
        || !event.is_set(),
    );
}

#[test]
fn dropped_wait_leaves_the_others_waiting() {
    let event = Event::new();
    let (wakes, waker) = counting_waker();
    let mut kept = Box::pin(event.wait_async());
    let mut dropped = Box::pin(event.wait_async());
    assert!(poll(kept.as_mut(), &waker).is_pending());
    assert!(poll(dropped.as_mut(), &waker).is_pending());
    drop(dropped);
    event.set();
    assert_eq!(wakes.wakes(), 1);
    assert!(poll(kept.as_mut(), &waker).is_ready());
}

#[test]
fn wait_timeout_reports_whether_the_event_was_set() {
    for world in BLOCKING {
        let event = Arc::new(Event::new());
        let e = Arc::clone(&event);
        let results = run_blocking(world, 2, move |i| {
            if i == 0 {
                // Nobody sets it yet: times out.
                let before = e.wait_timeout(Duration::from_millis(20));
                e.set();
                before
            } else {
                e.wait_timeout(Duration::from_secs(60))
            }
        });
        assert_eq!(results, [false, true], "{world:?}");
        assert!(event.wait_deadline(std::time::Instant::now()));
    }
}

#[test]
fn event_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Event>();
    send::<EventWaitFuture<'static>>();
}
