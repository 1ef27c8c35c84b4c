// Web-standard globals for r3e function contexts, built on the native helper object N
// (see src/runtime/webapi.c). This file is one function expression: webapi_install
// evaluates it and calls it with N, so N never becomes reachable from user code.
//
// Cost matters (a fresh context may be created per invocation), so the top level only
// defines lazy global getters for the interfaces (a class is built the first time user
// code touches it and then replaces its getter with a plain data property) and small
// eager functions that build their machinery on first call. Keep this file ASCII-only.
//
// Known deviations from the web standards (kept deliberately small):
// - URL parsing is libcurl's RFC 3986 parser plus WHATWG-style serialisation: hierarchical
//   "scheme://" URLs only (no "mailto:", "data:", "blob:"), no IDNA (non-ASCII host names
//   are rejected), IPv4 shorthand like "1.2.3" is normalised the way curl does it.
// - Request/Response bodies are buffered (no ReadableStream: `body` is null, no Blob or
//   FormData bodies); no AbortSignal; Request.mode/credentials/cache are ignored.
// - structuredClone does not support the `transfer` option.
// - fetch with redirect: "manual" returns the 3xx response itself (as Deno and Workers do),
//   not an opaque-redirect response; a 303 or a 301/302 after POST switches to GET, other
//   methods are kept on redirects.
// - TextDecoder supports utf-8 only (other labels throw RangeError).
// - Passing a buffer to a native helper (TextDecoder, getRandomValues, fetch bodies) pins
//   it in JSC, so it cannot be transferred or detached afterwards.
(function (N) {
  "use strict";
  const G = globalThis;
  const defineProperty = Object.defineProperty;

  // Interfaces (classes) are lazy, non-enumerable accessors that replace themselves with
  // the built value. Accessors on the global cost ~4x a data property in JSC, so plain
  // functions and objects (atob, fetch, crypto, ...) are eager data properties whose bodies
  // build what they need on first call; like browsers, those are enumerable.
  function once(build) {
    let built = null;
    return () => built || (built = build());
  }
  function lazy(names, build) {
    let done = false;
    const materialise = () => {
      const built = build();
      if (!done) {
        done = true;
        for (const n of names) {
          // Fails only when user code froze the global; the getter keeps working then.
          try { defineProperty(G, n, { value: built[n], writable: true, configurable: true, enumerable: false }); } catch {}
        }
      }
      return built;
    };
    for (const n of names) {
      defineProperty(G, n, {
        configurable: true,
        enumerable: false,
        get() { return materialise()[n]; },
        set(v) { materialise(); defineProperty(G, n, { value: v, writable: true, configurable: true, enumerable: false }); },
      });
    }
  }

  // ---------------------------------------------------------------- DOMException
  let DOMExceptionClass = null;
  function buildDOMException() {
    if (DOMExceptionClass) return DOMExceptionClass;
    const domCodes = {
      IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
      NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
      SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
      TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
      QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
    };
    const kName = Symbol("name"), kMessage = Symbol("message");
    class DOMException extends Error {
      constructor(message = "", name = "Error") {
        super(String(message));
        this[kMessage] = String(message);
        this[kName] = String(name);
      }
      get name() { return this[kName]; }
      get message() { return this[kMessage]; }
      get code() { return domCodes[this[kName]] || 0; }
    }
    // The legacy code constants (WebIDL: read-only on the interface and its prototype).
    const legacy = ["INDEX_SIZE_ERR", "DOMSTRING_SIZE_ERR", "HIERARCHY_REQUEST_ERR",
      "WRONG_DOCUMENT_ERR", "INVALID_CHARACTER_ERR", "NO_DATA_ALLOWED_ERR",
      "NO_MODIFICATION_ALLOWED_ERR", "NOT_FOUND_ERR", "NOT_SUPPORTED_ERR", "INUSE_ATTRIBUTE_ERR",
      "INVALID_STATE_ERR", "SYNTAX_ERR", "INVALID_MODIFICATION_ERR", "NAMESPACE_ERR",
      "INVALID_ACCESS_ERR", "VALIDATION_ERR", "TYPE_MISMATCH_ERR", "SECURITY_ERR", "NETWORK_ERR",
      "ABORT_ERR", "URL_MISMATCH_ERR", "QUOTA_EXCEEDED_ERR", "TIMEOUT_ERR",
      "INVALID_NODE_TYPE_ERR", "DATA_CLONE_ERR"];
    legacy.forEach((k, i) => {
      const d = { value: i + 1, enumerable: true, writable: false, configurable: false };
      defineProperty(DOMException, k, d);
      defineProperty(DOMException.prototype, k, d);
    });
    DOMExceptionClass = DOMException;
    return DOMException;
  }
  const domError = (msg, name) => new (buildDOMException())(msg, name);
  lazy(["DOMException"], () => ({ DOMException: buildDOMException() }));

  // ---------------------------------------------------------------- bytes helpers
  function toBytes(v, what) {
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    throw new TypeError(what + ": expected an ArrayBuffer or ArrayBufferView");
  }
  const utf8 = (s) => N.utf8Encode(s);
  const utf8Decode = (b) => N.utf8Decode(b, false);

  // ---------------------------------------------------------------- TextEncoder/TextDecoder
  lazy(["TextEncoder", "TextDecoder"], once(() => {
    class TextEncoder {
      get encoding() { return "utf-8"; }
      encode(input = "") { return N.utf8Encode(String(input)); }
      encodeInto(source, destination) {
        if (!(destination instanceof Uint8Array)) throw new TypeError("encodeInto: destination must be a Uint8Array");
        source = String(source);
        let read = 0, written = 0;
        const cap = destination.length;
        for (let i = 0; i < source.length; i++) {
          let c = source.charCodeAt(i), units = 1;
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < source.length) {
            const d = source.charCodeAt(i + 1);
            if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); units = 2; }
          }
          if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
          const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
          if (written + n > cap) break;
          if (n === 1) destination[written] = c;
          else if (n === 2) { destination[written] = 0xc0 | (c >> 6); destination[written + 1] = 0x80 | (c & 63); }
          else if (n === 3) {
            destination[written] = 0xe0 | (c >> 12); destination[written + 1] = 0x80 | ((c >> 6) & 63);
            destination[written + 2] = 0x80 | (c & 63);
          } else {
            destination[written] = 0xf0 | (c >> 18); destination[written + 1] = 0x80 | ((c >> 12) & 63);
            destination[written + 2] = 0x80 | ((c >> 6) & 63); destination[written + 3] = 0x80 | (c & 63);
          }
          written += n; read += units; i += units - 1;
        }
        return { read, written };
      }
    }
    const labels = ["utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"];
    // Length of an incomplete UTF-8 sequence at the end of b (kept for the next streamed chunk).
    function incompleteTail(b) {
      for (let k = 1; k <= 3 && k <= b.length; k++) {
        const c = b[b.length - k];
        if ((c & 0xc0) === 0x80) continue;
        const need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 1;
        return need > k ? k : 0;
      }
      return 0;
    }
    // Symbol-keyed state instead of #private fields: JSC 2.50 leaks the atom of every
    // private name it parses (seen under LeakSanitizer).
    const kFatal = Symbol("fatal"), kIgnoreBOM = Symbol("ignoreBOM"), kPending = Symbol("pending"), kBomSeen = Symbol("bomSeen");
    class TextDecoder {
      constructor(label = "utf-8", options = {}) {
        this[kPending] = null;
        this[kBomSeen] = false;
        const l = String(label).trim().toLowerCase();
        if (!labels.includes(l)) throw new RangeError("TextDecoder: unsupported encoding \"" + label + "\" (only utf-8)");
        this[kFatal] = !!(options && options.fatal);
        this[kIgnoreBOM] = !!(options && options.ignoreBOM);
      }
      get encoding() { return "utf-8"; }
      get fatal() { return this[kFatal]; }
      get ignoreBOM() { return this[kIgnoreBOM]; }
      decode(input, options = {}) {
        let b = input === undefined ? new Uint8Array(0) : toBytes(input, "TextDecoder.decode");
        const stream = !!(options && options.stream);
        if (this[kPending]) {
          const j = new Uint8Array(this[kPending].length + b.length);
          j.set(this[kPending]); j.set(b, this[kPending].length);
          b = j; this[kPending] = null;
        }
        if (stream) {
          const t = incompleteTail(b);
          if (t) { this[kPending] = b.slice(b.length - t); b = b.subarray(0, b.length - t); }
        }
        if (!this[kIgnoreBOM] && !this[kBomSeen] && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
          b = b.subarray(3);
        }
        if (b.length) this[kBomSeen] = true;
        if (!stream) this[kBomSeen] = false;
        const s = N.utf8Decode(b, this[kFatal]);
        if (s === null) { this[kPending] = null; this[kBomSeen] = false; throw new TypeError("TextDecoder: the encoded data was not valid utf-8"); }
        return s;
      }
    }
    return { TextEncoder, TextDecoder };
  }));

  // ---------------------------------------------------------------- atob/btoa
  G.btoa = function btoa(data) {
    if (arguments.length < 1) throw new TypeError("btoa: 1 argument required");
    const r = N.b64encode(String(data));
    if (r === null) throw domError("btoa: the string contains characters outside of the Latin1 range", "InvalidCharacterError");
    return r;
  };
  G.atob = function atob(data) {
    if (arguments.length < 1) throw new TypeError("atob: 1 argument required");
    const r = N.b64decode(String(data));
    if (r === null) throw domError("atob: the string to be decoded is not correctly encoded", "InvalidCharacterError");
    return r;
  };

  // ---------------------------------------------------------------- crypto
  G.crypto = {
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array)) {
        throw domError("getRandomValues: argument must be an integer typed array", "TypeMismatchError");
      }
      if (array.byteLength > 65536) {
        throw domError("getRandomValues: the ArrayBufferView's byte length (" + array.byteLength + ") exceeds 65536", "QuotaExceededError");
      }
      // The native side refuses float arrays and DataView (null).
      const r = N.randomFill(array);
      if (r === null) throw domError("getRandomValues: argument must be an integer typed array", "TypeMismatchError");
      return r;
    },
    randomUUID() { return N.randomUUID(); },
    [Symbol.toStringTag]: "Crypto",
  };

  // ---------------------------------------------------------------- structuredClone
  const cloneImpl = once(() => {
    // Typed array constructors are looked up by tag on use: touching all of them up front
    // makes JSC initialise each one in a fresh context (~8 us apiece).
    const typedArrayTags = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
      "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"];
    const errorTypes = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
    const toStr = Object.prototype.toString;
    function fail(what) { return domError(what + " could not be cloned.", "DataCloneError"); }
    function clone(v, memo) {
      const t = typeof v;
      if (t === "symbol") throw fail(String(v));
      if (t === "function") throw fail("function " + (v.name || "anonymous"));
      if (v === null || t !== "object") return v;
      if (memo.has(v)) return memo.get(v);
      const tag = toStr.call(v);
      let out;
      switch (tag) {
        case "[object Boolean]": out = Object(Boolean.prototype.valueOf.call(v)); break;
        case "[object Number]": out = Object(Number.prototype.valueOf.call(v)); break;
        case "[object String]": out = Object(String.prototype.valueOf.call(v)); break;
        case "[object BigInt]": out = Object(BigInt.prototype.valueOf.call(v)); break;
        case "[object Date]": out = new Date(Date.prototype.getTime.call(v)); break;
        case "[object RegExp]": out = new RegExp(v.source, v.flags); break;
        case "[object ArrayBuffer]": out = v.slice(0); break;
        case "[object DataView]": {
          const buf = clone(v.buffer, memo);
          out = new DataView(buf, v.byteOffset, v.byteLength);
          break;
        }
        case "[object Map]": {
          out = new Map(); memo.set(v, out);
          for (const [k, val] of v) out.set(clone(k, memo), clone(val, memo));
          return out;
        }
        case "[object Set]": {
          out = new Set(); memo.set(v, out);
          for (const k of v) out.add(clone(k, memo));
          return out;
        }
        case "[object Error]": {
          const n = v.name;
          const C = Object.prototype.hasOwnProperty.call(errorTypes, n) ? errorTypes[n] : Error;
          out = Object.create(C.prototype);
          memo.set(v, out);
          const msg = Object.getOwnPropertyDescriptor(v, "message");
          if (msg && "value" in msg) defineProperty(out, "message", { value: String(msg.value), writable: true, configurable: true });
          if (typeof v.stack === "string") defineProperty(out, "stack", { value: v.stack, writable: true, configurable: true });
          if ("cause" in v) defineProperty(out, "cause", { value: clone(v.cause, memo), writable: true, configurable: true });
          return out;
        }
        case "[object Array]": {
          out = new Array(v.length); memo.set(v, out);
          for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
          return out;
        }
        case "[object Object]": break;
        default: {
          const name = tag.slice(8, -1);
          if (ArrayBuffer.isView(v) && typedArrayTags.includes(name)) {
            out = new G[name](clone(v.buffer, memo), v.byteOffset, v.length);
            break;
          }
          if (typeof v === "object" && (tag === "[object WeakMap]" || tag === "[object WeakSet]" || tag === "[object Promise]" ||
              tag === "[object WeakRef]" || tag === "[object Generator]")) {
            throw fail(tag.slice(8, -1) + " object");
          }
        }
      }
      if (out !== undefined) { memo.set(v, out); return out; }
      if (ArrayBuffer.isView(v)) throw fail("typed array");
      out = {}; memo.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
      return out;
    }
    return clone;
  });
  G.structuredClone = function structuredClone(value, options) {
    if (arguments.length < 1) throw new TypeError("structuredClone: 1 argument required");
    if (options && options.transfer && options.transfer.length) throw domError("structuredClone: transfer is not supported", "DataCloneError");
    return cloneImpl()(value, new Map());
  };

  // ---------------------------------------------------------------- queueMicrotask
  if (typeof G.queueMicrotask !== "function") {
    G.queueMicrotask = function queueMicrotask(callback) {
      if (typeof callback !== "function") throw new TypeError("queueMicrotask: argument must be a function");
      Promise.resolve().then(() => callback());
    };
  }

  // ---------------------------------------------------------------- URL / URLSearchParams
  let urlClasses = null;
  function buildURL() {
    if (urlClasses) return urlClasses;
    const special = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
    const pctByte = (b) => "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
    // Percent-encodes UTF-8 of every char matched by re (which must match non-ASCII too).
    function encodeSet(s, re) {
      return s.replace(re, (ch) => {
        let r = "";
        for (const b of utf8(ch)) r += pctByte(b);
        return r;
      });
    }
    const C0_AND_NONASCII = /[\u0000-\u001f\u007f-\uffff]+/g;
    const FRAGMENT_SET = /[\u0000-\u0020"<>`\u007f-\uffff]/g;
    const QUERY_SET = /[\u0000-\u0020"#<>\u007f-\uffff]/g;
    const PATH_SET = /[\u0000-\u0020"#<>?`{}\u007f-\uffff]/g;
    const USERINFO_SET = /[\u0000-\u0020"#<>?`{}/:;=@[\\\]^|\u007f-\uffff]/g;

    // Pre-processing curl does not do: strip C0/space around, drop tab/newline,
    // percent-encode what WHATWG would encode so curl accepts it.
    function preprocess(input) {
      let s = String(input).replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
      const hash = s.indexOf("#");
      let frag = null;
      if (hash >= 0) { frag = s.slice(hash + 1); s = s.slice(0, hash); }
      const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:)?(\/\/[^/?]*)?(.*)$/s.exec(s);
      let pre = (m[1] || "") + (m[2] || "");
      let rest = m[3];
      if (m[1] && special[m[1].toLowerCase()] !== undefined) rest = rest.replace(/\\/g, "/");
      if (/[^\u0000-\u007f]/.test(pre)) throw new TypeError("Invalid URL: non-ASCII host names are not supported");
      const q = rest.indexOf("?");
      const path = q >= 0 ? rest.slice(0, q) : rest;
      const query = q >= 0 ? rest.slice(q + 1) : null;
      let out = pre + encodeSet(path, PATH_SET);
      if (query !== null) out += "?" + encodeSet(query, QUERY_SET);
      return [out, frag === null ? null : encodeSet(frag, FRAGMENT_SET)];
    }

    function parse(input, base) {
      const [s, frag] = preprocess(input);
      let parts;
      if (base !== undefined && s === "" ) {
        parts = base.slice(); parts[7] = frag; return parts; // "#x" or "" relative to base
      }
      const r = N.urlParse(s, base === undefined ? undefined : serialize(base));
      if (typeof r === "string") throw new TypeError("Invalid URL: " + r + " (" + String(input) + ")");
      parts = r;
      parts[0] = parts[0].toLowerCase() + ":";
      if (parts[3] !== null && special[parts[0]] !== undefined) parts[3] = parts[3].toLowerCase();
      if (parts[4] !== null && special[parts[0]] === parts[4]) parts[4] = null;
      if (parts[5] === null || parts[5] === "") parts[5] = parts[3] !== null ? "/" : "";
      parts[7] = frag;
      return parts;
    }

    // parts: [protocol, user, password, host, port, path, query, fragment]
    function serialize(p, noFragment) {
      let s = p[0];
      if (p[3] !== null) {
        s += "//";
        if (p[1] || p[2]) s += (p[1] || "") + (p[2] ? ":" + p[2] : "") + "@";
        s += p[3];
        if (p[4] !== null) s += ":" + p[4];
      }
      s += p[5];
      if (p[6] !== null) s += "?" + p[6];
      if (p[7] !== null && !noFragment) s += "#" + p[7];
      return s;
    }

    const formEncode = (s) =>
      encodeURIComponent(typeof s.toWellFormed === "function" ? s.toWellFormed() : s)
        .replace(/[!'()~]/g, (c) => pctByte(c.charCodeAt(0)))
        .replace(/%20/g, "+");
    function formDecode(s) {
      s = s.replace(/\+/g, " ");
      if (s.indexOf("%") < 0) return s;
      const bytes = [];
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.substr(i + 1, 2))) {
          bytes.push(parseInt(s.substr(i + 1, 2), 16)); i += 2;
        } else if (c < 0x80) {
          bytes.push(c);
        } else {
          let ch = s[i];
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { ch += s[i + 1]; i++; }
          for (const b of utf8(ch)) bytes.push(b);
        }
      }
      return utf8Decode(new Uint8Array(bytes));
    }
    function parseQuery(q) {
      const list = [];
      if (!q) return list;
      for (const seq of q.split("&")) {
        if (seq === "") continue;
        const eq = seq.indexOf("=");
        const name = eq >= 0 ? seq.slice(0, eq) : seq;
        const value = eq >= 0 ? seq.slice(eq + 1) : "";
        list.push([formDecode(name), formDecode(value)]);
      }
      return list;
    }

    const kList = Symbol("list"), kUrl = Symbol("url"), kUpdate = Symbol("update"), kReparse = Symbol("reparse");
    class URLSearchParams {
      constructor(init = "") {
        this[kList] = [];
        this[kUrl] = null;
        if (init instanceof URLSearchParams) {
          this[kList] = init[kList].map((p) => p.slice());
        } else if (init !== null && typeof init === "object" || typeof init === "function") {
          if (typeof init[Symbol.iterator] === "function") {
            for (const pair of init) {
              const a = Array.from(pair);
              if (a.length !== 2) throw new TypeError("URLSearchParams: each pair must have exactly two items");
              this[kList].push([String(a[0]), String(a[1])]);
            }
          } else {
            for (const k of Object.keys(init)) this[kList].push([k, String(init[k])]);
          }
        } else {
          let s = String(init);
          if (s[0] === "?") s = s.slice(1);
          this[kList] = parseQuery(s);
        }
      }
      [kUpdate]() { if (this[kUrl]) this[kUrl][kSetQuery](this.toString()); }
      get size() { return this[kList].length; }
      append(name, value) { this[kList].push([String(name), String(value)]); this[kUpdate](); }
      delete(name, value) {
        name = String(name);
        this[kList] = this[kList].filter((p) => !(p[0] === name && (value === undefined || p[1] === String(value))));
        this[kUpdate]();
      }
      get(name) { name = String(name); const p = this[kList].find((x) => x[0] === name); return p ? p[1] : null; }
      getAll(name) { name = String(name); return this[kList].filter((x) => x[0] === name).map((x) => x[1]); }
      has(name, value) { name = String(name); return this[kList].some((p) => p[0] === name && (value === undefined || p[1] === String(value))); }
      set(name, value) {
        name = String(name); value = String(value);
        const i = this[kList].findIndex((p) => p[0] === name);
        if (i < 0) this[kList].push([name, value]);
        else { this[kList][i][1] = value; this[kList] = this[kList].filter((p, j) => j <= i || p[0] !== name); }
        this[kUpdate]();
      }
      sort() {
        // Stable sort by UTF-16 code units, as specified.
        this[kList] = this[kList].map((p, i) => [p, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map((x) => x[0]);
        this[kUpdate]();
      }
      forEach(cb, thisArg) { for (const [k, v] of this[kList].slice()) cb.call(thisArg, v, k, this); }
      *entries() { for (let i = 0; i < this[kList].length; i++) yield [this[kList][i][0], this[kList][i][1]]; }
      *keys() { for (const [k] of this.entries()) yield k; }
      *values() { for (const [, v] of this.entries()) yield v; }
      [Symbol.iterator]() { return this.entries(); }
      toString() { return this[kList].map(([k, v]) => formEncode(k) + "=" + formEncode(v)).join("&"); }
      get [Symbol.toStringTag]() { return "URLSearchParams"; }
    }

    const kParts = Symbol("parts"), kParams = Symbol("params"), kSetQuery = Symbol("setQuery");
    class URL {
      constructor(url, base) {
        if (arguments.length < 1) throw new TypeError("URL: 1 argument required");
        const b = base === undefined ? undefined : (base instanceof URL ? base[kParts] : parse(base));
        this[kParts] = parse(url, b);
        this[kParams] = null;
      }
      static canParse(url, base) { try { new URL(url, base); return true; } catch { return false; } }
      static parse(url, base) { try { return new URL(url, base); } catch { return null; } }
      [kReparse](p) {
        try { this[kParts] = parse(serialize(p)); } catch { /* setters ignore invalid values */ }
        if (this[kParams]) this[kParams][kList] = parseQuery(this[kParts][6] || "");
      }
      [kSetQuery](q) { this[kParts][6] = q === "" ? null : encodeSet(q, QUERY_SET); }
      get href() { return serialize(this[kParts]); }
      set href(v) {
        this[kParts] = parse(v);
        if (this[kParams]) this[kParams][kList] = parseQuery(this[kParts][6] || "");
      }
      get origin() {
        const p = this[kParts];
        if (special[p[0]] === undefined || p[0] === "file:") return "null";
        return p[0] + "//" + p[3] + (p[4] !== null ? ":" + p[4] : "");
      }
      get protocol() { return this[kParts][0]; }
      set protocol(v) {
        v = String(v).replace(/:.*$/s, "").toLowerCase();
        if (!/^[a-z][a-z0-9+.-]*$/.test(v)) return;
        const was = this[kParts][0];
        if ((special[was] !== undefined) !== (special[v + ":"] !== undefined)) return;
        const p = this[kParts].slice(); p[0] = v + ":";
        if (p[4] !== null && special[p[0]] === p[4]) p[4] = null;
        this[kReparse](p);
      }
      get username() { return this[kParts][1] || ""; }
      set username(v) { if (this[kParts][3] === null) return; const p = this[kParts].slice(); p[1] = encodeSet(String(v), USERINFO_SET) || null; this[kReparse](p); }
      get password() { return this[kParts][2] || ""; }
      set password(v) { if (this[kParts][3] === null) return; const p = this[kParts].slice(); p[2] = encodeSet(String(v), USERINFO_SET) || null; this[kReparse](p); }
      get host() { const p = this[kParts]; return p[3] === null ? "" : p[3] + (p[4] !== null ? ":" + p[4] : ""); }
      set host(v) {
        v = String(v);
        const m = /^(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?/.exec(v);
        if (!m || !m[1]) return;
        const p = this[kParts].slice(); p[3] = m[1];
        if (m[2] !== undefined && m[2] !== "") p[4] = m[2];
        this[kReparse](p);
      }
      get hostname() { return this[kParts][3] === null ? "" : this[kParts][3]; }
      set hostname(v) {
        const m = /^(\[[^\]]*\]|[^:/?#]*)/.exec(String(v));
        if (!m || !m[1]) return;
        const p = this[kParts].slice(); p[3] = m[1]; this[kReparse](p);
      }
      get port() { return this[kParts][4] === null ? "" : this[kParts][4]; }
      set port(v) {
        v = String(v);
        const p = this[kParts].slice();
        if (v === "") p[4] = null;
        else {
          const m = /^\d+/.exec(v);
          if (!m) return;
          const n = parseInt(m[0], 10);
          if (n > 65535) return;
          p[4] = special[p[0]] === String(n) ? null : String(n);
        }
        this[kReparse](p);
      }
      get pathname() { return this[kParts][5]; }
      set pathname(v) {
        v = String(v);
        if (special[this[kParts][0]] !== undefined) v = v.replace(/\\/g, "/");
        if (this[kParts][3] !== null && v[0] !== "/") v = "/" + v;
        const p = this[kParts].slice(); p[5] = encodeSet(v, PATH_SET); this[kReparse](p);
      }
      get search() { const q = this[kParts][6]; return q === null || q === "" ? "" : "?" + q; }
      set search(v) {
        v = String(v);
        if (v[0] === "?") v = v.slice(1);
        this[kParts][6] = v === "" ? null : encodeSet(v, QUERY_SET);
        if (this[kParams]) this[kParams][kList] = parseQuery(this[kParts][6] || "");
      }
      get searchParams() {
        if (!this[kParams]) {
          const sp = new URLSearchParams(this[kParts][6] || "");
          sp[kUrl] = this;
          this[kParams] = sp;
        }
        return this[kParams];
      }
      get hash() { const f = this[kParts][7]; return f === null || f === "" ? "" : "#" + f; }
      set hash(v) {
        v = String(v);
        if (v[0] === "#") v = v.slice(1);
        this[kParts][7] = v === "" ? null : encodeSet(v, FRAGMENT_SET);
      }
      toString() { return this.href; }
      toJSON() { return this.href; }
      get [Symbol.toStringTag]() { return "URL"; }
    }
    urlClasses = { URL, URLSearchParams, kList };
    return urlClasses;
  }
  lazy(["URL", "URLSearchParams"], buildURL);

  // ---------------------------------------------------------------- Headers / Request / Response / fetch
  const fetchParts = once(() => {
    // URL is built on first use only, so `new Headers()` alone stays cheap.
    const newURL = (u) => new (buildURL().URL)(u);
    const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
    const kH = Symbol("headers"), kGuard = Symbol("guard"), kMutable = Symbol("mutable");
    function normValue(v) { return String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, ""); }
    function checkHeader(name, value) {
      if (!TOKEN.test(name)) throw new TypeError("Headers: invalid header name \"" + name + "\"");
      if (/[\0\r\n]/.test(value)) throw new TypeError("Headers: invalid value for header \"" + name + "\"");
    }
    class Headers {
      constructor(init) {
        this[kH] = []; // [lowercase name, value] in insertion order
        this[kGuard] = "none";
        if (init === undefined || init === null) return;
        if (init instanceof Headers) { this[kH] = init[kH].map((p) => p.slice()); return; }
        if (typeof init !== "object") throw new TypeError("Headers: init must be an object or iterable");
        if (typeof init[Symbol.iterator] === "function") {
          for (const pair of init) {
            const a = Array.from(pair);
            if (a.length !== 2) throw new TypeError("Headers: each header must be a [name, value] pair");
            this.append(a[0], a[1]);
          }
        } else {
          for (const k of Object.keys(init)) this.append(k, init[k]);
        }
      }
      [kMutable]() { if (this[kGuard] === "immutable") throw new TypeError("Headers: immutable"); }
      append(name, value) {
        name = String(name); value = normValue(value);
        checkHeader(name, value); this[kMutable]();
        this[kH].push([name.toLowerCase(), value]);
      }
      delete(name) {
        name = String(name); if (!TOKEN.test(name)) throw new TypeError("Headers: invalid header name \"" + name + "\"");
        this[kMutable]();
        const n = name.toLowerCase(); this[kH] = this[kH].filter((p) => p[0] !== n);
      }
      get(name) {
        name = String(name); if (!TOKEN.test(name)) throw new TypeError("Headers: invalid header name \"" + name + "\"");
        const n = name.toLowerCase();
        const vals = this[kH].filter((p) => p[0] === n).map((p) => p[1]);
        return vals.length ? vals.join(", ") : null;
      }
      getSetCookie() { return this[kH].filter((p) => p[0] === "set-cookie").map((p) => p[1]); }
      has(name) {
        name = String(name); if (!TOKEN.test(name)) throw new TypeError("Headers: invalid header name \"" + name + "\"");
        const n = name.toLowerCase(); return this[kH].some((p) => p[0] === n);
      }
      set(name, value) {
        name = String(name); value = normValue(value);
        checkHeader(name, value); this[kMutable]();
        const n = name.toLowerCase();
        const i = this[kH].findIndex((p) => p[0] === n);
        if (i < 0) this[kH].push([n, value]);
        else { this[kH][i][1] = value; this[kH] = this[kH].filter((p, j) => j <= i || p[0] !== n); }
      }
      // Sorted, combined view (set-cookie kept separate), as the iteration spec says.
      *entries() {
        const names = [...new Set(this[kH].map((p) => p[0]))].sort();
        for (const n of names) {
          if (n === "set-cookie") { for (const v of this.getSetCookie()) yield [n, v]; }
          else yield [n, this.get(n)];
        }
      }
      *keys() { for (const [k] of this.entries()) yield k; }
      *values() { for (const [, v] of this.entries()) yield v; }
      forEach(cb, thisArg) { for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this); }
      [Symbol.iterator]() { return this.entries(); }
      get [Symbol.toStringTag]() { return "Headers"; }
    }

    // Body: bytes plus the content type the body implies (or null).
    function extractBody(body) {
      if (body === undefined || body === null) return [null, null];
      if (typeof body === "string") return [utf8(body), "text/plain;charset=UTF-8"];
      if (urlClasses && body instanceof urlClasses.URLSearchParams) return [utf8(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
      if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [toBytes(body, "body").slice(), null];
      if (typeof body === "object" && typeof body.getReader === "function") throw new TypeError("ReadableStream bodies are not supported");
      return [utf8(String(body)), "text/plain;charset=UTF-8"];
    }
    const kBody = Symbol("body"), kUsed = Symbol("used");
    function consume(self) {
      if (self[kUsed]) return Promise.reject(new TypeError("Body has already been consumed"));
      if (self[kBody] !== null) self[kUsed] = true;
      return Promise.resolve(self[kBody] || new Uint8Array(0));
    }
    const bodyMethods = {
      get body() { return null; },
      get bodyUsed() { return this[kUsed]; },
      text() { return consume(this).then(utf8Decode); },
      json() { return consume(this).then((b) => JSON.parse(utf8Decode(b))); },
      arrayBuffer() { return consume(this).then((b) => b.slice().buffer); },
      bytes() { return consume(this).then((b) => b.slice()); },
      blob() { return Promise.reject(new TypeError("Blob bodies are not supported")); },
      formData() { return Promise.reject(new TypeError("FormData bodies are not supported")); },
    };
    function mixBody(C) {
      for (const k of Object.keys(Object.getOwnPropertyDescriptors(bodyMethods))) {
        defineProperty(C.prototype, k, Object.getOwnPropertyDescriptor(bodyMethods, k));
      }
    }

    const FORBIDDEN_METHODS = ["CONNECT", "TRACE", "TRACK"];
    const NORMALISED = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
    const kR = Symbol("request");
    class Request {
      constructor(input, init = {}) {
        if (arguments.length < 1) throw new TypeError("Request: 1 argument required");
        init = init || {};
        const src = input instanceof Request ? input : null;
        let url;
        if (src) url = src.url;
        else {
          try { url = newURL(String(input)).href; } catch (e) { throw new TypeError("Request: invalid URL \"" + String(input) + "\""); }
        }
        let method = init.method !== undefined ? String(init.method) : src ? src.method : "GET";
        if (!TOKEN.test(method)) throw new TypeError("Request: invalid method \"" + method + "\"");
        if (NORMALISED.includes(method.toUpperCase())) method = method.toUpperCase();
        if (FORBIDDEN_METHODS.includes(method.toUpperCase())) throw new TypeError("Request: method \"" + method + "\" is forbidden");
        const redirect = init.redirect !== undefined ? String(init.redirect) : src ? src.redirect : "follow";
        if (!["follow", "manual", "error"].includes(redirect)) throw new TypeError("Request: invalid redirect mode \"" + redirect + "\"");
        const headers = new Headers(init.headers !== undefined ? init.headers : src ? src.headers : undefined);
        let body = null;
        if (init.body !== undefined && init.body !== null) {
          const [bytes, type] = extractBody(init.body);
          body = bytes;
          if (type && !headers.has("content-type")) headers.set("content-type", type);
        } else if (src && init.body === undefined) {
          if (src[kUsed]) throw new TypeError("Request: the source request's body was already used");
          body = src[kBody];
        }
        if (body !== null && (method === "GET" || method === "HEAD")) throw new TypeError("Request: a " + method + " request cannot have a body");
        this[kR] = { url, method, redirect, headers, signal: init.signal || (src ? src.signal : null) };
        this[kBody] = body;
        this[kUsed] = false;
      }
      get url() { return this[kR].url; }
      get method() { return this[kR].method; }
      get headers() { return this[kR].headers; }
      get redirect() { return this[kR].redirect; }
      get signal() { return this[kR].signal; }
      get mode() { return "cors"; }
      get credentials() { return "same-origin"; }
      get cache() { return "default"; }
      clone() {
        if (this[kUsed]) throw new TypeError("Request.clone: body already used");
        return new Request(this);
      }
      get [Symbol.toStringTag]() { return "Request"; }
    }
    mixBody(Request);

    const kS = Symbol("response");
    const NULL_BODY = [101, 103, 204, 205, 304];
    class Response {
      constructor(body = null, init = {}) {
        init = init || {};
        const status = init.status === undefined ? 200 : Number(init.status);
        if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError("Response: status " + init.status + " is outside 200-599");
        const statusText = init.statusText === undefined ? "" : String(init.statusText);
        if (/[^\t\x20-\x7e\x80-\xff]/.test(statusText)) throw new TypeError("Response: invalid statusText");
        const headers = new Headers(init.headers);
        let bytes = null;
        if (body !== null && body !== undefined) {
          if (NULL_BODY.includes(status)) throw new TypeError("Response: status " + status + " cannot have a body");
          const [b, type] = extractBody(body);
          bytes = b;
          if (type && !headers.has("content-type")) headers.set("content-type", type);
        }
        this[kS] = { type: "default", status, statusText, headers, url: "", redirected: false };
        this[kBody] = bytes;
        this[kUsed] = false;
      }
      static json(data, init = {}) {
        const text = JSON.stringify(data);
        if (text === undefined) throw new TypeError("Response.json: data is not JSON-serialisable");
        const headers = new Headers(init && init.headers);
        if (!headers.has("content-type")) headers.set("content-type", "application/json");
        return new Response(text, Object.assign({}, init, { headers }));
      }
      static error() {
        const r = new Response(null, { status: 200 });
        Object.assign(r[kS], { type: "error", status: 0 });
        r[kS].headers[kGuard] = "immutable";
        return r;
      }
      static redirect(url, status = 302) {
        if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError("Response.redirect: invalid status " + status);
        const r = new Response(null, { status, headers: { location: newURL(String(url)).href } });
        r[kS].headers[kGuard] = "immutable";
        return r;
      }
      get type() { return this[kS].type; }
      get status() { return this[kS].status; }
      get statusText() { return this[kS].statusText; }
      get ok() { return this[kS].status >= 200 && this[kS].status <= 299; }
      get headers() { return this[kS].headers; }
      get url() { return this[kS].url; }
      get redirected() { return this[kS].redirected; }
      clone() {
        if (this[kUsed]) throw new TypeError("Response.clone: body already used");
        const r = Object.create(Response.prototype);
        r[kS] = Object.assign({}, this[kS], { headers: new Headers(this[kS].headers) });
        r[kS].headers[kGuard] = this[kS].headers[kGuard];
        r[kBody] = this[kBody] ? this[kBody].slice() : null;
        r[kUsed] = false;
        return r;
      }
      get [Symbol.toStringTag]() { return "Response"; }
    }
    mixBody(Response);

    // Headers fetch must not let user code set (the transport owns them).
    const FORBIDDEN_REQUEST_HEADERS = ["accept-charset", "accept-encoding", "connection", "content-length", "expect", "host",
      "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "via", "proxy-connection"];
    function fromNetwork(raw, method) {
      const [status, statusText, url, redirected, flat, buf] = raw;
      const r = Object.create(Response.prototype);
      const headers = new Headers();
      for (let i = 0; i + 1 < flat.length; i += 2) headers.append(flat[i], flat[i + 1]);
      headers[kGuard] = "immutable";
      r[kS] = { type: "basic", status, statusText, headers, url, redirected };
      r[kBody] = method === "HEAD" || NULL_BODY.includes(status) ? null : new Uint8Array(buf);
      r[kUsed] = false;
      return r;
    }
    function fetch(input, init) {
      try {
        const req = new Request(input, init);
        const u = newURL(req.url);
        if (u.protocol !== "http:" && u.protocol !== "https:") {
          throw new TypeError("fetch: only http: and https: URLs are allowed (got " + u.protocol + ")");
        }
        if (req.signal && req.signal.aborted) throw domError("fetch: the operation was aborted", "AbortError");
        if (req[kUsed]) throw new TypeError("fetch: request body already used");
        const lines = [];
        for (const [n, v] of req.headers[kH]) {
          if (FORBIDDEN_REQUEST_HEADERS.includes(n) || n.startsWith("proxy-") || n.startsWith("sec-")) continue;
          lines.push(n + ": " + v);
        }
        const body = req[kBody];
        if (body !== null) req[kUsed] = true;
        u.hash = "";
        const p = N.fetch(req.method, u.href, lines, body, req.redirect === "follow" ? 0 : req.redirect === "manual" ? 1 : 2);
        if (typeof p === "string") throw new TypeError(p);
        return p.then((raw) => {
          if (typeof raw === "string") throw new TypeError(raw);
          return fromNetwork(raw, req.method);
        });
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return { Headers, Request, Response, fetch };
  });
  lazy(["Headers", "Request", "Response"], fetchParts);
  G.fetch = function fetch(input, init) { return fetchParts().fetch(input, init); };
})
