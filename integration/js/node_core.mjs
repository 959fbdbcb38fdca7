// Core NATS checks a nats.js client makes against one server (meridian-node or nats-server),
// with users app/app and limited/limited (publish only to allowed.>). Exits 0 only when all
// passed; prints each check. Usage: node node_core.mjs --url nats://host:port
import { connect, headers, StringCodec, ErrorCode } from "nats";

const args = process.argv.slice(2);
const url = args[args.indexOf("--url") + 1];
if (!url || args.indexOf("--url") < 0) {
  console.log("FAILED: --url is required");
  process.exit(1);
}
const sc = StringCodec();
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures++;
}

async function main() {
  const nc = await connect({ servers: url, user: "app", pass: "app", name: "node_core" });
  check(nc.info.version === "2.9.10", `server advertises version 2.9.10 (got ${nc.info.version})`);

  // pub/sub with a wildcard
  const sub = nc.subscribe("js.*", { max: 1 });
  nc.publish("js.one", sc.encode("hello"));
  for await (const m of sub) check(sc.decode(m.data) === "hello" && m.subject === "js.one",
                                   "wildcard subscription receives the publish");

  // headers
  const hsub = nc.subscribe("js.h", { max: 1 });
  const h = headers();
  h.set("X-Check", "yes");
  nc.publish("js.h", sc.encode("b"), { headers: h });
  for await (const m of hsub) check(m.headers?.get("X-Check") === "yes", "headers arrive");

  // request/reply
  const svc = nc.subscribe("js.svc");
  (async () => { for await (const m of svc) m.respond(sc.encode("pong:" + sc.decode(m.data))); })();
  const r = await nc.request("js.svc", sc.encode("ping"), { timeout: 2000 });
  check(sc.decode(r.data) === "pong:ping", "request gets the reply");

  // no responders
  try {
    await nc.request("js.nobody", sc.encode("x"), { timeout: 2000 });
    check(false, "request without responders fails");
  } catch (err) {
    check(err.code === ErrorCode.NoResponders, `request without responders fails with 503 (${err.code})`);
  }

  // queue group: each message to one member
  let a = 0, b = 0;
  const qa = nc.subscribe("js.q", { queue: "g", callback: () => a++ });
  const qb = nc.subscribe("js.q", { queue: "g", callback: () => b++ });
  for (let i = 0; i < 100; i++) nc.publish("js.q");
  await nc.flush();
  await new Promise((res) => setTimeout(res, 200));
  check(a + b === 100 && a > 0 && b > 0, `queue group shares 100 messages (${a} + ${b})`);
  qa.unsubscribe(); qb.unsubscribe();

  // auth failure
  try {
    const bad = await connect({ servers: url, user: "app", pass: "nope", reconnect: false,
                                maxReconnectAttempts: 0 });
    await bad.close();
    check(false, "wrong password is refused");
  } catch (err) {
    check(String(err.code).includes("AUTHORIZATION_VIOLATION") || /Authorization/i.test(err.message),
          `wrong password is refused (${err.code})`);
  }

  // permissions
  const lim = await connect({ servers: url, user: "limited", pass: "limited" });
  const errors = (async () => {
    for await (const s of lim.status()) {
      if (s.type === "error") return `${s.data?.message ?? s.data}`;
    }
    return "";
  })();
  lim.publish("denied.x", sc.encode("no"));
  await lim.flush();
  const err = await Promise.race([errors, new Promise((res) => setTimeout(() => res("timeout"), 2000))]);
  check(err === "PERMISSIONS_VIOLATION" || /Permissions Violation for Publish to "denied.x"/i.test(err), `publish violation reported (${err})`);
  check(!lim.isClosed(), "connection stays open after a permission violation");
  await lim.close();
  await nc.close();
}

main().then(() => process.exit(failures === 0 ? 0 : 1)).catch((e) => {
  console.log(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
