// JetStream checks a nats.js client makes against one server (meridian-node or nats-server
// with JetStream enabled, file storage). Exits 0 only when all passed; prints each check.
// Usage: node node_jetstream.mjs --url nats://host:port --phase all|before-restart|after-restart
//   all             streams, publish acks, dedupe, expected-last-seq, pull fetch/consume,
//                   push, ordered consumer, ack/nak/term, KV, object store
//   before-restart  creates stream DUR with a durable pull consumer, acks 3 of 5 messages
//   after-restart   (after the server restarted on the same store) the durable delivers 4, 5
import {
  AckPolicy,
  connect,
  consumerOpts,
  createInbox,
  DeliverPolicy,
  headers,
  StorageType,
  StringCodec,
} from "nats";

const args = process.argv.slice(2);
function arg(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
const url = arg("--url");
const phase = arg("--phase", "all");
if (!url) {
  console.log("FAILED: --url is required");
  process.exit(1);
}
const sc = StringCodec();
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures++;
}
async function expectError(fn, what, pattern) {
  try {
    await fn();
    check(false, `${what} (no error)`);
  } catch (e) {
    const text = `${e?.message ?? e} ${e?.api_error?.err_code ?? ""}`;
    check(pattern.test(text), `${what} (${text.trim()})`);
  }
}
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function publishAndDedupe(js, jsm) {
  await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"], storage: StorageType.File,
                          duplicate_window: 60_000_000_000 });
  const a1 = await js.publish("orders.new", sc.encode("one"), { msgID: "id-1" });
  check(a1.stream === "ORDERS" && a1.seq === 1 && !a1.duplicate, "publish is acknowledged with seq 1");
  const a2 = await js.publish("orders.new", sc.encode("one again"), { msgID: "id-1" });
  check(a2.seq === 1 && a2.duplicate === true, "same Nats-Msg-Id is a duplicate of seq 1");
  const a3 = await js.publish("orders.paid", sc.encode("two"), { expect: { lastSequence: 1 } });
  check(a3.seq === 2, "expected last sequence 1 is accepted");
  await expectError(() => js.publish("orders.paid", sc.encode("x"), { expect: { lastSequence: 1 } }),
                    "wrong expected last sequence is refused", /wrong last sequence|10071/);
  await expectError(() => js.publish("orders.new", sc.encode("x"),
                                     { expect: { lastSubjectSequence: 5 } }),
                    "wrong expected last subject sequence is refused", /wrong last sequence|10071/);
  await expectError(() => js.publish("nowhere.x", sc.encode("x"), { timeout: 2000 }),
                    "publish to a subject no stream captures fails", /503|no responders|timeout/i);
  const h = headers();
  h.set("X-Trace", "abc");
  const a4 = await js.publish("orders.new", sc.encode("three"), { headers: h });
  const sm = await jsm.streams.getMessage("ORDERS", { seq: a4.seq });
  check(sm.header.get("X-Trace") === "abc" && sc.decode(sm.data) === "three",
        "stored headers and payload are returned by MSG.GET");
  const info = await jsm.streams.info("ORDERS");
  check(info.state.messages === 3 && info.state.last_seq === 3, "stream info counts 3 messages");
  const names = await jsm.streams.names().next();
  check(names.includes("ORDERS"), "stream names list ORDERS");
}

async function pullAndAcks(js, jsm) {
  await jsm.streams.add({ name: "WORK", subjects: ["work.*"], storage: StorageType.File });
  for (let i = 1; i <= 10; i++) await js.publish("work.item", sc.encode(`w${i}`));
  await jsm.consumers.add("WORK", { durable_name: "puller", ack_policy: AckPolicy.Explicit,
                                    ack_wait: 2_000_000_000 });
  const c = await js.consumers.get("WORK", "puller");
  const batch = await c.fetch({ max_messages: 4, expires: 5000 });
  const got = [];
  for await (const m of batch) {
    got.push(sc.decode(m.data));
    m.ack();
  }
  check(got.join(",") === "w1,w2,w3,w4", `fetch returns the first 4 in order (${got})`);

  // nak: redelivered; term: never again; ack: done.
  const b2 = await c.fetch({ max_messages: 3, expires: 5000 });
  const seen = [];
  for await (const m of b2) {
    seen.push(m.seq);
    if (m.seq === 5) m.nak();
    else if (m.seq === 6) m.term();
    else await m.ackAck();
  }
  check(seen.join(",") === "5,6,7", `second fetch continues at 5 (${seen})`);
  const b3 = await c.fetch({ max_messages: 1, expires: 5000 });
  let redelivered = null;
  for await (const m of b3) {
    redelivered = m;
    m.ack();
  }
  check(redelivered?.seq === 5 && redelivered.info.redelivered && redelivered.info.deliveryCount === 2,
        "a nak'd message is redelivered with delivery count 2");

  const msgs = [];
  const it = await c.consume({ max_messages: 10 });
  for await (const m of it) {
    msgs.push(m.seq);
    m.ack();
    if (m.seq === 10) break;
  }
  check(msgs.join(",") === "8,9,10", `consume delivers the rest and never the termed 6 (${msgs})`);
  await delay(300);
  const ci = await c.info();
  check(ci.num_ack_pending === 0 && ci.delivered.stream_seq === 10 && ci.ack_floor.stream_seq === 10,
        `consumer info: nothing pending, ack floor 10 (pending ${ci.num_ack_pending}, floor ${ci.ack_floor.stream_seq})`);
  const none = await c.fetch({ max_messages: 1, expires: 1000 });
  let extra = 0;
  for await (const _ of none) extra++;
  check(extra === 0, "fetch on a drained consumer ends empty after expires");
}

async function pushAndOrdered(nc, js, jsm) {
  await jsm.streams.add({ name: "EVENTS", subjects: ["ev.>"], storage: StorageType.File });
  for (let i = 1; i <= 5; i++) await js.publish(`ev.${i % 2 ? "odd" : "even"}`, sc.encode(`e${i}`));
  const opts = consumerOpts();
  opts.durable("pusher");
  opts.manualAck();
  opts.ackExplicit();
  opts.deliverTo(createInbox());
  opts.filterSubject("ev.odd");
  const sub = await js.subscribe("ev.odd", opts);
  const got = [];
  for await (const m of sub) {
    got.push(sc.decode(m.data));
    m.ack();
    if (got.length === 3) break;
  }
  check(got.join(",") === "e1,e3,e5", `push consumer with a filter delivers the odd events (${got})`);

  const oc = await js.consumers.get("EVENTS");
  const ordered = [];
  const it = await oc.consume();
  for await (const m of it) {
    ordered.push(m.seq);
    if (m.seq === 5) break;
  }
  check(ordered.join(",") === "1,2,3,4,5", `ordered consumer reads the stream in order (${ordered})`);
  const oc2 = await js.consumers.get("EVENTS", { deliver_policy: DeliverPolicy.LastPerSubject });
  const last = [];
  const it2 = await oc2.fetch({ max_messages: 2, expires: 3000 });
  for await (const m of it2) last.push(sc.decode(m.data));
  check(last.sort().join(",") === "e4,e5", `ordered consumer, last per subject (${last})`);
  const st = await jsm.streams.info("EVENTS");
  check(st.state.messages === 5, "stream info after consumers");
  await jsm.streams.delete("EVENTS");
  await expectError(() => jsm.streams.info("EVENTS"), "a deleted stream is not found",
                    /stream not found|10059/);
}

async function keyValue(js) {
  const kv = await js.views.kv("settings", { history: 5 });
  const r1 = await kv.put("color", sc.encode("red"));
  const r2 = await kv.put("color", sc.encode("green"));
  check(r2 > r1, "put returns increasing revisions");
  const e = await kv.get("color");
  check(sc.decode(e.value) === "green" && e.revision === r2, "get returns the last value");
  const r3 = await kv.update("color", sc.encode("blue"), r2);
  check(r3 > r2, "update with the current revision succeeds");
  await expectError(() => kv.update("color", sc.encode("x"), r2), "update with an old revision fails",
                    /wrong last sequence|10071/);
  await expectError(() => kv.create("color", sc.encode("x")), "create of an existing key fails",
                    /wrong last sequence|10071|exists/);
  await kv.put("size", sc.encode("L"));
  const hist = [];
  for await (const h of await kv.history({ key: "color" })) hist.push(sc.decode(h.value));
  check(hist.join(",") === "red,green,blue", `history lists every value (${hist})`);
  const watched = [];
  const w = await kv.watch({ key: "color" });
  const done = (async () => {
    for await (const x of w) {
      watched.push(`${x.operation}:${sc.decode(x.value)}`);
      if (x.operation === "DEL") break;
    }
  })();
  await delay(200);
  await kv.put("color", sc.encode("black"));
  await kv.delete("color");
  await Promise.race([done, delay(5000)]);
  w.stop();
  check(watched.join(",") === "PUT:blue,PUT:black,DEL:", `watch sees the current value, then changes (${watched})`);
  check((await kv.get("color"))?.operation === "DEL", "a deleted key reads as a delete marker");
  const keys = [];
  for await (const k of await kv.keys()) keys.push(k);
  check(keys.join(",") === "size", `keys lists the live keys (${keys})`);
  const status = await kv.status();
  check(status.bucket === "settings" && status.history === 5, "bucket status");
}

async function objectStore(js) {
  const os = await js.views.os("files");
  const size = 300 * 1024 + 17; // several 128 KiB chunks
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
  const info = await os.putBlob({ name: "big.bin" }, data);
  check(info.size === size && info.chunks === 3, `put stores ${size} bytes in 3 chunks (${info.chunks})`);
  await os.putBlob({ name: "small.txt" }, sc.encode("tiny"));
  const back = await os.getBlob("big.bin");
  let same = back && back.length === size;
  for (let i = 0; same && i < size; i++) same = back[i] === data[i];
  check(same, "get returns the same bytes (digest checked by the client)");
  const names = (await os.list()).map((o) => o.name).sort();
  check(names.join(",") === "big.bin,small.txt", `list shows both objects (${names})`);
  await os.delete("big.bin");
  const after = (await os.list()).map((o) => o.name);
  check(after.join(",") === "small.txt", `delete removes the object (${after})`);
  check((await os.get("big.bin")) === null, "a deleted object is not found");
}

async function beforeRestart(js, jsm) {
  await jsm.streams.add({ name: "DUR", subjects: ["dur.>"], storage: StorageType.File });
  for (let i = 1; i <= 5; i++) await js.publish("dur.x", sc.encode(`d${i}`));
  await jsm.consumers.add("DUR", { durable_name: "keeper", ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get("DUR", "keeper");
  const b = await c.fetch({ max_messages: 3, expires: 5000 });
  const got = [];
  for await (const m of b) {
    got.push(m.seq);
    await m.ackAck();
  }
  check(got.join(",") === "1,2,3", `durable acks 1..3 before the restart (${got})`);
}

async function afterRestart(js, jsm) {
  const info = await jsm.streams.info("DUR");
  check(info.state.messages === 5, `the stream kept its 5 messages (${info.state.messages})`);
  const c = await js.consumers.get("DUR", "keeper");
  const b = await c.fetch({ max_messages: 5, expires: 3000 });
  const got = [];
  for await (const m of b) {
    got.push(m.seq);
    m.ack();
  }
  check(got.join(",") === "4,5", `the durable resumes after its ack floor (${got})`);
  const a = await js.publish("dur.x", sc.encode("d6"));
  check(a.seq === 6, "publishing continues at sequence 6");
}

async function main() {
  const nc = await connect({ servers: url, name: "node_jetstream" });
  check(nc.info.jetstream === true, "INFO advertises jetstream");
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const sections = phase === "all"
    ? [["publish", () => publishAndDedupe(js, jsm)], ["pull", () => pullAndAcks(js, jsm)],
       ["push", () => pushAndOrdered(nc, js, jsm)], ["kv", () => keyValue(js)],
       ["objects", () => objectStore(js)]]
    : phase === "before-restart" ? [["before", () => beforeRestart(js, jsm)]]
    : [["after", () => afterRestart(js, jsm)]];
  for (const [name, fn] of sections) {
    try {
      await fn();
    } catch (e) {
      check(false, `${name}: ${e?.stack ?? e}`);
    }
  }
  await nc.close();
  console.log(failures === 0 ? "ALL OK" : `${failures} FAILED`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAILED: ${e?.stack ?? e}`);
  process.exit(1);
});
