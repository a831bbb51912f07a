//! Fibers on every executor: spawn, join, panics, yield, park, wait,
//! pinning, fiber-locals, shutdown.

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use spindle_exec::{
    ComputePool, Executor, Hint, ManualExecutor, Spawner, StealPool, TaskRef, spawn, wait,
    with_current_task,
};
use spindle_fiber::{Builder, current, fiber_local, is_fiber, park, yield_now};

/// Long enough for any healthy run on a loaded CI machine; a lost wake-up
/// hangs for ever instead.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `f` on a helper thread and fails the test if it does not finish
/// within [`TIMEOUT`] (a hang would otherwise hang the whole run).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("{what}: not done in {TIMEOUT:?} (lost wake-up?)"))
}

/// A fiber spawned on `spawner` that yields, waits for an async task and a
/// fiber, and reports where it ran.
fn exercise<S: Spawner + ?Sized>(spawner: &S)
where
    S::Handle: Spawner + Send + Sync,
{
    let handle = spawner.handle();
    let fiber = spindle_fiber::spawn(spawner, move || {
        assert!(is_fiber());
        let task = spawn(&handle, async { 20 });
        let inner = spindle_fiber::spawn(&handle, || {
            yield_now();
            1
        });
        yield_now();
        wait(task).unwrap() + wait(inner).unwrap() * 2
    });
    let task = spawn(spawner, async { 3 });
    assert_eq!(wait(fiber).unwrap(), 22);
    assert_eq!(wait(task).unwrap(), 3);
}

#[test]
fn fibers_and_tasks_run_on_the_steal_pool() {
    let pool = StealPool::new(2).unwrap();
    bounded("steal pool", move || exercise(&pool));
}

#[test]
fn fibers_and_tasks_run_on_the_compute_pool() {
    let pool = ComputePool::new(2).unwrap();
    bounded("compute pool", move || exercise(&pool));
}

#[test]
fn fibers_and_tasks_run_on_the_manual_executor() {
    let executor = ManualExecutor::new();
    let fiber = spindle_fiber::spawn(&executor, || {
        yield_now();
        "done"
    });
    let task = spawn(&executor, async { 1 });
    assert_eq!(
        executor.run_all(),
        3,
        "fiber twice (it yielded once), task once"
    );
    assert_eq!(fiber.join().unwrap(), "done");
    assert_eq!(task.join().unwrap(), 1);
}

/// A user's own executor: one thread and a channel of tasks.
struct OneThread {
    tx: Mutex<mpsc::Sender<TaskRef>>,
}

impl OneThread {
    fn start() -> Arc<OneThread> {
        let (tx, rx) = mpsc::channel::<TaskRef>();
        thread::spawn(move || {
            for task in rx {
                task.run();
            }
        });
        Arc::new(OneThread { tx: Mutex::new(tx) })
    }
}

impl Executor for OneThread {
    fn submit(&self, task: TaskRef, _hint: Hint) {
        if let Err(refused) = self.tx.lock().unwrap().send(task) {
            refused.0.cancel();
        }
    }
}

#[test]
fn fibers_run_on_a_users_own_executor() {
    let executor = OneThread::start();
    bounded("own executor", move || exercise(&executor));
}

/// An executor that runs every task on a thread of its own: it cannot keep
/// a pinned fiber on one thread.
struct NewThreadEach;

impl Executor for NewThreadEach {
    fn submit(&self, task: TaskRef, _hint: Hint) {
        thread::spawn(move || task.run());
    }
}

#[test]
fn a_pinned_fiber_is_never_resumed_on_another_thread() {
    // A static, not an `Arc`: the fiber is leaked with its frames (by
    // design), and a leak checker would report what they hold.
    static RESUMED_ELSEWHERE: AtomicBool = AtomicBool::new(false);
    let executor = Arc::new(NewThreadEach);
    let fiber = spindle_fiber::spawn(&executor, || {
        let home = thread::current().id();
        yield_now();
        // Never reached: the next run is on a new thread.
        RESUMED_ELSEWHERE.store(thread::current().id() != home, Ordering::SeqCst);
    });
    let error = bounded("new thread each", move || fiber.join().unwrap_err());
    assert!(error.is_panic());
    let message = error.to_string();
    assert!(
        message.contains("pinned fiber was run on another thread"),
        "{message}"
    );
    assert!(!RESUMED_ELSEWHERE.load(Ordering::SeqCst));
}

/// Parks and is woken from outside `rounds` times, recording the threads it
/// ran on.
fn hop_around(rounds: usize) -> HashSet<ThreadId> {
    let mut threads = HashSet::from([thread::current().id()]);
    for _ in 0..rounds {
        let waker = spindle_fiber::current_waker();
        let woken = Arc::new(AtomicBool::new(false));
        let flag = woken.clone();
        thread::spawn(move || {
            flag.store(true, Ordering::Release);
            waker.wake();
        });
        while !woken.load(Ordering::Acquire) {
            park();
        }
        threads.insert(thread::current().id());
    }
    threads
}

#[test]
fn pinned_fibers_stay_on_one_thread_under_load_and_movable_ones_move() {
    let pool = StealPool::new(2).unwrap();
    bounded("pinning", move || {
        // Load on both workers: spinning tasks that yield.
        let stop = Arc::new(AtomicBool::new(false));
        let load: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                spindle_fiber::spawn(&pool, move || {
                    while !stop.load(Ordering::Relaxed) {
                        yield_now();
                    }
                })
            })
            .collect();
        let pinned: Vec<_> = (0..16)
            .map(|_| spindle_fiber::spawn(&pool, || hop_around(50)))
            .collect();
        for fiber in pinned {
            let threads = fiber.join().unwrap();
            assert_eq!(threads.len(), 1, "a pinned fiber ran on {threads:?}");
        }
        // Movable fibers are woken from outside into the shared queue,
        // which either worker takes from: over many hops, some move.
        let mut moved = 0;
        for _ in 0..10 {
            let movable: Vec<_> = (0..16)
                .map(|_| {
                    // SAFETY: `hop_around` holds no thread-local and no
                    // `!Send` value across a suspension.
                    unsafe { Builder::new().movable() }
                        .spawn(&pool, || hop_around(50))
                        .unwrap()
                })
                .collect();
            moved += movable
                .into_iter()
                .map(|fiber| fiber.join().unwrap().len())
                .filter(|&threads| threads > 1)
                .count();
            if moved > 0 {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for fiber in load {
            fiber.join().unwrap();
        }
        assert!(moved > 0, "no movable fiber ever changed threads");
    });
}

#[test]
fn pinned_fibers_spawned_in_a_burst_spread_over_the_workers() {
    // A root fiber spawns fibers that keep yielding, in a burst. Each
    // starts (and stays) wherever it is first run: without the pool's
    // balancing most would start on the root's worker, which runs them
    // while the other only gets what it steals.
    const FIBERS: usize = 400;
    let pool = StealPool::new(2).unwrap();
    bounded("balance", move || {
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let handle = pool.handle();
        let fibers = {
            let (release, started) = (release.clone(), started.clone());
            spindle_fiber::spawn(&pool, move || {
                (0..FIBERS)
                    .map(|_| {
                        let (release, started) = (release.clone(), started.clone());
                        let handle = handle.clone();
                        spindle_fiber::spawn(&handle.clone(), move || {
                            let worker = handle.worker_index().unwrap();
                            started.fetch_add(1, Ordering::Relaxed);
                            while !release.load(Ordering::Relaxed) {
                                yield_now();
                            }
                            worker
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .join()
            .unwrap()
        };
        // Every fiber has started before any ends.
        while started.load(Ordering::Relaxed) < FIBERS {
            thread::sleep(Duration::from_millis(1));
        }
        release.store(true, Ordering::Relaxed);
        let mut per_worker = [0; 2];
        for fiber in fibers {
            per_worker[fiber.join().unwrap()] += 1;
        }
        assert!(
            per_worker.iter().all(|&n| n >= FIBERS * 3 / 8),
            "fibers per worker: {per_worker:?}"
        );
        assert_eq!(pool.metrics().pinned_depth, 0);
    });
}

#[test]
fn a_fiber_dropped_while_suspended_unwinds_as_itself() {
    // A parked fiber cancelled by another fiber: the destructors on its
    // stack run as part of it (its name, its fiber-locals), not of the
    // fiber that cancelled it; its waker does nothing, and waiting
    // suspends nothing (it would block the thread: here it is ready).
    fiber_local! {
        static TAG: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    struct Report(mpsc::Sender<(Option<String>, u32)>);
    impl Drop for Report {
        fn drop(&mut self) {
            let name = current().and_then(|fiber| fiber.name().map(str::to_owned));
            spindle_fiber::current_waker().wake();
            assert_eq!(wait(std::future::ready(5)), 5);
            self.0.send((name, TAG.with(|tag| tag.get()))).unwrap();
        }
    }
    let executor = ManualExecutor::new();
    let (tx, rx) = mpsc::channel();
    let victim = Builder::new()
        .name("victim")
        .spawn(&executor, move || {
            TAG.with(|tag| tag.set(7));
            let _report = Report(tx);
            loop {
                park();
            }
        })
        .unwrap();
    executor.run_all();
    let killer = Builder::new()
        .name("killer")
        .spawn(&executor, move || {
            TAG.with(|tag| tag.set(1));
            victim.abort();
            assert!(victim.join().unwrap_err().is_cancelled());
        })
        .unwrap();
    executor.run_all();
    killer.join().unwrap();
    assert_eq!(rx.recv().unwrap(), (Some("victim".to_owned()), 7));
}

#[test]
fn a_fiber_dropped_while_waiting_drops_its_future_then_its_frames() {
    // Suspended in `wait`, whose switch returns straight into the fiber's
    // own frame (`Blocker::suspension`): cancelling the fiber unwinds from
    // there, dropping the future it waited for, then what its frames hold.
    struct Flag(mpsc::Sender<&'static str>, &'static str);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.send(self.1).unwrap();
        }
    }
    let executor = ManualExecutor::new();
    let (tx, rx) = mpsc::channel();
    let victim = spindle_fiber::spawn(&executor, move || {
        let _frame = Flag(tx.clone(), "frame");
        let flag = Flag(tx, "future");
        wait(async move {
            std::future::pending::<()>().await;
            drop(flag);
        });
        unreachable!("the future never completes");
    });
    executor.run_all();
    assert!(rx.try_recv().is_err(), "nothing is dropped while it waits");
    victim.abort();
    executor.run_all();
    assert!(victim.join().unwrap_err().is_cancelled());
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["future", "frame"]);
}

#[test]
fn a_panic_reaches_the_joiner_with_its_payload() {
    let pool = StealPool::new(2).unwrap();
    let fiber = spindle_fiber::spawn(&pool, || {
        yield_now();
        panic::panic_any(42_u32);
    });
    let error = fiber.join().unwrap_err();
    assert!(error.is_panic());
    assert_eq!(error.into_panic().downcast_ref::<u32>(), Some(&42));
    // The pool is fine afterwards.
    assert_eq!(spindle_fiber::spawn(&pool, || 5).join().unwrap(), 5);
}

#[test]
fn wait_suspends_only_the_fiber() {
    // One worker: if `wait` blocked the thread, the fiber that sets what
    // the first one waits for could never run.
    let pool = StealPool::new(1).unwrap();
    bounded("wait on one worker", move || {
        let handle = pool.handle();
        let first = spindle_fiber::spawn(&pool, move || {
            let (tx, rx) = mpsc::sync_channel::<u32>(1);
            let second = spindle_fiber::spawn(&handle, move || {
                tx.send(7).unwrap();
                yield_now();
                8
            });
            let eight = wait(second).unwrap();
            rx.recv().unwrap() + eight
        });
        assert_eq!(first.join().unwrap(), 15);
    });
}

#[test]
fn park_and_unpark_lose_no_wake_up_in_a_million_races() {
    // Two fibers on two workers hand a token back and forth, each parking
    // until the other wakes it: every hand-off is a race between a park
    // and an unpark on different threads. Emulated and sanitized CI runs
    // divide the count (SPINDLE_STRESS_DIVISOR); the native run does all.
    let divisor: usize = std::env::var("SPINDLE_STRESS_DIVISOR")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(1);
    let handoffs = 1_000_000 / divisor.max(1);
    let pool = StealPool::new(2).unwrap();
    bounded("park/unpark races", move || {
        let turn = Arc::new(AtomicUsize::new(0));
        let wakers: Arc<[Mutex<Option<std::task::Waker>>; 2]> =
            Arc::new([Mutex::new(None), Mutex::new(None)]);
        let registered = Arc::new(AtomicUsize::new(0));
        let players: Vec<_> = (0..2)
            .map(|me| {
                let (turn, wakers, registered) = (turn.clone(), wakers.clone(), registered.clone());
                spindle_fiber::spawn(&pool, move || {
                    *wakers[me].lock().unwrap() = Some(spindle_fiber::current_waker());
                    registered.fetch_add(1, Ordering::AcqRel);
                    while registered.load(Ordering::Acquire) < 2 {
                        yield_now();
                    }
                    let other = wakers[1 - me].lock().unwrap().clone().unwrap();
                    let mut parks = 0_usize;
                    loop {
                        let t = turn.load(Ordering::Acquire);
                        if t >= handoffs {
                            other.wake_by_ref();
                            return parks;
                        }
                        if t % 2 == me {
                            turn.store(t + 1, Ordering::Release);
                            other.wake_by_ref();
                        } else {
                            park();
                            parks += 1;
                        }
                    }
                })
            })
            .collect();
        let parks: usize = players.into_iter().map(|p| p.join().unwrap()).sum();
        assert_eq!(turn.load(Ordering::Acquire), handoffs);
        eprintln!("{handoffs} hand-offs, {parks} parks");
    });
}

#[test]
fn fiber_locals_belong_to_their_fiber_and_end_with_it() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fiber_local! {
        static NAME: RefCell<String> = RefCell::new(String::new());
        static DROPS: RefCell<Option<Counted>> = const { RefCell::new(None) };
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let executor = ManualExecutor::new();
    let fibers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            let dropped = dropped.clone();
            spindle_fiber::spawn(&executor, move || {
                NAME.with(|n| n.borrow_mut().push_str(name));
                DROPS.with(|d| *d.borrow_mut() = Some(Counted(dropped)));
                yield_now();
                NAME.with(|n| n.borrow_mut().push_str(name));
                yield_now();
                NAME.with(|n| n.borrow().clone())
            })
        })
        .collect();
    // Outside a fiber: the thread's own value.
    NAME.with(|n| n.borrow_mut().push_str("main"));
    executor.run_all();
    let names: Vec<_> = fibers.into_iter().map(|f| f.join().unwrap()).collect();
    assert_eq!(names, ["aa", "bb", "cc"]);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "each fiber's values dropped as it ended"
    );
    NAME.with(|n| assert_eq!(*n.borrow(), "main"));
}

#[test]
fn current_names_the_fiber_and_matches_its_task() {
    let executor = ManualExecutor::new();
    let fiber = Builder::new()
        .name("worker-7")
        .spawn(&executor, || {
            let me = current().expect("on a fiber");
            let task_id = with_current_task(|t| t.unwrap().id());
            (me.id() == task_id, me.name().map(str::to_owned))
        })
        .unwrap();
    executor.run_all();
    assert_eq!(fiber.join().unwrap(), (true, Some("worker-7".to_owned())));
    assert!(current().is_none());
    assert!(!is_fiber());
}

#[test]
fn a_bad_stack_size_is_an_error_not_a_panic() {
    let executor = ManualExecutor::new();
    let error = Builder::new()
        .stack_size(1 << 62)
        .spawn(&executor, || ())
        .unwrap_err();
    assert!(
        error.to_string().starts_with("no stack for the fiber"),
        "{error}"
    );
    assert_eq!(executor.len(), 0);
}

#[test]
fn shutdown_runs_queued_fibers_and_cancels_parked_ones() {
    let pool = StealPool::new(1).unwrap();
    let waker = Arc::new(Mutex::new(None));
    let slot = waker.clone();
    let parked = spindle_fiber::spawn(&pool, move || {
        *slot.lock().unwrap() = Some(spindle_fiber::current_waker());
        // Holds nothing on the heap while parked: it will be leaked.
        drop(slot);
        park();
        unreachable!("woken only after the pool shut down");
    });
    while waker.lock().unwrap().is_none() {
        thread::yield_now();
    }
    // Queued behind a blocker: the pool drains its queues before it exits.
    let (release, blocked) = mpsc::channel::<()>();
    let blocker = spindle_fiber::spawn(&pool, move || blocked.recv().unwrap());
    let queued: Vec<_> = (0..10)
        .map(|i| spindle_fiber::spawn(&pool, move || i))
        .collect();
    let closing = thread::spawn({
        let pool = pool.clone();
        move || pool.shutdown().unwrap()
    });
    drop(pool);
    release.send(()).unwrap();
    closing.join().unwrap();
    blocker.join().unwrap();
    let sum: i32 = queued.into_iter().map(|f| f.join().unwrap()).sum();
    assert_eq!(sum, 45);
    // The parked fiber is woken now that the pool is closed: it is
    // cancelled (and, woken on a thread not its own, leaked unharmed).
    waker.lock().unwrap().take().unwrap().wake();
    assert!(parked.join().unwrap_err().is_cancelled());
}

#[test]
fn a_fiber_local_initializer_may_use_its_own_key_and_others() {
    // The first initializer uses its own key, so a second one runs inside
    // it and wins (as with `thread_local!`); the first one's value is then
    // dropped, and its destructor uses a key not used yet: the locals grow
    // while the loser is dropped, which must not disturb the value handed
    // out.
    static INITS: AtomicUsize = AtomicUsize::new(0);
    struct UsesAnotherKey(usize);
    impl Drop for UsesAnotherKey {
        fn drop(&mut self) {
            LATER.with(|later| later.set(later.get() + self.0));
        }
    }
    fiber_local! {
        static SELF_INIT: UsesAnotherKey = {
            if INITS.fetch_add(1, Ordering::SeqCst) == 0 {
                let inner = SELF_INIT.with(|v| v.0);
                UsesAnotherKey(inner + 100)
            } else {
                UsesAnotherKey(7)
            }
        };
        static LATER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let executor = ManualExecutor::new();
    let fiber = spindle_fiber::spawn(&executor, || {
        let seen = SELF_INIT.with(|v| v.0);
        (seen, LATER.with(std::cell::Cell::get))
    });
    executor.run_all();
    let (seen, later) = fiber.join().unwrap();
    assert_eq!(seen, 7, "the inner initializer's value is kept");
    assert_eq!(
        later, 107,
        "the outer value was dropped once, using another key"
    );
}
