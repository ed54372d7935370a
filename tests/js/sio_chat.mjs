// The real socket.io-client against Chatter's /socket.io/, across two worker processes.
// Driven by tests/test_socketio_js.py: SIO_CONFIG = {"urls": [A, B], "alice": {id, token}, "bob": {id, token}}.
// Prints one JSON summary line on success; any failed check exits non-zero with the reason.
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const cfg = JSON.parse(process.env.SIO_CONFIG);
const [A, B] = cfg.urls;
const { alice, bob } = cfg;
const WAIT = 8000;

const deadline = setTimeout(() => {
  console.error("sio_chat: timed out");
  process.exit(3);
}, 45000);

// A client that records every event as a native-like frame {type, seq?, data}.
function connect(url, auth, transports = ["websocket"]) {
  const socket = io(url, { auth, transports, reconnection: false, forceNew: true, timeout: WAIT });
  const frames = [];
  const waiters = [];
  socket.onAny((type, payload) => {
    frames.push({ type, ...payload });
    for (const w of [...waiters]) w();
  });
  const client = { socket, frames, cursor: 0 };
  // The first frame of `type` matching pred; without a type, the next stream frame (with seq)
  // after the last one taken that way.
  client.next = (type, pred = () => true) => new Promise((resolve, reject) => {
    const look = () => {
      for (let i = type === undefined ? client.cursor : 0; i < frames.length; i++) {
        const match = type === undefined ? frames[i].seq !== undefined : frames[i].type === type;
        if (match && pred(frames[i])) {
          if (type === undefined) client.cursor = i + 1;
          waiters.splice(waiters.indexOf(look), 1);
          clearTimeout(timer);
          resolve(frames[i]);
          return;
        }
      }
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(look), 1);
      reject(new Error(`no ${type} frame within ${WAIT} ms on ${url}; got ${JSON.stringify(frames.map((f) => f.type))}`));
    }, WAIT);
    waiters.push(look);
    look();
  });
  client.connected = new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
  client.call = (type, data) => socket.timeout(WAIT).emitWithAck(type, data);
  client.seqs = () => frames.filter((f) => f.seq !== undefined).map((f) => f.seq);
  return client;
}

async function rest(url, method, path, token, body) {
  const resp = await fetch(url + "/api/v1" + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  assert.ok(resp.status < 300, `${method} ${path}: ${resp.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const summary = { acks: 0, errors_acked: 0 };

// 1. Alice on worker A, Bob on worker B, WebSocket transport (no sticky sessions needed).
const a = connect(A, { token: alice.token });
const b = connect(B, { token: bob.token });
await Promise.all([a.connected, b.connected]);
const helloA = await a.next("hello");
const helloB = await b.next("hello");
assert.equal(helloA.data.user_id, alice.id);
assert.equal(helloB.data.user_id, bob.id);
assert.equal(a.frames[0].type, "hello", "hello is the first event");

// 2. Chat both ways, each send acknowledged with the native answer (message.ack).
const ack1 = await a.call("message.send", { to: bob.id, content: "hi bob, from worker A", client_id: "a-1" });
assert.equal(ack1.type, "message.ack");
assert.equal(ack1.data.client_id, "a-1");
summary.acks++;
const got1 = await b.next("message.created", (f) => f.data.id === ack1.data.message.id);
assert.deepEqual(got1.data, ack1.data.message);
assert.equal(typeof got1.seq, "number");
const note1 = await b.next("notification.created", (f) => f.data.message_id === ack1.data.message.id);
assert.equal(note1.data.type, "message");

const ack2 = await b.call("message.send", { to: alice.id, content: "hello alice, from worker B", client_id: "b-1" });
assert.equal(ack2.type, "message.ack");
summary.acks++;
const got2 = await a.next("message.created", (f) => f.data.id === ack2.data.message.id);
assert.deepEqual(got2.data, ack2.data.message);

// typing: transient, {data} without seq, across workers
assert.equal(await b.call("typing", { to: alice.id }), undefined); // no answer: an empty ack
const typing = await a.next("typing");
assert.deepEqual(typing, { type: "typing", data: { user_id: bob.id } });

// a refused frame: the native error frame as the acknowledgement
const err = await a.call("message.send", { to: alice.id, content: "me", client_id: "a-self" });
assert.equal(err.type, "error");
assert.equal(err.data.client_id, "a-self");
summary.errors_acked++;
assert.deepEqual(await a.call("ping"), { type: "pong", data: {} });

// 3. Notifications made over REST on the other worker: a follow and a like.
await rest(A, "PUT", `/users/${bob.id}/follow`, alice.token);
const follow = await b.next("notification.created", (f) => f.data.type === "follow");
assert.equal(follow.data.actor.id, alice.id);
const post = await rest(B, "POST", "/posts", bob.token, { content: "a post to like" });
await rest(A, "PUT", `/posts/${post.id}/like`, alice.token);
const like = await b.next("notification.created", (f) => f.data.type === "like");
assert.equal(like.data.post_id, post.id);

// 4. Bob drops off; what happens meanwhile is replayed when he comes back on the other worker.
await new Promise((r) => setTimeout(r, 200)); // let any straggler arrive before taking last_seq
const seenB = b.seqs();
const lastSeq = Math.max(...seenB, helloB.data.seq);
assert.deepEqual(seenB, [...seenB].sort((x, y) => x - y), "stream events in order");
assert.equal(new Set(seenB).size, seenB.length, "no duplicates");
b.socket.disconnect();

const missed = [];
for (let i = 0; i < 3; i++) {
  const ack = await a.call("message.send", { to: bob.id, content: `while bob was away ${i}`, client_id: `a-away-${i}` });
  assert.equal(ack.type, "message.ack");
  summary.acks++;
  missed.push(ack.data.message.id);
}
await rest(A, "POST", `/conversations/${bob.id}/read`, alice.token, {}); // message.read to both

// auth as a function: what a client passes so every (re)connect carries its latest last_seq
const state = { lastSeq };
const b2 = connect(A, (cb) => cb({ token: bob.token, last_seq: state.lastSeq }));
await b2.connected;
const hello2 = await b2.next("hello");
assert.equal(b2.frames[0].type, "hello");
assert.equal(hello2.data.seq, lastSeq + 7, "3 × (message + notification) + read receipt");
const replay = [];
for (let i = 0; i < 7; i++) replay.push(await b2.next());
assert.deepEqual(replay.map((f) => f.seq), [1, 2, 3, 4, 5, 6, 7].map((n) => lastSeq + n), "no gap, no duplicate");
assert.deepEqual(replay.filter((f) => f.type === "message.created").map((f) => f.data.id), missed);
assert.equal(replay.at(-1).type, "message.read");
summary.replayed = replay.length;

const ack3 = await a.call("message.send", { to: bob.id, content: "live again", client_id: "a-live" });
summary.acks++;
const live = await b2.next("message.created", (f) => f.data.id === ack3.data.message.id);
assert.equal(live.seq, hello2.data.seq + 1);
await b2.next("notification.created", (f) => f.seq === hello2.data.seq + 2);
await new Promise((r) => setTimeout(r, 300));
const seq2 = b2.seqs();
assert.deepEqual(seq2, Array.from({ length: seq2.length }, (_, i) => lastSeq + 1 + i), "one gap-free stream");
summary.bob_seqs = [...seenB, ...seq2];

// 5. Long-polling (one worker, so no sticky session needed) and polling upgraded to WebSocket.
const polling = connect(B, { token: alice.token }, ["polling"]);
const upgraded = connect(A, { token: alice.token }, ["polling", "websocket"]);
await Promise.all([polling.connected, upgraded.connected]);
await Promise.all([polling.next("hello"), upgraded.next("hello")]);
if (upgraded.socket.io.engine.transport.name !== "websocket") {
  await new Promise((resolve) => upgraded.socket.io.engine.once("upgrade", resolve));
}
summary.transports = [polling.socket.io.engine.transport.name, upgraded.socket.io.engine.transport.name];
const ack4 = await b2.call("message.send", { to: alice.id, content: "to all of alice's sockets", client_id: "b-all" });
summary.acks++;
for (const c of [a, polling, upgraded]) {
  const f = await c.next("message.created", (x) => x.data.id === ack4.data.message.id);
  assert.deepEqual(f.data, ack4.data.message);
}
const ack5 = await polling.call("message.send", { to: bob.id, content: "sent over long-polling", client_id: "a-poll" });
assert.equal(ack5.type, "message.ack");
summary.acks++;
await b2.next("message.created", (f) => f.data.id === ack5.data.message.id);

summary.events = { alice: a.frames.length, bob_before: b.frames.length, bob_after: b2.frames.length,
  polling: polling.frames.length, upgraded: upgraded.frames.length };
for (const c of [a, b2, polling, upgraded]) c.socket.disconnect();
clearTimeout(deadline);
console.log(JSON.stringify(summary));
