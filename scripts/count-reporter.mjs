// A node:test reporter that only counts, so scripts/run-tests.mjs reads its totals from
// test events rather than from whatever the default reporter prints (TAP on Node 20 when
// stdout is not a terminal, spec on Node 23+).
//
// The counts follow the TAP summary's rules (node's own `# pass` / `# fail` counters) on
// Node 20, 22 and 24:
// - suites (`describe`) are not counted, tests that have subtests are;
// - skipped and todo tests are counted apart, never as passed or failed;
// - a test cancelled because its parent failed or the run was cut short is counted as
//   cancelled, not failed (the parent's own failure is the one counted);
// - a test file that fails to load is one failed test.
// One deliberate difference: a test that exceeded its timeout is counted as failed (node's
// summary lists it under `# cancelled`, which would hide it from the closing line).
// At the end it writes one JSON object: {"pass":N,"fail":N,"skipped":N,"todo":N,"cancelled":N}.
export default async function* countReporter(source) {
  const counts = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    // Node 20 sets details.type only on suites; 22+ on every test.
    if (data.details?.type === 'suite') continue;
    if (data.skip) counts.skipped++;
    else if (data.todo) counts.todo++;
    else if (event.type === 'test:pass') counts.pass++;
    else if (isCancelled(data.details?.error)) counts.cancelled++;
    else counts.fail++;
  }
  yield `${JSON.stringify(counts)}\n`;
}

/** node:test marks a test it never finished with failureType 'cancelledByParent'. */
function isCancelled(error) {
  return error?.failureType === 'cancelledByParent' || error?.cause?.failureType === 'cancelledByParent';
}
