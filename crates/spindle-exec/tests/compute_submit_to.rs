//! `ComputePool`: tasks sent to one worker (`worker_index`, `submit_to`).
//!
//! Tasks here are raw [`Task`]s with a closure (see `task`), so these tests
//! depend on nothing but the pool and the task protocol. Waits are bounded
//! by `TIMEOUT` and only there to turn a hang into a failure.

use spindle_exec::{
    ComputeHandle, ComputePool, Executor, Hint, Spawner, SubmitToError, Task, TaskRef, TaskVTable,
};
use std::collections::HashSet;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, ThreadId};

mod common;
use common::{Countdown, Rng, TIMEOUT, blocker, task, task_with_cancel};

// ---------------------------------------------------------------- submit_to

/// What a task sent to a worker saw when it ran.
#[derive(Debug)]
struct Landing {
    sent_to: usize,
    thread: ThreadId,
    name: Option<String>,
    index: Option<usize>,
}

/// A task for worker `sent_to` that records where it ran into `log`.
fn landing(
    pool: ComputeHandle,
    sent_to: usize,
    log: &Arc<Mutex<Vec<Landing>>>,
    done: &Arc<Countdown>,
) -> TaskRef {
    let (log, done) = (log.clone(), done.clone());
    task(move || {
        let me = thread::current();
        log.lock().unwrap().push(Landing {
            sent_to,
            thread: me.id(),
            name: me.name().map(str::to_owned),
            index: pool.worker_index(),
        });
        done.hit();
    })
}

/// Checks that every task in `log` ran on the worker it was sent to, and
/// that the workers are `threads` distinct threads named `<prefix>-<i>`.
fn assert_landed_where_sent(log: &[Landing], prefix: &str, threads: usize) {
    let mut thread_of = vec![None; threads];
    for landing in log {
        let expected = format!("{prefix}-{}", landing.sent_to);
        assert_eq!(landing.name.as_deref(), Some(&*expected), "{landing:?}");
        assert_eq!(landing.index, Some(landing.sent_to), "{landing:?}");
        let first = *thread_of[landing.sent_to].get_or_insert(landing.thread);
        assert_eq!(
            first, landing.thread,
            "worker {} ran on two threads",
            landing.sent_to
        );
    }
    let distinct: HashSet<_> = thread_of.iter().flatten().collect();
    assert_eq!(distinct.len(), thread_of.iter().flatten().count());
}

#[test]
fn worker_index_is_known_only_on_this_pools_workers() {
    let pool = ComputePool::builder()
        .threads(3)
        .name("wi")
        .build()
        .unwrap();
    let other = ComputePool::new(1).unwrap();
    let handle: Arc<dyn Executor> = Arc::new(pool.handle());
    assert_eq!(pool.worker_index(), None);
    assert_eq!(handle.worker_index(), None);
    let (tx, rx) = mpsc::channel();
    let (p, h) = (pool.clone(), handle.clone());
    other.submit(
        task(move || tx.send((p.worker_index(), h.worker_index())).unwrap()),
        Hint::Back,
    );
    assert_eq!(
        rx.recv_timeout(TIMEOUT).unwrap(),
        (None, None),
        "another pool's worker is not one of ours"
    );
    for worker in 0..3 {
        let (tx, rx) = mpsc::channel();
        let (p, h) = (pool.clone(), handle.clone());
        pool.submit_to(
            worker,
            task(move || {
                let name = thread::current().name().unwrap().to_owned();
                tx.send((name, p.worker_index(), h.worker_index())).unwrap()
            }),
            Hint::Back,
        )
        .unwrap();
        let (name, index, via_handle) = rx.recv_timeout(TIMEOUT).unwrap();
        assert_eq!(name, format!("wi-{worker}"));
        assert_eq!((index, via_handle), (Some(worker), Some(worker)));
    }
}

#[test]
fn submit_to_lands_on_that_worker_and_no_other() {
    // Pinned tasks are sent from outside threads and from tasks on other
    // workers, with every hint, while shared tasks keep all workers busy
    // (any of them would take a pinned task if it could).
    const THREADS: usize = 4;
    const OUTSIDE: usize = 3;
    const PER_OUTSIDE: usize = 1_000;
    const LOAD: usize = 2_000;
    let (rng, seed) = Rng::from_env();
    let pool = ComputePool::builder()
        .threads(THREADS)
        .name("land")
        .build()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let done = Countdown::new(OUTSIDE * PER_OUTSIDE + 2 * LOAD);
    thread::scope(|s| {
        let (pool, log, done) = (&pool, &log, &done);
        // The load: shared tasks that spin a little and each send one
        // pinned task from whichever worker runs them.
        s.spawn(move || {
            let mut rng = Rng::with_seed(seed.wrapping_mul(3));
            for _ in 0..LOAD {
                let to = rng.below(THREADS as u64) as usize;
                let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
                let (handle, child, done) = (
                    pool.handle(),
                    landing(pool.handle(), to, log, done),
                    done.clone(),
                );
                pool.submit(
                    task(move || {
                        for i in 0..1_000 {
                            std::hint::black_box(i);
                        }
                        handle.submit_to(to, child, hint).unwrap();
                        done.hit();
                    }),
                    Hint::Back,
                );
            }
        });
        for submitter in 0..OUTSIDE {
            let mut rng = Rng::with_seed(rng.state().wrapping_add(submitter as u64 + 1));
            s.spawn(move || {
                for _ in 0..PER_OUTSIDE {
                    let to = rng.below(THREADS as u64) as usize;
                    let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
                    pool.submit_to(to, landing(pool.handle(), to, log, done), hint)
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(done.wait(), OUTSIDE * PER_OUTSIDE + 2 * LOAD, "seed {seed}");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), OUTSIDE * PER_OUTSIDE + LOAD);
    assert_landed_where_sent(&log, "land", THREADS);
}

/// A task node that resubmits *itself* to the worker it first ran on, as
/// a pinned fiber's waker does: from that worker (with each hint) or from
/// another thread.
#[repr(C)]
struct Hopper {
    task: Task,
    pool: ComputeHandle,
    /// Where it first ran.
    home: OnceLock<usize>,
    hops_left: AtomicUsize,
    rng: Mutex<Rng>,
    /// An outside thread that resubmits what it receives.
    remote: Sender<(usize, TaskRef)>,
    threads: Arc<Mutex<HashSet<ThreadId>>>,
    done: Arc<Countdown>,
}

static HOPPER_VTABLE: TaskVTable = TaskVTable {
    run: hop,
    cancel: hopper_cancelled,
};

/// # Safety
/// `task` is the `task` field of a `Hopper` leaked by `hopper`, not run or
/// cancelled since it was last submitted.
unsafe fn hop(task: NonNull<Task>) {
    // SAFETY: `task` is the first field of a `#[repr(C)]` `Hopper` that
    // `hopper` leaked; it is freed only by its last hop or a cancel, and
    // this run has the only right to it until it resubmits it.
    let hopper = unsafe { &*task.as_ptr().cast::<Hopper>() };
    let here = hopper
        .pool
        .worker_index()
        .expect("a hop ran off the workers");
    let home = *hopper.home.get_or_init(|| here);
    hopper
        .threads
        .lock()
        .unwrap()
        .insert(thread::current().id());
    if hopper.hops_left.fetch_sub(1, Ordering::SeqCst) == 0 {
        let done = hopper.done.clone();
        // SAFETY: as above; this was the last hop, so no `TaskRef` to it
        // is left.
        drop(unsafe { Box::from_raw(task.as_ptr().cast::<Hopper>()) });
        done.hit();
        return;
    }
    let way = hopper.rng.lock().unwrap().below(4);
    // Nothing of the node is touched once it is resubmitted: an inline
    // run may take its last hop and free it before `submit_to` returns.
    let (pool, remote) = (hopper.pool.clone(), hopper.remote.clone());
    // SAFETY: the node stays put until its last hop frees it; the right to
    // run it passes from this run to the new `TaskRef`; `hop` and
    // `hopper_cancelled` may run on any thread.
    let me = unsafe { TaskRef::from_raw(task) };
    match way {
        0 => pool.submit_to(home, me, Hint::Next).unwrap(),
        1 => pool.submit_to(home, me, Hint::Back).unwrap(),
        2 => pool.submit_to(home, me, Hint::Inline).unwrap(),
        _ => remote.send((home, me)).unwrap(),
    }
}

/// # Safety
/// As `hop`.
unsafe fn hopper_cancelled(task: NonNull<Task>) {
    // SAFETY: as in `hop`.
    drop(unsafe { Box::from_raw(task.as_ptr().cast::<Hopper>()) });
    panic!("a hopper was cancelled");
}

fn hopper(
    pool: &ComputePool,
    hops: usize,
    seed: u64,
    remote: &Sender<(usize, TaskRef)>,
    done: &Arc<Countdown>,
) -> (TaskRef, Arc<Mutex<HashSet<ThreadId>>>) {
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let node = Box::new(Hopper {
        task: Task::new(&HOPPER_VTABLE),
        pool: pool.handle(),
        home: OnceLock::new(),
        hops_left: AtomicUsize::new(hops),
        rng: Mutex::new(Rng::with_seed(seed)),
        remote: remote.clone(),
        threads: threads.clone(),
        done: done.clone(),
    });
    let node = NonNull::from(Box::leak(node)).cast::<Task>();
    // SAFETY: the box is not moved, and freed only by the last hop or a
    // cancel; this is the only `TaskRef` to it; the vtable functions may
    // run on any thread.
    (unsafe { TaskRef::from_raw(node) }, threads)
}

#[test]
fn a_task_resubmitting_itself_to_its_worker_stays_on_one_thread() {
    const HOPPERS: usize = 8;
    const HOPS: usize = 2_000;
    let (mut rng, seed) = Rng::from_env();
    let pool = ComputePool::new(4).unwrap();
    let done = Countdown::new(HOPPERS);
    let (remote, inbox) = mpsc::channel::<(usize, TaskRef)>();
    let waker = {
        let pool = pool.clone();
        thread::spawn(move || {
            // Ends when every sender (the test's and the hoppers') is gone.
            for (home, task) in inbox {
                let hint = if home % 2 == 0 {
                    Hint::Back
                } else {
                    Hint::Next
                };
                pool.submit_to(home, task, hint).unwrap();
            }
        })
    };
    // Shared work meanwhile, so idle workers are around to take a hop.
    let load = Countdown::new(HOPPERS * 100);
    let mut seen = Vec::new();
    for _ in 0..HOPPERS {
        // First submitted to the shared queue: home is wherever it lands.
        let (node, threads) = hopper(&pool, HOPS, rng.next(), &remote, &done);
        pool.submit(node, Hint::Back);
        seen.push(threads);
        for _ in 0..100 {
            let load = load.clone();
            pool.submit(task(move || load.hit()), Hint::Back);
        }
    }
    drop(remote);
    assert_eq!(done.wait(), HOPPERS, "seed {seed}");
    assert_eq!(load.wait(), HOPPERS * 100);
    for threads in &seen {
        assert_eq!(
            threads.lock().unwrap().len(),
            1,
            "seed {seed}: a hopper moved"
        );
    }
    assert_eq!(pool.panic_count(), 0);
    pool.shutdown().unwrap();
    waker.join().unwrap();
}

#[test]
fn submit_to_an_unknown_worker_hands_the_task_back() {
    let pool = ComputePool::new(3).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let executors: [Arc<dyn Executor>; 2] = [Arc::new(pool.clone()), Arc::new(pool.handle())];
    for (executor, worker) in executors.iter().zip([3, usize::MAX]) {
        let flag = ran.clone();
        let err: SubmitToError = executor
            .submit_to(
                worker,
                task(move || _ = flag.fetch_add(1, Ordering::SeqCst)),
                Hint::Back,
            )
            .unwrap_err();
        assert_eq!((err.worker(), err.workers()), (worker, 3));
        assert_eq!(
            err.to_string(),
            format!("no worker {worker} in an executor of 3 workers")
        );
        assert!(format!("{err:?}").contains("workers: 3"));
        err.into_task().run();
    }
    assert_eq!(ran.load(Ordering::SeqCst), 2, "the tasks came back unrun");
    assert_eq!(pool.queued(), 0);
}

#[test]
fn pinned_next_runs_before_pinned_back_and_waits_for_its_worker() {
    // Worker 1 is blocked; worker 0 is idle and would run the queued
    // tasks at once if they were not pinned.
    let pool = ComputePool::builder()
        .threads(2)
        .name("order")
        .build()
        .unwrap();
    let (block, started, release) = blocker(|| {});
    pool.submit_to(1, block, Hint::Back).unwrap();
    started.recv_timeout(TIMEOUT).unwrap();

    let order = Arc::new(Mutex::new(Vec::new()));
    let done = Countdown::new(5);
    for (name, hint) in [
        ("back 1", Hint::Back),
        ("next 1", Hint::Next),
        ("back 2", Hint::Back),
        ("next 2", Hint::Next),
        ("inline", Hint::Inline),
    ] {
        let (order, done) = (order.clone(), done.clone());
        pool.submit_to(
            1,
            task(move || {
                order
                    .lock()
                    .unwrap()
                    .push((name, thread::current().name().map(str::to_owned)));
                done.hit();
            }),
            hint,
        )
        .unwrap();
    }
    // Worker 0 runs a shared task meanwhile, so it is surely awake.
    let (tx, rx) = mpsc::channel();
    pool.submit(task(move || tx.send(()).unwrap()), Hint::Back);
    rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(done.count(), 0, "a pinned task ran on another worker");
    assert_eq!(pool.queued(), 5);
    release.send(()).unwrap();
    assert_eq!(done.wait(), 5);

    let order = order.lock().unwrap();
    let names: Vec<_> = order.iter().map(|(name, _)| *name).collect();
    // Inline from a thread outside the pool is treated as Next.
    assert_eq!(names, ["inline", "next 2", "next 1", "back 1", "back 2"]);
    assert!(
        order
            .iter()
            .all(|(_, thread)| thread.as_deref() == Some("order-1"))
    );
}

#[test]
fn inline_submit_to_runs_at_once_only_on_that_worker() {
    let pool = ComputePool::new(2).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = pool.handle();
    pool.submit_to(
        0,
        task(move || {
            let me = thread::current().id();
            // To this very worker: run before `submit_to` returns.
            let ran_on = Arc::new(Mutex::new(None));
            let inner = ran_on.clone();
            let record = move || *inner.lock().unwrap() = Some(thread::current().id());
            handle.submit_to(0, task(record), Hint::Inline).unwrap();
            let here = *ran_on.lock().unwrap();
            // To the other worker: queued there, run there.
            let (there_tx, there_rx) = mpsc::channel();
            let record = move || there_tx.send(thread::current().id()).unwrap();
            handle.submit_to(1, task(record), Hint::Inline).unwrap();
            let there = there_rx.recv_timeout(TIMEOUT).unwrap();
            tx.send((me, here, there)).unwrap();
        }),
        Hint::Back,
    )
    .unwrap();
    let (me, here, there) = rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(here, Some(me), "Inline to its own worker runs at once");
    assert_ne!(there, me, "Inline to another worker runs on that one");
}

#[test]
fn sleeping_workers_wake_for_each_lone_pinned_task() {
    // One task at a time, each sent only after the previous one ran, so
    // its worker is asleep (or about to be) at every submission; the
    // other worker is asleep too and must not be the one relied on.
    const ROUNDS: usize = 2_000;
    let (mut rng, seed) = Rng::from_env();
    let pool = ComputePool::builder()
        .threads(3)
        .name("lone")
        .build()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    for round in 0..ROUNDS {
        let to = rng.below(3) as usize;
        let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
        let done = Countdown::new(1);
        let child = landing(pool.handle(), to, &log, &done);
        if rng.below(2) == 0 {
            pool.submit_to(to, child, hint).unwrap();
        } else {
            // From another worker, which then goes back to sleep.
            let from = (to + 1 + rng.below(2) as usize) % 3;
            let handle = pool.handle();
            pool.submit_to(
                from,
                task(move || handle.submit_to(to, child, hint).unwrap()),
                hint,
            )
            .unwrap();
        }
        assert_eq!(
            done.wait(),
            1,
            "seed {seed}: the task of round {round} never ran"
        );
    }
    assert_landed_where_sent(&log.lock().unwrap(), "lone", 3);
}

#[test]
fn a_busy_pinned_queue_does_not_starve_the_shared_queue() {
    // One worker. A pinned task resubmits itself to the front of its
    // pinned queue, and on its first run puts a task on the shared queue.
    // The worker takes from both queues in turn, so the shared task runs
    // after at most one more pinned run.
    let pool = ComputePool::new(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let shared_ran = Arc::new(AtomicBool::new(false));
    fn spinner(
        pool: ComputeHandle,
        flag: Arc<AtomicBool>,
        tx: Sender<usize>,
        runs: usize,
    ) -> TaskRef {
        task(move || {
            if runs == 0 {
                let flag = flag.clone();
                pool.submit(task(move || flag.store(true, Ordering::SeqCst)), Hint::Back);
            }
            // Bounded, so a starving pool fails instead of spinning forever.
            if flag.load(Ordering::SeqCst) || runs == 100_000 {
                tx.send(runs).unwrap();
                return;
            }
            let next = spinner(pool.clone(), flag, tx, runs + 1);
            pool.submit_to(0, next, Hint::Next).unwrap();
        })
    }
    pool.submit_to(
        0,
        spinner(pool.handle(), shared_ran.clone(), tx, 0),
        Hint::Back,
    )
    .unwrap();
    let runs = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(shared_ran.load(Ordering::SeqCst));
    assert!(runs <= 2, "the shared task waited for {runs} pinned runs");
}

#[test]
fn a_busy_shared_queue_does_not_starve_a_pinned_queue() {
    // The mirror image: a shared task resubmits itself to the front of the
    // shared queue, and on its first run sends a task to the worker.
    let pool = ComputePool::new(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let pinned_ran = Arc::new(AtomicBool::new(false));
    fn spinner(
        pool: ComputeHandle,
        flag: Arc<AtomicBool>,
        tx: Sender<usize>,
        runs: usize,
    ) -> TaskRef {
        task(move || {
            if runs == 0 {
                let flag = flag.clone();
                let set = task(move || flag.store(true, Ordering::SeqCst));
                pool.submit_to(0, set, Hint::Back).unwrap();
            }
            if flag.load(Ordering::SeqCst) || runs == 100_000 {
                tx.send(runs).unwrap();
                return;
            }
            pool.submit(spinner(pool.clone(), flag, tx, runs + 1), Hint::Next);
        })
    }
    pool.submit(
        spinner(pool.handle(), pinned_ran.clone(), tx, 0),
        Hint::Back,
    );
    let runs = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(pinned_ran.load(Ordering::SeqCst));
    assert!(runs <= 2, "the pinned task waited for {runs} shared runs");
}

#[test]
fn a_panicking_pinned_task_is_counted_and_its_worker_goes_on() {
    let pool = ComputePool::builder()
        .threads(2)
        .name("sturdy-pin")
        .build()
        .unwrap();
    for hint in [Hint::Back, Hint::Next] {
        pool.submit_to(
            1,
            task(|| panic!("a pinned task panics (expected by this test)")),
            hint,
        )
        .unwrap();
    }
    let (tx, rx) = mpsc::channel();
    let handle = pool.handle();
    pool.submit_to(
        1,
        task(move || {
            handle
                .submit_to(
                    1,
                    task(|| panic!("an inline pinned task panics (expected by this test)")),
                    Hint::Inline,
                )
                .unwrap();
            tx.send(thread::current().name().map(str::to_owned))
                .unwrap()
        }),
        Hint::Back,
    )
    .unwrap();
    let name = rx
        .recv_timeout(TIMEOUT)
        .expect("worker 1 stopped running tasks after a panic");
    assert_eq!(name.as_deref(), Some("sturdy-pin-1"));
    assert_eq!(pool.panic_count(), 3);
}

#[test]
fn shutdown_drains_pinned_queues_then_cancels_late_ones() {
    // Both workers blocked; the first starts the shutdown before it tells
    // us it runs, so everything below is queued while the pool drains.
    const QUEUED: usize = 100;
    let pool = ComputePool::builder()
        .threads(2)
        .name("drain")
        .build()
        .unwrap();
    let handle = pool.clone();
    let (block_a, started_a, release_a) = blocker(move || handle.shutdown_background());
    let (block_b, started_b, release_b) = blocker(|| {});
    pool.submit_to(0, block_a, Hint::Back).unwrap();
    pool.submit_to(1, block_b, Hint::Back).unwrap();
    started_a.recv_timeout(TIMEOUT).unwrap();
    started_b.recv_timeout(TIMEOUT).unwrap();

    let log = Arc::new(Mutex::new(Vec::new()));
    let done = Countdown::new(3 * 2 * QUEUED);
    for i in 0..2 * QUEUED {
        let to = i % 2;
        let (handle, log2, done2) = (pool.handle(), log.clone(), done.clone());
        let queued = landing(pool.handle(), to, &log, &done);
        // Each queued task, as it runs, sends one more to the other worker
        // and one to the shared queue: submitted while draining, they run.
        pool.submit_to(
            to,
            task(move || {
                queued.run();
                handle
                    .submit_to(
                        1 - to,
                        landing(handle.clone(), 1 - to, &log2, &done2),
                        Hint::Back,
                    )
                    .unwrap();
                handle.submit(task(move || done2.hit()), Hint::Next);
            }),
            if i % 4 < 2 { Hint::Back } else { Hint::Next },
        )
        .unwrap();
    }
    assert_eq!(pool.queued(), 2 * QUEUED);
    release_a.send(()).unwrap();
    release_b.send(()).unwrap();
    assert_eq!(pool.shutdown(), Ok(()));
    assert_eq!(done.count(), 3 * 2 * QUEUED, "every task of the drain ran");
    assert_eq!(pool.queued(), 0);
    assert_landed_where_sent(&log.lock().unwrap(), "drain", 2);

    // Closed: cancelled at once, on the submitting thread, however sent.
    let cancelled_on = Arc::new(Mutex::new(Vec::new()));
    let executors: [Arc<dyn Executor>; 2] = [Arc::new(pool.clone()), Arc::new(pool.handle())];
    for executor in &executors {
        for hint in [Hint::Back, Hint::Next, Hint::Inline] {
            let on = cancelled_on.clone();
            let late = task_with_cancel(
                || panic!("a task sent to a closed pool ran"),
                move || on.lock().unwrap().push(thread::current().id()),
            );
            executor.submit_to(1, late, hint).unwrap();
        }
    }
    assert_eq!(
        *cancelled_on.lock().unwrap(),
        vec![thread::current().id(); 6]
    );
    assert_eq!(pool.panic_count(), 0);
}

#[test]
fn a_pinned_task_sent_by_the_last_running_task_keeps_the_drain_going() {
    // The only running task (on worker 0) starts the shutdown, sends a
    // task to sleeping worker 1 and returns: worker 0 then finds the
    // shared queue empty and nothing running before worker 1 wakes, and
    // must not end the drain, or what the pinned task submits in turn is
    // cancelled. Repeated, since worker 1's wake-up latency is the window.
    for round in 0..200 {
        let pool = ComputePool::new(2).unwrap();
        let (handle, ran) = (pool.handle(), Arc::new(AtomicUsize::new(0)));
        let (ran2, shutdown) = (ran.clone(), pool.clone());
        let first = task(move || {
            shutdown.shutdown_background();
            let inner = handle.clone();
            let pinned = task(move || {
                let handle = inner;
                let ran3 = ran2.clone();
                handle.submit(
                    task(move || _ = ran3.fetch_add(1, Ordering::SeqCst)),
                    Hint::Back,
                );
                let ran4 = ran2.clone();
                let child = task(move || _ = ran4.fetch_add(1, Ordering::SeqCst));
                handle.submit_to(1, child, Hint::Back).unwrap();
            });
            handle.submit_to(1, pinned, Hint::Back).unwrap();
        });
        pool.submit_to(0, first, Hint::Back).unwrap();
        pool.shutdown().unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            2,
            "round {round}: the drain ended early"
        );
    }
}
