// The conversation as data: what is sent as history, and the Markdown export. Pure.

/**
 * @typedef {{id: string, role: "user"|"model", text: string,
 *            state?: "streaming"|"done"|"stopped"|"error", finishReason?: string}} Message
 */

export const DEFAULT_LIMITS = Object.freeze({
  maxMessageChars: 8000,
  maxHistoryMessages: 40,
  maxRequestBytes: 65536,
});

const encoder = new TextEncoder();
const byteLength = (value) => encoder.encode(JSON.stringify(value)).length;

/**
 * The answered turns of `messages` as SPEC history items: each user message followed by a
 * model message with text (a turn that failed or was answered with nothing is left out, so
 * roles alternate user/model).
 * @param {Message[]} messages
 */
export function answeredTurns(messages) {
  const turns = [];
  for (let i = 0; i < messages.length - 1; i += 1) {
    const user = messages[i];
    const model = messages[i + 1];
    if (user.role === "user" && model.role === "model" && model.text.trim() !== "" && user.text.trim() !== "") {
      turns.push([
        { role: "user", text: user.text },
        { role: "model", text: model.text },
      ]);
      i += 1;
    }
  }
  return turns;
}

/**
 * The chat request body for sending `text` after `messages`: the newest answered turns that fit
 * within MAX_HISTORY_MESSAGES and MAX_REQUEST_BYTES (oldest dropped first).
 * @param {Message[]} messages  the conversation before this message
 * @param {string} text
 */
export function buildRequest(messages, text, limits = DEFAULT_LIMITS) {
  const turns = answeredTurns(messages);
  const maxTurns = Math.floor(limits.maxHistoryMessages / 2);
  let kept = turns.slice(Math.max(0, turns.length - maxTurns));
  const body = () => ({ message: text, history: kept.flat() });
  const budget = limits.maxRequestBytes - 512; // headroom for JSON escaping differences
  while (kept.length > 0 && byteLength(body()) > budget) kept = kept.slice(1);
  return { body: body(), dropped: turns.length - kept.length };
}

/** The conversation as a Markdown document. */
export function toMarkdown(messages, { title = "Conversation with Gemini", date = new Date() } = {}) {
  const lines = [`# ${title}`, "", `_Exported ${date.toISOString().replace("T", " ").slice(0, 16)} UTC_`, ""];
  for (const message of messages) {
    if (!message.text.trim() && message.role === "model") continue;
    lines.push(message.role === "user" ? "## You" : "## Gemini", "", message.text.trim(), "");
    if (message.state === "stopped") lines.push("_(stopped before the end)_", "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** A file name for the export, e.g. `chat-2025-01-31-1405.md`. */
export function exportFileName(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `chat-${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}.md`;
}
