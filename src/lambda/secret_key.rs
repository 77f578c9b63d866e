//! The secret key, and a store URL that holds a password, from AWS Secrets Manager, so that
//! they sit neither in the repository nor in the function's configuration, where anyone
//! allowed to read the function's settings reads its environment.
//!
//! With `SECRET_KEY_SECRET_ID` set (a secret's name or ARN) and no `ROCKET_SECRET_KEY`, the
//! function reads the secret's value once, as it starts, through the AWS Parameters and Secrets
//! Lambda Extension: a layer AWS publishes, which answers on localhost
//! (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, 2773 unless set) to requests that carry the
//! function's own session token, and asks Secrets Manager with the function's role. The value
//! becomes `secret_key`, checked like any other. `SESSION_STORE_SECRET_ID` does the same for
//! `session_store` when `ROCKET_SESSION_STORE` is not set. If a secret cannot be read, the
//! start fails and the log says why: no instance ever runs on a key it made up, or on the
//! memory store in place of the one the deploy named.

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// Each setting read from a secret: its name, the variable that sets it directly (and then
/// wins), and the variable that names its secret.
pub const FROM_SECRETS: [(&str, &str, &str); 2] = [
    ("secret_key", "ROCKET_SECRET_KEY", "SECRET_KEY_SECRET_ID"),
    ("session_store", "ROCKET_SESSION_STORE", "SESSION_STORE_SECRET_ID"),
];

/// The extension's port when `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` does not name one.
const DEFAULT_PORT: &str = "2773";

/// The settings of [`FROM_SECRETS`] that `env` (the process's environment on Lambda) says to
/// read from a secret, read through the extension.
pub async fn settings(env: impl Fn(&str) -> Option<String>) -> Result<Vec<(&'static str, String)>, String> {
    let mut read = Vec::new();
    for (setting, direct, id) in FROM_SECRETS {
        if let (None, Some(id)) = (env(direct), env(id)) {
            read.push((setting, fetch(&env, setting, &id).await?));
        }
    }
    Ok(read)
}

/// The secret's value (`SecretString`), read through the extension.
async fn fetch(
    env: impl Fn(&str) -> Option<String>,
    setting: &str,
    secret_id: &str,
) -> Result<String, String> {
    let why =
        |what: String| format!("could not read `{setting}` from Secrets Manager (`{secret_id}`): {what}");
    let port = env("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT").unwrap_or_else(|| DEFAULT_PORT.into());
    let token = env("AWS_SESSION_TOKEN").ok_or_else(|| why("AWS_SESSION_TOKEN is not set".into()))?;
    let id = utf8_percent_encode(secret_id, NON_ALPHANUMERIC);
    let request = aws_lambda_events::http::Request::get(format!(
        "http://127.0.0.1:{port}/secretsmanager/get?secretId={id}"
    ))
    .header("X-Aws-Parameters-Secrets-Token", token)
    .body(Empty::<&'static [u8]>::new())
    .map_err(|e| why(e.to_string()))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let answer = client.request(request).await.map_err(|e| {
        why(format!(
            "no answer on port {port} ({e}); is the AWS Parameters and Secrets Lambda Extension layer added?"
        ))
    })?;
    let status = answer.status();
    let body = answer.into_body().collect().await.map_err(|e| why(e.to_string()))?.to_bytes();
    if !status.is_success() {
        return Err(why(format!("the extension answered {status}: {}", String::from_utf8_lossy(&body))));
    }
    secret_string(&body).ok_or_else(|| why("the answer has no `SecretString`".into()))
}

/// `SecretString` of a Secrets Manager `GetSecretValue` answer, trimmed.
fn secret_string(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value.get("SecretString")?.as_str()?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_is_the_secret_string_of_get_secret_value() {
        let answer =
            br#"{"ARN":"arn:aws:secretsmanager:eu-west-1:1:secret:k","Name":"k","SecretString":"abc=\n"}"#;
        assert_eq!(super::secret_string(answer).as_deref(), Some("abc="));
        assert_eq!(super::secret_string(br#"{"SecretBinary":"AAAA"}"#), None);
        assert_eq!(super::secret_string(b"not json"), None);
    }
}
