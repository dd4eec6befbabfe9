// Incremental Server-Sent Events parser (WHATWG "event stream interpretation"), no DOM needed.
//
//   const parser = createSSEParser((event) => { event.type, event.data, event.id });
//   parser.push(uint8ArrayOrString)   // any chunking: mid-line, mid-CRLF, mid-UTF-8 sequence
//   parser.end()                      // end of stream: an event without its blank line is dropped
//
// Lines end with CRLF, LF or CR; `:` starts a comment; several `data:` lines join with "\n";
// one space after the colon is removed; a blank line dispatches; an event with no data is not
// dispatched (as in browsers' EventSource).

/**
 * @typedef {{type: string, data: string, id: string}} SSEEvent
 * @param {(event: SSEEvent) => void} onEvent
 */
export function createSSEParser(onEvent) {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let sawCR = false; // the previous chunk ended with "\r": a following "\n" belongs to it
  let firstLine = true;
  let eventType = "";
  let data = [];
  let lastId = "";

  function dispatch() {
    if (data.length === 0) {
      eventType = "";
      return;
    }
    const event = { type: eventType || "message", data: data.join("\n"), id: lastId };
    eventType = "";
    data = [];
    onEvent(event);
  }

  function line(text) {
    if (firstLine) {
      firstLine = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text === "") {
      dispatch();
      return;
    }
    if (text[0] === ":") return; // comment (keep-alive)
    const colon = text.indexOf(":");
    let field = text;
    let value = "";
    if (colon !== -1) {
      field = text.slice(0, colon);
      value = text.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
    }
    if (field === "event") eventType = value;
    else if (field === "data") data.push(value);
    else if (field === "id") {
      if (!value.includes("\0")) lastId = value;
    }
    // "retry" and unknown fields are ignored: we never reconnect automatically.
  }

  function feed(text) {
    if (sawCR && text[0] === "\n") text = text.slice(1);
    sawCR = false;
    buffer += text;
    let start = 0;
    for (;;) {
      const cr = buffer.indexOf("\r", start);
      const lf = buffer.indexOf("\n", start);
      if (cr === -1 && lf === -1) break;
      let end;
      let next;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 === buffer.length) {
          // CR at the very end: a LF may follow in the next chunk.
          next = cr + 1;
          sawCR = true;
        } else {
          next = buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
        }
      } else {
        end = lf;
        next = lf + 1;
      }
      line(buffer.slice(start, end));
      start = next;
    }
    buffer = buffer.slice(start);
  }

  return {
    /** @param {Uint8Array|ArrayBuffer|string} chunk */
    push(chunk) {
      const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
      if (text) feed(text);
    },
    end() {
      const rest = decoder.decode();
      if (rest) feed(rest);
      // Per the SSE spec, an event not terminated by a blank line is discarded.
      buffer = "";
      data = [];
      eventType = "";
    },
  };
}

/**
 * Read a fetch Response body as SSE, calling onEvent for each event, until the stream ends.
 * Rejects with the reader's error (e.g. AbortError, or a TypeError when the network drops).
 * @param {ReadableStream<Uint8Array>} body
 * @param {(event: SSEEvent) => (void|false)} onEvent  return false to stop reading early
 */
export async function readSSE(body, onEvent) {
  const reader = body.getReader();
  let stopped = false;
  const parser = createSSEParser((event) => {
    if (!stopped && onEvent(event) === false) stopped = true;
  });
  try {
    while (!stopped) {
      const { value, done } = await reader.read();
      if (done) {
        parser.end();
        break;
      }
      parser.push(value);
    }
  } finally {
    if (stopped) reader.cancel().catch(() => {});
    else {
      try {
        reader.releaseLock();
      } catch {
        // already released or errored: nothing to do
      }
    }
  }
}
