// An unmodified nats.js client of a virtual stream, driven by the sidecar integration tests.
// It is given only a server URL (the sidecar's) and prints one JSON line per result, prefixed
// "RESULT ", then "OK". Usage:
//   node sidecar_client.mjs --url URL <command> [options]
// Commands:
//   publish  --subject S --payload P [--expect-stream NAME]   -> {stream, seq, duplicate}
//   info     --stream NAME                                    -> {name, messages}
//   find     --subject S                                      -> {stream}
//   ordered  --stream NAME [--filter S] --want P1,P2,...      -> {received:[{subject,payload,stream}], missing}
//   pull     --stream NAME [--filter S] --durable D --want ... -> {received, missing, ack_pending, redelivered, after_ack_wait}
//   push     --stream NAME --subject S --durable D --want ... -> same as pull (legacy js.subscribe(S))
// --want lists payloads to wait for; the command stops when all arrived or at --timeout-ms.
//   last     --stream NAME --subject S                        -> {subject, payload, seq, stream_header}
//   refuse   --stream NAME                                    -> {create, update, delete, purge} (each the error or null)
import { AckPolicy, connect, createInbox, consumerOpts, StringCodec } from "nats";

const sc = StringCodec();

function parseArgs(argv) {
  const opts = { timeoutMs: 10000, want: [] };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--url": opts.url = value(); break;
      case "--subject": opts.subject = value(); break;
      case "--payload": opts.payload = value(); break;
      case "--stream": opts.stream = value(); break;
      case "--durable": opts.durable = value(); break;
      case "--filter": opts.filter = value(); break;
      case "--expect-stream": opts.expectStream = value(); break;
      case "--want": opts.want = value().split(",").filter((s) => s.length > 0); break;
      case "--timeout-ms": opts.timeoutMs = Number(value()); break;
      default:
        if (argv[i].startsWith("--") || opts.command) throw new Error(`unknown argument ${argv[i]}`);
        opts.command = argv[i];
    }
  }
  if (!opts.url || !opts.command) throw new Error("--url and a command are required");
  return opts;
}

const result = (obj) => console.log(`RESULT ${JSON.stringify(obj)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function describe(m, received) {
  received.push({
    subject: m.subject,
    payload: sc.decode(m.data),
    stream: m.info.stream,
    redelivered: m.info.redelivered,
  });
}

function missing(want, received) {
  const got = new Set(received.map((r) => r.payload));
  return want.filter((p) => !got.has(p));
}

async function consumerState(jsm, stream, durable) {
  const ci = await jsm.consumers.info(stream, durable);
  return {
    consumer_stream: ci.stream_name,
    ack_pending: ci.num_ack_pending,
    redelivered: ci.num_redelivered,
    filter: ci.config.filter_subject ?? null,
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const nc = await connect({ servers: o.url, name: `sidecar-client-${o.command}` });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const deadline = Date.now() + o.timeoutMs;

  switch (o.command) {
    case "publish": {
      const popts = o.expectStream ? { expect: { streamName: o.expectStream } } : {};
      const ack = await js.publish(o.subject, sc.encode(o.payload), popts);
      result({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate });
      break;
    }
    case "info": {
      const si = await jsm.streams.info(o.stream);
      result({ name: si.config.name, messages: si.state.messages });
      break;
    }
    case "find": {
      result({ stream: await jsm.streams.find(o.subject) });
      break;
    }
    case "ordered": {
      const c = await js.consumers.get(o.stream, o.filter ? { filterSubjects: o.filter } : {});
      const received = [];
      const iter = await c.consume();
      const stop = setTimeout(() => iter.stop(), Math.max(0, deadline - Date.now()));
      for await (const m of iter) {
        describe(m, received);
        if (missing(o.want, received).length === 0) break;
      }
      clearTimeout(stop);
      result({ received, missing: missing(o.want, received) });
      break;
    }
    case "pull": {
      await jsm.consumers.add(o.stream, {
        durable_name: o.durable,
        ack_policy: AckPolicy.Explicit,
        ...(o.filter ? { filter_subject: o.filter } : {}),
        ack_wait: 1500 * 1000 * 1000,
      });
      const c = await js.consumers.get(o.stream, o.durable);
      const received = [];
      let drained = false;
      while (!drained && Date.now() < deadline) {
        const done = missing(o.want, received).length === 0;
        const batch = await c.fetch({ max_messages: 64, expires: 1000 });
        let n = 0;
        for await (const m of batch) {
          describe(m, received);
          await m.ackAck();
          n++;
        }
        drained = done && n === 0;  // everything wanted arrived and nothing else is queued
      }
      const state = await consumerState(jsm, o.stream, o.durable);
      await sleep(2000);  // past ack_wait: an ack that did not stick shows up as a redelivery
      const again = await c.fetch({ max_messages: 16, expires: 1000 });
      let after = 0;
      for await (const _m of again) after++;
      result({ received, missing: missing(o.want, received), ...state, after_ack_wait: after,
               after_state: await consumerState(jsm, o.stream, o.durable) });
      break;
    }
    case "push": {
      const copts = consumerOpts();
      copts.durable(o.durable);
      copts.manualAck();
      copts.ackExplicit();
      copts.ackWait(1500);
      copts.deliverTo(createInbox());
      copts.deliverAll();
      // Legacy push subscribe: nats.js looks the stream up by subject (STREAM.NAMES).
      const sub = await js.subscribe(o.subject, copts);
      const received = [];
      const stop = setTimeout(() => sub.unsubscribe(), Math.max(0, deadline - Date.now()));
      let drainUntil = 0;
      (async () => {
        for await (const m of sub) {
          describe(m, received);
          await m.ackAck();
          if (drainUntil === 0 && missing(o.want, received).length === 0) {
            drainUntil = Date.now() + 1000;
          }
        }
      })();
      while ((drainUntil === 0 || Date.now() < drainUntil) && Date.now() < deadline) {
        await sleep(50);
      }
      const state = await consumerState(jsm, o.stream, o.durable);
      const before = received.length;
      await sleep(2000);
      const after = received.length - before;
      clearTimeout(stop);
      result({ received, missing: missing(o.want, received), ...state, after_ack_wait: after,
               after_state: await consumerState(jsm, o.stream, o.durable) });
      sub.unsubscribe();
      break;
    }
    case "last": {
      const m = await jsm.direct.getMessage(o.stream, { last_by_subj: o.subject });
      result({ subject: m.subject, payload: sc.decode(m.data), seq: m.seq,
               stream_header: m.header.get("Nats-Stream") });
      break;
    }
    case "refuse": {
      const attempt = async (fn) => {
        try { await fn(); return null; } catch (err) {
          return { message: err.message, code: err.api_error?.code ?? err.code ?? null,
                   err_code: err.api_error?.err_code ?? null };
        }
      };
      result({
        create: await attempt(() => jsm.streams.add({ name: o.stream, subjects: [`${o.stream}.>`] })),
        update: await attempt(() => jsm.streams.update(o.stream, { max_msgs: 1 })),
        purge: await attempt(() => jsm.streams.purge(o.stream)),
        delete: await attempt(() => jsm.streams.delete(o.stream)),
      });
      break;
    }
    default:
      throw new Error(`unknown command ${o.command}`);
  }
  await nc.close();
  console.log("OK");
}

main().catch((err) => {
  console.log(`FAILED: ${err.message} ${err.api_error ? JSON.stringify(err.api_error) : ""}`);
  process.exit(1);
});
