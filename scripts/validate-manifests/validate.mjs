// Validates the Knative manifests in deploy/knative/ and the dev container
// (.devcontainer/devcontainer.json, see devcontainer.mjs) offline. The manifests: first against Knative Serving's
// published JSON schema for serving.knative.dev/v1 Service (the @kubernetes-models/knative
// package carries it), then against this app's own deployment rules (the probes, the secret
// key from a Secret, the hardening the image expects).
//
//   npm ci --prefix scripts/validate-manifests && node scripts/validate-manifests/validate.mjs deploy/knative/*.yaml
//   node scripts/validate-manifests/validate.mjs --self-test deploy/knative/service-redis.yaml .devcontainer/devcontainer.json
//
// --self-test breaks a copy of each file in several ways and fails unless every broken
// copy is refused, so the validator itself is shown to catch mistakes.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { Service } from "@kubernetes-models/knative/serving.knative.dev/v1/Service";
import { selfTestDevcontainer, validateDevcontainer } from "./devcontainer.mjs";

function appRules(doc) {
  const problems = [];
  const spec = doc.spec?.template?.spec ?? {};
  const annotations = doc.spec?.template?.metadata?.annotations ?? {};
  const [app, ...others] = spec.containers ?? [];
  if (!app || others.length) return ["exactly one container is expected"];
  const env = Object.fromEntries((app.env ?? []).map((e) => [e.name, e]));
  if (!env.ROCKET_SECRET_KEY?.valueFrom?.secretKeyRef) problems.push("ROCKET_SECRET_KEY must come from a Secret");
  if (env.ROCKET_SECRET_KEY?.value !== undefined) problems.push("ROCKET_SECRET_KEY must not be written in the manifest");
  if (app.readinessProbe?.httpGet?.path !== "/healthz") problems.push("the readiness probe must be GET /healthz");
  if (app.livenessProbe?.httpGet?.path !== "/livez") problems.push("the liveness probe must be GET /livez");
  if (app.ports?.[0]?.containerPort !== 8080) problems.push("the container port must be 8080 (the image's PORT)");
  const sc = app.securityContext ?? {};
  if (sc.runAsNonRoot !== true || sc.readOnlyRootFilesystem !== true || sc.allowPrivilegeEscalation !== false) {
    problems.push("runAsNonRoot, readOnlyRootFilesystem and no privilege escalation are required");
  }
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push("every capability must be dropped");
  // Cloud Run's front end (and Knative's ingress) append the visitor to X-Forwarded-For: the
  // per-client rate needs the hop count, or every visitor shares the proxy's one bucket.
  const hops = env.ROCKET_TRUSTED_PROXY_HOPS?.value;
  if (!/^[1-9][0-9]*$/.test(hops ?? "")) problems.push("ROCKET_TRUSTED_PROXY_HOPS must be a whole number of at least 1");
  if (env.ROCKET_IP_HEADER?.value && env.ROCKET_IP_HEADER.value !== "false") {
    problems.push("ROCKET_IP_HEADER and ROCKET_TRUSTED_PROXY_HOPS both name the client's address: keep one");
  }
  const store = env.ROCKET_SESSION_STORE?.value;
  const maxScale = Number(annotations["autoscaling.knative.dev/max-scale"]);
  if (store === "memory" && maxScale !== 1) {
    problems.push("the memory store needs max-scale 1: a second instance would not know the first one's sessions");
  }
  if (!Number.isFinite(maxScale) || maxScale < 1) problems.push("set autoscaling.knative.dev/max-scale");
  return problems;
}

function check(doc) {
  const problems = [];
  if (doc.apiVersion !== "serving.knative.dev/v1" || doc.kind !== "Service") {
    return [`expected a serving.knative.dev/v1 Service, found ${doc.apiVersion} ${doc.kind}`];
  }
  try {
    new Service(doc).validate();
  } catch (error) {
    problems.push(`schema: ${error.message}`);
  }
  return problems.concat(appRules(doc));
}

function load(path) {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  for (const doc of docs) if (doc.errors.length) throw new Error(`${path}: ${doc.errors[0].message}`);
  return docs.map((d) => d.toJS()).filter(Boolean);
}

const BREAKAGES = {
  "a container without a name": (d) => delete d.spec.template.spec.containers[0].name,
  "containerConcurrency as text": (d) => (d.spec.template.spec.containerConcurrency = "lots"),
  "timeoutSeconds as text": (d) => (d.spec.template.spec.timeoutSeconds = "thirty"),
  "the memory store on three instances": (d) => {
    d.spec.template.spec.containers[0].env[1] = { name: "ROCKET_SESSION_STORE", value: "memory" };
    d.spec.template.metadata.annotations["autoscaling.knative.dev/max-scale"] = "3";
  },
  "the key written in the manifest": (d) => (d.spec.template.spec.containers[0].env[0] = { name: "ROCKET_SECRET_KEY", value: "x" }),
  "liveness on /healthz": (d) => (d.spec.template.spec.containers[0].livenessProbe.httpGet.path = "/healthz"),
  "capabilities kept": (d) => delete d.spec.template.spec.containers[0].securityContext.capabilities,
  "no trusted proxy hops": (d) => {
    const env = d.spec.template.spec.containers[0].env;
    env.splice(env.findIndex((e) => e.name === "ROCKET_TRUSTED_PROXY_HOPS"), 1);
  },
  "zero trusted proxy hops": (d) => {
    d.spec.template.spec.containers[0].env.find((e) => e.name === "ROCKET_TRUSTED_PROXY_HOPS").value = "0";
  },
  "an ip header as well as hops": (d) => d.spec.template.spec.containers[0].env.push({ name: "ROCKET_IP_HEADER", value: "X-Real-IP" }),
};

const args = process.argv.slice(2);
let failed = 0;
const devcontainer = (path) => path.endsWith("devcontainer.json");
if (args[0] === "--self-test") {
  for (const path of args.slice(1)) {
    if (devcontainer(path)) {
      failed += selfTestDevcontainer(path);
      continue;
    }
    const original = load(path)[0];
    if (check(original).length) {
      console.log(`INVALID before any change: ${path}`);
      failed++;
      continue;
    }
    for (const [what, breakIt] of Object.entries(BREAKAGES)) {
      const doc = structuredClone(original);
      breakIt(doc);
      const problems = check(doc);
      console.log(`${problems.length ? "refused" : "ACCEPTED"}: ${path} with ${what}${problems.length ? ` (${problems[0]})` : ""}`);
      if (!problems.length) failed++;
    }
  }
} else {
  for (const path of args) {
    if (devcontainer(path)) {
      failed += validateDevcontainer(path);
      continue;
    }
    for (const doc of load(path)) {
      const problems = check(doc);
      console.log(`${problems.length ? "INVALID" : "valid"}: ${path} (${doc.kind} ${doc.metadata?.name})`);
      for (const p of problems) console.log(`    ${p}`);
      if (problems.length) failed++;
    }
  }
}
if (!args.length) {
  console.error("usage: validate.mjs [--self-test] FILE...");
  process.exit(2);
}
process.exit(failed ? 1 : 0);
