//! Wakers and a one-shot poll for futures polled by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that runs a closure (counting wakes, logging, or acting in the
/// middle of a wake-up).
pub struct OnWake(pub Box<dyn Fn() + Send + Sync>);

impl Wake for OnWake {
    fn wake(self: Arc<Self>) {
        (self.0)();
    }
}

/// A waker that runs `f` on each wake.
pub fn on_wake(f: impl Fn() + Send + Sync + 'static) -> Waker {
    Waker::from(Arc::new(OnWake(Box::new(f))))
}

/// A waker that does nothing, owned.
pub fn noop_waker() -> Waker {
    Waker::noop().clone()
}

/// A waker that counts its wakes.
#[derive(Debug, Default)]
pub struct Counter(AtomicUsize);

impl Counter {
    /// How often it was woken in all.
    pub fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker and its counter.
pub fn counting_waker() -> (Arc<Counter>, Waker) {
    let counter = Arc::new(Counter::default());
    (Arc::clone(&counter), Waker::from(counter))
}

/// Polls `future` once with `waker`.
pub fn poll<F: Future>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

/// A future polled by hand, with its own counting waker.
pub struct Manual<F> {
    /// The future, pinned.
    pub future: Pin<Box<F>>,
    counter: Arc<Counter>,
    waker: Waker,
    /// Wakes seen when it was last polled.
    seen: usize,
}

impl<F: Future> Manual<F> {
    pub fn new(future: F) -> Self {
        let (counter, waker) = counting_waker();
        Manual {
            future: Box::pin(future),
            counter,
            waker,
            seen: 0,
        }
    }

    /// Polls it once with its waker.
    pub fn poll(&mut self) -> Poll<F::Output> {
        self.seen = self.wakes();
        poll(self.future.as_mut(), &self.waker)
    }

    /// How often the waker was woken in all.
    pub fn wakes(&self) -> usize {
        self.counter.wakes()
    }

    /// Whether it was woken since it was last polled.
    pub fn woken(&self) -> bool {
        self.wakes() > self.seen
    }
}

/// A wake-all that wakes in rounds (calling wakers with its lock released)
/// wakes every waiter that was there when it began, and none that came
/// between two rounds: the first waiter's waker starts a new round
/// (`rearm`) and registers a newcomer, 40 more waiters fill the second
/// round. `release` wakes all; `rearmed` tells that the rearm took.
pub fn newcomer_between_wake_rounds_waits_for_the_next<F>(
    wait: impl Fn() -> F + Copy + Send + Sync + 'static,
    rearm: impl Fn() + Send + Sync + 'static,
    release: impl Fn(),
    rearmed: impl Fn() -> bool,
) where
    F: Future + Send + 'static,
{
    type Slot<F> = std::sync::Mutex<Option<Pin<Box<F>>>>;
    let newcomer: &'static Slot<F> = Box::leak(Box::new(std::sync::Mutex::new(None)));
    let (_, plain) = counting_waker();
    let (newcomer_wakes, newcomer_waker) = counting_waker();
    let meddler = on_wake(move || {
        rearm();
        let mut waiting = Box::pin(wait());
        assert!(poll(waiting.as_mut(), &newcomer_waker).is_pending());
        *newcomer.lock().unwrap() = Some(waiting);
    });
    let mut first = Box::pin(wait());
    assert!(poll(first.as_mut(), &meddler).is_pending());
    let mut rest: Vec<_> = (0..40).map(|_| Box::pin(wait())).collect();
    for waiting in &mut rest {
        assert!(poll(waiting.as_mut(), &plain).is_pending());
    }
    release();
    assert!(rearmed(), "the meddler started a new round");
    assert!(poll(first.as_mut(), &plain).is_ready());
    for waiting in &mut rest {
        assert!(
            poll(waiting.as_mut(), &plain).is_ready(),
            "an old waiter was missed"
        );
    }
    let mut slot = newcomer.lock().unwrap();
    let waiting = slot.as_mut().expect("the meddler ran");
    assert_eq!(newcomer_wakes.wakes(), 0);
    assert!(poll(waiting.as_mut(), &plain).is_pending());
    release();
    assert!(poll(waiting.as_mut(), &plain).is_ready());
}
