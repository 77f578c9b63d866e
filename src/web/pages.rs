//! The HTML side: the comparison page, one page per strategy, and the forms that change a
//! list. Every write answers `303 See Other` back to the page it came from, or re-renders
//! that page with the reason and a 4xx status when the change was refused.

use rocket::form::Form;
use rocket::http::Status;
use rocket::outcome::try_outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::{Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use super::origin::SameOrigin;
use crate::error::AppError;
use crate::instance::{Instance, InstanceView};
use crate::item::{Item, Op, MAX_ITEMS};
use crate::strategy::{Slug, Strategies, View};

pub fn routes() -> Vec<Route> {
    rocket::routes![index, strategy_page, add, remove, clear, end, rotate, sign_out_everywhere]
}

/// Which page a form returns to. Only `/` and the strategy's own page are possible, so a
/// crafted `return_to` cannot turn the app into an open redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Home,
    Strategy(Slug),
}

impl Page {
    fn after_write(slug: Slug, return_to: Option<&str>) -> Page {
        match return_to {
            Some("/") => Page::Home,
            _ => Page::Strategy(slug),
        }
    }

    fn path(self) -> String {
        match self {
            Page::Home => "/".to_owned(),
            Page::Strategy(slug) => format!("/{}", slug.as_str()),
        }
    }
}

/// The fields any of the list forms may carry.
#[derive(Debug, rocket::FromForm)]
pub struct ListForm {
    item: Option<String>,
    return_to: Option<String>,
}

/// One strategy's column, as the `strategy` partial renders it.
#[derive(Serialize)]
struct Column {
    slug: Slug,
    title: &'static str,
    summary: &'static str,
    cap: usize,
    count: usize,
    return_to: String,
    view: Option<View>,
    /// Set when the list could not be read (the session store is down) or a change failed.
    error: Option<String>,
}

#[derive(Serialize)]
struct PageContext {
    title: String,
    instance: InstanceView,
    single: bool,
    columns: Vec<Column>,
}

/// Renders `page` for this visitor. With `failed`, the change to that strategy was refused:
/// its column shows why and the status is the error's. A strategy page whose list cannot
/// be read (its store is down) answers with that error's status too; the comparison page
/// still answers 200 and shows the problem in the affected column only.
async fn render(
    strategies: &Strategies<'_>,
    instance: &Instance,
    page: Page,
    failed: Option<(Slug, &AppError)>,
) -> (Status, Template) {
    let (name, title, slugs) = match page {
        Page::Home => ("index", "Where does web state live?", Slug::ALL.to_vec()),
        Page::Strategy(slug) => ("strategy", slug.title(), vec![slug]),
    };
    let mut status = failed.map_or(Status::Ok, |(_, error)| error.status());
    let mut columns = Vec::new();
    for slug in slugs {
        let (view, read_error) = match strategies.get(slug).view().await {
            Ok(view) => (Some(view), None),
            Err(error) => {
                if page != Page::Home && status == Status::Ok {
                    status = error.status();
                }
                (None, Some(error.to_string()))
            }
        };
        let write_error = failed.filter(|(s, _)| *s == slug).map(|(_, error)| error.to_string());
        columns.push(Column {
            slug,
            title: slug.title(),
            summary: slug.summary(),
            cap: MAX_ITEMS,
            count: view.as_ref().map_or(0, |v| v.items.len()),
            return_to: page.path(),
            view,
            error: write_error.or(read_error),
        });
    }
    let context = PageContext {
        title: title.to_owned(),
        instance: instance.view(),
        single: page != Page::Home,
        columns,
    };
    (status, Template::render(name, context))
}

type WriteResponse = Result<Redirect, (Status, Template)>;

/// What every form write needs besides its form: a request that passed the same-origin
/// check, the strategies to change, and the instance to re-render the page with when the
/// change is refused.
pub struct FormWrite<'r> {
    strategies: Strategies<'r>,
    instance: &'r Instance,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for FormWrite<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        try_outcome!(request.guard::<SameOrigin>().await);
        let strategies = try_outcome!(request.guard::<Strategies<'r>>().await);
        let instance = try_outcome!(request.guard::<&'r State<Instance>>().await);
        request::Outcome::Success(FormWrite { strategies, instance: instance.inner() })
    }
}

impl FormWrite<'_> {
    /// Applies `op` to the list `slug` names, then answers as [`FormWrite::finish`] does.
    async fn apply(&self, slug: Slug, form: &ListForm, op: Result<Op, AppError>) -> WriteResponse {
        let result = match op {
            Ok(op) => self.strategies.get(slug).apply(op).await.map(drop),
            Err(error) => Err(error),
        };
        self.finish(slug, form, result).await
    }

    /// Sends the browser back to the page the form came from, or shows that page again with
    /// the reason the change to `slug` was refused.
    async fn finish(&self, slug: Slug, form: &ListForm, result: Result<(), AppError>) -> WriteResponse {
        let page = Page::after_write(slug, form.return_to.as_deref());
        match result {
            Ok(()) => Ok(Redirect::to(page.path())),
            Err(error) => Err(render(&self.strategies, self.instance, page, Some((slug, &error))).await),
        }
    }
}

#[rocket::get("/")]
async fn index(strategies: Strategies<'_>, instance: &State<Instance>) -> (Status, Template) {
    render(&strategies, instance, Page::Home, None).await
}

#[rocket::get("/<slug>")]
async fn strategy_page(
    slug: Result<Slug, &str>,
    strategies: Strategies<'_>,
    instance: &State<Instance>,
) -> Result<(Status, Template), (Status, Template)> {
    let slug = super::known(slug).map_err(error_page)?;
    Ok(render(&strategies, instance, Page::Strategy(slug), None).await)
}

fn error_page(error: AppError) -> (Status, Template) {
    super::catchers::error_page(error.status(), error.to_string())
}

#[rocket::post("/<slug>/items", data = "<form>")]
async fn add(slug: Result<Slug, &str>, write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    let slug = super::known(slug).map_err(error_page)?;
    let op = Item::parse(form.item.as_deref().unwrap_or_default()).map(Op::Add).map_err(AppError::from);
    write.apply(slug, &form, op).await
}

#[rocket::post("/<slug>/items/<index>/delete", data = "<form>")]
async fn remove(
    slug: Result<Slug, &str>,
    index: Result<usize, &str>,
    write: FormWrite<'_>,
    form: Form<ListForm>,
) -> WriteResponse {
    let slug = super::known(slug).map_err(error_page)?;
    write.apply(slug, &form, index.map(Op::Remove).map_err(super::bad_index)).await
}

#[rocket::post("/<slug>/clear", data = "<form>")]
async fn clear(slug: Result<Slug, &str>, write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    let slug = super::known(slug).map_err(error_page)?;
    write.apply(slug, &form, Ok(Op::Clear)).await
}

/// Log out: the server deletes the record, so the id is dead even where it was copied.
#[rocket::post("/server-session/end", data = "<form>")]
async fn end(write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    let result = write.strategies.server.end().await;
    write.finish(Slug::ServerSession, &form, result).await
}

/// A new id for the same data; the old id stops working at once (the fixation defence
/// that apps run at login or privilege change).
#[rocket::post("/server-session/rotate", data = "<form>")]
async fn rotate(write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    let result = write.strategies.server.rotate().await.map(drop);
    write.finish(Slug::ServerSession, &form, result).await
}

/// Revokes this private cookie and every copy of it, at the price of a store lookup on each
/// read (see `strategy::cookie_session`).
#[rocket::post("/cookie-session/sign-out-everywhere", data = "<form>")]
async fn sign_out_everywhere(write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    let result = write.strategies.cookie.sign_out_everywhere().await;
    write.finish(Slug::CookieSession, &form, result).await
}
