// Benchmark of the on-device history (issue #9) on fake-indexeddb in Node: prints numbers, asserts
// nothing. fake-indexeddb is an in-memory, pure-JS IndexedDB, so these are upper bounds for the
// JS work, not real-browser disk timings. Usage: node scripts/bench-history.mjs [conversations] [messages]

import "fake-indexeddb/auto";
import { performance } from "node:perf_hooks";
import { openHistory } from "../src/history/db.js";
import { fold } from "../src/history/text.js";
import { exportAll, importAll, parseImport } from "../src/history/transfer.js";

const CONVERSATIONS = Number(process.argv[2] || 500);
const MESSAGES = Number(process.argv[3] || 40);
const WORDS = "the of and to in is you that it he was for on are as with his they at be this from have or by one had not but what all were when we there can an your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make than first been its who now people my made over did down only way find use may water long little very after words called just where most know get through back much go good new write our me man too any day same right look think also around another came come work three word must because does part even place well such here take why things help put years different away again off went old number great tell men say small every found still between name should home big give air line set own under read last never us left end along while might next sound below saw something thought both few those always looked show large often together asked house don't world going want school important until form food keep children feet land side without boy once animal life enough took sometimes four head above kind began almost live page got earth need far hand high year mother light parts country father let night following picture being study second eyes soon times story boys since white days ever paper hard near sentence better best across during today others however sure means knew it's try told young miles sun ways thing whole hear example heard several change answer room sea against top turned learn point city play toward five using himself usually crème brûlée café naïve Zürich".split(" ");
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const sentence = (chars) => {
  let s = "";
  while (s.length < chars) s += `${WORDS[Math.floor(rand() * WORDS.length)]} `;
  return s.trim();
};

function corpus() {
  const start = Date.UTC(2025, 0, 1);
  const conversations = [];
  for (let c = 0; c < CONVERSATIONS; c += 1) {
    const t = new Date(start + c * 3_600_000).toISOString();
    const messages = [];
    for (let m = 0; m < MESSAGES; m += 1) {
      const role = m % 2 ? "model" : "user";
      messages.push({ id: `c${c}-m${m}`, role, text: sentence(role === "user" ? 200 : 1500), state: "done", createdAt: t, updatedAt: t });
    }
    conversations.push({ id: `c${c}`, title: sentence(40), createdAt: t, updatedAt: t, messages });
  }
  return { format: "jette-history", version: 1, exportedAt: new Date().toISOString(), conversations };
}

async function time(label, fn, runs = 5) {
  const samples = [];
  let result;
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    result = await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  console.log(`${label.padEnd(60)} median ${median.toFixed(1).padStart(8)} ms  (min ${samples[0].toFixed(1)}, max ${samples.at(-1).toFixed(1)}, n=${runs})`);
  return result;
}

const doc = corpus();
const text = JSON.stringify(doc);
const chars = doc.conversations.reduce((n, c) => n + c.messages.reduce((k, m) => k + m.text.length, 0), 0);
console.log(`corpus: ${CONVERSATIONS} conversations x ${MESSAGES} messages, ${(chars / 1e6).toFixed(1)} M chars of text, export ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB`);

const parsed = await time("parseImport (strict validation)", () => parseImport(text), 3);
let history = await openHistory("bench-user");
await time("importAll (one transaction, seeds the store)", () => importAll(history, parsed), 1);
history.close();

await time("openHistory (hash + lazy idb + open)", async () => (await openHistory("bench-user")).close());
await time("open + first 50 of the list (what a device shows first)", async () => {
  const h = await openHistory("bench-user");
  await h.listConversations({ limit: 50 });
  h.close();
});
history = await openHistory("bench-user");
const list = await time("listConversations() all 500, newest first", () => history.listConversations());
console.log(`  -> ${list.length} summaries, newest ${list[0].id}`);
await time("listConversations({limit: 50})", () => history.listConversations({ limit: 50 }));
await time("getConversation (40 messages)", () => history.getConversation("c250"));
await time("search: no match, cold (new connection: reads + folds all)", async () => {
  const fresh = await openHistory("bench-user");
  await fresh.search("zzzqqq");
  fresh.close();
}, 3);
await history.search("warm-up");
await time("search: no match, warm (next keystroke, same tab)", () => history.search("zzzqqq"), 5);
const hits = await time("search: common word (stops at limit 50)", () => history.search("brûlée"), 3);
console.log(`  -> ${hits.length} hits`);
await time("fold() of all message text alone", () => {
  let n = 0;
  for (const c of doc.conversations) for (const m of c.messages) n += fold(m.text).length;
  return n;
}, 3);
await time("appendMessage + updateMessage (one answer)", async () => {
  const { message } = await history.appendMessage("c1", { role: "model", text: "", state: "streaming" });
  await history.updateMessage("c1", message.id, { text: sentence(1500), state: "done" });
});
await time("exportAll + JSON.stringify", async () => JSON.stringify(await exportAll(history)), 3);
history.close();
