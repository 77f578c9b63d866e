//! The real app in this process, listening on a port the OS picks (port 0): what a browser
//! or curl sees. Shared by both test binaries (`tests/browser` includes this file), so there
//! is one way to start the server and learn its port.

use std::sync::Mutex;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;

/// A running server; shut down when dropped.
pub struct Server {
    pub port: u16,
    shutdown: rocket::Shutdown,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

impl Server {
    /// Builds the app from `figment` and launches it; returns once it has lifted off, when
    /// the real port is known (a liftoff fairing reports it).
    pub async fn start(figment: Figment) -> Server {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Mutex::new(Some(tx));
        let rocket =
            server_side_sessions::build(figment).attach(AdHoc::on_liftoff("test port", move |rocket| {
                let sent =
                    tx.lock().unwrap().take().map(|tx| tx.send((rocket.config().port, rocket.shutdown())));
                Box::pin(async move { drop(sent) })
            }));
        tokio::spawn(async move { rocket.launch().await.expect("server runs") });
        let (port, shutdown) = rx.await.expect("server lifted off");
        Server { port, shutdown }
    }
}
