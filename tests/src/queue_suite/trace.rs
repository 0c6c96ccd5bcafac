//! A job's W3C trace context: stored with the job, handed back by every reserve, kept
//! through dead letters and requeues; a malformed one is dropped, never refused.

use stack_core::page::PageRequest;
use stack_core::queue::{Failure, NewJob, TraceContext};

use super::{LONG_LEASE, QueueFactory, job, n_of, reserve_until};

const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn context(n: u64, state: Option<&str>) -> TraceContext {
    let header = format!(
        "00-{:032x}-{:016x}-01",
        0xabc0_0000 + u128::from(n),
        0xdef0 + n
    );
    TraceContext::parse(&header, state).expect("a valid traceparent")
}

/// The context of `enqueue` and `enqueue_batch` comes back on reserve, from `get` and the
/// dead-letter listing, and after a requeue (one by one and by type); a job without one
/// (no OpenTelemetry layer in this process) has none.
pub async fn a_trace_context_round_trips_through_reserve_dead_letters_and_requeue(
    new_queue: QueueFactory,
) {
    let queue = new_queue(super::options()).await;
    let traced = context(1, Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    let batched = context(2, None);
    let one = queue
        .enqueue(job("t", 1).trace(traced.clone()))
        .await
        .unwrap();
    queue
        .enqueue_batch(vec![job("t", 2).trace(batched.clone()), job("t", 3)])
        .await
        .unwrap();
    let want = |n: u64| match n {
        1 => Some(traced.clone()),
        2 => Some(batched.clone()),
        _ => None,
    };
    let stored = queue.get(one.id()).await.unwrap().expect("the job");
    assert_eq!(stored.trace, Some(traced.clone()), "get");
    let leases = reserve_until(queue.as_ref(), 3, LONG_LEASE, WAIT).await;
    assert_eq!(leases.len(), 3);
    for lease in &leases {
        assert_eq!(
            lease.job.trace,
            want(n_of(lease)),
            "reserve of job {}",
            n_of(lease)
        );
        queue
            .fail(&lease.token, Failure::permanent("to the dead letters"))
            .await
            .unwrap();
    }
    let dead = queue
        .dead_letters(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(dead.items.len(), 3);
    for job in &dead.items {
        let n = job.payload["n"].as_u64().expect("n");
        assert_eq!(job.trace, want(n), "dead letter of job {n}");
    }
    queue.requeue_dead(one.id()).await.unwrap();
    queue.requeue_dead_by_type("t", 10).await.unwrap();
    let again = reserve_until(queue.as_ref(), 3, LONG_LEASE, WAIT).await;
    assert_eq!(again.len(), 3);
    for lease in &again {
        assert_eq!(
            lease.job.trace,
            want(n_of(lease)),
            "requeued job {}",
            n_of(lease)
        );
        assert_eq!(lease.job.attempts, 1, "a requeue starts afresh");
    }
}

/// A job whose `trace` is malformed (as JSON from a client) is stored without it: no error
/// for the enqueuer, as the W3C recommendation asks of a bad `traceparent`.
pub async fn a_malformed_trace_context_is_dropped_not_refused(new_queue: QueueFactory) {
    let queue = new_queue(super::options()).await;
    let bad = [
        serde_json::json!({"traceparent": "00-not-a-trace"}),
        serde_json::json!({"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}),
        serde_json::json!({"tracestate": "k=v"}),
        serde_json::json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ];
    for (n, trace) in (10..).zip(bad) {
        let mut wire = serde_json::to_value(job("t", n)).expect("a job serializes");
        wire["trace"] = trace;
        let new: NewJob = serde_json::from_value(wire).expect("a bad trace is no error");
        assert_eq!(new.trace, None);
        queue.enqueue(new).await.unwrap();
    }
    // A valid traceparent with a malformed tracestate keeps the traceparent alone.
    let kept = context(3, Some("=no key"));
    assert_eq!(kept.tracestate(), None);
    queue
        .enqueue(job("t", 20).trace(kept.clone()))
        .await
        .unwrap();
    let leases = reserve_until(queue.as_ref(), 5, LONG_LEASE, WAIT).await;
    assert_eq!(leases.len(), 5);
    for lease in &leases {
        let want = (n_of(lease) == 20).then(|| kept.clone());
        assert_eq!(lease.job.trace, want, "job {}", n_of(lease));
    }
}
