//! [`Future::then`] and [`Future::map`]: continuations that run on an
//! executor once a result is there.

use core::future::Future as StdFuture;
use core::pin::Pin;
use core::task::{Context, Poll};

use spindle_exec::{Spawner, spawn};

use super::error::Error;
use super::producer::Promise;
use super::reader::Future;

impl<T: Send + 'static, E: Send + 'static> Future<T, E> {
    /// Runs `f` on `spawner`'s executor with this future's result, once it
    /// is there, and returns a future of what `f` returns.
    ///
    /// `f` runs in an async task [spawned](spindle_exec::spawn) at once on
    /// the executor; the task waits (without blocking a worker) for the
    /// result, calls `f`, and sets the new promise with `f`'s `Ok` value or
    /// `Err` error. Chains of `then` compose: each link is one task.
    ///
    /// - If `f` panics, the returned future gets [`Error::Broken`] (the
    ///   task catches the panic and drops its promise); so it does if the
    ///   executor shuts down before the task ran.
    /// - Dropping the returned future before the result is there cancels
    ///   the chain: the task notices, drops this future (whose producer then
    ///   sees [`is_cancelled`](super::Promise::is_cancelled)) and never
    ///   calls `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::ManualExecutor;
    /// use spindle_sync::promise::{Error, promise};
    ///
    /// let executor = ManualExecutor::new();
    /// let (promise, future) = promise::<u32, String>();
    /// let doubled = future.then(&executor, |result| result.map(|n| n * 2));
    /// let text = doubled.then(&executor, |result| match result {
    ///     Ok(n) => Ok::<_, String>(format!("got {n}")),
    ///     Err(Error::Failed(error)) => Ok(format!("failed: {error}")),
    ///     Err(Error::Broken) => Err("no producer".to_string()),
    /// });
    /// promise.set_value(21).unwrap();
    /// executor.run_all();
    /// assert_eq!(text.get().unwrap(), "got 42");
    /// ```
    pub fn then<S, U, E2, F>(self, spawner: &S, f: F) -> Future<U, E2>
    where
        S: Spawner + ?Sized,
        U: Send + 'static,
        E2: Send + 'static,
        F: FnOnce(Result<T, Error<E>>) -> Result<U, E2> + Send + 'static,
    {
        self.continue_with(spawner, move |result, promise| {
            // A reader gone meanwhile is fine: nobody wants the result.
            drop(promise.set(f(result)));
        })
    }

    /// Like [`then`](Self::then) for the value alone: runs `f` on the value
    /// on `spawner`'s executor; an error (and `Broken`) passes through
    /// unchanged, without calling `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use spindle_exec::StealPool;
    /// use spindle_sync::promise::promise;
    ///
    /// let pool = StealPool::new(2).unwrap();
    /// let (promise, future) = promise::<&str, ()>();
    /// let length = future.map(&pool, str::len);
    /// promise.set_value("spindle").unwrap();
    /// assert_eq!(length.get(), Ok(7));
    /// ```
    pub fn map<S, U, F>(self, spawner: &S, f: F) -> Future<U, E>
    where
        S: Spawner + ?Sized,
        U: Send + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        self.continue_with(spawner, move |result, promise| match result {
            Ok(value) => drop(promise.set_value(f(value))),
            Err(Error::Failed(error)) => drop(promise.set_error(error)),
            Err(Error::Broken) => drop(promise),
        })
    }

    /// Spawns the task that waits for this future (or for the new one to
    /// be dropped) and then hands the result and the new promise to `k`.
    fn continue_with<S, U, E2, K>(self, spawner: &S, k: K) -> Future<U, E2>
    where
        S: Spawner + ?Sized,
        U: Send + 'static,
        E2: Send + 'static,
        K: FnOnce(Result<T, Error<E>>, Promise<U, E2>) + Send + 'static,
    {
        let (promise, future) = super::promise();
        // Detached: the new future is how its result is read.
        drop(spawn(
            spawner,
            Continuation {
                upstream: Some(self),
                promise: Some(promise),
                k: Some(k),
            },
        ));
        future
    }
}

/// The task of a continuation: waits for `upstream`, unless the reader of
/// `promise` leaves first.
struct Continuation<T, E, U, E2, K> {
    upstream: Option<Future<T, E>>,
    promise: Option<Promise<U, E2>>,
    k: Option<K>,
}

// Nothing is pinned through it: `Future` is `Unpin`, and `k` is only moved
// out and called.
impl<T, E, U, E2, K> Unpin for Continuation<T, E, U, E2, K> {}

impl<T, E, U, E2, K> StdFuture for Continuation<T, E, U, E2, K>
where
    K: FnOnce(Result<T, Error<E>>, Promise<U, E2>),
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let (Some(upstream), Some(promise)) = (&mut this.upstream, &mut this.promise) else {
            // Polled after completion: the task never does that.
            return Poll::Ready(());
        };
        if promise.poll_cancelled(cx).is_ready() {
            // Nobody reads our result: cancel upstream too.
            this.upstream = None;
            this.promise = None;
            return Poll::Ready(());
        }
        let Poll::Ready(result) = Pin::new(upstream).poll(cx) else {
            return Poll::Pending;
        };
        this.upstream = None;
        if let (Some(k), Some(promise)) = (this.k.take(), this.promise.take()) {
            k(result, promise);
        }
        Poll::Ready(())
    }
}
