/*
 * The auditor's in-browser verification of a case's audit trail.
 *
 * The browser fetches (through the console) the case's logged events, the audit log's
 * signed tree head, the log's public key and an inclusion proof per event, then checks by
 * itself, with WebCrypto:
 *   1. the tree head's Ed25519 signature (C2SP signed note) against the public key;
 *   2. each event's leaf, rebuilt here from the event as shown (canonical JSON:
 *      sorted keys, no whitespace, ASCII only), hashes to the log's leaf hash;
 *   3. each inclusion proof leads from that leaf hash to the signed root (RFC 6962 /
 *      RFC 9162 section 2.1.3.2).
 * Nothing is stored in the browser. The same functions run under Node.js for the unit
 * tests (the RFC 6962 test vectors): this file assigns `MpaVerify` to the global object.
 */
(function (root) {
  "use strict";

  var subtle = root.crypto && root.crypto.subtle;
  var LEAF_FORMAT = "mpa-audit-leaf/1";
  var HASH_SIZE = 32;
  var ED25519_TYPE = 0x01;
  var encoder = new TextEncoder();

  // ---- bytes ------------------------------------------------------------------------

  function b64decode(text) {
    if (typeof text !== "string") throw new Error("base64: not a string");
    var binary = root.atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function concat(parts) {
    var length = 0;
    parts.forEach(function (part) { length += part.length; });
    var out = new Uint8Array(length);
    var offset = 0;
    parts.forEach(function (part) { out.set(part, offset); offset += part.length; });
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    var diff = 0;
    for (var i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  async function sha256(bytes) {
    return new Uint8Array(await subtle.digest("SHA-256", bytes));
  }

  function leafHash(data) {
    return sha256(concat([new Uint8Array([0]), data]));
  }

  function nodeHash(left, right) {
    return sha256(concat([new Uint8Array([1]), left, right]));
  }

  // ---- RFC 9162 2.1.3.2: verifying an inclusion proof ----------------------------------

  async function verifyInclusion(leafIndex, treeSize, leaf, proof, rootHash) {
    var index = BigInt(leafIndex);
    var size = BigInt(treeSize);
    if (index < 0n || index >= size) return false;
    if (leaf.length !== HASH_SIZE || rootHash.length !== HASH_SIZE) return false;
    var fn = index;
    var sn = size - 1n;
    var r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (p.length !== HASH_SIZE || sn === 0n) return false;
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(r, rootHash);
  }

  // ---- canonical JSON, as the audit service encodes a leaf -----------------------------

  // A number exactly as written in the JSON text, so re-encoding keeps its spelling
  // (JSON.parse would turn 1.0 into 1, and the leaf's bytes would differ).
  function RawNumber(text) { this.text = text; }

  function parseJson(text) {
    var at = 0;
    function fail(what) { throw new SyntaxError("JSON: " + what + " at " + at); }
    function space() { while (/[ \t\n\r]/.test(text.charAt(at))) at++; }
    function value() {
      space();
      var c = text.charAt(at);
      if (c === "{") return object();
      if (c === "[") return array();
      if (c === '"') return string();
      if (c === "t" && text.substr(at, 4) === "true") { at += 4; return true; }
      if (c === "f" && text.substr(at, 5) === "false") { at += 5; return false; }
      if (c === "n" && text.substr(at, 4) === "null") { at += 4; return null; }
      return number();
    }
    function number() {
      var match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(at));
      if (!match) fail("unexpected character");
      at += match[0].length;
      return new RawNumber(match[0]);
    }
    function string() {
      var match = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(at));
      if (!match) fail("bad string");
      at += match[0].length;
      return JSON.parse(match[0]);
    }
    function array() {
      var out = [];
      at++; space();
      if (text.charAt(at) === "]") { at++; return out; }
      for (;;) {
        out.push(value()); space();
        var c = text.charAt(at++);
        if (c === "]") return out;
        if (c !== ",") fail("expected , or ]");
      }
    }
    function object() {
      var out = Object.create(null);
      at++; space();
      if (text.charAt(at) === "}") { at++; return out; }
      for (;;) {
        space();
        if (text.charAt(at) !== '"') fail("expected a key");
        var key = string(); space();
        if (text.charAt(at++) !== ":") fail("expected :");
        out[key] = value(); space();
        var c = text.charAt(at++);
        if (c === "}") return out;
        if (c !== ",") fail("expected , or }");
      }
    }
    var result = value();
    space();
    if (at !== text.length) fail("trailing text");
    return result;
  }

  function codePointCompare(a, b) {
    var x = Array.from(a), y = Array.from(b);
    for (var i = 0; i < Math.min(x.length, y.length); i++) {
      var d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  }

  function encodeString(s) {
    // JSON.stringify escapes quotes, backslashes and control characters as Python does;
    // Python's ensure_ascii also escapes DEL and everything beyond ASCII, per UTF-16 unit.
    return JSON.stringify(s).replace(/[\u007f-\uffff]/g, function (ch) {
      return "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0");
    });
  }

  function canonical(value) {
    if (value === null) return "null";
    if (value === true) return "true";
    if (value === false) return "false";
    if (value instanceof RawNumber) return value.text;
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new Error("canonical: only integers as numbers");
      return String(value);
    }
    if (typeof value === "string") return encodeString(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    var keys = Object.keys(value).sort(codePointCompare);
    return "{" + keys.map(function (k) { return encodeString(k) + ":" + canonical(value[k]); }).join(",") + "}";
  }

  function leafBytes(event, origin) {
    var document = {
      event: event,
      format: LEAF_FORMAT,
      origin: { offset: origin.offset, partition: origin.partition, topic: origin.topic },
    };
    return encoder.encode(canonical(document));
  }

  function intOf(value) {
    return BigInt(value instanceof RawNumber ? value.text : value);
  }

  // ---- signed notes and checkpoints (C2SP) ---------------------------------------------

  function parseVerifierKey(text) {
    var first = text.indexOf("+");
    var second = text.indexOf("+", first + 1);
    if (first < 1 || second < 0) throw new Error("verifier key: not name+id+key");
    var name = text.slice(0, first);
    var id = text.slice(first + 1, second);
    var material = b64decode(text.slice(second + 1));
    if (!/^[0-9a-f]{8}$/.test(id)) throw new Error("verifier key: bad key id");
    if (material.length !== 33 || material[0] !== ED25519_TYPE) {
      throw new Error("verifier key: not an Ed25519 key");
    }
    var keyId = new Uint8Array(4);
    for (var i = 0; i < 4; i++) keyId[i] = parseInt(id.substr(i * 2, 2), 16);
    return { name: name, keyId: keyId, publicKey: material.slice(1) };
  }

  async function keyIdOf(name, publicKey) {
    var digest = await sha256(concat([encoder.encode(name + "\n"), new Uint8Array([ED25519_TYPE]), publicKey]));
    return digest.slice(0, 4);
  }

  function splitNote(note) {
    if (note.charAt(note.length - 1) !== "\n") throw new Error("note: no final newline");
    var separator = note.lastIndexOf("\n\n");
    if (separator < 0) throw new Error("note: no signature block");
    var text = note.slice(0, separator + 1);
    var lines = note.slice(separator + 2, -1).split("\n");
    var signatures = lines.map(function (line) {
      var match = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!match) throw new Error("note: bad signature line");
      return { name: match[1], blob: b64decode(match[2]) };
    });
    return { text: text, signatures: signatures };
  }

  function parseCheckpoint(text) {
    var lines = text.slice(0, -1).split("\n");
    if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new Error("checkpoint: malformed");
    }
    return { origin: lines[0], treeSize: BigInt(lines[1]), rootHash: b64decode(lines[2]) };
  }

  // "valid", "invalid" or "unsupported" (a browser without WebCrypto Ed25519).
  async function verifyNote(note, verifierKey) {
    var key = parseVerifierKey(verifierKey);
    if (!equal(await keyIdOf(key.name, key.publicKey), key.keyId)) return "invalid";
    var parts = splitNote(note);
    var ours = parts.signatures.filter(function (s) {
      return s.name === key.name && s.blob.length === 68 && equal(s.blob.slice(0, 4), key.keyId);
    });
    if (ours.length === 0) return "invalid";
    var imported;
    try {
      imported = await subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      return "unsupported";
    }
    var message = encoder.encode(parts.text);
    for (var i = 0; i < ours.length; i++) {
      var ok = await subtle.verify({ name: "Ed25519" }, imported, ours[i].blob.slice(4), message);
      if (!ok) return "invalid";
    }
    return "valid";
  }

  // ---- the whole bundle -----------------------------------------------------------------

  async function verifyBundle(bundle) {
    var head = bundle.tree_head;
    var note = head.checkpoint;
    var signature = await verifyNote(note, bundle.verifier_key);
    var signed = parseCheckpoint(splitNote(note).text);
    var headMatches =
      signed.treeSize === intOf(head.tree_size) && equal(signed.rootHash, b64decode(head.root_hash));
    var entries = [];
    for (var i = 0; i < bundle.entries.length; i++) {
      var entry = bundle.entries[i];
      var reason = null;
      try {
        var computed = await leafHash(leafBytes(entry.event, entry.origin));
        if (!equal(computed, b64decode(entry.leaf_hash)) || !equal(computed, b64decode(entry.proof_leaf_hash))) {
          reason = "leaf";
        } else {
          var path = entry.audit_path.map(b64decode);
          var ok = await verifyInclusion(intOf(entry.seq), signed.treeSize, computed, path, signed.rootHash);
          if (!ok) reason = "proof";
        }
      } catch (error) {
        reason = "malformed";
      }
      entries.push({ seq: String(intOf(entry.seq)), ok: reason === null, reason: reason });
    }
    var allIncluded = entries.length > 0 && entries.every(function (e) { return e.ok; });
    return {
      signature: signature,
      headMatches: headMatches,
      entries: entries,
      passed: signature !== "invalid" && headMatches && allIncluded,
    };
  }

  // ---- the page -------------------------------------------------------------------------

  function setText(element, text, kind) {
    element.textContent = text;
    if (kind) element.className = kind;
  }

  async function runOnPage(panel) {
    var texts = panel.dataset;
    var result = document.getElementById("verify-result");
    var keyLine = document.getElementById("verify-key");
    setText(result, texts.textChecking, "verify-checking");
    var bundle;
    try {
      var response = await fetch(texts.verifyUrl, {
        credentials: "same-origin",
        headers: { accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      bundle = parseJson(await response.text());
    } catch (error) {
      setText(result, texts.textError, "verify-failed");
      return;
    }
    var outcome;
    try {
      outcome = await verifyBundle(bundle);
    } catch (error) {
      outcome = { signature: "invalid", headMatches: false, entries: [], passed: false };
    }
    var byLeaf = {};
    outcome.entries.forEach(function (e) { byLeaf[e.seq] = e; });
    document.querySelectorAll("[data-verify-seq]").forEach(function (cell) {
      var e = byLeaf[cell.getAttribute("data-verify-seq")];
      if (!e) setText(cell, texts.textPending, "verify-pending");
      else if (e.ok) setText(cell, "\u2713 " + texts.textOk, "verify-ok");
      else setText(cell, "\u2717 " + texts.textBad, "verify-bad");
    });
    setText(result, outcome.passed ? texts.textPassed : texts.textFailed,
            outcome.passed ? "verify-passed" : "verify-failed");
    result.setAttribute("data-outcome", outcome.passed ? "passed" : "failed");
    var signatureText = {
      valid: texts.textSignatureOk,
      invalid: texts.textSignatureBad,
      unsupported: texts.textSignatureUnsupported,
    }[outcome.signature];
    setText(keyLine, signatureText + " " + (bundle.verifier_key || ""), "hint");
    keyLine.setAttribute("data-signature", outcome.signature);
  }

  root.MpaVerify = {
    b64decode: b64decode,
    leafHash: leafHash,
    verifyInclusion: verifyInclusion,
    parseJson: parseJson,
    canonical: canonical,
    leafBytes: leafBytes,
    verifyNote: verifyNote,
    verifyBundle: verifyBundle,
  };

  if (typeof document !== "undefined") {
    document.addEventListener("DOMContentLoaded", function () {
      var panel = document.querySelector(".verify-panel");
      var button = document.getElementById("verify-button");
      if (!panel || !button || !subtle) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        button.disabled = true;
        runOnPage(panel).finally(function () { button.disabled = false; });
      });
    });
  }
})(typeof window !== "undefined" ? window : globalThis);
