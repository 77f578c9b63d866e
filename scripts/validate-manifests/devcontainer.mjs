// Validates .devcontainer/devcontainer.json and the compose file it names, offline: the JSON
// with comments as the Dev Containers specification allows it (no trailing commas), every
// property this project uses against the type the specification's reference gives it, no
// property it does not know, and then this project's own rules (port 8000 forwarded and
// labelled, the Rust image of the Dev Containers project, Redis beside it, the build after
// creation).
//
// The specification's own JSON schema is in no package on the npm registry (the
// @devcontainers/cli package ships only its bundled code), so SCHEMA below states the types
// of the properties used here, written from the specification's reference.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import Ajv from "ajv";
import { parse as parseJsonc, printParseErrorCode } from "jsonc-parser";
import { parse as parseYaml } from "yaml";

const COMMAND = {
  type: ["string", "array", "object"],
  items: { type: "string" },
  additionalProperties: { type: ["string", "array"], items: { type: "string" } },
};
const SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string" },
    dockerComposeFile: { type: ["string", "array"], items: { type: "string" } },
    service: { type: "string" },
    workspaceFolder: { type: "string" },
    forwardPorts: {
      type: "array",
      items: { oneOf: [{ type: "integer", minimum: 0, maximum: 65535 }, { type: "string", pattern: "^([a-z0-9-]+):(\\d{1,5})$" }] },
    },
    portsAttributes: {
      type: "object",
      additionalProperties: {
        type: "object",
        properties: {
          label: { type: "string" },
          onAutoForward: { enum: ["notify", "openBrowser", "openBrowserOnce", "openPreview", "silent", "ignore"] },
        },
      },
    },
    postCreateCommand: COMMAND,
    customizations: { type: "object" },
  },
  required: ["dockerComposeFile", "service", "workspaceFolder"],
  additionalProperties: false,
};
const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(SCHEMA);

function rules(config, compose) {
  const problems = [];
  const services = compose?.services ?? {};
  const app = services[config.service];
  if (!app) return [`the compose file has no service "${config.service}"`];
  if (!String(app.image ?? "").startsWith("mcr.microsoft.com/devcontainers/rust:")) {
    problems.push("the app service must use the Dev Containers project's Rust image");
  }
  const [, beside] = String(app.network_mode ?? "").match(/^service:(.+)$/) ?? [];
  if (!/^(docker\.io\/library\/)?redis:/.test(services[beside]?.image ?? "")) {
    problems.push("the app must share the network of a Redis service (Redis at 127.0.0.1:6379)");
  }
  if (app.ports) problems.push("ports are published, not forwarded (Codespaces ignores them): use forwardPorts");
  if (JSON.stringify(app.environment ?? {}).includes("ROCKET_ADDRESS")) {
    problems.push("ROCKET_ADDRESS is not needed: forwarded ports reach the app on 127.0.0.1");
  }
  if (!(config.forwardPorts ?? []).includes(8000)) problems.push("port 8000 must be forwarded");
  if (!config.portsAttributes?.["8000"]?.label) problems.push("port 8000 needs a label");
  if (!/\bcargo build\b/.test(JSON.stringify(config.postCreateCommand ?? ""))) {
    problems.push("postCreateCommand must build the dependencies (cargo build)");
  }
  return problems;
}

// The problems of a devcontainer.json given as text, with its compose file as an object.
function check({ text, compose }) {
  const errors = [];
  const config = parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: false });
  if (errors.length) return errors.map((e) => `syntax: ${printParseErrorCode(e.error)} at offset ${e.offset}`);
  if (!validate(config)) return validate.errors.map((e) => `schema: ${e.instancePath || "/"} ${e.message}`);
  return rules(config, compose);
}

function load(path) {
  const text = readFileSync(path, "utf8");
  const config = parseJsonc(text) ?? {};
  const composeFile = [config.dockerComposeFile].flat()[0] ?? "compose.yaml";
  return { text, compose: parseYaml(readFileSync(join(dirname(path), composeFile), "utf8")) };
}

// A copy with the JSON changed by `change` (comments are lost, which is fine for a copy).
const edit = (change) => (file) => {
  const config = parseJsonc(file.text);
  change(config);
  return { ...file, text: JSON.stringify(config) };
};
const editCompose = (change) => (file) => {
  const compose = structuredClone(file.compose);
  change(compose.services);
  return { ...file, compose };
};
const BREAKAGES = {
  "a trailing comma": (f) => ({ ...f, text: f.text.replace(/\}\s*$/, ",}") }),
  "forwardPorts as text": edit((c) => (c.forwardPorts = "8000")),
  "a misspelt property": edit((c) => ((c.forwardedPorts = c.forwardPorts), delete c.forwardPorts)),
  "onAutoForward misspelt": edit((c) => (c.portsAttributes["8000"].onAutoForward = "notifyy")),
  "no workspaceFolder": edit((c) => delete c.workspaceFolder),
  "port 8000 not forwarded": edit((c) => (c.forwardPorts = [8080])),
  "port 8000 without a label": edit((c) => delete c.portsAttributes["8000"].label),
  "nothing built after creation": edit((c) => (c.postCreateCommand = "rustc --version")),
  "a service that is not there": edit((c) => (c.service = "rust")),
  "another image": editCompose((s) => (s.app.image = "rust:1")),
  "no Redis beside it": editCompose((s) => delete s.app.network_mode),
  "a published port": editCompose((s) => (s.app.ports = ["8000:8000"])),
  "ROCKET_ADDRESS set": editCompose((s) => (s.app.environment = { ROCKET_ADDRESS: "0.0.0.0" })),
};

// Validates one devcontainer.json; returns how many problems were found.
export function validateDevcontainer(path) {
  const problems = check(load(path));
  console.log(`${problems.length ? "INVALID" : "valid"}: ${path} (dev container and its compose file)`);
  for (const p of problems) console.log(`    ${p}`);
  return problems.length ? 1 : 0;
}

// Breaks copies of one devcontainer.json; returns how many broken copies were accepted.
export function selfTestDevcontainer(path) {
  const original = load(path);
  if (check(original).length) {
    console.log(`INVALID before any change: ${path}`);
    return 1;
  }
  let accepted = 0;
  for (const [what, breakIt] of Object.entries(BREAKAGES)) {
    const problems = check(breakIt(original));
    console.log(`${problems.length ? "refused" : "ACCEPTED"}: ${path} with ${what}${problems.length ? ` (${problems[0]})` : ""}`);
    if (!problems.length) accepted++;
  }
  return accepted;
}
