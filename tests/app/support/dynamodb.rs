//! The DynamoDB emulator the tests use (with `--features dynamodb`): `DYNAMODB_ENDPOINT`, else
//! moto's server at its standard local address, `http://127.0.0.1:5000`, when one answers
//! there (`scripts/services.sh` starts it). Every store a test makes is a table of its own,
//! created here through the SDK, with the key schema and TTL attribute a deploy gives it (the
//! app never creates its table), and deleted when the tests are done with it; tables that an
//! aborted run left behind are deleted by a later run once they are an hour old.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;

use super::store_servers::unique;

const TABLE_PREFIX: &str = "sss-test-";

/// A client for the emulator at `endpoint`, signing with placeholders (an emulator checks none).
pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("emulator", "emulator", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https())
        .build();
    Client::from_conf(config)
}

/// Whether an emulator answers at `endpoint` (a `ListTables`).
pub async fn answers(endpoint: &str) -> Result<(), String> {
    let listed = client(endpoint).list_tables().limit(1).send().await;
    listed.map(drop).map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

/// Throwaway tables on one emulator, deleted when this is dropped.
pub struct Tables {
    endpoint: String,
    made: Mutex<Vec<String>>,
}

impl Tables {
    pub fn new(endpoint: &str) -> Tables {
        Tables { endpoint: endpoint.to_owned(), made: Mutex::new(Vec::new()) }
    }

    /// Creates a fresh table (partition key `pk`, TTL on `expires_at`, billed per request, as
    /// docs/stores.md creates one) and returns the `session_store` URL that names it.
    pub async fn fresh(&self) -> String {
        let client = client(&self.endpoint);
        sweep(&client).await;
        let now = server_side_sessions::clock::now_ms() / 1000;
        let name = format!("{TABLE_PREFIX}{now}-{}", unique(""));
        let key = KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build();
        let attribute = AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build();
        client
            .create_table()
            .table_name(&name)
            .key_schema(key.expect("a key schema"))
            .attribute_definitions(attribute.expect("an attribute"))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("the emulator creates a table");
        let ttl = TimeToLiveSpecification::builder().enabled(true).attribute_name("expires_at").build();
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(ttl.expect("a TTL"))
            .send()
            .await
            .expect("the emulator sets the TTL attribute");
        self.made.lock().unwrap().push(name.clone());
        format!("dynamodb://{name}?endpoint={}", self.endpoint)
    }
}

/// Deletes test tables over an hour old (their name says when they were made).
async fn sweep(client: &Client) {
    let Ok(listed) = client.list_tables().send().await else { return };
    let now = server_side_sessions::clock::now_ms() / 1000;
    for name in listed.table_names() {
        let made =
            name.strip_prefix(TABLE_PREFIX).and_then(|rest| rest.split('-').next()?.parse::<u64>().ok());
        if made.is_some_and(|at| at + 3600 < now) {
            let _ = client.delete_table().table_name(name).send().await;
        }
    }
}

impl Drop for Tables {
    fn drop(&mut self) {
        let names: Vec<String> =
            self.made.lock().map(|mut made| made.drain(..).collect()).unwrap_or_default();
        if names.is_empty() {
            return;
        }
        // Drop cannot await, and may run inside the test's runtime: use a runtime of its own.
        let endpoint = self.endpoint.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let client = client(&endpoint);
                for name in names {
                    let deleted = client.delete_table().table_name(name).send();
                    let _ = tokio::time::timeout(Duration::from_secs(5), deleted).await;
                }
            });
            Some(())
        });
        let _ = cleanup.join();
    }
}
