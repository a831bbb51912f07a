//! A tour of what spindle can do today. Run it with
//! `cargo run --release --example tour`.

use spindle::coro::{Coroutine, CoroutineResult, Generator, Suspender};
use spindle::exec::{StealPool, spawn, wait};
use spindle::fiber::{self, FiberPool};
use spindle::sync::channel::{self, Select};
use spindle::sync::{WaitGroup, select};
use std::time::{Duration, Instant};

fn main() {
    generators();
    relay();
    tasks();
    fibers();
    fiber_pool();
    pipeline();
    selecting();
    println!(
        "\nThat is the tour so far: coroutines, generators, executors, async tasks, fibers, \
         the fiber pool, channels and select."
    );
}

/// A generator is an iterator written as a plain loop: it keeps its state
/// on its own stack between items.
fn generators() {
    println!("== A generator: the Collatz sequence from 27, as an iterator");
    let collatz = Generator::new(|out| {
        let mut n: u64 = 27;
        while n != 1 {
            out.give(n);
            n = if n.is_multiple_of(2) {
                n / 2
            } else {
                3 * n + 1
            };
        }
        out.give(1);
    });
    let steps: Vec<u64> = collatz.collect();
    println!(
        "{} steps, peak {}, first ten {:?}",
        steps.len() - 1,
        steps.iter().max().unwrap(),
        &steps[..10]
    );
}

/// Two coroutines, each suspended in the middle of its own loop: one
/// produces words, the other counts letters; the caller passes each value
/// from one to the other.
fn relay() {
    println!("\n== Two coroutines passing values through their resumer");
    let mut producer = Coroutine::new(|s: &Suspender<(), &str>, ()| {
        for word in "stackful coroutines keep their place".split(' ') {
            s.suspend(word);
        }
        "no more words"
    });
    let mut counter = Coroutine::new(|s: &Suspender<&str, usize>, mut word: &str| {
        let mut letters = 0;
        loop {
            letters += word.len();
            word = s.suspend(letters);
        }
    });
    loop {
        match producer.resume(()) {
            CoroutineResult::Yield(word) => {
                let total = counter
                    .resume(word)
                    .as_yield()
                    .expect("the counter never ends");
                println!("  producer gave {word:<12} counter has seen {total:>2} letters");
            }
            CoroutineResult::Return(done) => break println!("  producer: {done}"),
        }
    }
}

/// Async tasks on the work-stealing pool: spawned from this thread, run on
/// the pool's two workers, joined with a blocking `join`.
fn tasks() {
    println!("\n== Async tasks on the work-stealing pool");
    let pool = StealPool::new(2).expect("a pool of two workers");
    let factorials: Vec<_> = (1..=10u64)
        .map(|n| spawn(&pool, async move { (1..=n).product::<u64>() }))
        .collect();
    let results: Vec<u64> = factorials
        .into_iter()
        .map(|task| task.join().unwrap())
        .collect();
    println!("  10 tasks, joined in order: {results:?}");
    let metrics = pool.metrics();
    println!(
        "  the pool ran {} tasks ({} stolen)",
        metrics.ran, metrics.stolen
    );
    pool.shutdown().expect("shut down from outside the pool");
}

/// Fibers on the work-stealing pool: code that blocks like a thread, at
/// the cost of a task. A fiber waiting for another suspends only itself;
/// its worker runs the others meanwhile.
fn fibers() {
    println!("\n== Fibers on the work-stealing pool");
    let pool = StealPool::new(2).expect("a pool of two workers");

    /// fib(n) the slow way: one fiber per call, each waiting for the
    /// fiber it spawned (blocking style, no async in sight).
    fn fib(pool: StealPool, n: u64) -> u64 {
        if n < 2 {
            return n;
        }
        let other = pool.clone();
        let minus_two = fiber::spawn(&pool, move || fib(other, n - 2));
        fib(pool, n - 1) + wait(minus_two).expect("a fiber")
    }
    let start = Instant::now();
    let root = pool.clone();
    let answer = fiber::spawn(&pool, move || fib(root, 20)).join().unwrap();
    println!(
        "  fib(20) = {answer}, by 10,945 fibers waiting on each other, in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );

    // A hundred thousand fibers, each on a stack from the pool: spawning
    // one allocates nothing.
    let parked: Vec<_> = (0..100_000)
        .map(|i| {
            fiber::spawn(&pool, move || {
                fiber::yield_now();
                i
            })
        })
        .collect();
    let sum: u64 = parked.into_iter().map(|f| f.join().unwrap()).sum();
    println!("  100,000 fibers each yielded once; their ids sum to {sum}");

    let named = fiber::Builder::new()
        .name("greeter")
        .spawn(&pool, || {
            format!(
                "hello from fiber '{}'",
                fiber::current().unwrap().name().unwrap()
            )
        })
        .expect("a stack");
    println!("  {}", named.join().unwrap());
    pool.shutdown().expect("shut down from outside the pool");
}

/// The fiber pool (after Naughty Dog's job system): a fixed set of fibers
/// runs batches of jobs; a job that waits for a sub-batch suspends its
/// fiber, and the workers go on with other jobs.
fn fiber_pool() {
    println!("\n== The fiber pool: jobs in batches, with counters");
    let workers = StealPool::new(2).expect("a pool of two workers");
    let jobs = FiberPool::new(&workers, 16).expect("16 fibers");
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let inner = jobs.clone();
    let sums = total.clone();
    let counter = jobs.submit((0..8u64).map(move |row| {
        let (inner, sums) = (inner.clone(), sums.clone());
        move || {
            // Each job fans out a sub-batch and waits for it: only this
            // job's fiber is suspended.
            let sub = inner.submit((0..8u64).map(|col| {
                let sums = sums.clone();
                move || {
                    sums.fetch_add(row * 8 + col, std::sync::atomic::Ordering::Relaxed);
                }
            }));
            sub.wait().expect("no job panicked");
        }
    }));
    counter.wait().expect("no job panicked");
    let stats = jobs.stats();
    println!(
        "  8 jobs x 8 sub-jobs summed 0..64 to {} on {} fibers ({} jobs completed)",
        total.load(std::sync::atomic::Ordering::Relaxed),
        stats.fibers,
        stats.completed
    );
    drop(jobs);
    workers.shutdown().expect("shut down from outside the pool");
}

/// A pipeline of fibers joined by bounded channels: each stage blocks
/// (suspending only its fiber) when its input is empty or its output full.
/// The same channels serve threads and async tasks.
fn pipeline() {
    println!("\n== A channel pipeline: numbers -> squares -> a sum, one fiber per stage");
    let pool = StealPool::new(2).expect("a pool of two workers");
    let (numbers, numbers_in) = channel::bounded(64);
    let (squares, squares_in) = channel::bounded(64);
    let start = Instant::now();
    fiber::spawn(&pool, move || {
        for n in 1..=100_000_u64 {
            numbers.send(n).expect("the squarer is there");
        }
        // Dropping the sender ends the stage below once it has drained.
    });
    fiber::spawn(&pool, move || {
        for n in numbers_in.iter() {
            squares.send(n * n).expect("the summer is there");
        }
    });
    // An async task at the end of the pipeline, on the same channel.
    let total = spawn(&pool, async move {
        let mut total = 0_u64;
        while let Ok(square) = squares_in.recv_async().await {
            total += square;
        }
        total
    });
    let total = wait(total).expect("the summing task");
    println!(
        "  sum of the first 100,000 squares = {total}, through two channels, in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    pool.shutdown().expect("shut down from outside the pool");
}

/// `select!` waits for the first of several operations: here, results
/// from two workers and a deadline. The workers report to a wait group.
fn selecting() {
    println!("\n== select: the first of two workers, or a timeout");
    let pool = StealPool::new(2).expect("a pool of two workers");
    let (fast_tx, fast) = channel::bounded(1);
    let (slow_tx, slow) = channel::bounded(1);
    let done = std::sync::Arc::new(WaitGroup::new());
    for (tx, name, millis) in [(fast_tx, "fast", 5), (slow_tx, "slow", 200)] {
        let done = std::sync::Arc::clone(&done);
        done.add(1);
        fiber::spawn(&pool, move || {
            // A stand-in for real work; a fiber's sleep would not hold
            // the worker, but a short thread sleep keeps the tour simple.
            std::thread::sleep(Duration::from_millis(millis));
            let _ = tx.send(name);
            done.done();
        });
    }
    let first = select! {
        recv(fast) -> name => format!("{} answered first", name.unwrap()),
        recv(slow) -> name => format!("{} answered first", name.unwrap()),
        default(Duration::from_secs(1)) => String::from("nobody answered in time"),
    };
    println!("  {first}");
    let late = select! {
        recv(slow) -> name => format!("{} answered within 10 ms", name.unwrap()),
        default(Duration::from_millis(10)) => String::from("slow had not answered 10 ms later"),
    };
    println!(
        "  then: {late}; it answers in the end: {}",
        slow.recv().unwrap()
    );

    // A select built at run time, over any number of channels.
    let channels: Vec<_> = (0..8).map(|_| channel::bounded::<usize>(1)).collect();
    channels[5].0.send(5).expect("room");
    let mut select = Select::new();
    for (i, (_, rx)) in channels.iter().enumerate() {
        select.recv(rx, move |message| (i, message));
    }
    let (index, message) = select.wait();
    println!("  a select over 8 channels received {message:?} from channel {index}");
    done.wait();
    pool.shutdown().expect("shut down from outside the pool");
}
