//! The fiber pool: batches and counters, nested waits, the fiber bound,
//! panics, waits from plain threads, every executor, builder errors,
//! shutdown.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use spindle_exec::{ComputePool, ManualExecutor, StealPool, TaskId, spawn, wait};
use spindle_fiber::{
    Counter, CounterWait, FiberPool, FiberPoolError, FiberShutdownError, JobPanicked, yield_now,
};

/// Long enough for any healthy run on a loaded CI machine; a lost wake-up
/// (or a pool deadlock) hangs for ever instead.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `f` on a helper thread and fails the test if it does not finish
/// within [`TIMEOUT`] (a hang would otherwise hang the whole run).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("{what}: not done in {TIMEOUT:?} (lost wake-up or deadlock?)"))
}

/// Spins (yielding the thread) until `done()`, failing after [`TIMEOUT`].
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < TIMEOUT, "{what}: not seen in {TIMEOUT:?}");
        thread::yield_now();
    }
}

#[test]
fn ten_thousand_jobs_each_run_exactly_once() {
    const JOBS: usize = 10_000;
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 32).unwrap();
    bounded("10k jobs", move || {
        let hits: Arc<Vec<AtomicUsize>> =
            Arc::new((0..JOBS).map(|_| AtomicUsize::new(0)).collect());
        let sum = Arc::new(AtomicU64::new(0));
        let counter = pool.submit((0..JOBS).map(|i| {
            let (hits, sum) = (hits.clone(), sum.clone());
            move || {
                hits[i].fetch_add(1, Ordering::Relaxed);
                sum.fetch_add(i as u64, Ordering::Relaxed);
            }
        }));
        assert_eq!(counter.jobs(), JOBS);
        counter.wait().unwrap();
        assert!(counter.is_done());
        assert_eq!(counter.remaining(), 0);
        assert_eq!(counter.panicked(), 0);
        let expected = (JOBS as u64 - 1) * JOBS as u64 / 2;
        assert_eq!(sum.load(Ordering::Relaxed), expected);
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        let stats = pool.stats();
        assert_eq!(stats.completed, JOBS as u64);
        assert_eq!((stats.queued, stats.panicked), (0, 0));
    });
}

/// What a tree of jobs records.
#[derive(Default)]
struct Tree {
    leaves: AtomicU64,
    inner_done: AtomicUsize,
    /// The most pool fibers seen waiting in `Counter::wait`, by a leaf.
    max_waiting: AtomicUsize,
}

/// A job at `depth` of a binary tree `height` levels of inner jobs deep:
/// an inner job submits its two children and waits for them; a leaf adds
/// its index to the sum.
fn node(pool: FiberPool, tree: Arc<Tree>, depth: u32, height: u32, index: u64) {
    if depth == height {
        tree.leaves.fetch_add(index, Ordering::Relaxed);
        tree.max_waiting
            .fetch_max(pool.stats().waiting, Ordering::Relaxed);
        return;
    }
    let children = pool.submit((0..2).map(|side| {
        let (pool, tree) = (pool.clone(), tree.clone());
        move || node(pool, tree, depth + 1, height, index * 2 + side)
    }));
    children.wait().unwrap();
    assert!(children.is_done());
    tree.inner_done.fetch_add(1, Ordering::Relaxed);
}

/// Runs a tree of `height` inner levels (2^height - 1 inner jobs, 2^height
/// leaves) on `pool` and checks its result.
fn run_tree(pool: &FiberPool, height: u32) -> Arc<Tree> {
    let tree = Arc::new(Tree::default());
    let root = {
        let (pool2, tree) = (pool.clone(), tree.clone());
        pool.submit_one(move || node(pool2, tree, 0, height, 0))
    };
    root.wait().unwrap();
    let leaves = 1_u64 << height;
    assert_eq!(
        tree.leaves.load(Ordering::Relaxed),
        leaves * (leaves - 1) / 2
    );
    assert_eq!(tree.inner_done.load(Ordering::Relaxed), leaves as usize - 1);
    tree
}

#[test]
fn nested_batches_suspend_only_the_waiting_fiber_on_two_workers() {
    // 31 inner jobs can all be waiting at once (FIFO runs a tree level by
    // level), and 32 fibers leave one for the leaves: no deadlock.
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::builder().fibers(32).build(&executor).unwrap();
    bounded("tree on two workers", move || {
        for _ in 0..20 {
            run_tree(&pool, 5);
        }
        assert_eq!(pool.stats().completed, 20 * 63);
    });
}

#[test]
fn nested_waits_work_on_a_single_worker() {
    // One thread: if a wait blocked it, no child could ever run. Every
    // leaf runs while its parent's fiber is suspended in `wait`.
    let executor = StealPool::new(1).unwrap();
    let pool = FiberPool::builder().fibers(32).build(&executor).unwrap();
    bounded("tree on one worker", move || {
        let tree = run_tree(&pool, 5);
        assert!(tree.max_waiting.load(Ordering::Relaxed) >= 1);
    });
}

#[test]
fn the_pool_never_runs_more_jobs_than_it_has_fibers() {
    const JOBS: usize = 64;
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::builder().fibers(4).build(&executor).unwrap();
    // The jobs wait on another pool's counters: waiting on this pool's own
    // jobs with 4 fibers for 64 waiting jobs would deadlock (by design).
    let helper = FiberPool::builder().fibers(8).build(&executor).unwrap();
    bounded("bound", move || {
        let in_progress = Arc::new(AtomicUsize::new(0));
        let max_in_progress = Arc::new(AtomicUsize::new(0));
        let max_queued = Arc::new(AtomicUsize::new(0));
        let max_busy = Arc::new(AtomicUsize::new(0));
        let fibers = Arc::new(Mutex::new(HashSet::<TaskId>::new()));
        let counter = pool.submit((0..JOBS).map(|_| {
            let (pool, helper) = (pool.clone(), helper.clone());
            let (in_progress, max_in_progress) = (in_progress.clone(), max_in_progress.clone());
            let (max_queued, max_busy, fibers) =
                (max_queued.clone(), max_busy.clone(), fibers.clone());
            move || {
                let now = in_progress.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_progress.fetch_max(now, Ordering::SeqCst);
                let me = spindle_fiber::current()
                    .expect("a job runs on a fiber")
                    .id();
                fibers.lock().unwrap().insert(me);
                let stats = pool.stats();
                max_queued.fetch_max(stats.queued, Ordering::SeqCst);
                max_busy.fetch_max(stats.busy, Ordering::SeqCst);
                yield_now();
                helper.submit_one(yield_now).wait().unwrap();
                yield_now();
                in_progress.fetch_sub(1, Ordering::SeqCst);
            }
        }));
        counter.wait().unwrap();
        let max = max_in_progress.load(Ordering::SeqCst);
        assert!(
            (1..=4).contains(&max),
            "{max} jobs were in progress at once"
        );
        assert!(max_busy.load(Ordering::SeqCst) <= 4);
        assert!(
            max_queued.load(Ordering::SeqCst) > 0,
            "jobs beyond the fibers stay queued"
        );
        let fibers = fibers.lock().unwrap().len();
        assert!((1..=4).contains(&fibers), "jobs ran on {fibers} fibers");
        assert_eq!(pool.stats().completed, JOBS as u64);
    });
}

#[test]
fn every_fiber_waiting_while_jobs_are_queued_shows_as_starved() {
    // The state of the documented deadlock: both fibers suspended in
    // `Counter::wait`, a job queued that no fiber is free to run. Here the
    // counter waited on belongs to another pool's job, held by a gate, so
    // the test can end it (a real deadlock, on this pool's own queued
    // jobs, could never be undone, and would leak the pool).
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 2).unwrap();
    let helper = FiberPool::new(&executor, 1).unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let gate = {
        let release = release.clone();
        helper.submit_one(move || {
            while !release.load(Ordering::SeqCst) {
                yield_now();
            }
        })
    };
    let third_ran = Arc::new(AtomicBool::new(false));
    let waiter = |gate: Counter| move || gate.wait().unwrap();
    let counter = pool.submit([
        Box::new(waiter(gate.clone())) as Box<dyn FnOnce() + Send>,
        Box::new(waiter(gate.clone())),
        Box::new({
            let third_ran = third_ran.clone();
            move || third_ran.store(true, Ordering::SeqCst)
        }),
    ]);
    until("starvation", || pool.stats().is_starved());
    let stats = pool.stats();
    assert_eq!((stats.fibers, stats.busy, stats.waiting), (2, 2, 2));
    assert_eq!((stats.queued, stats.idle), (1, 0));
    assert!(
        !third_ran.load(Ordering::SeqCst),
        "no fiber was free for it"
    );
    assert_eq!(counter.remaining(), 3);
    release.store(true, Ordering::SeqCst);
    bounded("unstarved", move || counter.wait().unwrap());
    assert!(third_ran.load(Ordering::SeqCst));
    assert!(!pool.stats().is_starved());
}

#[test]
fn a_panicking_job_is_reported_and_its_fiber_goes_on() {
    let executor = StealPool::new(2).unwrap();
    // One fiber: every job below runs on it, so it must survive panics.
    let pool = FiberPool::builder().fibers(1).build(&executor).unwrap();
    bounded("panics", move || {
        let ran = Arc::new(AtomicUsize::new(0));
        let fibers = Arc::new(Mutex::new(HashSet::<TaskId>::new()));
        let job = |i: usize| {
            let (ran, fibers) = (ran.clone(), fibers.clone());
            move || {
                fibers
                    .lock()
                    .unwrap()
                    .insert(spindle_fiber::current().unwrap().id());
                if i == 3 || i == 7 {
                    std::panic::panic_any(42_u32);
                }
                ran.fetch_add(1, Ordering::SeqCst);
            }
        };
        let counter = pool.submit((0..10).map(job));
        let error: JobPanicked = counter.wait().unwrap_err();
        assert_eq!((error.panicked(), error.jobs()), (2, 10));
        assert_eq!(error.message(), None);
        assert_eq!(
            error.to_string(),
            "2 of 10 jobs of the batch panicked, the first with a payload that is not a string"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 8, "the others all ran");
        assert!(counter.is_done());
        // A clone's wait reports the panics again, without the payload.
        let again = counter.clone().wait().unwrap_err();
        assert!(!again.has_payload() && again.panicked() == 2);
        assert_eq!(
            error.into_payload().unwrap().downcast_ref::<u32>(),
            Some(&42)
        );

        // A string payload is in the message.
        let counter = pool.submit_one(|| panic!("job {} failed", 9));
        let error = counter.wait().unwrap_err();
        assert_eq!(error.message(), Some("job 9 failed"));
        assert_eq!(
            error.to_string(),
            "1 of 1 job of the batch panicked, the first with: job 9 failed"
        );

        // The pool goes on, on the same fiber.
        let counter = pool.submit((10..15).map(job));
        counter.wait().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 13);
        assert_eq!(fibers.lock().unwrap().len(), 1);
        let stats = pool.stats();
        assert_eq!((stats.completed, stats.panicked), (16, 3));
    });
}

#[test]
fn wait_on_a_plain_thread_blocks_until_the_batch_is_done() {
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 4).unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicUsize::new(0));
    let counter = pool.submit((0..3).map(|_| {
        let (release, finished) = (release.clone(), finished.clone());
        move || {
            while !release.load(Ordering::SeqCst) {
                yield_now();
            }
            finished.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let waiter = {
        let (counter, finished) = (counter.clone(), finished.clone());
        thread::spawn(move || {
            assert!(!spindle_fiber::is_fiber());
            counter.wait().unwrap();
            finished.load(Ordering::SeqCst)
        })
    };
    assert!(!counter.is_done());
    assert_eq!(counter.remaining(), 3);
    release.store(true, Ordering::SeqCst);
    let seen = bounded("plain thread wait", move || waiter.join().unwrap());
    assert_eq!(seen, 3, "wait returned only after every job finished");
}

#[test]
fn the_pool_runs_on_the_manual_executor() {
    let executor = ManualExecutor::new();
    let pool = FiberPool::new(&executor, 8).unwrap();
    let tree = Arc::new(Tree::default());
    let root = {
        let (pool2, tree) = (pool.clone(), tree.clone());
        pool.submit_one(move || node(pool2, tree, 0, 2, 0))
    };
    let flat = pool.submit((0..100).map(|_| || ()));
    assert!(!root.is_done() && !flat.is_done());
    executor.run_all();
    assert!(root.is_done() && flat.is_done());
    assert_eq!(tree.leaves.load(Ordering::Relaxed), 6, "leaves 0+1+2+3");
    assert_eq!(tree.inner_done.load(Ordering::Relaxed), 3);
    assert!(tree.max_waiting.load(Ordering::Relaxed) >= 1);
    assert!(root.wait().is_ok() && flat.wait().is_ok());
    let stats = pool.stats();
    assert_eq!((stats.busy, stats.idle, stats.queued), (0, 8, 0));
    assert_eq!(stats.completed, 107);
    // Dropping the pool closes it; driving the executor lets the fibers
    // exit, after which nothing is left to run.
    drop(pool);
    assert_eq!(executor.run_all(), 8, "each fiber woken once, to exit");
    assert_eq!(executor.run_all(), 0);
}

#[test]
fn the_pool_runs_on_the_compute_pool() {
    let executor = ComputePool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 32).unwrap();
    let handle = executor.clone();
    bounded("compute pool", move || {
        run_tree(&pool, 4);
        // The async form, from an async task on the same executor.
        let counter = pool.submit((0..50).map(|_| yield_now));
        let task = spawn(&handle, async move { counter.await.is_ok() });
        assert!(wait(task).unwrap());
        pool.shutdown().unwrap();
    });
}

#[test]
fn a_builder_error_is_an_error_not_a_panic() {
    let executor = ManualExecutor::new();
    let error = FiberPool::builder().fibers(0).build(&executor).unwrap_err();
    assert!(matches!(error, FiberPoolError::NoFibers));
    assert_eq!(
        error.to_string(),
        "a fiber pool needs at least one fiber (it was built with 0)"
    );
    let error = FiberPool::builder()
        .fibers(4)
        .stack_size(1 << 62)
        .build(&executor)
        .unwrap_err();
    assert!(
        matches!(
            error,
            FiberPoolError::Spawn {
                fiber: 0,
                fibers: 4,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("cannot spawn fiber 0 of a pool of 4: no stack for the fiber"),
        "{message}"
    );
    assert!(std::error::Error::source(&error).is_some());
    assert_eq!(executor.len(), 0, "no fiber was spawned");
}

#[test]
fn shutdown_runs_every_queued_job_first() {
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 1).unwrap();
    let (started, release) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let ran = Arc::new(AtomicUsize::new(0));
    // The one fiber is held by a job that keeps a handle of its own and,
    // once released, still submits (the pool is not closed while a handle
    // lives). It does not wait for those jobs: with one fiber, that would
    // be the documented deadlock.
    let gate = {
        let (pool2, started, release, ran) =
            (pool.clone(), started.clone(), release.clone(), ran.clone());
        pool.submit_one(move || {
            started.store(true, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                yield_now();
            }
            pool2.submit((0..10).map(|_| {
                let ran = ran.clone();
                move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                }
            }));
        })
    };
    let queued: Vec<Counter> = (0..50)
        .map(|_| {
            let ran = ran.clone();
            pool.submit_one(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    until("the gate job starts", || started.load(Ordering::SeqCst));
    assert_eq!(pool.stats().queued, 50);
    let closing = thread::spawn(move || pool.shutdown());
    release.store(true, Ordering::SeqCst);
    let result = bounded("shutdown", move || closing.join().unwrap());
    assert_eq!(result, Ok(()));
    assert_eq!(ran.load(Ordering::SeqCst), 60, "no job was lost");
    assert!(gate.is_done() && queued.iter().all(Counter::is_done));
}

#[test]
fn dropping_the_pool_still_runs_its_queued_jobs() {
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counters: Vec<Counter> = (0..20)
        .map(|_| {
            let ran = ran.clone();
            pool.submit((0..10).map(|_| {
                let ran = ran.clone();
                move || {
                    yield_now();
                    ran.fetch_add(1, Ordering::SeqCst);
                }
            }))
        })
        .collect();
    drop(pool);
    bounded("drop", move || {
        for counter in counters {
            counter.wait().unwrap();
        }
    });
    assert_eq!(ran.load(Ordering::SeqCst), 200);
}

#[test]
fn shutdown_from_a_job_of_the_pool_is_an_error() {
    let executor = StealPool::new(2).unwrap();
    let pool = FiberPool::new(&executor, 2).unwrap();
    let result = Arc::new(Mutex::new(None));
    let counter = {
        let (pool2, result) = (pool.clone(), result.clone());
        pool.submit_one(move || *result.lock().unwrap() = Some(pool2.shutdown()))
    };
    bounded("shutdown from a job", move || {
        counter.wait().unwrap();
        pool.shutdown().unwrap();
    });
    let result = result.lock().unwrap().take().unwrap();
    assert_eq!(result, Err(FiberShutdownError::OnPoolFiber));
    assert!(result.unwrap_err().to_string().contains("its own jobs"));
}

#[test]
fn pool_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send_unpin<T: Send + Unpin>() {}
    send_sync::<FiberPool>();
    send_sync::<Counter>();
    send_sync::<JobPanicked>();
    send_sync::<FiberPoolError>();
    send_sync::<FiberShutdownError>();
    send_unpin::<CounterWait>();
    let _: Box<dyn std::error::Error + Send + Sync> = Box::new(FiberShutdownError::OnPoolFiber);
}
