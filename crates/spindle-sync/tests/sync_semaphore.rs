//! `Semaphore`: bounded holders, FIFO service of mixed sizes, timeouts,
//! close and cancellation; in fibers, threads and async tasks, plus
//! hand-polled futures for exact orderings.
#![cfg(not(loom))]

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{BLOCKING, World, install_faults, on_wake, poll, run_async, run_blocking, scaled};
use spindle_core::fault::{self};
use spindle_sync::{
    AcquireError, AcquireFuture, AcquireTimeoutError, AddPermitsError, Semaphore, SemaphorePermit,
    TryAcquireError,
};

/// A waker that appends `label` to `log`.
fn logging_waker(log: &Arc<Mutex<Vec<char>>>, label: char) -> Waker {
    let log = Arc::clone(log);
    on_wake(move || log.lock().unwrap().push(label))
}

/// Acquires of `n` permits polled by hand, in order, each with a waker
/// that logs its label; every one must wait.
fn waiting_acquires<'a, const N: usize>(
    semaphore: &'a Semaphore,
    log: &Arc<Mutex<Vec<char>>>,
    waits: [(char, usize); N],
) -> [(Waker, Pin<Box<AcquireFuture<'a>>>); N] {
    waits.map(|(label, n)| {
        let waker = logging_waker(log, label);
        let mut wait = Box::pin(semaphore.acquire_async(n));
        assert!(poll(wait.as_mut(), &waker).is_pending(), "{label}");
        (waker, wait)
    })
}

/// The permits a finished acquire got.
fn granted<'a>(poll: Poll<Result<SemaphorePermit<'a>, AcquireError>>) -> SemaphorePermit<'a> {
    match poll {
        Poll::Ready(Ok(permit)) => permit,
        other => panic!("not granted: {other:?}"),
    }
}

/// A tiny xorshift, seeded from the clock (the seed is printed).
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = u64::from(nanos) | 1;
    println!("seed: {seed}");
    seed
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

const K: usize = 3;
const PARTIES: usize = 6;

/// Takes `n` permits, trying the lock-free way first on odd rounds.
fn take(semaphore: &Semaphore, n: usize, round: usize) -> SemaphorePermit<'_> {
    if round % 2 == 1 {
        match semaphore.try_acquire(n) {
            Ok(permit) => return permit,
            Err(error) => assert_eq!(error, TryAcquireError::NoPermits),
        }
    }
    semaphore.acquire(n).unwrap()
}

/// Holders of 1 or 2 permits each; the permits held at once never exceed
/// `K`.
fn check_never_more_than_k(world: World, faults: bool) {
    let rounds = scaled(300);
    let seed = seed();
    let semaphore = Arc::new(Semaphore::new(K));
    let held = Arc::new(AtomicUsize::new(0));
    let hold = move |held: &AtomicUsize, n: usize| {
        let now = held.fetch_add(n, Ordering::SeqCst) + n;
        assert!(now <= K, "{now} permits held at once (seed {seed})");
        std::hint::spin_loop();
        held.fetch_sub(n, Ordering::SeqCst);
    };
    let (s, h) = (Arc::clone(&semaphore), Arc::clone(&held));
    if world == World::Async {
        run_async(PARTIES, move |i| {
            let (s, h) = (Arc::clone(&s), Arc::clone(&h));
            async move {
                let mut rng = seed.wrapping_add(i as u64) | 1;
                for _ in 0..rounds {
                    let n = 1 + (next(&mut rng) % 2) as usize;
                    let permit = s.acquire_async(n).await.unwrap();
                    hold(&h, permit.permits());
                }
            }
        });
    } else {
        run_blocking(world, PARTIES, move |i| {
            install_faults(faults);
            let mut rng = seed.wrapping_add(i as u64) | 1;
            for round in 0..rounds {
                let n = 1 + (next(&mut rng) % 2) as usize;
                let permit = take(&s, n, round);
                hold(&h, permit.permits());
            }
            fault::set_injector(None);
        });
    }
    assert_eq!(semaphore.available_permits(), K);
    assert!(semaphore.try_acquire(K).is_ok(), "no waiter left behind");
}

#[test]
fn never_more_than_k_permits_held_fibers() {
    check_never_more_than_k(World::Fibers, false);
}

#[test]
fn never_more_than_k_permits_held_threads() {
    check_never_more_than_k(World::Threads, false);
}

#[test]
fn never_more_than_k_permits_held_with_faults_injected_threads() {
    check_never_more_than_k(World::Threads, true);
}

#[test]
fn never_more_than_k_permits_held_async() {
    check_never_more_than_k(World::Async, false);
}

#[test]
fn waiters_are_served_in_fifo_order_whatever_their_size() {
    let semaphore = Semaphore::new(0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut waits = waiting_acquires(&semaphore, &log, [('a', 3), ('b', 1), ('c', 2), ('d', 1)]);
    let woken = || log.lock().unwrap().clone();
    // One permit: `a` needs three, and `b` must not overtake it.
    semaphore.add_permits(1).unwrap();
    assert_eq!(woken(), []);
    assert_eq!(
        semaphore.try_acquire(1).map(|p| p.permits()),
        Err(TryAcquireError::NoPermits)
    );
    semaphore.add_permits(2).unwrap();
    assert_eq!(woken(), ['a']);
    let (waker, wait) = &mut waits[0];
    let a = granted(poll(wait.as_mut(), waker));
    assert_eq!((a.permits(), semaphore.available_permits()), (3, 0));
    // Two permits: `b` takes one, `c` needs two and waits, so `d` does too.
    semaphore.add_permits(2).unwrap();
    assert_eq!(woken(), ['a', 'b']);
    semaphore.add_permits(1).unwrap();
    assert_eq!(woken(), ['a', 'b', 'c']);
    // `a` gives back three: `d` takes one.
    drop(a);
    assert_eq!(woken(), ['a', 'b', 'c', 'd']);
    assert_eq!(semaphore.available_permits(), 2);
    let sizes: Vec<usize> = waits[1..]
        .iter_mut()
        .map(|(waker, wait)| granted(poll(wait.as_mut(), waker)).permits())
        .collect();
    assert_eq!(sizes, [1, 2, 1]);
    assert_eq!(semaphore.try_acquire(6).map(|p| p.permits()), Ok(6));
}

#[test]
fn try_acquire_fails_while_anyone_waits() {
    let semaphore = Semaphore::new(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let waker = logging_waker(&log, 'x');
    let mut big = Box::pin(semaphore.acquire_async(2));
    assert!(poll(big.as_mut(), &waker).is_pending());
    assert_eq!(semaphore.available_permits(), 1);
    assert_eq!(
        semaphore.try_acquire(1).err(),
        Some(TryAcquireError::NoPermits)
    );
    let mut small = Box::pin(semaphore.acquire_async(1));
    assert!(
        poll(small.as_mut(), &waker).is_pending(),
        "queued behind, not served"
    );
    drop(small);
    drop(big);
    assert_eq!(semaphore.try_acquire(1).map(|p| p.permits()), Ok(1));
}

#[test]
fn dropping_a_waiting_head_serves_those_behind_it() {
    let semaphore = Semaphore::new(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let [(_, head), (tail_waker, mut tail)] =
        waiting_acquires(&semaphore, &log, [('h', 3), ('t', 1)]);
    drop(head);
    assert_eq!(*log.lock().unwrap(), ['t']);
    let permit = granted(poll(tail.as_mut(), &tail_waker));
    assert_eq!((permit.permits(), semaphore.available_permits()), (1, 0));
}

#[test]
fn dropped_granted_acquire_gives_its_permits_back() {
    let semaphore = Semaphore::new(0);
    let log = Arc::new(Mutex::new(Vec::new()));
    let [(_, first), (second_waker, mut second)] =
        waiting_acquires(&semaphore, &log, [('1', 2), ('2', 1)]);
    semaphore.add_permits(2).unwrap();
    assert_eq!(*log.lock().unwrap(), ['1'], "granted to the head only");
    assert_eq!(semaphore.available_permits(), 0);
    drop(first); // granted, never polled
    assert_eq!(*log.lock().unwrap(), ['1', '2']);
    assert_eq!(semaphore.available_permits(), 1);
    assert_eq!(granted(poll(second.as_mut(), &second_waker)).permits(), 1);
    assert_eq!(semaphore.available_permits(), 2);
}

#[test]
fn acquire_timeout_times_out_and_leaves_the_queue() {
    for world in BLOCKING {
        let semaphore = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&semaphore);
        let results = run_blocking(world, 2, move |i| {
            if i == 0 {
                let before = s
                    .acquire_timeout(1, Duration::from_millis(20))
                    .map(|p| p.permits());
                s.add_permits(1).unwrap();
                before
            } else {
                s.acquire_timeout(1, Duration::from_secs(60))
                    .map(|p| p.permits())
            }
        });
        assert_eq!(
            results,
            [Err(AcquireTimeoutError::TimedOut), Ok(1)],
            "{world:?}"
        );
        assert_eq!(
            semaphore.try_acquire(1).map(|p| p.permits()),
            Ok(1),
            "{world:?}"
        );
    }
}

#[test]
fn close_fails_waiters_and_later_acquires() {
    let semaphore = Semaphore::new(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let waker = logging_waker(&log, 'w');
    let held = semaphore.acquire(1).unwrap();
    let mut waiting = Box::pin(semaphore.acquire_async(1));
    assert!(poll(waiting.as_mut(), &waker).is_pending());
    semaphore.close();
    assert!(semaphore.is_closed());
    assert_eq!(*log.lock().unwrap(), ['w']);
    assert_eq!(
        poll(waiting.as_mut(), &waker).map(|r| r.err()),
        Poll::Ready(Some(AcquireError::Closed))
    );
    drop(held);
    assert_eq!(semaphore.acquire(1).err(), Some(AcquireError::Closed));
    assert_eq!(
        semaphore.try_acquire(1).err(),
        Some(TryAcquireError::Closed)
    );
    assert_eq!(
        semaphore.acquire_timeout(1, Duration::from_secs(60)).err(),
        Some(AcquireTimeoutError::Closed)
    );
}

#[test]
fn asking_for_more_than_max_permits_is_an_error_not_a_hang() {
    let semaphore = Semaphore::new(1);
    let too_many = Semaphore::MAX_PERMITS + 1;
    assert_eq!(
        semaphore.acquire(too_many).err(),
        Some(AcquireError::TooMany)
    );
    assert_eq!(
        semaphore.try_acquire(too_many).err(),
        Some(TryAcquireError::TooMany)
    );
    assert_eq!(
        semaphore
            .acquire_timeout(usize::MAX, Duration::from_secs(60))
            .err(),
        Some(AcquireTimeoutError::TooMany)
    );
    // As many as a semaphore can hold: waits for them.
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut all = Box::pin(semaphore.acquire_async(Semaphore::MAX_PERMITS));
    assert!(poll(all.as_mut(), &logging_waker(&log, 'a')).is_pending());
    assert_eq!(semaphore.acquire(0).map(|p| p.permits()), Ok(0));
}

#[test]
fn permits_never_exceed_max_and_forget_removes_them() {
    let semaphore = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    let held = semaphore.acquire(5).unwrap();
    assert_eq!(semaphore.add_permits(1), Ok(()));
    assert_eq!(
        semaphore.add_permits(1),
        Err(AddPermitsError),
        "held ones count"
    );
    held.forget();
    assert_eq!(semaphore.available_permits(), Semaphore::MAX_PERMITS - 5);
    assert_eq!(semaphore.add_permits(5), Ok(()));
    assert_eq!(semaphore.available_permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn semaphore_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Semaphore>();
    send_sync::<SemaphorePermit<'static>>();
    send::<AcquireFuture<'static>>();
    send_sync::<AcquireError>();
    send_sync::<TryAcquireError>();
    send_sync::<AcquireTimeoutError>();
    send_sync::<AddPermitsError>();
}
