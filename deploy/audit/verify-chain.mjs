#!/usr/bin/env node
// Verifies Ticketflow hash chains offline, with nothing but Node.js (no npm install): the
// answer of GET /v1/tickets/{id}/history, or the JSON Lines of GET /v1/audit/export.
//
//   node verify-chain.mjs [--kept heads.txt] [file ...]     (no file: standard input)
//
// For each stream: revisions follow each other without a gap, each prevHash is the previous
// event's hash (64 zeros before revision 0), and each hash is SHA-256 over prevHash followed by
// the RFC 8785 canonical JSON of the envelope without `position` and `hash` (design.md). An
// export's chain-head and end lines are checked too. With --kept, a digest's heads file
// (GET /v1/audit/digests/{id}/heads): every kept head of a stream in the input must still be
// there with the same hash. Prints one line per stream; exits 0 when everything holds, 1 when
// anything does not, 2 on unusable input. See docs/audit.md.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const GENESIS = '0'.repeat(64);

/** RFC 8785 (JCS): keys sorted by UTF-16 code units, ECMAScript number and string forms, no whitespace. */
function canonical(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('a number that JSON cannot hold');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
}

function recomputeHash(envelope) {
  const { position: _position, hash: _hash, ...hashed } = envelope;
  return createHash('sha256').update(envelope.prevHash).update(canonical(hashed)).digest('hex');
}

function fail(message) {
  process.stderr.write(`verify-chain: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let keptFile;
const files = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--kept') keptFile = args[(i += 1)] ?? fail('--kept needs a file');
  else if (args[i] === '--help' || args[i] === '-h') {
    process.stdout.write('usage: node verify-chain.mjs [--kept heads.txt] [history.json | export.jsonl ...]\n');
    process.exit(0);
  } else files.push(args[i]);
}
const inputs = files.length > 0 ? files.map((file) => readFileSync(file, 'utf8')) : [readFileSync(0, 'utf8')];

// Envelopes per stream in the order given, chain heads and end lines as they come.
const streams = new Map();
const heads = new Map();
const ends = [];
for (const text of inputs) {
  const trimmed = text.trim();
  if (trimmed === '') continue;
  let values;
  if (trimmed.startsWith('{"events":') || trimmed.startsWith('{\n')) {
    try {
      values = JSON.parse(trimmed).events;
    } catch {
      values = undefined;
    }
  }
  if (!Array.isArray(values)) {
    values = trimmed.split('\n').map((line, index) => {
      try {
        return JSON.parse(line);
      } catch {
        return fail(`line ${index + 1} is not JSON`);
      }
    });
  }
  for (const value of values) {
    if (value?.kind === 'chain-head') heads.set(value.streamId, value);
    else if (value?.kind === 'end') ends.push(value);
    else if (typeof value?.streamId === 'string' && typeof value?.hash === 'string') {
      if (!streams.has(value.streamId)) streams.set(value.streamId, []);
      streams.get(value.streamId).push(value);
    } else fail(`not an envelope, chain head or end line: ${JSON.stringify(value).slice(0, 80)}`);
  }
}
if (streams.size === 0) fail('no events in the input');

let allGood = true;
const report = (ok, line) => {
  if (!ok) allGood = false;
  process.stdout.write(`${ok ? 'ok    ' : 'BROKEN'} ${line}\n`);
};

for (const [streamId, events] of streams) {
  events.sort((a, b) => a.revision - b.revision);
  const first = events[0];
  let broken;
  let previous = first.revision === 0 ? GENESIS : first.prevHash;
  events.forEach((event, index) => {
    if (broken) return;
    const due = first.revision + index;
    if (event.revision !== due) broken = `at revision ${event.revision}: revision ${due} is missing`;
    else if (event.prevHash !== previous) broken = `at revision ${event.revision}: prevHash is not the previous event's hash`;
    else if (recomputeHash(event) !== event.hash) broken = `at revision ${event.revision}: hash does not match the content`;
    previous = event.hash;
  });
  const last = events[events.length - 1];
  const from = first.revision === 0 ? '' : ` (from revision ${first.revision}: its prevHash taken as given)`;
  if (broken) {
    report(false, `${streamId} ${broken}`);
    continue;
  }
  report(true, `${streamId} revisions ${first.revision}..${last.revision}${from}, head ${last.revision}:${last.hash}`);
  const head = heads.get(streamId);
  if (head) {
    if (head.revision === last.revision) report(head.hash === last.hash, `${streamId} chain head ${head.revision}:${head.hash} ${head.hash === last.hash ? 'is the last event' : 'differs from the last event'}`);
    else if (head.revision > last.revision) report(true, `${streamId} chain head at revision ${head.revision}: ${head.revision - last.revision} later event(s) not in this input`);
    else report(false, `${streamId} chain head at revision ${head.revision} is before the last event exported (${last.revision})`);
  }
}
for (const end of ends) {
  const events = [...streams.values()].reduce((n, list) => n + list.length, 0);
  report(end.streams === streams.size && end.events === events, `end line: ${end.streams} streams, ${end.events} events (read ${streams.size}, ${events})`);
}
if (keptFile) {
  for (const line of readFileSync(keptFile, 'utf8').split('\n').filter(Boolean)) {
    const match = /^([^:]+):(\d+):([0-9a-f]{64})$/.exec(line);
    if (!match) fail(`${keptFile}: not a streamId:revision:hash line: ${line.slice(0, 80)}`);
    const [, streamId, revisionText, hash] = match;
    const events = streams.get(streamId);
    if (!events) continue;
    const revision = Number(revisionText);
    const event = events.find((e) => e.revision === revision);
    if (!event) {
      const lastRevision = events[events.length - 1].revision;
      report(false, `${streamId} kept head ${revision}: ${lastRevision < revision ? `the stream now ends at revision ${lastRevision} (truncated)` : 'that revision is not in this input'}`);
    } else {
      report(event.hash === hash, `${streamId} kept head ${revision}:${hash} ${event.hash === hash ? 'still holds' : `was rewritten (now ${event.hash})`}`);
    }
  }
}
process.exit(allGood ? 0 : 1);
