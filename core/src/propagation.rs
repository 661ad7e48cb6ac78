//! W3C Trace Context sent upstream: the gateway runs each call it traces
//! inside [`with_traceparent`], and the transport adds that `traceparent`
//! to every upstream request the call's task sends (a request that already
//! carries one — a pass-through client's own — keeps it).

use std::future::Future;

use http::HeaderValue;

tokio::task_local! {
    static TRACEPARENT: HeaderValue;
}

/// Run `call` with `traceparent` as the trace context of its upstream requests.
pub async fn with_traceparent<F: Future>(traceparent: HeaderValue, call: F) -> F::Output {
    TRACEPARENT.scope(traceparent, call).await
}

/// The `traceparent` of the call the current task is making, if traced.
pub fn current() -> Option<HeaderValue> {
    TRACEPARENT.try_with(HeaderValue::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_calls_inside_the_scope_see_it() {
        assert_eq!(current(), None);
        let v = HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let seen = with_traceparent(v.clone(), async { current() }).await;
        assert_eq!(seen, Some(v));
        assert_eq!(current(), None);
    }
}
