//! Which server process answered: a random id, the port and the start time.
//!
//! Shown on every page and in `/api/inspect`, because "which instance am I talking to?"
//! is the question that separates global state from a shared session store.

use std::sync::OnceLock;

use rand::Rng;
use rocket::fairing::AdHoc;
use serde::Serialize;

use crate::clock;

#[derive(Debug)]
pub struct Instance {
    /// 8 hex characters, new on every start.
    pub id: String,
    pub started_ms: u64,
    /// Known once the server has bound its socket; never, on Lambda (no socket, port 0).
    port: OnceLock<u16>,
    /// [`Instance::label`], written once the port is known: every answer sends it.
    label: OnceLock<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub id: String,
    pub port: Option<u16>,
    pub started_at: String,
}

impl Instance {
    pub fn new() -> Instance {
        Instance {
            id: format!("{:08x}", rand::rng().random::<u32>()),
            started_ms: clock::now_ms(),
            port: OnceLock::new(),
            label: OnceLock::new(),
        }
    }

    /// `1a2b3c4d port 8101 started 2025-01-01T12:00:00Z`: the `X-Instance` header's value.
    /// Built once at liftoff rather than formatted again for every answer.
    pub fn label(&self) -> std::borrow::Cow<'_, str> {
        match self.label.get() {
            Some(label) => label.as_str().into(),
            None => self.describe().into(), // before liftoff (port not known yet)
        }
    }

    fn describe(&self) -> String {
        let view = self.view();
        match view.port {
            Some(port) => format!("{} port {port} started {}", view.id, view.started_at),
            None => format!("{} started {}", view.id, view.started_at),
        }
    }

    pub fn view(&self) -> InstanceView {
        InstanceView {
            id: self.id.clone(),
            port: self.port.get().copied(),
            started_at: clock::format_ms(self.started_ms),
        }
    }
}

impl Default for Instance {
    fn default() -> Self {
        Instance::new()
    }
}

pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Instance identity", |rocket| async {
        rocket.manage(Instance::new()).attach(AdHoc::on_liftoff("Instance port", |rocket| {
            Box::pin(async move {
                if let Some(instance) = rocket.state::<Instance>() {
                    let port = rocket.config().port;
                    if port != 0 {
                        let _ = instance.port.set(port);
                    }
                    let _ = instance.label.set(instance.describe());
                    log::info!("instance {}", instance.label());
                }
            })
        }))
    })
}
