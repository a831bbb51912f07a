//! `Barrier`: one leader per generation, nobody passes early, and a party
//! that gives up un-arrives; in fibers, threads and async tasks, plus
//! hand-polled futures for the orderings timing makes rare.
#![cfg(not(loom))]

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use common::{BLOCKING, World, noop_waker, on_wake, poll, run_async, run_blocking, scaled};
use spindle_sync::{Barrier, BarrierTimeoutError, BarrierWaitFuture, BarrierWaitResult};

/// Arrives as the last party (polled by hand, so a miscount fails rather
/// than hangs).
fn lead(barrier: &Barrier) {
    let mut wait = Box::pin(barrier.wait_async());
    match poll(wait.as_mut(), &noop_waker()) {
        Poll::Ready(result) => assert!(result.is_leader()),
        Poll::Pending => panic!("the generation needed more parties"),
    }
}

const PARTIES: usize = 5;

/// What every party records, per generation.
struct Tally {
    arrived: Vec<AtomicUsize>,
    leaders: Vec<AtomicUsize>,
}

impl Tally {
    fn new(generations: usize) -> Self {
        let zeros = || (0..generations).map(|_| AtomicUsize::new(0)).collect();
        Tally {
            arrived: zeros(),
            leaders: zeros(),
        }
    }

    fn before(&self, generation: usize) {
        self.arrived[generation].fetch_add(1, Ordering::Relaxed);
    }

    /// Nobody passed before all arrived; counts the leader.
    fn after(&self, generation: usize, result: BarrierWaitResult) {
        let arrived = self.arrived[generation].load(Ordering::Relaxed);
        assert_eq!(arrived, PARTIES, "passed generation {generation} early");
        if result.is_leader() {
            self.leaders[generation].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn check(&self) {
        for (generation, leaders) in self.leaders.iter().enumerate() {
            let leaders = leaders.load(Ordering::Relaxed);
            assert_eq!(leaders, 1, "generation {generation} had {leaders} leaders");
        }
    }
}

fn check_one_leader_per_generation(world: World) {
    let generations = scaled(200);
    let barrier = Arc::new(Barrier::new(PARTIES));
    let tally = Arc::new(Tally::new(generations));
    let (b, t) = (Arc::clone(&barrier), Arc::clone(&tally));
    if world == World::Async {
        run_async(PARTIES, move |_| {
            let (b, t) = (Arc::clone(&b), Arc::clone(&t));
            async move {
                for generation in 0..generations {
                    t.before(generation);
                    let result = b.wait_async().await;
                    t.after(generation, result);
                }
            }
        });
    } else {
        run_blocking(world, PARTIES, move |_| {
            for generation in 0..generations {
                t.before(generation);
                let result = b.wait();
                t.after(generation, result);
            }
        });
    }
    tally.check();
}

#[test]
fn exactly_one_leader_per_generation_and_nobody_passes_early_fibers() {
    check_one_leader_per_generation(World::Fibers);
}

#[test]
fn exactly_one_leader_per_generation_and_nobody_passes_early_threads() {
    check_one_leader_per_generation(World::Threads);
}

#[test]
fn exactly_one_leader_per_generation_and_nobody_passes_early_async() {
    check_one_leader_per_generation(World::Async);
}

#[test]
fn barrier_of_zero_or_one_parties_lets_each_wait_lead() {
    for n in [0, 1] {
        let barrier = Barrier::new(n);
        assert_eq!(barrier.parties(), 1);
        assert!(barrier.wait().is_leader());
        assert!(barrier.wait().is_leader());
    }
}

#[test]
fn dropped_wait_un_arrives() {
    let barrier = Barrier::new(2);
    let waker = noop_waker();
    let mut gone = Box::pin(barrier.wait_async());
    assert!(poll(gone.as_mut(), &waker).is_pending());
    drop(gone);
    // The generation still needs two.
    let mut first = Box::pin(barrier.wait_async());
    assert!(poll(first.as_mut(), &waker).is_pending());
    let mut second = Box::pin(barrier.wait_async());
    match poll(second.as_mut(), &waker) {
        Poll::Ready(result) => assert!(result.is_leader()),
        Poll::Pending => panic!("the dropped party still counted"),
    }
    assert_eq!(
        poll(first.as_mut(), &waker).map(|r| r.is_leader()),
        Poll::Ready(false)
    );
}

#[test]
fn wait_dropped_after_release_loses_nothing() {
    let barrier = Barrier::new(2);
    let waker = noop_waker();
    let mut waiting = Box::pin(barrier.wait_async());
    assert!(poll(waiting.as_mut(), &waker).is_pending());
    lead(&barrier);
    drop(waiting); // released, never polled again
    let mut next = Box::pin(barrier.wait_async());
    assert!(
        poll(next.as_mut(), &waker).is_pending(),
        "the next generation needs two"
    );
    lead(&barrier);
    assert!(poll(next.as_mut(), &waker).is_ready());
}

/// The leader releases 40 waiters in two rounds; the waker of the first
/// round drops one not yet woken (released, but still queued) and makes
/// a fast party arrive for the next generation. Neither confuses the
/// generations.
#[test]
fn party_dropped_between_release_rounds_does_not_un_arrive_from_the_next_generation() {
    const N: usize = 41;
    let barrier: &'static Barrier = Box::leak(Box::new(Barrier::new(N)));
    type Waits = Mutex<Vec<Option<Pin<Box<BarrierWaitFuture<'static>>>>>>;
    let waits: &'static Waits = Box::leak(Box::new(Mutex::new(Vec::new())));
    let fast: &'static Waits = Box::leak(Box::new(Mutex::new(Vec::new())));
    let plain = noop_waker();
    let meddler = on_wake(move || {
        drop(waits.lock().unwrap()[N - 2].take());
        let mut wait = Box::pin(barrier.wait_async());
        assert!(poll(wait.as_mut(), &noop_waker()).is_pending());
        fast.lock().unwrap().push(Some(wait));
    });
    for i in 0..N - 1 {
        let mut wait = Box::pin(barrier.wait_async());
        let waker = if i == 0 { &meddler } else { &plain };
        assert!(poll(wait.as_mut(), waker).is_pending());
        waits.lock().unwrap().push(Some(wait));
    }
    lead(barrier); // the 41st arrival
    let mut waits = waits.lock().unwrap();
    assert!(waits[N - 2].is_none(), "the meddler ran");
    for wait in waits.iter_mut().flatten() {
        assert_eq!(
            poll(wait.as_mut(), &plain).map(|r| r.is_leader()),
            Poll::Ready(false)
        );
    }
    drop(waits);
    let mut fast = fast.lock().unwrap();
    let early = fast[0].as_mut().expect("the meddler ran");
    assert!(
        poll(early.as_mut(), &plain).is_pending(),
        "woken by the old generation"
    );
    // Next generation: the fast party and 39 more wait, the 41st leads.
    let mut next: Vec<_> = (0..N - 2).map(|_| Box::pin(barrier.wait_async())).collect();
    for wait in &mut next {
        assert!(poll(wait.as_mut(), &plain).is_pending(), "passed early");
    }
    lead(barrier);
    for wait in next.iter_mut().chain(fast.iter_mut().flatten()) {
        assert!(poll(wait.as_mut(), &plain).is_ready());
    }
}

#[test]
fn timed_out_party_un_arrives() {
    for world in BLOCKING {
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let results = run_blocking(world, 1, move |_| b.wait_timeout(Duration::from_millis(20)));
        assert_eq!(results, [Err(BarrierTimeoutError)], "{world:?}");
        let waker = noop_waker();
        let mut wait = Box::pin(barrier.wait_async());
        assert!(
            poll(wait.as_mut(), &waker).is_pending(),
            "{world:?}: still counted"
        );
        let b = Arc::clone(&barrier);
        let results = run_blocking(world, 1, move |_| b.wait_timeout(Duration::from_secs(60)));
        assert_eq!(results[0].map(|r| r.is_leader()), Ok(true), "{world:?}");
        assert!(poll(wait.as_mut(), &waker).is_ready());
    }
}

#[test]
fn barrier_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Barrier>();
    send_sync::<BarrierWaitResult>();
    send_sync::<BarrierTimeoutError>();
    send::<BarrierWaitFuture<'static>>();
}
