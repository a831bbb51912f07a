//! A tour of what spindle can do today. Run it with
//! `cargo run --release --example tour`.

use spindle::coro::{Coroutine, CoroutineResult, Generator, Suspender};
use spindle::exec::{StealPool, spawn};

fn main() {
    generators();
    relay();
    tasks();
    println!("\nThat is the tour so far: coroutines, generators, executors and async tasks.");
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
