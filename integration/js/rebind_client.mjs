// A nats.js app with a durable push consumer on a virtual stream that lives through a sidecar
// restart (integration/tests/sidecar js_client_test.cc, sidecar_perms). It is given only the
// sidecar's URL (and optionally a user), reconnects by itself, and reports every delivery.
//   node rebind_client.mjs --url URL --stream S --filter F --durable D --want P1,P2,...
//        [--phase1 P1,...] [--ready-dir DIR] [--user U --pass P] [--ack-wait-ms N]
//        [--core SUBJECT] [--timeout-ms N]
// It subscribes (legacy js.subscribe(F): creates D, deliver policy new, explicit acks, its own
// _INBOX deliver subject), writes DIR/subscribed, and DIR/phase1 once every --phase1 payload
// arrived. Each delivery is acked with ackAck (the ack's confirmation is recorded). Once every
// --want payload arrived it waits past ack_wait (redeliveries of unconfirmed acks show up),
// prints "RESULT {deliveries:[{payload,subject,stream,redelivered,redelivery_count,ack_confirmed}],
// missing, reconnects, disconnects, consumer:{filter,ack_pending,pending,redelivered}}", then OK.
// --core SUBJECT: also a plain subscription there; every message on it is answered (request/
// reply through the same connection), and the count is reported as core_answered.
import { connect, consumerOpts, createInbox, StringCodec } from "nats";

const sc = StringCodec();

function parseArgs(argv) {
  const opts = { timeoutMs: 50000, ackWaitMs: 2000, want: [], phase1: [] };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    const list = () => value().split(",").filter((s) => s.length > 0);
    switch (argv[i]) {
      case "--url": opts.url = value(); break;
      case "--stream": opts.stream = value(); break;
      case "--filter": opts.filter = value(); break;
      case "--durable": opts.durable = value(); break;
      case "--want": opts.want = list(); break;
      case "--phase1": opts.phase1 = list(); break;
      case "--ready-dir": opts.readyDir = value(); break;
      case "--user": opts.user = value(); break;
      case "--pass": opts.pass = value(); break;
      case "--ack-wait-ms": opts.ackWaitMs = Number(value()); break;
      case "--core": opts.core = value(); break;
      case "--timeout-ms": opts.timeoutMs = Number(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  for (const k of ["url", "stream", "filter", "durable"]) {
    if (!opts[k]) throw new Error(`--${k} is required`);
  }
  return opts;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function mark(dir, name) {
  if (!dir) return;
  const fs = await import("node:fs/promises");
  await fs.writeFile(`${dir}/${name}`, `${Date.now()}\n`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const nc = await connect({
    servers: o.url,
    name: "rebind-client",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(o.user ? { user: o.user, pass: o.pass } : {}),
  });
  let reconnects = 0;
  let disconnects = 0;
  const errors = [];
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "reconnect") reconnects++;
      if (s.type === "disconnect") disconnects++;
      if (s.type === "error") errors.push(String(s.data));
      console.log(`status ${s.type} ${typeof s.data === "string" ? s.data : ""}`);
    }
  })();
  let coreAnswered = 0;
  if (o.core) {
    const core = nc.subscribe(o.core);
    (async () => {
      for await (const m of core) {
        m.respond(sc.encode(`echo ${sc.decode(m.data)}`));
        coreAnswered++;
      }
    })();
  }
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const copts = consumerOpts();
  copts.durable(o.durable);
  copts.manualAck();
  copts.ackExplicit();
  copts.ackWait(o.ackWaitMs);
  copts.deliverTo(createInbox());
  copts.deliverNew();
  const sub = await js.subscribe(o.filter, copts);
  await mark(o.readyDir, "subscribed");
  console.log(`subscribed on ${sub.getSubject()}`);

  const deliveries = [];
  const got = new Set();
  const missingOf = (want) => want.filter((p) => !got.has(p));
  let phase1Marked = false;
  (async () => {
    for await (const m of sub) {
      const d = {
        payload: sc.decode(m.data),
        subject: m.subject,
        stream: m.info.stream,
        redelivered: m.info.redelivered,
        redelivery_count: m.info.redeliveryCount,
        ack_confirmed: false,
      };
      deliveries.push(d);
      got.add(d.payload);
      try {
        d.ack_confirmed = await m.ackAck({ timeout: 5000 });
      } catch (err) {
        d.ack_error = err.message;
      }
      if (!phase1Marked && o.phase1.length > 0 && missingOf(o.phase1).length === 0) {
        phase1Marked = true;
        await mark(o.readyDir, "phase1");
      }
    }
  })();
  const deadline = Date.now() + o.timeoutMs;
  while (missingOf(o.want).length > 0 && Date.now() < deadline) await sleep(50);
  // Past ack_wait: a delivery whose ack did not stick comes again.
  await sleep(o.ackWaitMs + 1500);
  const ci = await jsm.consumers.info(o.stream, o.durable);
  console.log(`RESULT ${JSON.stringify({
    deliveries,
    missing: missingOf(o.want),
    reconnects,
    disconnects,
    errors,
    core_answered: coreAnswered,
    consumer: {
      stream: ci.stream_name,
      filter: ci.config.filter_subject ?? null,
      deliver_subject: ci.config.deliver_subject ?? null,
      ack_pending: ci.num_ack_pending,
      pending: ci.num_pending,
      redelivered: ci.num_redelivered,
    },
    inbox: sub.getSubject(),
  })}`);
  sub.unsubscribe();
  await nc.close();
  console.log("OK");
}

main().catch((err) => {
  console.log(`FAILED: ${err.message} ${err.api_error ? JSON.stringify(err.api_error) : ""}`);
  process.exit(1);
});
