//! The HTML pages: the comparison page and one page per strategy, each showing what the
//! visitor's browser holds and what the server holds. A change refused just before (see
//! [`super::forms`]) is shown once, in the column it concerns.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{Route, State};
use serde::Serialize;

use super::flash::{Flash, Refusal};
use super::render::Html;
use crate::error::AppError;
use crate::instance::{Instance, InstanceView};
use crate::item::{Item, MAX_ITEMS};
use crate::strategy::{CookieView, Fact, Slug, Strategies, View};

pub fn routes() -> Vec<Route> {
    rocket::routes![index, strategy_page]
}

/// Which page a form returns to. Only `/` and the strategy's own page are possible, so a
/// crafted `return_to` cannot turn the app into an open redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Home,
    Strategy(Slug),
}

impl Page {
    /// Back to the comparison page only for a list it shows; otherwise the page that does.
    pub(super) fn after_write(slug: Slug, return_to: Option<&str>) -> Page {
        match return_to {
            Some("/") if Slug::COMPARED.contains(&slug) => Page::Home,
            _ => Page::Strategy(slug.page()),
        }
    }

    /// The lists this page shows: the comparison's three, or one strategy's (the private
    /// cookie's page also shows the signed cookie, the default it is compared with).
    pub fn slugs(self) -> Vec<Slug> {
        match self {
            Page::Home => Slug::COMPARED.to_vec(),
            Page::Strategy(Slug::CookieSession) => vec![Slug::CookieSession, Slug::SignedSession],
            Page::Strategy(slug) => vec![slug],
        }
    }

    pub(super) fn path(self) -> String {
        match self {
            Page::Home => "/".to_owned(),
            Page::Strategy(slug) => format!("/{}", slug.as_str()),
        }
    }
}

/// One strategy's column as this request read it: the strategy's view, or why it cannot be
/// shown (its store is down, or a change to it was just refused).
#[derive(Debug, Clone)]
pub struct Column {
    pub slug: Slug,
    pub view: Option<View>,
    pub error: Option<String>,
    /// The `flash` cookie that carried `error` here: the browser held it, but it belongs to
    /// no strategy, so it is shown apart from the strategy's own cookies.
    pub flash: Option<CookieView>,
}

/// A [`Column`] as the `strategy` partial prints it: flat, each value ready to print (a path
/// Handlebars resolves costs it more for every level it descends).
#[derive(Serialize)]
struct ColumnContext<'a> {
    slug: &'static str,
    title: &'static str,
    summary: &'static str,
    cap: usize,
    count: usize,
    return_to: &'a str,
    /// Set when the list could not be read (the session store is down) or a change failed.
    error: Option<&'a str>,
    /// Whether the list was read; without it the column shows only `error`.
    has_list: bool,
    notice: Option<&'a str>,
    items: &'a [Item],
    browser: &'a [CookieView],
    /// What the browser panel says when the browser sent no cookie for this list.
    no_cookie: &'static str,
    /// The refusal's `flash` cookie, shown apart from the strategy's own.
    flash: Option<&'a CookieView>,
    server: &'a [Fact],
    /// The server session's own buttons: rotate the id, end the session.
    rotate: bool,
    /// The private cookie's own button: sign out everywhere.
    sign_out: bool,
    /// Whether there is a session (a live record, a valid cookie) for those buttons to act on;
    /// without one they are disabled, and a line says why.
    live: bool,
}

/// The browser panel's line for a visitor without a cookie for `slug`: a session strategy
/// has none *yet*; the global list has none at all.
fn no_cookie(slug: Slug) -> &'static str {
    match slug {
        Slug::Global => "No cookie: this list is the same for every visitor, so nothing tells them apart.",
        _ => "No cookie yet: your first change to this list sets one.",
    }
}

#[derive(Serialize)]
struct PageContext {
    title: &'static str,
    /// The page's level-one heading (a strategy's page; the comparison has its own).
    heading: &'static str,
    instance: InstanceView,
    /// One per column, in order; the column's HTML joins it as `html` (see [`Html::with_columns`]).
    columns: Vec<ColumnSlot>,
}

#[derive(Serialize)]
struct ColumnSlot {
    slug: &'static str,
}

/// Reads the lists `page` shows for this visitor. With `refused`, a change to one of them was
/// refused just before: its column shows why. A strategy page whose list cannot be read (its
/// store is down) answers with that error's status; the comparison page still answers 200
/// and shows the problem in the affected column only.
async fn read(strategies: &Strategies<'_>, page: Page, refused: Option<Refusal>) -> (Status, Vec<Column>) {
    let mut status = Status::Ok;
    let mut columns = Vec::new();
    for slug in page.slugs() {
        let (view, read_error) = match strategies.get(slug).view().await {
            Ok(view) => (Some(view), None),
            Err(error) => {
                error.log();
                if page != Page::Home && status == Status::Ok {
                    status = error.status();
                }
                (None, Some(error.to_string()))
            }
        };
        let refusal = refused.as_ref().filter(|r| r.slug == slug);
        let error = refusal.map(|r| r.message.clone()).or(read_error);
        columns.push(Column { slug, view, error, flash: refusal.map(|r| r.cookie.clone()) });
    }
    (status, columns)
}

impl Page {
    /// This page showing `columns` to a visitor of `instance`: its template and context,
    /// rendered as the answer is sent. Every page the app answers is made here.
    pub fn html(self, instance: InstanceView, columns: &[Column]) -> Html {
        let (name, title, heading) = match self {
            Page::Home => ("index", "Where does web state live?", "One list, kept three ways"),
            Page::Strategy(slug) => ("strategy", slug.title(), slug.heading()),
        };
        let return_to = self.path();
        let columns = columns
            .iter()
            .map(|Column { slug, view, error, flash }| ColumnContext {
                slug: slug.as_str(),
                title: slug.title(),
                summary: slug.summary(),
                cap: MAX_ITEMS,
                count: view.as_ref().map_or(0, |v| v.items.len()),
                return_to: &return_to,
                error: error.as_deref(),
                has_list: view.is_some(),
                notice: view.as_ref().and_then(|v| v.notice.as_deref()),
                items: view.as_ref().map_or(&[], |v| v.items.items()),
                browser: view.as_ref().map_or(&[], |v| &v.browser),
                no_cookie: no_cookie(*slug),
                flash: flash.as_ref(),
                server: view.as_ref().map_or(&[], |v| &v.server),
                rotate: *slug == Slug::ServerSession,
                sign_out: *slug == Slug::CookieSession,
                live: view.as_ref().is_some_and(|v| v.expires_at.is_some()),
            })
            .collect::<Vec<_>>();
        let slots = columns.iter().map(|column| ColumnSlot { slug: column.slug }).collect();
        Html::with_columns(name, &PageContext { title, heading, instance, columns: slots }, &columns)
    }
}

async fn render(
    strategies: &Strategies<'_>,
    instance: &Instance,
    page: Page,
    refused: Option<Refusal>,
) -> (Status, Html) {
    let (status, columns) = read(strategies, page, refused).await;
    (status, page.html(instance.view(), &columns))
}

#[rocket::get("/")]
async fn index(strategies: Strategies<'_>, instance: &State<Instance>, flash: Flash<'_>) -> (Status, Html) {
    render(&strategies, instance, Page::Home, flash.take()).await
}

/// A strategy's page, a redirect to the page that shows a list without one of its own, or
/// the error page for a name that is no strategy.
#[derive(rocket::Responder)]
enum StrategyPage {
    Page((Status, Html)),
    /// Boxed: a `Redirect` is several times the size of a page.
    Elsewhere(Box<Redirect>),
}

/// A strategy's page. The signed cookie has none of its own: its URL leads to the
/// private-cookie page, where it is shown.
#[rocket::get("/<slug>")]
async fn strategy_page(
    slug: Result<Slug, &str>,
    strategies: Strategies<'_>,
    instance: &State<Instance>,
    flash: Flash<'_>,
) -> StrategyPage {
    let slug = match super::strategy_named(slug) {
        Ok(slug) => slug,
        Err(error) => return StrategyPage::Page(error_page(error)),
    };
    if slug.page() != slug {
        return StrategyPage::Elsewhere(Box::new(Redirect::to(format!(
            "/{}#{}",
            slug.page().as_str(),
            slug.as_str()
        ))));
    }
    StrategyPage::Page(render(&strategies, instance, Page::Strategy(slug), flash.take()).await)
}

pub(super) fn error_page(error: AppError) -> (Status, Html) {
    error.log();
    super::catchers::error_page(error.status(), error.to_string())
}
