//! Strategy 1: global state, one list in the server process.
//!
//! - **Where the data lives:** in this process's memory, as Rocket managed state.
//! - **How long it lasts:** until the process stops; a restart starts from an empty list.
//! - **Who can read it:** every visitor of this process sees and edits the same list. A
//!   second instance behind a load balancer has its own, different list.
//! - **What it costs:** a mutex lock per request; nothing in the browser.
//! - **How it fails:** it cannot tell visitors apart at all, so it is only right for data
//!   that really is shared (a counter, a cache), never for per-user state.

use std::sync::{Mutex, MutexGuard};

use rocket::fairing::AdHoc;
use rocket::request::{self, FromRequest, Request};

use super::{Fact, Strategy, View};
use crate::error::AppError;
use crate::instance::Instance;
use crate::item::{ItemList, Op};

/// The one list every visitor shares. A mutex (held only for the list operation, never
/// across an `.await`) makes concurrent adds from many visitors all land.
#[derive(Default)]
pub struct GlobalList(Mutex<ItemList>);

impl GlobalList {
    fn lock(&self) -> MutexGuard<'_, ItemList> {
        // `ItemList::apply` either completes or changes nothing, so a poisoned lock still
        // guards a consistent list.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Global state", |rocket| async { rocket.manage(GlobalList::default()) })
}

/// The global list as seen by one request.
pub struct Global<'r> {
    list: &'r GlobalList,
    instance: &'r Instance,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Global<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        match (rocket.state::<GlobalList>(), rocket.state::<Instance>()) {
            (Some(list), Some(instance)) => request::Outcome::Success(Global { list, instance }),
            _ => super::missing_state("global::stage() or instance::stage()"),
        }
    }
}

#[rocket::async_trait]
impl Strategy for Global<'_> {
    async fn view(&self) -> Result<View, AppError> {
        let items = self.list.lock().clone();
        let server = vec![
            Fact::new("kept in", format!("the memory of instance {}", self.instance.id)),
            Fact::new("items", format!("{} (shared by every visitor of this instance)", items.len())),
            Fact::new("lasts", "until this process stops"),
        ];
        Ok(View { items, browser: Vec::new(), server, expires_at: None, notice: None })
    }

    async fn items(&self) -> Result<ItemList, AppError> {
        Ok(self.list.lock().clone())
    }

    async fn apply(&self, op: Op) -> Result<ItemList, AppError> {
        let mut list = self.list.lock();
        list.apply(&op)?;
        Ok(list.clone())
    }
}
