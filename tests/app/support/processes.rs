//! Processes a test starts: any command that serves on a port ([`Process`]: the Lambda
//! emulator, its runtime API for the benchmark), and the app itself ([`AppProcess`], the binary
//! `cargo run` starts), so a test can run two instances side by side or restart one, exactly as
//! a deployment would.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::get;

/// A command started by a test, in a process group of its own (so whatever it starts goes with
/// it), its output in a log; the whole group is killed when this is dropped.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` and waits until something accepts connections on 127.0.0.1:`port`.
    /// An error, with the output, when it exits first or `wait` passes.
    pub async fn listening(command: &mut Command, port: u16, wait: Duration) -> Result<Process, String> {
        let mut process = Process::spawn(command)?;
        let deadline = Instant::now() + wait;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            let exited = process.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                return Err(format!("port {port}, exit {exited:?}: {}", process.output()));
            }
            tokio::time::sleep(Duration::from_millis(1)).await; // fine enough to time a cold start
        }
        Ok(process)
    }

    /// Starts `command`.
    pub fn spawn(command: &mut Command) -> Result<Process, String> {
        let log = tempfile::Builder::new()
            .prefix("process-")
            .suffix(".log")
            .tempfile_in(env!("CARGO_TARGET_TMPDIR"));
        let (file, log) = log.and_then(|log| log.keep().map_err(|e| e.error)).map_err(|e| e.to_string())?;
        let out = file.try_clone().map_err(|e| e.to_string())?;
        command.stdout(out).stderr(file).process_group(0);
        let child = command.spawn().map_err(|e| format!("could not run {command:?}: {e}"))?;
        Ok(Process { child, log })
    }

    /// What it printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The operating system's id of the process, to read its /proc entries or signal it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this test started (its id is the child's).
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A running app process; killed when dropped.
pub struct AppProcess {
    pub port: u16,
    /// From the exec to the first healthy answer: the cold start.
    #[allow(dead_code)] // the benchmark's
    pub ready_in: Duration,
    process: Process,
}

impl AppProcess {
    /// Starts the app with `session_store = store` and `secret_key = key`, and waits until
    /// it answers. Configured the way an operator would: through `ROCKET_*` variables.
    /// A free port can be taken by someone else before the app binds it, hence the retries.
    pub async fn start(store: &str, key: &str) -> AppProcess {
        AppProcess::start_with(store, key, &[]).await
    }

    /// As [`AppProcess::start`], with more `ROCKET_*` settings in `env`.
    pub async fn start_with(store: &str, key: &str, env: &[(&str, &str)]) -> AppProcess {
        AppProcess::start_in(Path::new(env!("CARGO_MANIFEST_DIR")), store, key, env).await
    }

    /// As [`AppProcess::start_with`], started in `dir` instead of the repository root.
    pub async fn start_in(dir: &Path, store: &str, key: &str, env: &[(&str, &str)]) -> AppProcess {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match AppProcess::try_start(dir, store, key, env).await {
                Ok(process) => return process,
                Err(why) => failures.push(why),
            }
        }
        panic!("the app process would not start: {failures:#?}");
    }

    async fn try_start(
        dir: &Path,
        store: &str,
        key: &str,
        env: &[(&str, &str)],
    ) -> Result<AppProcess, String> {
        let port = free_port();
        let started = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_server-side-sessions"));
        command
            .current_dir(dir)
            .env_remove("ROCKET_CONFIG")
            .env_remove("ROCKET_PROFILE")
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_SECRET_KEY", key)
            .env("ROCKET_SESSION_STORE", store)
            // Sessions these tests leave in a shared store expire soon.
            .env("ROCKET_SESSION_IDLE_TIMEOUT", "300")
            .env("ROCKET_LOG_LEVEL", "critical")
            .envs(env.iter().copied());
        let process = Process::listening(&mut command, port, Duration::from_secs(30)).await?;
        wait_healthy(port).await;
        Ok(AppProcess { port, ready_in: started.elapsed(), process })
    }
}

/// Waits until `/healthz` says the store is up (for Postgres: connected and migrated), as a
/// load balancer would before sending traffic.
pub async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = get(port, "/healthz", None).await;
        if health.status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "never healthy: {health:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl AppProcess {
    /// The operating system's id of the process, to read its /proc entries.
    #[allow(dead_code)] // the benchmark's
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// A port nobody listens on right now (the OS picks it; the small race is harmless here).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Runs `command` with bash in `dir`, as a person would type it there (`pipefail` on);
/// returns whether it succeeded and what it printed to stdout.
pub async fn shell(dir: &Path, command: &str) -> (bool, String) {
    let (dir, command) = (dir.to_owned(), command.to_owned());
    let run =
        move || Command::new("bash").args(["-o", "pipefail", "-c", &command]).current_dir(&dir).output();
    let output = tokio::task::spawn_blocking(run).await.expect("the shell ran").expect("bash starts");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A script run in the background from the repository root, as a person runs it in a
/// terminal: what it prints, line by line, and what is typed into it. Dropped, it gets
/// SIGTERM (as Ctrl-C's SIGINT would do), so that it stops what it started.
pub struct Script {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: futures::channel::mpsc::UnboundedReceiver<String>,
}

impl Script {
    pub fn start(path: &str, args: &[&str]) -> Script {
        use std::io::BufRead;
        let mut child = Command::new(path)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{path} would not start: {e}"));
        let (stdin, stdout) = (child.stdin.take().expect("stdin"), child.stdout.take().expect("stdout"));
        let (sender, lines) = futures::channel::mpsc::unbounded();
        let lines_out = std::io::BufReader::new(stdout).lines().map_while(Result::ok);
        std::thread::spawn(move || {
            lines_out.map(|line| sender.unbounded_send(line)).all(|sent| sent.is_ok())
        });
        Script { child, stdin, lines }
    }

    /// The next line it prints; `None` once it has closed its output (it has ended).
    pub async fn line(&mut self) -> Option<String> {
        futures::StreamExt::next(&mut self.lines).await
    }

    /// Types `text` and Enter.
    pub fn type_line(&mut self, text: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{text}").expect("the script reads its input");
    }

    /// Sends SIGTERM and waits until it has ended (its output closes), at most a minute.
    pub async fn stop(mut self) {
        self.signal();
        let ended =
            tokio::time::timeout(Duration::from_secs(60), async { while self.line().await.is_some() {} });
        assert!(ended.await.is_ok(), "still running a minute after SIGTERM");
        let _ = self.child.wait();
    }

    fn signal(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child's pid, which `try_wait` says is not yet reaped.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        self.signal();
    }
}
