// Reference server for bench/run.sh: node's built-in `http` answering 200 "hello".
// usage: node node_hello.mjs PORT [WORKERS]   (WORKERS 0 or absent = one process, no cluster)
// With WORKERS >= 1 the primary forks that many cluster workers sharing the port, which is
// how node uses more than one core; the primary itself serves nothing.
import cluster from "node:cluster";
import http from "node:http";

const port = Number(process.argv[2]);
const workers = Number(process.argv[3] ?? 0);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node node_hello.mjs PORT [WORKERS]");
  process.exit(2);
}

function serve() {
  const body = Buffer.from("hello");
  http
    .createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
      res.end(body);
    })
    .listen(port, "127.0.0.1");
}

if (workers > 0 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  // Children exit with the primary (run.sh kills the primary's process group).
  process.on("SIGTERM", () => {
    for (const w of Object.values(cluster.workers)) w.process.kill("SIGTERM");
    process.exit(0);
  });
} else {
  serve();
}
