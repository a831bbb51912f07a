//! `Mutex`: mutual exclusion, `try_lock`, timeouts, the starvation bound
//! and cancel safety, in the three worlds (fibers, threads, async).
#![cfg(not(loom))]

mod common;

use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    BLOCKING, Manual, World, bounded, counting_waker, poll, run_async, run_blocking, scaled,
};
use proptest::prelude::*;
use spindle_sync::{LockFuture, Mutex, MutexGuard};

/// The critical section of the exclusion tests: a non-atomic
/// read-modify-write, plus a flag that catches two parties inside at once.
fn increment(guard: &mut MutexGuard<'_, u64>, inside: &AtomicBool) {
    assert!(!inside.swap(true, Ordering::Relaxed), "two owners at once");
    let value = **guard;
    std::hint::spin_loop();
    **guard = value + 1;
    inside.store(false, Ordering::Relaxed);
}

#[test]
fn mutual_exclusion_counts_every_increment_in_every_world() {
    const PARTIES: usize = 4;
    let rounds = scaled(20_000);
    for world in BLOCKING {
        let shared = Arc::new((Mutex::new(0_u64), AtomicBool::new(false)));
        let state = Arc::clone(&shared);
        run_blocking(world, PARTIES, move |_| {
            let (mutex, inside) = &*state;
            for _ in 0..rounds {
                increment(&mut mutex.lock(), inside);
            }
        });
        assert_eq!(*shared.0.lock(), (PARTIES * rounds) as u64, "{world:?}");
    }
    let shared = Arc::new((Mutex::new(0_u64), AtomicBool::new(false)));
    let state = Arc::clone(&shared);
    run_async(PARTIES, move |_| {
        let state = Arc::clone(&state);
        async move {
            let (mutex, inside) = &*state;
            for _ in 0..rounds {
                increment(&mut mutex.lock_async().await, inside);
            }
        }
    });
    assert_eq!(*shared.0.lock(), (PARTIES * rounds) as u64, "async");
}

#[test]
fn try_lock_fails_while_another_party_holds_it_and_succeeds_after() {
    for world in [World::Fibers, World::Threads, World::Async] {
        let mutex = Arc::new(Mutex::new(0));
        let try_in_world = |mutex: &Arc<Mutex<i32>>| -> bool {
            let mutex = Arc::clone(mutex);
            match world {
                World::Async => run_async(1, move |_| {
                    let mutex = Arc::clone(&mutex);
                    async move { mutex.try_lock().is_some() }
                })[0],
                _ => run_blocking(world, 1, move |_| mutex.try_lock().is_some())[0],
            }
        };
        let held = mutex.lock();
        assert!(!try_in_world(&mutex), "{world:?}: got a held lock");
        drop(held);
        assert!(try_in_world(&mutex), "{world:?}: free lock refused");
        assert!(!mutex.is_locked());
    }
}

#[test]
fn lock_timeout_expires_while_held_and_succeeds_once_released() {
    // No async world: a future has no timed form (race `lock_async`
    // against the runtime's timer; its cancel safety is tested below).
    for world in BLOCKING {
        let mutex = Arc::new(Mutex::new(0));
        let held = mutex.lock();
        let m = Arc::clone(&mutex);
        let waited = run_blocking(world, 1, move |_| {
            let start = Instant::now();
            assert!(m.lock_timeout(Duration::from_millis(30)).is_none());
            start.elapsed()
        });
        assert!(waited[0] >= Duration::from_millis(30), "{world:?}");
        assert!(mutex.is_locked(), "{world:?}: a timeout released the lock");

        let m = Arc::clone(&mutex);
        let got = thread::scope(|s| {
            s.spawn(move || {
                // A test about time: release while the other party waits.
                thread::sleep(Duration::from_millis(30));
                drop(held);
            });
            run_blocking(world, 1, move |_| {
                m.lock_timeout(Duration::from_secs(60)).map(|mut g| *g += 1)
            })
        });
        assert!(got[0].is_some(), "{world:?}");
        assert_eq!(*mutex.lock(), 1);
    }
}

/// The starvation test: a hog that locks and unlocks in a tight loop,
/// holding the lock for [`HOLD`] each time, until the waiter got it
/// [`ENOUGH`] times or [`WINDOW`] passed; and a waiter
/// that works [`AWAY`] outside the lock, then locks it, until the hog is
/// done. The hog's gap between unlock and relock is a few instructions, so
/// without the hand-off rule a woken waiter (or one spinning on arrival)
/// finds it held again about every time.
struct Starve {
    mutex: Mutex<()>,
    hog_done: AtomicBool,
    /// How often the waiter got the lock while the hog ran.
    acquired: AtomicUsize,
}

impl Starve {
    fn new() -> Arc<Self> {
        Arc::new(Starve {
            mutex: Mutex::new(()),
            hog_done: AtomicBool::new(false),
            acquired: AtomicUsize::new(0),
        })
    }

    /// Whether the hog, which started at `start`, has hogged long enough.
    fn hog_may_stop(&self, start: Instant) -> bool {
        start.elapsed() >= WINDOW || self.acquired.load(Ordering::SeqCst) >= ENOUGH
    }

    /// The waiter got the lock, having asked at `asked`: records the wait
    /// into `waits`, or returns `false` once the hog is done.
    fn got_it(&self, asked: Instant, waits: &mut Vec<Duration>) -> bool {
        if self.hog_done.load(Ordering::SeqCst) {
            return false;
        }
        waits.push(asked.elapsed());
        self.acquired.fetch_add(1, Ordering::SeqCst);
        true
    }
}

/// The hog stops once the waiter got the lock [`ENOUGH`] times, or after
/// this long (a starved waiter never gets there; a loaded machine only
/// slows a healthy one down).
const WINDOW: Duration = Duration::from_secs(3);
const ENOUGH: usize = 5;
const HOLD: Duration = Duration::from_micros(20);
const AWAY: Duration = Duration::from_micros(50);

fn busy(time: Duration) {
    let start = Instant::now();
    while start.elapsed() < time {
        std::hint::spin_loop();
    }
}

/// Returns `Pending` once, waking itself: back of the run queue.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Checks the waiter's waits (how long each `lock` took while the hog ran).
fn assert_not_starved(world: World, waits: &[Duration]) {
    let longest = waits.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{world:?}: the waiter got the lock {} times (the hog stops at {ENOUGH}), longest wait {longest:?}",
        waits.len()
    );
    assert!(
        waits.len() >= ENOUGH,
        "{world:?}: starved: {} acquisitions in {WINDOW:?}, longest wait {longest:?}",
        waits.len()
    );
}

#[test]
fn a_waiter_is_not_starved_by_a_hog_that_relocks_at_once() {
    for world in BLOCKING {
        let starve = Starve::new();
        let mut waits = run_blocking(world, 2, move |party| {
            let mut waits = Vec::new();
            if party == 0 {
                let start = Instant::now();
                loop {
                    let guard = starve.mutex.lock();
                    busy(HOLD);
                    let over = starve.hog_may_stop(start);
                    drop(guard);
                    if over {
                        break;
                    }
                }
                starve.hog_done.store(true, Ordering::SeqCst);
            } else {
                loop {
                    busy(AWAY);
                    let asked = Instant::now();
                    let _guard = starve.mutex.lock();
                    if !starve.got_it(asked, &mut waits) {
                        break;
                    }
                }
            }
            waits
        });
        assert_not_starved(world, &waits.pop().unwrap());
    }

    // Both async parties await in each round, the hog inside its critical
    // section: a task that never returns `Pending` keeps the task it wakes
    // (queued in its worker's next slot) from running at all, which is the
    // executor's business, not the mutex's.
    let starve = Starve::new();
    let mut waits = run_async(2, move |party| {
        let starve = Arc::clone(&starve);
        async move {
            let mut waits = Vec::new();
            if party == 0 {
                let start = Instant::now();
                loop {
                    let guard = starve.mutex.lock_async().await;
                    busy(HOLD);
                    yield_now().await;
                    let over = starve.hog_may_stop(start);
                    drop(guard);
                    if over {
                        break;
                    }
                }
                starve.hog_done.store(true, Ordering::SeqCst);
            } else {
                loop {
                    busy(AWAY);
                    yield_now().await;
                    let asked = Instant::now();
                    let _guard = starve.mutex.lock_async().await;
                    if !starve.got_it(asked, &mut waits) {
                        break;
                    }
                }
            }
            waits
        }
    });
    assert_not_starved(World::Async, &waits.pop().unwrap());
}

/// The hand-off rule, deterministically: a barger re-takes the lock every
/// time before the woken waiter runs; after 1 ms of lost races the waiter
/// must be handed the lock (the barger then finds it taken).
#[test]
fn a_woken_waiter_that_keeps_losing_is_handed_the_lock() {
    let mutex = Mutex::new(0);
    let (woken, waker) = counting_waker();
    let mut barger = mutex.lock();
    let mut waiter = pin!(mutex.lock_async());
    assert!(poll(waiter.as_mut(), &waker).is_pending());
    let start = Instant::now();
    let mut rounds = 0;
    let mut guard = loop {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "still starved after {rounds} lost races"
        );
        rounds += 1;
        drop(barger); // wakes the waiter...
        assert_eq!(
            woken.wakes(),
            rounds,
            "an unlock with a waiter must wake it"
        );
        match mutex.try_lock() {
            // ...but the barger is first, unless the waiter starved.
            Some(again) => barger = again,
            None => match poll(waiter.as_mut(), &waker) {
                Poll::Ready(guard) => break guard,
                Poll::Pending => panic!("the lock was handed over, but not to the waiter"),
            },
        }
        assert!(poll(waiter.as_mut(), &waker).is_pending());
    };
    let starved_for = start.elapsed();
    assert!(
        starved_for >= Duration::from_millis(1),
        "handed over too early"
    );
    *guard += 1;
    drop(guard);
    assert!(!mutex.is_locked());
}

#[test]
fn unlock_fair_hands_the_lock_to_the_first_waiter() {
    let mutex = Mutex::new(0);
    let held = mutex.lock();
    let (woken, waker) = counting_waker();
    let mut waiter = pin!(mutex.lock_async());
    assert!(poll(waiter.as_mut(), &waker).is_pending());
    MutexGuard::unlock_fair(held);
    assert_eq!(woken.wakes(), 1);
    // Handed over: still locked, and nobody can barge in.
    assert!(mutex.is_locked());
    assert!(mutex.try_lock().is_none());
    let Poll::Ready(mut guard) = poll(waiter.as_mut(), &waker) else {
        panic!("the waiter was handed the lock but did not get it");
    };
    *guard += 1;
    drop(guard);
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.lock(), 1);
}

/// Locks `mutex` by hand twice behind a held lock: B, then C, both queued.
fn queue_b_and_c(mutex: &Mutex<i32>) -> [Manual<LockFuture<'_, i32>>; 2] {
    let queued = [
        Manual::new(mutex.lock_async()),
        Manual::new(mutex.lock_async()),
    ];
    queued.map(|mut waiter| {
        assert!(waiter.poll().is_pending());
        waiter
    })
}

#[test]
fn a_dropped_woken_waiter_passes_the_wake_on() {
    let mutex = Mutex::new(0);
    let a = mutex.lock();
    let [b, mut c] = queue_b_and_c(&mutex);
    drop(a);
    assert_eq!((b.wakes(), c.wakes()), (1, 0), "B is first");
    drop(b); // woken, never polled again
    assert_eq!(c.wakes(), 1, "B's wake was not passed on to C");
    let Poll::Ready(mut guard) = c.poll() else {
        panic!("C was woken but cannot lock a free mutex");
    };
    *guard += 1;
    drop(guard);
    assert!(!mutex.is_locked());
}

#[test]
fn a_dropped_waiter_that_was_handed_the_lock_passes_it_on() {
    let mutex = Mutex::new(0);
    let a = mutex.lock();
    let [b, mut c] = queue_b_and_c(&mutex);
    MutexGuard::unlock_fair(a); // B owns the lock now
    assert!(mutex.is_locked());
    drop(b);
    assert_eq!(c.wakes(), 1, "B's lock was not passed on to C");
    assert!(c.poll().is_ready());
    drop(c);
    assert!(!mutex.is_locked());
    assert!(mutex.try_lock().is_some());
}

#[test]
fn a_dropped_queued_waiter_leaves_the_others_in_order() {
    let mutex = Mutex::new(());
    let a = mutex.lock();
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    let mut futures: Vec<_> = (0..3).map(|_| Box::pin(mutex.lock_async())).collect();
    for (future, (_, waker)) in futures.iter_mut().zip(&wakers) {
        assert!(poll(future.as_mut(), waker).is_pending());
    }
    let last = futures.pop().unwrap();
    let first = futures.remove(0);
    drop(first); // queued, not woken: just leaves
    drop(a);
    let woken: Vec<_> = wakers.iter().map(|(counter, _)| counter.wakes()).collect();
    assert_eq!(woken, [0, 1, 0], "the middle waiter is now first");
    let Poll::Ready(guard) = poll(futures[0].as_mut(), &wakers[1].1) else {
        panic!("woken on a free lock, but could not take it");
    };
    drop(guard);
    assert_eq!(wakers[2].0.wakes(), 1);
    drop(last); // woken, dropped: passes on to nobody
    assert!(!mutex.is_locked());
    assert!(mutex.try_lock().is_some());
}

/// One party's script: for each lock attempt, how many times to poll its
/// future by hand, then whether to finish it (`block_on`) or drop it.
type Plan = Vec<(u8, bool)>;

fn run_plan(mutex: &Mutex<u64>, plan: &Plan) -> u64 {
    let (_, waker) = counting_waker();
    let mut completed = 0;
    for &(polls, finish) in plan {
        let mut future: Pin<Box<LockFuture<'_, u64>>> = Box::pin(mutex.lock_async());
        let mut guard = None;
        for _ in 0..polls {
            if let Poll::Ready(got) = poll(future.as_mut(), &waker) {
                guard = Some(got);
                break;
            }
            thread::yield_now();
        }
        if guard.is_none() && finish {
            guard = Some(spindle_exec::block_on(future.as_mut()));
        }
        drop(future); // pending here means cancelled
        if let Some(mut guard) = guard {
            let value = *guard;
            thread::yield_now();
            *guard = value + 1;
            completed += 1;
        }
    }
    completed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Parties lock with futures polled a random number of times and
    /// dropped at random points; every completed critical section counts
    /// once, and the mutex ends unlocked and usable. A lost wake hangs a
    /// `block_on` (and fails through `bounded`).
    #[test]
    fn lock_futures_dropped_at_random_points_lose_nothing(
        plans in prop::collection::vec(
            prop::collection::vec((0_u8..4, any::<bool>()), 1..12),
            3,
        )
    ) {
        let (completed, mutex) = bounded("proptest case", move || {
            let mutex = Arc::new(Mutex::new(0_u64));
            let parties: Vec<_> = plans
                .into_iter()
                .map(|plan| {
                    let mutex = Arc::clone(&mutex);
                    thread::spawn(move || run_plan(&mutex, &plan))
                })
                .collect();
            let completed: u64 = parties.into_iter().map(|p| p.join().unwrap()).sum();
            (completed, mutex)
        });
        prop_assert!(!mutex.is_locked());
        let guard = mutex.try_lock();
        prop_assert!(guard.is_some(), "the mutex is not usable");
        prop_assert_eq!(*guard.unwrap(), completed);
    }
}

#[test]
fn api_basics() {
    let mut mutex = Mutex::from(vec![1]);
    mutex.get_mut().push(2);
    assert_eq!(format!("{mutex:?}"), "Mutex { data: [1, 2], .. }");
    let guard = mutex.lock();
    assert_eq!(format!("{guard:?}"), "[1, 2]");
    assert_eq!(format!("{mutex:?}"), "Mutex { data: <locked>, .. }");
    drop(guard);
    assert_eq!(mutex.into_inner(), [1, 2]);
    assert_eq!(*Mutex::<u8>::default().lock(), 0);
    let unsized_: &Mutex<[u8]> = &Mutex::new([1, 2, 3]);
    assert_eq!(unsized_.lock().len(), 3);
}

/// Compiles only if `T` does *not* implement the trait that `Marker`
/// stands for: with it, the two impls make the call ambiguous.
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

trait AmbiguousIfSync<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

#[test]
fn send_and_sync_follow_the_value() {
    use std::cell::Cell;
    use std::rc::Rc;

    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    // A mutex makes a `Send` value shareable.
    send::<Mutex<Cell<u8>>>();
    sync::<Mutex<Cell<u8>>>();
    // The guard is `Send` (held across `.await` in `Send` futures, like
    // tokio's), `Sync` when the value is `Sync` too.
    send::<MutexGuard<'static, u8>>();
    sync::<MutexGuard<'static, u8>>();
    send::<MutexGuard<'static, Cell<u8>>>();
    <MutexGuard<'static, Cell<u8>> as AmbiguousIfSync<_>>::check();
    send::<LockFuture<'static, u8>>();
    // Nothing makes a `!Send` value cross threads.
    <Mutex<Rc<u8>> as AmbiguousIfSend<_>>::check();
    <Mutex<Rc<u8>> as AmbiguousIfSync<_>>::check();
    <MutexGuard<'static, Rc<u8>> as AmbiguousIfSend<_>>::check();
    <LockFuture<'static, Rc<u8>> as AmbiguousIfSend<_>>::check();
}
