// GET /openapi.json of the real binary, checked by tools that are not ours: @apidevtools/swagger-parser validates
// the document against the OpenAPI 3.1 schema, and Ajv checks every schema object in it against the JSON Schema
// 2020-12 meta-schema (OpenAPI 3.1's dialect), which swagger-parser leaves out for 3.1. The route-by-route
// checks against the router's table are tests/integration/test_openapi.py's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Server } from './support/server.mjs';

// Imported here, not at the top, to fail with the fix rather than a module-resolution trace.
async function validators() {
  try {
    const { default: SwaggerParser } = await import('@apidevtools/swagger-parser');
    const { default: Ajv2020 } = await import('ajv/dist/2020.js');
    return { SwaggerParser, Ajv2020 };
  } catch (error) {
    throw new Error(`the validators are not installed in tests/e2e: run scripts/setup.sh --test (${error.message})`);
  }
}

/// Every schema object of an OpenAPI 3.1 document, with where it is.
function* schemaObjects(doc) {
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) yield [`components/schemas/${name}`, schema];
  const contentSchemas = function* (content, where) {
    for (const [type, media] of Object.entries(content ?? {})) if (media.schema) yield [`${where}/content/${type}`, media.schema];
  };
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const p of op.parameters ?? []) yield [`${where} parameter ${p.name}`, p.schema];
      yield* contentSchemas(op.requestBody?.content, `${where} requestBody`);
      for (const [code, res] of Object.entries(op.responses ?? {})) {
        yield* contentSchemas(res.content, `${where} ${code}`);
        for (const [name, header] of Object.entries(res.headers ?? {})) yield [`${where} ${code} header ${name}`, header.schema];
      }
    }
  }
}

async function problemsOf(doc) {
  const { SwaggerParser, Ajv2020 } = await validators();
  const problems = [];
  try {
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc));
  } catch (error) {
    problems.push(`swagger-parser: ${error.message}`);
  }
  const ajv = new Ajv2020({ allErrors: true });
  for (const [where, schema] of schemaObjects(doc)) {
    if (!ajv.validateSchema(schema)) problems.push(`${where}: ${ajv.errorsText(ajv.errors)}`);
  }
  return problems;
}

describe('GET /openapi.json', () => {
  let server;
  let doc;

  before(async () => {
    server = await new Server().start();
    const res = await server.request('GET', '/openapi.json');
    assert.equal(res.status, 200, res.text);
    doc = res.json;
  });

  after(async () => {
    const code = await server.stop();
    assert.deepEqual(server.sanitizerReports(), []);
    assert.equal(code, 0, server.stderr.slice(-2000));
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(await problemsOf(doc), []);
  });

  it('names the licence by its SPDX identifier', () => {
    assert.deepEqual(doc.info.license, { name: 'Apache-2.0', identifier: 'Apache-2.0' });
  });

  // The validators must be able to say no, or the first test proves nothing.
  it('the validators reject a broken copy', async () => {
    const noLicenceName = structuredClone(doc);
    noLicenceName.info.license = { identifier: 'Apache-2.0' };
    assert.match((await problemsOf(noLicenceName)).join('\n'), /swagger-parser/);

    const responseWithoutDescription = structuredClone(doc);
    responseWithoutDescription.paths['/ping'].get.responses = { 200: {} };
    assert.match((await problemsOf(responseWithoutDescription)).join('\n'), /swagger-parser/);

    const badSchema = structuredClone(doc);
    badSchema.components.schemas.Pong.type = 'text';
    assert.match((await problemsOf(badSchema)).join('\n'), /components\/schemas\/Pong/);
  });
});
