// WhatsApp's binary node codec as Baileys ships it (lib/WABinary/encode.js, decode.js),
// driven by benchmarks/report.py.
//
//   node wabinary.js WABINARY_DIR ROUNDS < nodes.jsonl > results.jsonl
//
// stdin: one JSON node per line, {"tag": str, "attrs": {str: str}, "content": str | [node] | null}.
// stdout: one line per node, {"size": bytes of encodeBinaryNode(node) (its leading 0x00
// "not compressed" flag byte included), "ok": decodeBinaryNode(encoded) equals the node},
// then one summary line {"summary": true, "encode_ns": [...], "decode_ns": [...]}: the time
// of one pass over all nodes, per round (process.hrtime.bigint, inside node).
'use strict';
const path = require('path');
const readline = require('readline');

const dir = process.argv[2];
const rounds = Math.max(1, parseInt(process.argv[3] || '1', 10));
const { encodeBinaryNode } = require(path.join(dir, 'encode.js'));
const { decodeBinaryNode, decodeDecompressedBinaryNode } = require(path.join(dir, 'decode.js'));
const constants = require(path.join(dir, 'constants.js'));

function toJs(n) {
  const content = n.content === null || n.content === undefined ? undefined
    : Array.isArray(n.content) ? n.content.map(toJs) : n.content;
  return { tag: n.tag, attrs: n.attrs, content };
}

// decoded string content comes back as bytes (a Buffer): compare as UTF-8 text
function same(a, b) {
  if (a.tag !== b.tag) return false;
  const ka = Object.keys(a.attrs || {});
  const kb = Object.keys(b.attrs || {});
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i] || a.attrs[ka[i]] !== b.attrs[kb[i]]) return false;
  }
  let ca = a.content;
  let cb = b.content;
  if (ca instanceof Uint8Array) ca = Buffer.from(ca).toString('utf-8');
  if (cb instanceof Uint8Array) cb = Buffer.from(cb).toString('utf-8');
  if (Array.isArray(ca) || Array.isArray(cb)) {
    if (!Array.isArray(ca) || !Array.isArray(cb) || ca.length !== cb.length) return false;
    return ca.every((x, i) => same(x, cb[i]));
  }
  return (ca === undefined ? undefined : String(ca)) === (cb === undefined ? undefined : String(cb));
}

async function main() {
  const nodes = [];
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim()) nodes.push(toJs(JSON.parse(line)));
  }
  const out = [];
  const encoded = [];
  for (const n of nodes) {
    let size = -1;
    let ok = false;
    let error = null;
    try {
      const b = encodeBinaryNode(n);
      size = b.length;
      encoded.push(b);
      ok = same(n, await decodeBinaryNode(b));
    } catch (e) {
      error = String(e && e.message || e);
      encoded.push(null);
    }
    out.push(JSON.stringify({ size, ok, error }));
  }
  // timing: the same nodes, encoded and decoded (without the async inflate check) per pass
  const good = nodes.filter((_, i) => encoded[i] !== null);
  const bufs = encoded.filter((b) => b !== null).map((b) => b.subarray(1));
  const encNs = [];
  const decNs = [];
  for (let r = 0; r < rounds; r++) {
    let t = process.hrtime.bigint();
    for (const n of good) encodeBinaryNode(n);
    encNs.push(Number(process.hrtime.bigint() - t));
    t = process.hrtime.bigint();
    for (const b of bufs) decodeDecompressedBinaryNode(b, constants);
    decNs.push(Number(process.hrtime.bigint() - t));
  }
  out.push(JSON.stringify({ summary: true, nodes: good.length, encode_ns: encNs, decode_ns: decNs,
                            node: process.version }));
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
