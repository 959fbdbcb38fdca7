// A nats.js client that stays connected to a sidecar while the sidecar's upstream server is
// killed (integration/tests/failover). It subscribes (plain and queue group), pulls from a
// durable pull consumer of a virtual stream, writes --ready FILE once all that is in place,
// then waits until every wanted payload arrived (or --timeout-ms), and prints
//   RESULT {"plain":[...],"queue":[...],"js":[...],"missing_core":[...],"missing_js":[...],
//           "statuses":[{"type":..,"data":..}],"disconnects":N}
// then OK. A PING every second exercises the sidecar's answers across the failover.
// Usage: node failover_client.mjs --url URL --ready FILE --plain S --queue S --stream NAME
//          --durable D --want-core P1,P2 --want-js P1,P2 [--timeout-ms N]
import { writeFileSync } from "node:fs";
import { AckPolicy, DeliverPolicy, connect, StringCodec } from "nats";

const sc = StringCodec();
const o = { timeoutMs: 60000, wantCore: [], wantJs: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const v = () => argv[++i];
  switch (argv[i]) {
    case "--url": o.url = v(); break;
    case "--ready": o.ready = v(); break;
    case "--plain": o.plain = v(); break;
    case "--queue": o.queue = v(); break;
    case "--stream": o.stream = v(); break;
    case "--durable": o.durable = v(); break;
    case "--want-core": o.wantCore = v().split(",").filter((s) => s); break;
    case "--want-js": o.wantJs = v().split(",").filter((s) => s); break;
    case "--timeout-ms": o.timeoutMs = Number(v()); break;
    default: throw new Error(`unknown argument ${argv[i]}`);
  }
}

const deadline = Date.now() + o.timeoutMs;
const missing = (want, got) => want.filter((p) => !got.includes(p));
const nc = await connect({
  servers: o.url, name: "fo-js", reconnect: true, maxReconnectAttempts: -1,
  pingInterval: 1000, maxPingOut: 3,
});
const statuses = [];
(async () => {
  for await (const s of nc.status()) statuses.push({ type: String(s.type), data: String(s.data) });
})();

const plain = [];
const queue = [];
const collect = async (sub, into) => {
  for await (const m of sub) into.push(sc.decode(m.data));
};
const plainSub = nc.subscribe(o.plain);
const queueSub = nc.subscribe(o.queue, { queue: "g" });
collect(plainSub, plain);
collect(queueSub, queue);

const jsm = await nc.jetstreamManager();
await jsm.consumers.add(o.stream, {
  durable_name: o.durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New,
});
const js = nc.jetstream();
const consumer = await js.consumers.get(o.stream, o.durable);
await nc.flush();
writeFileSync(o.ready, "ready\n");

const got = [];
while (Date.now() < deadline) {
  if (missing(o.wantJs, got).length === 0 && missing(o.wantCore, plain).length === 0 &&
      missing(o.wantCore, queue).length === 0) break;
  try {
    const batch = await consumer.fetch({ max_messages: 64, expires: 1000 });
    for await (const m of batch) {
      got.push(sc.decode(m.data));
      m.ack();
    }
  } catch (e) {
    statuses.push({ type: "fetch-error", data: String(e.message ?? e) });
    await new Promise((r) => setTimeout(r, 200));
  }
}
const disconnects = statuses.filter((s) => ["disconnect", "reconnecting", "reconnect"].includes(s.type)).length;
console.log(`RESULT ${JSON.stringify({
  plain, queue, js: got, missing_core: [...new Set([...missing(o.wantCore, plain), ...missing(o.wantCore, queue)])],
  missing_js: missing(o.wantJs, got), statuses, disconnects,
})}`);
await nc.close();
console.log("OK");
