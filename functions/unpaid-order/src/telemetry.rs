//! JSON logs for the Lambdas: one object per line, with the current span's fields (orderId,
//! attemptId) on every event. Level from RUST_LOG, else AWS_LAMBDA_LOG_LEVEL (default info).

use tracing_subscriber::filter::LevelFilter;

/// Installs the JSON subscriber once; later calls do nothing.
pub fn init() {
    let level = level_from(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stdout)
        .try_init();
}

/// One global level, not per-target directives: `env-filter` (regex) would cost the binaries
/// size and init time. `RUST_LOG` is a level (`trace`, `debug`, `info`, `warn`, `error`, `off`);
/// in a directive list like `debug,aws_smithy_runtime=trace` only the bare level counts.
/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's log-level control, `FATAL` read as `error`) applies when
/// `RUST_LOG` has no level. Anything unreadable falls back to `info`.
fn level_from(rust_log: Option<&str>, lambda_level: Option<&str>) -> LevelFilter {
    let parse = |s: &str| -> Option<LevelFilter> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("fatal") {
            return Some(LevelFilter::ERROR);
        }
        s.parse().ok()
    };
    rust_log
        .and_then(|v| v.split(',').filter(|d| !d.contains('=')).find_map(parse))
        .or_else(|| lambda_level.and_then(parse))
        .unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_comes_from_rust_log_then_lambda_then_info() {
        assert_eq!(level_from(None, None), LevelFilter::INFO);
        assert_eq!(level_from(Some("debug"), Some("ERROR")), LevelFilter::DEBUG);
        assert_eq!(level_from(Some("WARN"), None), LevelFilter::WARN);
        assert_eq!(level_from(Some("off"), None), LevelFilter::OFF);
        assert_eq!(
            level_from(Some("aws_smithy_runtime=trace,error"), None),
            LevelFilter::ERROR
        );
        assert_eq!(
            level_from(Some("x=trace"), Some("DEBUG")),
            LevelFilter::DEBUG
        );
        assert_eq!(level_from(None, Some("FATAL")), LevelFilter::ERROR);
        assert_eq!(
            level_from(Some("loud"), Some("nonsense")),
            LevelFilter::INFO
        );
    }
}
