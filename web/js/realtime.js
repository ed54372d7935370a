// The WebSocket (/api/v1/ws): a single-use ticket per connection, `last_seq` resume after any
// drop (nothing missed, nothing twice), backoff, a ping watchdog, and the browser's offline events
// (a socket that went quiet with the network is dropped at once rather than after a TCP timeout).

import * as api from "./api.js";

const PING_EVERY = 15000;
const SILENT_FOR = 40000;

export class Realtime extends EventTarget {
  constructor() {
    super();
    this.state = "idle"; // idle | connecting | online | reconnecting
    this.lastSeq = null;
    this.ws = null;
    this.running = false;
    this.retries = 0;
    this.connected = false; // ever, since start()
    this.timer = null;
    this.pinger = null;
    this.lastFrameAt = 0;
    this.online = () => {
      this.retries = 0;
      this.drop();
      this.connect();
    };
    this.offline = () => {
      this.drop();
      this.setState("reconnecting");
    };
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.connected = false;
    this.lastSeq = null;
    window.addEventListener("online", this.online);
    window.addEventListener("offline", this.offline);
    this.connect();
  }

  stop() {
    this.running = false;
    window.removeEventListener("online", this.online);
    window.removeEventListener("offline", this.offline);
    this.drop();
    this.lastSeq = null;
    this.setState("idle");
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", { state });
  }

  emit(type, data) {
    this.dispatchEvent(new CustomEvent(type, { detail: data }));
  }

  on(type, fn, signal) {
    this.addEventListener(type, (e) => fn(e.detail), { signal });
  }

  send(type, data) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== "online") return false;
    this.ws.send(JSON.stringify({ type, data }));
    return true;
  }

  async connect() {
    if (!this.running || this.ws || this.connecting) return;
    clearTimeout(this.timer);
    this.setState(this.connected ? "reconnecting" : "connecting");
    if (!navigator.onLine) return; // the "online" event brings us back
    this.connecting = true;
    let ticket;
    try {
      ticket = (await api.post("/api/v1/ws/ticket")).ticket;
    } catch (error) {
      this.connecting = false;
      if (error.status === 401) {
        this.emit("revoked", {});
        return;
      }
      this.schedule();
      return;
    }
    this.connecting = false;
    if (!this.running || this.ws) return;
    const query = new URLSearchParams({ ticket });
    if (this.lastSeq !== null) query.set("last_seq", String(this.lastSeq));
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?${query}`);
    this.ws = ws;
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.frame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pinger);
      if (event.code === 4001) {
        this.emit("revoked", {});
        return;
      }
      if (this.running) {
        this.setState(this.connected ? "reconnecting" : "connecting");
        this.schedule();
      }
    };
  }

  frame(frame) {
    this.lastFrameAt = Date.now();
    const { type, data, seq } = frame;
    if (type === "hello") {
      const resumed = this.lastSeq !== null;
      if (!resumed) this.lastSeq = data.seq;
      this.retries = 0;
      this.connected = true;
      this.startPinging();
      this.setState("online");
      this.emit("hello", { ...data, resumed });
      return;
    }
    if (type === "reset") {
      this.lastSeq = data.seq;
      this.emit("reset", data);
      return;
    }
    if (typeof seq === "number") {
      if (this.lastSeq !== null && seq <= this.lastSeq) return; // already seen
      this.lastSeq = seq;
    }
    this.emit(type, data);
  }

  startPinging() {
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      if (Date.now() - this.lastFrameAt > SILENT_FOR) {
        this.drop();
        this.connect();
        return;
      }
      this.send("ping", {});
    }, PING_EVERY);
  }

  // Forget the current socket without waiting for its close handshake (the network may be gone).
  drop() {
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = null;
      try {
        ws.close(1000, "reconnecting");
      } catch {
        // already closed
      }
    }
  }

  schedule() {
    clearTimeout(this.timer);
    const delay = Math.min(10000, 500 * 2 ** this.retries) * (0.5 + Math.random() / 2);
    this.retries += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
