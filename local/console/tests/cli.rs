//! The `sfn-console` binary as a script sees it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A pipe whose reader has already gone, as `sfn-console ... | head` leaves one.
fn closed_pipe() -> std::fs::File {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors; the read end is closed at once and the write end
    // is owned by the File from here on.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe(2)");
        libc::close(fds[0]);
        std::fs::File::from_raw_fd(fds[1])
    }
}

#[test]
fn serve_goes_on_when_the_reader_of_its_url_has_gone() {
    // The endpoint is never called before a page asks: serve starts without a backend.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfn-console"))
        .args([
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--region",
            "us-east-1",
        ])
        .args(["serve", "--port", "0"])
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sfn-console");
    let stderr = child.stderr.take().expect("stderr");
    // serve prints its URL on stdout, then "open <url>" on stderr: that line (not a panic, not
    // an exit) is the sign it went on after the failed write.
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        let done = line.contains("open http") || line.contains("panicked");
        seen.push(line);
        if done {
            break;
        }
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    let seen = seen.join("\n");
    assert!(!seen.contains("panicked"), "{seen}");
    assert!(seen.contains("open http://127.0.0.1:"), "{seen}");
    assert!(still_running, "serve exited: {seen}");
}
