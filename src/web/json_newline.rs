//! Every JSON answer ends with a newline, as a text file's last line does: in a terminal,
//! `curl`'s next prompt then starts on a line of its own instead of after the JSON.
//!
//! One fairing for every JSON body (routes, error bodies, catchers, probes), so no answer can
//! forget it. The bodies are small (a list is at most 100 items of 200 characters), so
//! reading one into memory to append a byte costs nothing worth measuring.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Request, Response};

pub struct JsonNewline;

#[rocket::async_trait]
impl Fairing for JsonNewline {
    fn info(&self) -> Info {
        Info { name: "A newline after every JSON body", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, _request: &'r Request<'_>, response: &mut Response<'r>) {
        if !response.content_type().is_some_and(|kind| kind.is_json()) {
            return;
        }
        let mut body = match response.body_mut().to_bytes().await {
            Ok(body) => body,
            Err(e) => {
                log::warn!("could not read a JSON body to end it with a newline: {e}");
                return;
            }
        };
        if !body.ends_with(b"\n") {
            body.push(b'\n');
        }
        response.set_sized_body(body.len(), std::io::Cursor::new(body));
    }
}
