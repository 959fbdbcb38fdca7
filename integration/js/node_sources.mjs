// The seeds' virtual-stream layout on one meridian-node: three write streams W1..W3 and three
// read streams R1..R3, each sourcing all three with a 2.10 source subject transform
// (w<i>.> -> v.R<j>.>). Sources with subject_transforms are 2.10 API, so streams are created
// with raw $JS.API requests (nats.js refuses them against a server advertising 2.9.10).
// Usage: node node_sources.mjs --url nats://host:port --phase setup|more --expect <per read stream>
// Publishes 300 messages to each write stream, then checks every read stream holds exactly
// --expect messages (each write message once). Exits 0 only when all checks passed.
import { connect, headers } from "nats";

const args = process.argv.slice(2);
const arg = (n, d) => (args.indexOf(n) >= 0 ? args[args.indexOf(n) + 1] : d);
const url = arg("--url");
const phase = arg("--phase", "setup");
const expect = Number(arg("--expect", "900"));
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures++;
}
const enc = new TextEncoder();
const dec = new TextDecoder();
const W = ["W1", "W2", "W3"];
const R = ["R1", "R2", "R3"];

async function api(nc, subject, body) {
  const r = await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: 10000 });
  return JSON.parse(dec.decode(r.data));
}

async function main() {
  const nc = await connect({ servers: url, name: "node_sources" });
  const js = nc.jetstream();
  if (phase === "setup") {
    for (const w of W) {
      const r = await api(nc, `$JS.API.STREAM.CREATE.${w}`,
                          { name: w, subjects: [`${w.toLowerCase()}.>`], storage: "file" });
      check(!r.error, `create write stream ${w} ${r.error ? JSON.stringify(r.error) : ""}`);
    }
    for (const rs of R) {
      const cfg = { name: rs, storage: "file",
                    sources: W.map((w) => ({ name: w, subject_transforms:
                      [{ src: `${w.toLowerCase()}.>`, dest: `v.${rs}.>` }] })) };
      const r = await api(nc, `$JS.API.STREAM.CREATE.${rs}`, cfg);
      check(!r.error, `create read stream ${rs} ${r.error ? JSON.stringify(r.error) : ""}`);
    }
  }
  for (let i = 0; i < 300; i++) {
    for (const w of W) {
      const h = headers();
      h.set("Nats-Msg-Id", `${phase}-${w}-${i}`);
      await js.publish(`${w.toLowerCase()}.m`, enc.encode(`${phase}-${w}-${i}`), { headers: h });
    }
  }
  const deadline = Date.now() + 20000;
  for (const rs of R) {
    let si;
    do {
      si = await api(nc, `$JS.API.STREAM.INFO.${rs}`, {});
      if (si.state.messages >= expect) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    check(si.state.messages === expect,
          `${rs} holds every write message exactly once (${si.state.messages} of ${expect})`);
    check(si.sources.length === 3 && si.sources.every((s) => s.lag === 0), `${rs} sources have no lag`);
  }
  const m = await api(nc, "$JS.API.STREAM.MSG.GET.R2", { seq: 1 });
  check(m.message?.subject?.startsWith("v.R2."), `read stream subjects are transformed (${m.message?.subject})`);
  await nc.close();
  console.log(failures === 0 ? "ALL OK" : `${failures} FAILED`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAILED: ${e?.stack ?? e}`);
  process.exit(1);
});
