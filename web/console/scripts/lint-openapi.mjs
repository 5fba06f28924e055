// Lints an OpenAPI document with Redocly's lint engine (@redocly/openapi-core, the library @redocly/cli runs) and the
// rules of redocly-lint.yaml. For Node.js older than @redocly/cli 2 needs (>= 20.19), e.g. Debian 12's nodejs 18:
// tests/Herald.EndToEnd.Tests/OpenApiDocumentTests uses the CLI where it can run and this script otherwise.
// Usage: node scripts/lint-openapi.mjs <document.json> <config.yaml>; exit 1 on any error.
import { formatProblems, lint, loadConfig } from '@redocly/openapi-core';

const [file, configPath] = process.argv.slice(2);
const config = await loadConfig({ configPath });
const problems = await lint({ ref: file, config });
formatProblems(problems, { format: 'stylish', totals: { errors: 0, warnings: 0, ignored: 0 }, version: 'openapi-core' });
const errors = problems.filter((p) => p.severity === 'error').length;
console.log(`${errors} error(s), ${problems.length - errors} other problem(s)`);
process.exit(errors > 0 ? 1 : 0);
