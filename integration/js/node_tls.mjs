// A nats.js client over TLS to one server (meridian-node or nats-server) whose certificate the
// test CA signed: connects trusting only that CA, does a request/reply, and checks that the
// connection is encrypted. Exits 0 only when all passed. Usage:
//   node node_tls.mjs --url nats://127.0.0.1:port --ca /path/ca.pem [--handshake-first]
// --handshake-first: TLS first (the server's tls { handshake_first }), INFO comes encrypted.
import { connect, StringCodec } from "nats";

const args = process.argv.slice(2);
const arg = (name) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
const url = arg("--url");
const ca = arg("--ca");
const handshakeFirst = args.includes("--handshake-first");
if (!url || !ca) {
  console.log("FAILED: --url and --ca are required");
  process.exit(1);
}
const sc = StringCodec();
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures++;
}

async function main() {
  const nc = await connect({ servers: url, tls: { caFile: ca, handshakeFirst }, name: "node_tls" });
  check(nc.info.tls_required === true, "INFO says tls_required");
  nc.subscribe("tls.echo", { callback: (_err, m) => m.respond(m.data) });
  const r = await nc.request("tls.echo", sc.encode("secret"), { timeout: 5000 });
  check(sc.decode(r.data) === "secret", "request/reply over TLS");
  await nc.drain();

  let refused = false;
  try {
    const plain = await connect({ servers: url, tls: null, timeout: 3000 });
    await plain.close();
  } catch (_e) {
    refused = true;
  }
  check(refused, "a client that will not use TLS is not served");
}

main()
  .then(() => process.exit(failures === 0 ? 0 : 1))
  .catch((e) => {
    console.log(`FAILED: ${e}`);
    process.exit(1);
  });
