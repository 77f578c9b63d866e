//! Headless Chromium, started and stopped by the test: one chromedriver per test, one
//! Chromium profile per visitor.
//!
//! A test opens several [`Browser`]s from one [`Browsers`]; each gets its own fresh
//! `--user-data-dir`, so two of them are as separate as a normal and a private window.
//! chromedriver runs in a process group of its own, and the Chromium processes it starts join
//! that group: dropping [`Browsers`] (also when a test panics) kills the whole group, then
//! removes the profiles.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

use crate::page::Browser;
use crate::server::App;

/// How big the window is. Phone uses Chromium's mobile emulation, so the page gets a real
/// 360-pixel layout viewport (a desktop window cannot be made that narrow).
#[derive(Clone, Copy, Debug)]
pub enum Viewport {
    Desktop,
    Phone,
}

impl Viewport {
    pub fn width(self) -> u32 {
        match self {
            Viewport::Desktop => 1440,
            Viewport::Phone => 360,
        }
    }
}

/// Flags that keep headless Chromium to itself: without them it keeps trying to reach the
/// internet, which this machine (and CI) does not have.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
];

pub struct Browsers {
    chromedriver: Child,
    port: u16,
    chromium: PathBuf,
    profiles: Mutex<Vec<TempDir>>,
}

impl Browsers {
    /// chromedriver on a free port, or `None` (with a `SKIPPED` line) when no browser is
    /// installed. With `REQUIRE_BROWSER=1` (CI) a missing browser fails the test instead.
    pub async fn start(test: &str) -> Option<Browsers> {
        let (chromedriver, chromium) = match installed_tools() {
            Ok(tools) => tools,
            Err(why) if std::env::var("REQUIRE_BROWSER").as_deref() == Ok("1") => {
                panic!("REQUIRE_BROWSER=1, but {why}")
            }
            Err(why) => {
                let why =
                    format!("{why}; install chromium and chromium-driver, or set CHROMEDRIVER and CHROMIUM");
                crate::skips::skipped(test, &why);
                return None;
            }
        };
        // The port is free when checked but could be taken before chromedriver binds it; a
        // chromedriver that exits at once gets another try on another port.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
            let mut browsers = Browsers {
                chromedriver: child,
                port,
                chromium: chromium.clone(),
                profiles: Mutex::default(),
            };
            if browsers.listening().await {
                return Some(browsers);
            }
        }
        panic!("chromedriver did not start listening (tried three ports)");
    }

    async fn listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.chromedriver.try_wait(), Ok(Some(_))) {
                return false;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// A new visitor: a Chromium with a profile nobody else uses, at `viewport`, on the app's
    /// comparison page.
    pub async fn open(&self, app: &App, viewport: Viewport) -> Browser {
        self.open_at(app.url(""), viewport).await
    }

    /// As [`Browsers::open`], with the app reached at `base` (through a proxy, say).
    pub async fn open_at(&self, base: String, viewport: Viewport) -> Browser {
        // Starting Chromium failed once in a dozen full runs on a loaded two-core machine: one
        // more try, with a new profile, says so on stderr instead of failing the test.
        let mut attempt = 0;
        let client = loop {
            attempt += 1;
            let connected = ClientBuilder::new(HttpConnector::new())
                .capabilities(self.capabilities(viewport))
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await;
            match connected {
                Ok(client) => break client,
                Err(e) if attempt == 1 => {
                    let _ =
                        writeln!(std::io::stderr(), "chromedriver could not start Chromium, retrying: {e}");
                }
                Err(e) => panic!("chromedriver could not start Chromium: {e}"),
            }
        };
        let browser = Browser::new(client, base, viewport);
        browser.goto("/").await;
        browser
    }

    /// What chromedriver is to start: Chromium with a fresh profile, at `viewport`.
    fn capabilities(&self, viewport: Viewport) -> fantoccini::wd::Capabilities {
        let profile =
            tempfile::Builder::new().prefix("browser-test-profile-").tempdir().expect("a profile dir");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        self.profiles.lock().unwrap().push(profile);
        let mut options = json!({ "binary": self.chromium });
        match viewport {
            Viewport::Desktop => args.push("--window-size=1440,1000".into()),
            Viewport::Phone => {
                // A phone shows no scrollbar at rest; headless Chromium would draw one into
                // the screenshot.
                args.push("--hide-scrollbars".into());
                options["mobileEmulation"] = json!({
                    "deviceMetrics": {
                        "width": 360, "height": 780, "pixelRatio": 2.0, "mobile": true, "touch": true
                    }
                })
            }
        }
        options["args"] = json!(args);
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            // Console messages, read back through chromedriver's log endpoint.
            "goog:loggingPrefs": { "browser": "ALL" },
            // Fail fast instead of WebDriver's five-minute default.
            "timeouts": { "pageLoad": 20_000, "script": 10_000 },
        });
        match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        }
    }
}

impl Drop for Browsers {
    fn drop(&mut self) {
        let group = self.chromedriver.id() as libc::pid_t;
        // SAFETY: kill(2) takes plain integers and has no memory-safety preconditions. The
        // negative id names the process group this test created for chromedriver; Chromium's
        // processes inherited it, so they end too.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.chromedriver.wait();
        // The profiles (the field) are removed after this, once nothing writes to them.
    }
}

/// chromedriver and Chromium: `CHROMEDRIVER` and `CHROMIUM` name them, else Debian's paths.
fn installed_tools() -> Result<(PathBuf, PathBuf), String> {
    let find = |var: &str, default: &str| {
        let path = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()));
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("no {} at {}", default.rsplit('/').next().unwrap_or(default), path.display()))
        }
    };
    Ok((find("CHROMEDRIVER", "/usr/bin/chromedriver")?, find("CHROMIUM", "/usr/bin/chromium")?))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind port 0");
    listener.local_addr().expect("its address").port()
}
