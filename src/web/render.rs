//! How a page becomes HTML: the Handlebars templates in `templates/`, rendered straight from
//! the Handlebars registry.
//!
//! `rocket_dyn_templates` finds the templates under `template_dir`, registers them, and in a
//! debug build registers them again whenever a file changes, so `cargo run` shows a template
//! edit on the next request. Its customisation hook ([`Template::try_custom`]) runs after
//! every such load: there `prepare` gives the registry what the pages need and [`Templates`]
//! takes a copy of it, which renders every page. What that saves on each request, measured when
//! it came in ("Pages on Handlebars" in `git show 2c55094:BENCHMARKS.md`):
//!
//! - The page's context is serialized once, into the `serde_json` value Handlebars reads.
//!   `Template::render` serializes it into figment's value tree first and then again.
//! - The explanations (`partials/explain-<slug>`), whose text depends on no request, are
//!   rendered once per load; the `explain` helper prints the text.
//! - Escaping copies runs of text that need no escape instead of one character at a time.
//! - Each strategy's column is rendered on its own, with itself as the root context
//!   ([`Html::with_columns`]), and the page around the columns after.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rocket::fairing::Fairing;
use rocket::http::{ContentType, Status};
use rocket::response::{self, Responder};
use rocket::Request;
use rocket_dyn_templates::handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};
use rocket_dyn_templates::Template;
use serde::Serialize;
use serde_json::Value;

use crate::strategy::Slug;

/// The loaded templates every page is rendered with: the Handlebars registry
/// `rocket_dyn_templates` loaded last.
#[derive(Clone, Default)]
pub struct Templates(Arc<RwLock<Arc<Handlebars<'static>>>>);

impl Templates {
    /// The fairing that loads the templates and hands each load to `self`.
    pub fn fairing(&self) -> impl Fairing {
        let templates = self.clone();
        Template::try_custom(move |engines| {
            prepare(&mut engines.handlebars)?;
            // The registry is cloned once per load (at launch, and in debug after an edit).
            let loaded = Arc::new(engines.handlebars.clone());
            *templates.0.write().unwrap_or_else(PoisonError::into_inner) = loaded;
            Ok(())
        })
    }

    /// The registry loaded last.
    fn registry(&self) -> Arc<Handlebars<'static>> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// `template` rendered with `context`; `None` (and a log line) when it cannot be.
fn render(registry: &Handlebars<'static>, template: &str, context: Value) -> Option<String> {
    registry
        .render_with_context(template, &Context::from(context))
        .map_err(|error| log::error!("template `{template}` failed to render: {error}"))
        .ok()
}

/// What the templates need besides themselves: the escape and the `explain` helper.
fn prepare(registry: &mut Handlebars<'static>) -> Result<(), Box<dyn std::error::Error>> {
    registry.register_escape_fn(escape);
    let mut texts = HashMap::new();
    for slug in Slug::ALL {
        let name = format!("partials/explain-{}", slug.as_str());
        texts.insert(slug.as_str(), registry.render(&name, &())?);
    }
    registry.register_helper("explain", Box::new(Explanations(texts)));
    Ok(())
}

/// `{{explain slug}}`: that strategy's explanation, as rendered when the templates loaded.
struct Explanations(HashMap<&'static str, String>);

impl HelperDef for Explanations {
    fn call<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let slug = helper.param(0).and_then(|p| p.value().as_str());
        let text = slug.and_then(|slug| self.0.get(slug));
        let text = text.ok_or(RenderErrorReason::ParamNotFoundForIndex("explain", 0))?;
        out.write(text)?;
        Ok(())
    }
}

/// Escapes exactly the characters Handlebars' own `html_escape` does, so pages read the same,
/// but copies the text between them in one piece; Handlebars pushes every character.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut copied = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'&' => "&amp;",
            b'\'' => "&#x27;",
            b'`' => "&#x60;",
            b'=' => "&#x3D;",
            _ => continue,
        };
        // Every escaped character is ASCII, so `at` is always a character boundary.
        out.push_str(&text[copied..at]);
        out.push_str(entity);
        copied = at + 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// A page to answer with: a template and its context, rendered when the answer is sent.
pub struct Html {
    template: &'static str,
    context: Result<Value, serde_json::Error>,
    /// The page's columns, each rendered with [`COLUMN`] and its own context as the root.
    columns: Vec<Result<Value, serde_json::Error>>,
}

/// The template of one strategy's column.
pub const COLUMN: &str = "partials/strategy";

impl Html {
    pub fn new(template: &'static str, context: &impl Serialize) -> Html {
        Html { template, context: serde_json::to_value(context), columns: Vec::new() }
    }

    /// A page made of columns: each of `columns` is rendered on its own, with itself as the
    /// root context, and the page finds its HTML as `columns.[i].html` (beside what
    /// `context` puts there), to print unescaped: it was escaped as the column rendered.
    ///
    /// Why not `{{> partials/strategy}}` inside the page's `{{#each columns}}`: Handlebars
    /// resolves every `{{name}}` from the root of the context, cloning each segment of the
    /// path on the way, so inside the page a column's values cost `columns.[i].` on every
    /// lookup, and its items `columns.[i].items.[j]`. Rendered with the column as the root,
    /// the paths are one or two segments, and the partial needs no copy of the page's
    /// render state (the count: `git show 2c55094:BENCHMARKS.md`).
    pub fn with_columns(
        template: &'static str,
        context: &impl Serialize,
        columns: &[impl Serialize],
    ) -> Html {
        let columns = columns.iter().map(serde_json::to_value).collect();
        Html { columns, ..Html::new(template, context) }
    }

    /// The page's HTML, or `None` (and a log line) when it cannot be made.
    fn render(self, templates: &Templates) -> Option<String> {
        let registry = templates.registry();
        let mut context = self.context.map_err(|error| log::error!("page context: {error}")).ok()?;
        for (at, column) in self.columns.into_iter().enumerate() {
            let column = column.map_err(|error| log::error!("column context: {error}")).ok()?;
            let mut html = render(&registry, COLUMN, column)?;
            // The page prints the column on a line of its own, which ends in the newline the
            // column's last line has; a standalone `{{> partial}}` line drops its own instead.
            if html.ends_with('\n') {
                html.pop();
            }
            let slot = context.get_mut("columns").and_then(|columns| columns.get_mut(at));
            let slot = slot.and_then(Value::as_object_mut);
            let Some(slot) = slot else {
                log::error!("template `{}`: no `columns.[{at}]` object for a column's HTML", self.template);
                return None;
            };
            slot.insert("html".to_owned(), Value::String(html));
        }
        render(&registry, self.template, context)
    }
}

impl<'r> Responder<'r, 'static> for Html {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let templates = request.rocket().state::<Templates>().ok_or(Status::InternalServerError)?;
        let html = self.render(templates).ok_or(Status::InternalServerError)?;
        (ContentType::HTML, html).respond_to(request)
    }
}

#[cfg(test)]
mod tests {
    use rocket_dyn_templates::handlebars::html_escape;

    #[test]
    fn escapes_exactly_as_handlebars_does() {
        let pieces = ["", "a", "<", ">", "\"", "&", "'", "`", "=", "é", "✓", "🍪", "{{x}}", " ", "\\", "/"];
        let mut checked = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}x{c}{a}");
                    assert_eq!(super::escape(&text), html_escape(&text), "{text:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, pieces.len().pow(3));
    }
}
