//! JSON logs for the Lambdas: one object per line, with the current span's fields (orderId,
//! attemptId) on every event. Level from RUST_LOG (default info).

/// Installs the JSON subscriber once; later calls do nothing.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stdout)
        .try_init();
}
