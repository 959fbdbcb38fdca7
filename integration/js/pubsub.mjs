// Core pub/sub across two servers (e.g. two regions of a super-cluster): subscribes on one,
// publishes on the other until the message arrives. Exits 0 only when it did; prints what
// it did. Usage:
//   node pubsub.mjs --sub-url URL --pub-url URL [--user U --password P] [--subject S]
//                   [--timeout-ms N]
import { connect, StringCodec } from "nats";

function parseArgs(argv) {
  const opts = { subject: `pubsub.${process.pid}.${Date.now()}`, timeoutMs: 10000 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--sub-url": opts.subUrl = value(); break;
      case "--pub-url": opts.pubUrl = value(); break;
      case "--user": opts.user = value(); break;
      case "--password": opts.pass = value(); break;
      case "--subject": opts.subject = value(); break;
      case "--timeout-ms": opts.timeoutMs = Number(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!opts.subUrl || !opts.pubUrl) throw new Error("--sub-url and --pub-url are required");
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const auth = opts.user ? { user: opts.user, pass: opts.pass } : {};
  const sc = StringCodec();
  const subConn = await connect({ servers: opts.subUrl.split(","), ...auth, name: "pubsub-sub" });
  const pubConn = await connect({ servers: opts.pubUrl.split(","), ...auth, name: "pubsub-pub" });
  console.log(`subscriber connected to ${subConn.getServer()} (${subConn.info.server_name}, ` +
              `cluster ${subConn.info.cluster})`);
  console.log(`publisher connected to ${pubConn.getServer()} (${pubConn.info.server_name}, ` +
              `cluster ${pubConn.info.cluster})`);

  const expected = `hello from ${pubConn.info.cluster} ${Date.now()}`;
  const sub = subConn.subscribe(opts.subject, { max: 1 });
  await subConn.flush();

  const received = (async () => {
    for await (const m of sub) return sc.decode(m.data);
    return null;
  })();
  // Interest crosses gateways asynchronously: publish until the subscriber sees it.
  let attempts = 0;
  const deadline = Date.now() + opts.timeoutMs;
  let got = null;
  while (got === null && Date.now() < deadline) {
    attempts++;
    pubConn.publish(opts.subject, sc.encode(expected));
    await pubConn.flush();
    got = await Promise.race([received, new Promise((r) => setTimeout(() => r(null), 200))]);
  }
  await subConn.close();
  await pubConn.close();
  if (got !== expected) {
    console.log(`FAILED: nothing received on ${opts.subject} within ${opts.timeoutMs} ms ` +
                `after ${attempts} publishes`);
    process.exit(1);
  }
  console.log(`received "${got}" on ${opts.subject} after ${attempts} publish(es)`);
  console.log("OK");
}

main().catch((err) => {
  console.log(`FAILED: ${err.message}`);
  process.exit(1);
});
