//! The AWS path of docs/classroom.md, played against moto (an AWS API emulator): the blocks the
//! page marks `<!-- played by tests/app/deploy.rs -->` run as written, in order, with the `aws`
//! CLI and `cargo lambda deploy` of the real zip, so the page and this check cannot drift. What
//! the emulator then holds is read back and checked, and the app starts with the settings the
//! deployed function's environment names, read from the emulator's Secrets Manager through a
//! stand-in for AWS's extension. With `--features lambda`, moto on 127.0.0.1:5000 and `aws` and
//! `cargo lambda` on PATH: `scripts/lambda.sh deploy-check` provides all three.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::processes::shell;
use crate::support::secrets_extension::Extension;
use rocket::local::asynchronous::Client;
use serde_json::{json, Value};
use server_side_sessions::lambda::{rocket as function, secret_key};

const PAGE: &str = "docs/classroom.md";
const MARK: &str = "<!-- played by tests/app/deploy.rs -->";
const EMULATOR: &str = "export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=emulator \
    AWS_SECRET_ACCESS_KEY=emulator AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true\n";
/// What the emulator holds after the deploy, as one JSON object: the last thing printed.
const READ_BACK: &str = r#"fields='"function": %s, "url": %s, "policy": %s, "table": %s, "ttl": %s, "role": %s'
printf "READ BACK {$fields"', "role_policy": %s, "attached": %s, "inline": %s, "logs": %s, "secret_arn": "%s", "layer": "%s"}\n' \
  "$(aws lambda get-function-configuration --function-name "$FUNCTION")" \
  "$(aws lambda get-function-url-config --function-name "$FUNCTION")" \
  "$(aws lambda get-policy --function-name "$FUNCTION" --query Policy --output text)" \
  "$(aws dynamodb describe-table --table-name "$TABLE" --query Table)" \
  "$(aws dynamodb describe-time-to-live --table-name "$TABLE" --query TimeToLiveDescription)" \
  "$(aws iam get-role --role-name "$ROLE" --query Role)" \
  "$(aws iam get-role-policy --role-name "$ROLE" --policy-name "$FUNCTION" --query PolicyDocument)" \
  "$(aws iam list-attached-role-policies --role-name "$ROLE" --query AttachedPolicies)" \
  "$(aws iam list-role-policies --role-name "$ROLE" --query PolicyNames)" \
  "$(aws logs describe-log-groups --log-group-name-prefix "/aws/lambda/$FUNCTION" --query logGroups)" \
  "$SECRET_ARN" "$LAYER""#;

/// The page's marked blocks, in order: the names (step 0), the deploy, the reset, the teardown.
fn played_blocks() -> Vec<String> {
    let page = std::fs::read_to_string(PAGE).expect("the page");
    let mut lines = page.lines();
    let mut blocks = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim() == MARK {
            assert_eq!(lines.next(), Some("```"), "a fence right after the mark");
            blocks.push(lines.by_ref().take_while(|l| *l != "```").collect::<Vec<_>>().join("\n") + "\n");
        }
    }
    assert_eq!(blocks.len(), 4, "names, deploy, reset, teardown");
    blocks
}

/// Runs `script` in the repository with the emulator's settings; its output with stderr.
async fn play(script: &str) -> (bool, String) {
    shell(Path::new("."), &format!("exec 2>&1\n{EMULATOR}{script}")).await
}

fn strings(value: &Value) -> BTreeSet<String> {
    match value {
        Value::String(one) => BTreeSet::from([one.clone()]),
        many => many.as_array().into_iter().flatten().flat_map(strings).collect(),
    }
}

#[tokio::test]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn the_classroom_aws_path_deploys_what_it_says() {
    let blocks = played_blocks();
    let (names, teardown) = (&blocks[0], &blocks[3]);
    // AWS's layer is in no emulator: a stand-in of the same name takes its place in step 0.
    let publish =
        "cd \"$(mktemp -d)\" && echo stand-in > x && python3 -m zipfile -c layer.zip x && aws lambda \
        publish-layer-version --layer-name AWS-Parameters-and-Secrets-Lambda-Extension \
        --zip-file fileb://layer.zip --query LayerVersionArn --output text";
    let (published, layer) = play(publish).await;
    assert!(published, "the emulator answers, with `aws` on PATH: {layer}");
    let line = names.lines().find(|l| l.starts_with("export LAYER=")).expect("step 0 sets LAYER");
    let names = names.replace(line, &format!("export LAYER={}", layer.trim()));
    // What an aborted run left behind goes first, or its names would be taken.
    play(&format!("{names}{teardown}")).await;

    let (deployed, out) = play(&format!("set -e\n{names}{}{READ_BACK}", blocks[1])).await;
    assert!(deployed, "the commands ran:\n{out}");
    let json = out.split_once("READ BACK ").map_or("", |(_, json)| json);
    let held: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let function = &held["function"];
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(function["Architectures"], json!(["x86_64"]));
    assert_eq!((&function["MemorySize"], &function["Timeout"]), (&json!(256), &json!(10)));
    assert_eq!(function["Role"], held["role"]["Arn"]);
    assert_eq!(function["Layers"][0]["Arn"], held["layer"]);
    let env: BTreeMap<String, String> =
        serde_json::from_value(function["Environment"]["Variables"].clone()).expect("variables");
    assert_eq!(env.keys().collect::<Vec<_>>(), ["ROCKET_SESSION_STORE", "SECRET_KEY_SECRET_ID"]);
    assert_eq!(held["url"]["AuthType"], "NONE");
    let public =
        held["policy"]["Statement"].as_array().into_iter().flatten().filter(|s| s["Principal"] == "*");
    let public: BTreeSet<_> = public.flat_map(|s| strings(&s["Action"])).collect();
    assert_eq!(public, strings(&json!(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"])));
    let table = &held["table"];
    assert_eq!(table["KeySchema"], json!([{"AttributeName": "pk", "KeyType": "HASH"}]));
    assert_eq!(table["AttributeDefinitions"], json!([{"AttributeName": "pk", "AttributeType": "S"}]));
    assert_eq!(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(held["ttl"], json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}));
    assert_eq!(held["logs"][0]["retentionInDays"], 7);
    least_privilege(&held);
    reads_its_secrets(env, table["TableName"].as_str().unwrap_or("")).await;

    let (reset, out) = play(&format!("set -e\n{names}{}", blocks[2])).await;
    assert!(reset, "the reset between classes ran:\n{out}");
    let (down, out) = play(&format!("set -e\n{names}{teardown}")).await;
    assert!(down, "the teardown ran:\n{out}");
}

/// Lambda alone assumes the role, and its one policy lets it do these things to these ARNs only.
fn least_privilege(held: &Value) {
    let trust = &held["role"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust[0]["Principal"], json!({"Service": "lambda.amazonaws.com"}));
    assert_eq!((trust.as_array().map(Vec::len), &trust[0]["Action"]), (Some(1), &json!("sts:AssumeRole")));
    assert_eq!(held["attached"], json!([]), "no managed policy: they allow every resource");
    let arn = held["function"]["FunctionArn"].as_str().unwrap_or("").split(':').collect::<Vec<_>>();
    let (region, account, name) = (arn[3], arn[4], arn[6]);
    assert_eq!(held["inline"], json!([name]), "one policy");
    let secret = held["secret_arn"].as_str().unwrap_or("");
    assert!(
        secret.starts_with(&format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}/secret-key-"))
    );
    let dynamodb = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "Scan"];
    let expected = BTreeMap::from([
        (
            held["table"]["TableArn"].as_str().unwrap_or("").to_owned(),
            strings(&json!(dynamodb.map(|a| format!("dynamodb:{a}")))),
        ),
        (secret.to_owned(), strings(&json!("secretsmanager:GetSecretValue"))),
        (
            format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{name}:*"),
            strings(&json!(["logs:CreateLogStream", "logs:PutLogEvents"])),
        ),
    ]);
    let mut granted = BTreeMap::<String, BTreeSet<String>>::new();
    for statement in held["role_policy"]["Statement"].as_array().expect("statements") {
        assert_eq!((&statement["Effect"], statement.get("Condition")), (&json!("Allow"), None));
        let resource = statement["Resource"].as_str().expect("one resource per statement, never a list");
        granted.entry(resource.to_owned()).or_default().extend(strings(&statement["Action"]));
    }
    assert_eq!(granted, expected);
}

/// The app, started with the function's environment and its store URL moved into a secret,
/// reads the key and the URL from the emulator's Secrets Manager, and its store is the table.
async fn reads_its_secrets(mut env: BTreeMap<String, String>, table: &str) {
    const TOKEN: &str = "stand-in-session-token";
    let store = format!("dynamodb://{table}?endpoint=http://127.0.0.1:5000");
    let secret = format!("{table}/store-{}", std::process::id());
    let create = format!("aws secretsmanager create-secret --name {secret} --secret-string '{store}'");
    let (made, out) = play(&create).await;
    assert!(made, "{out}");
    env.remove("ROCKET_SESSION_STORE");
    env.insert("SESSION_STORE_SECRET_ID".into(), secret.clone());
    // Each answer is the emulator's `GetSecretValue`.
    let extension = Extension::start(TOKEN, |id| async move {
        let (found, body) = play(&format!("aws secretsmanager get-secret-value --secret-id '{id}'")).await;
        if found {
            Ok(body)
        } else {
            Err(body)
        }
    })
    .await;
    env.insert("AWS_SESSION_TOKEN".into(), TOKEN.into());
    env.insert("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT".into(), extension.port.to_string());
    let settings = secret_key::settings(|name| env.get(name).cloned()).await.expect("both secrets read");
    let key = &settings.iter().find(|(name, _)| *name == "secret_key").expect("the key").1;
    assert!(key.len() == 44 && !env.values().any(|value| value == key), "a fresh key, in no variable");
    let read: Vec<_> = settings.iter().map(|(name, _)| *name).collect();
    assert!(settings.contains(&("session_store", store)), "read from secrets: {read:?}");
    let client = Client::untracked(function(settings)).await.expect("the app launches");
    let health = client.get("/healthz").dispatch().await.into_string().await.unwrap_or_default();
    assert!(health.contains(r#""backend":"dynamodb","up":true"#), "{health}");
    env.insert("ROCKET_SESSION_STORE".into(), "memory".into());
    let direct = secret_key::settings(|name| env.get(name).cloned()).await.expect("the key read");
    assert!(direct.iter().all(|(name, _)| *name != "session_store"), "a setting given directly wins");
    let delete =
        format!("aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery");
    assert!(play(&delete).await.0);
}
