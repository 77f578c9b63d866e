//! What a serverless platform relies on, checked on the real binary: the port comes from
//! `PORT` unless `ROCKET_PORT` pins it, a malformed `PORT` stops the launch with a message,
//! and `SIGTERM` ends the process cleanly and quickly.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::processes::free_port;

/// The app binary with a throwaway key, the memory store and only `env` on top.
fn app(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server-side-sessions"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PORT")
        .env_remove("ROCKET_PORT")
        .env("ROCKET_SECRET_KEY", "tJqoR0zHZ3YCmbIl4Sfu6GkB0kgxDl3aWmvJ7hIr1y8=")
        .env("ROCKET_LOG_LEVEL", "critical")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Whether `GET /healthz` on `port` answers 200 within ten seconds.
fn answers_on(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            return answer.starts_with("HTTP/1.1 200");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn stop(mut child: Child) -> Output {
    let _ = child.kill();
    child.wait_with_output().expect("wait for the app")
}

#[test]
fn the_port_comes_from_port_unless_rocket_port_is_set() {
    let (platform, pinned) = (free_port(), free_port());
    let mut child = app(&[("PORT", platform.to_string())]).spawn().expect("start the app");
    assert!(answers_on(platform, &mut child), "PORT={platform} ignored: {:?}", stop(child));
    stop(child);

    let env = [("PORT", platform.to_string()), ("ROCKET_PORT", pinned.to_string())];
    let mut child = app(&env).spawn().expect("start the app");
    assert!(answers_on(pinned, &mut child), "ROCKET_PORT={pinned} lost to PORT: {:?}", stop(child));
    assert!(TcpStream::connect(("127.0.0.1", platform)).is_err(), "listening on PORT as well");
    stop(child);
}

#[test]
fn a_malformed_port_stops_the_launch_with_a_message() {
    // A build that ignored `PORT` would start and serve: stop waiting after 10 s.
    let mut child = app(&[("PORT", "eighty".into())]).spawn().expect("start the app");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait for the app").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = stop(child);
    assert!(!output.status.success(), "started with PORT=eighty: {output:?}");
    let log = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("`PORT` must be a port number from 1 to 65535, not `eighty`"), "{log}");
}

#[test]
fn sigterm_ends_the_process_cleanly_within_the_platforms_grace() {
    let port = free_port();
    let mut child = app(&[("ROCKET_PORT", port.to_string())]).spawn().expect("start the app");
    assert!(answers_on(port, &mut child), "never answered: {:?}", stop(child));
    let pid = i32::try_from(child.id()).expect("pid fits");
    let sent = Instant::now();
    // SAFETY: kill(2) on the child this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = sent + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the app") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    assert!(sent.elapsed() < Duration::from_secs(6), "took {:?}", sent.elapsed());
}
