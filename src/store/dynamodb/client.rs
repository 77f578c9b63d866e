//! Reaching DynamoDB: the `session_store` URL, and the SDK client it makes (once, on first use).
//!
//! `dynamodb://TABLE` takes everything else from the AWS SDK's standard chains: credentials
//! (on Lambda, the function's role through its environment; elsewhere `AWS_*` variables or a
//! profile), the region (`AWS_REGION`) and, for an emulator, the SDK's own `AWS_ENDPOINT_URL`.
//! `dynamodb://TABLE?endpoint=http://127.0.0.1:5000` names an emulator (moto, dynalite, DynamoDB
//! Local) in the setting itself, so that instances on one machine can each use another one:
//! then no chain is asked (nothing reaches for the instance metadata service), the region is
//! `AWS_REGION` or `us-east-1`, and requests are signed with `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` when they are set, else with placeholders an emulator accepts.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// What `session_store = "dynamodb://..."` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub table: String,
    /// An emulator's address (`?endpoint=`), if the setting names one.
    pub endpoint: Option<String>,
}

const FORM: &str = "`dynamodb://TABLE` (3 to 255 letters, digits or `_.-`), optionally with \
`?endpoint=http://HOST:PORT` for an emulator";

impl Setting {
    pub fn parse(url: &str) -> Result<Setting, String> {
        let rest =
            url.strip_prefix("dynamodb://").ok_or_else(|| format!("`session_store` must be {FORM}"))?;
        let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
        if !(3..=255).contains(&table.len()) || !table.chars().all(allowed) {
            return Err(format!("`session_store`'s table name must be {FORM}"));
        }
        let endpoint = match query {
            "" => None,
            _ => match query.strip_prefix("endpoint=") {
                Some(e) if (e.starts_with("http://") || e.starts_with("https://")) && !e.contains('&') => {
                    Some(e.to_owned())
                }
                _ => return Err(format!("`session_store` must be {FORM}")),
            },
        };
        Ok(Setting { table: table.to_owned(), endpoint })
    }
}

/// The SDK's own HTTP client, on rustls with ring (the TLS stack of the other stores), rather
/// than its default, which builds aws-lc from C.
fn https() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Every call must end within the store's [`TIMEOUT`](crate::store::TIMEOUT) (2 s), retries
/// included: so the SDK gives up a little earlier, with its own, clearer message.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(800))
        .operation_attempt_timeout(Duration::from_millis(1200))
        .operation_timeout(Duration::from_millis(1800))
        .build()
}

/// The SDK's standard retries (throttling, a 500, a broken connection), three attempts, with
/// backoffs short enough to fit the timeout.
fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(400))
}

/// A client for `setting`: through the standard chains, or straight to the emulator it names.
pub async fn connect(setting: &Setting) -> Result<Client, String> {
    let Some(endpoint) = &setting.endpoint else {
        let loaded = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https())
            .timeout_config(timeouts())
            .retry_config(retries())
            .load()
            .await;
        if loaded.region().is_none() {
            return Err("no AWS region: set AWS_REGION (Lambda sets it for every function)".into());
        }
        return Ok(Client::new(&loaded));
    };
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let region =
        var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
    let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment")
        }
        _ => Credentials::new("emulator", "emulator", None, None, "placeholder for an emulator"),
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(https())
        .timeout_config(timeouts())
        .retry_config(retries())
        .build();
    Ok(Client::from_conf(config))
}

#[cfg(test)]
mod tests {
    use super::Setting;

    #[test]
    fn the_setting_names_a_table_and_perhaps_an_emulator() {
        let plain = Setting::parse("dynamodb://sessions").unwrap();
        assert_eq!((plain.table.as_str(), plain.endpoint), ("sessions", None));
        let local = Setting::parse("dynamodb://my_app.sessions-1?endpoint=http://127.0.0.1:5000").unwrap();
        assert_eq!(local.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        for bad in [
            "dynamodb://",
            "dynamodb://ab",
            "dynamodb://a/b",
            "dynamodb://table?region=x",
            "dynamodb://table?endpoint=127.0.0.1:5000",
            "dynamodb://table?endpoint=http://h&x=1",
        ] {
            assert!(Setting::parse(bad).is_err(), "{bad}");
        }
    }
}
