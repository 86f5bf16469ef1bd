// The JavaScript half of the template sandbox (see prelude.py). Evaluated as an expression: a function
// that receives the host-call function and installs __sandbox, require and the test APIs.
(function (host) {
  'use strict';
  var hasOwn = Object.prototype.hasOwnProperty;
  var OWN_MEMBERS_ONLY = true;  // see the end of this function
  var U = '\u0000u', N = '\u0000n', F = '\u0000f', C = '\u0000c';
  var S = {tasks: [], micro: [], rejected: [], calls: {}, mocks: {}, mockObjects: {}, errors: [],
           done: null, late: [], listeners: {}, eventCallbacks: [], testMode: false, main: null};
  globalThis.__sandbox = S;

  function enc(v) {
    var stack = [];
    function walk(x) {
      if (x === undefined) { var u = {}; u[U] = 1; return u; }
      if (x === null) return null;
      var t = typeof x;
      if (t === 'number') {
        if (x !== x || x === Infinity || x === -Infinity) { var n = {}; n[N] = String(x); return n; }
        return x;
      }
      if (t === 'string' || t === 'boolean') return x;
      if (t === 'function') { var f = {}; f[F] = 1; return f; }
      if (t !== 'object') return String(x);
      if (stack.indexOf(x) >= 0) { var c = {}; c[C] = 1; return c; }
      stack.push(x);
      var out;
      if (Array.isArray(x)) { out = []; for (var i = 0; i < x.length; i++) out.push(walk(x[i])); }
      else if (x instanceof SP) { out = {}; }
      else { out = {}; var ks = Object.keys(x); for (var j = 0; j < ks.length; j++) out[ks[j]] = walk(x[ks[j]]); }
      stack.pop();
      return out;
    }
    return JSON.stringify(walk(v));
  }
  function dec(text) {
    return JSON.parse(text, function (k, v) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        var ks = Object.keys(v);
        if (ks.length === 1) {
          if (ks[0] === U || ks[0] === C) return undefined;
          if (ks[0] === N) return Number(v[N]);
          if (ks[0] === F) return function () {};
        }
      }
      return v;
    });
  }
  S.enc = enc; S.dec = dec;

  function describe(e) {
    if (e && typeof e === 'object' && e.__gtmAssert) return e.message;
    if (e instanceof Error) {
      return e.name + ': ' + e.message;
    }
    if (typeof e === 'string') return e;
    try { var s = JSON.stringify(e); if (s !== undefined) return s; } catch (x) { /* fall through */ }
    return String(e);
  }
  S.describe = describe;

  function call(name, args) {
    var r = dec(host(name, enc(Array.prototype.slice.call(args))));
    if (r.e !== undefined) throw new Error(r.e);
    return r.v;
  }
  S.call = call;

  // ---------------------------------------------------------------- promises and tasks
  function SP(executor) {
    this._state = 0; this._value = undefined; this._handlers = []; this._handled = false;
    var self = this, called = false;
    function res(v) { if (!called) { called = true; resolveP(self, v); } }
    function rej(e) { if (!called) { called = true; settle(self, 2, e); } }
    try { executor(res, rej); } catch (e) { rej(e); }
  }
  function resolveP(p, v) {
    if (v === p) { settle(p, 2, new TypeError('a promise cannot be resolved with itself')); return; }
    if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
      var then;
      try { then = v.then; } catch (e) { settle(p, 2, e); return; }
      if (typeof then === 'function') {
        var done = false;
        S.micro.push(function () {
          try {
            then.call(v, function (x) { if (!done) { done = true; resolveP(p, x); } },
                         function (e) { if (!done) { done = true; settle(p, 2, e); } });
          } catch (e) { if (!done) { done = true; settle(p, 2, e); } }
        });
        return;
      }
    }
    settle(p, 1, v);
  }
  function settle(p, state, value) {
    if (p._state !== 0) return;
    p._state = state; p._value = value;
    if (state === 2 && !p._handled) S.rejected.push(p);
    var hs = p._handlers; p._handlers = [];
    for (var i = 0; i < hs.length; i++) schedule(p, hs[i]);
  }
  function schedule(p, h) {
    S.micro.push(function () {
      var cb = p._state === 1 ? h.ok : h.fail;
      if (typeof cb !== 'function') {
        if (p._state === 1) resolveP(h.next, p._value); else settle(h.next, 2, p._value);
        return;
      }
      var r;
      try { r = cb(p._value); } catch (e) { settle(h.next, 2, e); return; }
      resolveP(h.next, r);
    });
  }
  SP.prototype.then = function (ok, fail) {
    var next = new SP(function () {});
    this._handled = true;
    var h = {ok: ok, fail: fail, next: next};
    if (this._state === 0) this._handlers.push(h); else schedule(this, h);
    return next;
  };
  SP.prototype['catch'] = function (fail) { return this.then(undefined, fail); };
  SP.prototype['finally'] = function (cb) {
    return this.then(function (v) { if (typeof cb === 'function') cb(); return v; },
                     function (e) { if (typeof cb === 'function') cb(); throw e; });
  };
  function toSP(v) { return v instanceof SP ? v : new SP(function (r) { r(v); }); }
  function all(items) {
    return new SP(function (resolve, reject) {
      var arr = Array.prototype.slice.call(items || []), out = new Array(arr.length), left = arr.length;
      if (!left) { resolve(out); return; }
      arr.forEach(function (it, i) {
        toSP(it).then(function (v) { out[i] = v; if (--left === 0) resolve(out); }, reject);
      });
    });
  }
  S.SP = SP;
  function later(fn) { S.tasks.push(fn); }
  function runJob(job) { try { job(); } catch (e) { S.errors.push(describe(e)); } }
  S.drain = function () {
    for (;;) {
      while (S.micro.length) runJob(S.micro.shift());
      if (!S.tasks.length) break;
      runJob(S.tasks.shift());
    }
    for (var i = 0; i < S.rejected.length; i++) {
      if (!S.rejected[i]._handled) S.errors.push('unhandled promise rejection: ' + describe(S.rejected[i]._value));
    }
    S.rejected = [];
  };
  function resolved(v) { return new SP(function (r) { r(v); }); }
  function deferred(settleFn) { return new SP(function (res, rej) { later(function () { settleFn(res, rej); }); }); }

  // ---------------------------------------------------------------- the APIs
  var api = {};
  var hosted = ['getAllEventData', 'getEventData', 'getClientName', 'getContainerVersion',
    'getRequestMethod', 'getRequestPath', 'getRequestQueryString', 'getRequestQueryParameter',
    'getRequestQueryParameters', 'getRequestHeader', 'getRequestBody', 'getRemoteAddress',
    'getCookieValues', 'isRequestMpv1', 'isRequestMpv2', 'extractEventsFromMpv1', 'extractEventsFromMpv2',
    'setCookie', 'sha256Sync', 'hmacSha256', 'toBase64', 'fromBase64', 'encodeUri', 'encodeUriComponent',
    'decodeUri', 'decodeUriComponent', 'parseUrl', 'computeEffectiveTldPlusOne', 'makeString',
    'makeNumber', 'makeInteger', 'makeTableMap', 'getTimestampMillis', 'getTimestamp', 'generateRandom',
    'logToConsole', 'claimRequest', 'returnResponse', 'setResponseStatus', 'setResponseHeader',
    'setResponseBody', 'setPixelResponse', 'sendPixelFromBrowser', 'getGoogleAuth', 'createRegex',
    'testRegex', 'queryPermission'];
  hosted.forEach(function (name) { api[name] = function () { return call(name, arguments); }; });

  // createRegex: the host checks the pattern as RE2 (null when invalid) and keeps it for testRegex;
  // the template gets a JavaScript RegExp with the same source and flags (g, i; others ignored), so
  // that String.prototype.replace / match / matchAll / split / search take it, as in GTM.
  api.createRegex = function (pattern, flags) {
    var r = call('createRegex', [pattern, flags]);
    if (r === null || r === undefined) return r;
    var re;
    try { re = new RegExp(r.source, String(r.flags || '').replace(/[^gi]/g, '')); } catch (e) { return r; }
    Object.defineProperty(re, '__regex', {value: r.__regex, enumerable: false});
    return re;
  };
  api.testRegex = function (regex, text) {
    if (regex instanceof RegExp && regex.__regex !== undefined) {
      return call('testRegex', [{__regex: regex.__regex}, text]);
    }
    return call('testRegex', [regex, text]);
  };

  api.getType = function (v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    var t = typeof v;
    return t === 'bigint' ? 'number' : (t === 'symbol' ? 'object' : t);
  };
  api.callLater = function (fn) {
    if (typeof fn === 'function') later(function () { fn(); });
  };
  function http(url, options, body) { return call('sendHttpRequest', [url, options, body]); }
  api.sendHttpRequest = function (url, a, b, c) {
    if (typeof a === 'function') {
      var r = http(url, b, c);
      later(function () { if (r.reason) a(0, {}, ''); else a(r.statusCode, r.headers, r.body); });
      return undefined;
    }
    var res = http(url, a, b);
    return deferred(function (ok, fail) { if (res.reason) fail({reason: res.reason}); else ok(res); });
  };
  api.sendHttpGet = function (url, a, b) {
    if (typeof a === 'function') {
      var opts = Object.assign({}, b || {}, {method: 'GET'});
      var r = http(url, opts, undefined);
      later(function () { if (r.reason) a(0, {}, ''); else a(r.statusCode, r.headers, r.body); });
      return undefined;
    }
    var res = http(url, Object.assign({}, a || {}, {method: 'GET'}), undefined);
    return deferred(function (ok, fail) { if (res.reason) fail({reason: res.reason}); else ok(res); });
  };
  api.sha256 = function (input, onSuccess, c, d) {
    var options = (typeof c === 'function') ? d : c;
    var digest = call('sha256Sync', [input, options]);
    if (typeof onSuccess === 'function') later(function () { onSuccess(digest); });
  };
  api.getGoogleScript = function () { return deferred(function (ok, fail) { fail({reason: 'failed'}); }); };
  api.sendEventToGoogleAnalytics = function (event) {
    var r = call('sendEventToGoogleAnalytics', [event]);
    return deferred(function (ok) { ok(r); });
  };
  // runContainer queues the event on the host; the client runner starts it after the client code
  // returns (as in sGTM, where runContainer is asynchronous) and then calls onStart / onComplete.
  // bindToEvent(fn) returns fn bound to that event: while it runs, S.bound names the event, so an
  // addEventCallback call registers the callback for that event.
  S.runs = [];
  S.bound = null;
  function binder(id) {
    return function bindToEvent(fn) {
      if (typeof fn !== 'function') return fn;
      return function () {
        var prev = S.bound;
        S.bound = id;
        try { return fn.apply(null, arguments); } finally { S.bound = prev; }
      };
    };
  }
  api.runContainer = function (event, onComplete, onStart) {
    var id = call('runContainer', [event]);
    S.runs[id] = {onComplete: onComplete, onStart: onStart};
  };
  S.runStart = function (id) {
    var r = S.runs[id];
    if (r && typeof r.onStart === 'function') runJob(function () { r.onStart(binder(id)); });
  };
  S.runComplete = function (id) {
    var r = S.runs[id];
    if (r && typeof r.onComplete === 'function') runJob(function () { r.onComplete(binder(id)); });
  };
  S.runClient = function (fieldsJson) { S.main(makeData(dec(fieldsJson), false), requireApi); };
  api.addEventCallback = function (cb) {
    call('addEventCallback', []);
    if (typeof cb === 'function') S.eventCallbacks.push({cb: cb, event: S.bound});
  };
  // Call the callbacks registered for one event (null: a tag's own event), each with its own copy of
  // the event's tag results; drain what they start. Returns {n: callbacks called, errors: [...]}.
  S.runEventCallbacks = function (eventId, containerId, dataJson) {
    var start = S.errors.length, n = 0, list = S.eventCallbacks;
    S.eventCallbacks = [];
    var mine = list.filter(function (e) { return e.event === eventId; });
    S.eventCallbacks = list.filter(function (e) { return e.event !== eventId; });
    mine.forEach(function (e) {
      n++;
      runJob(function () { e.cb(containerId, dec(dataJson)); });
    });
    S.drain();
    return enc({n: n, errors: S.errors.splice(start)});
  };
  api.addMessageListener = function (type, cb) {
    call('__permission', ['use_message', 'addMessageListener']);
    if (typeof cb === 'function') { S.listeners[String(type)] = cb; call('__listen', [String(type)]); }
  };
  api.hasMessageListener = function (type) {
    call('__permission', ['use_message', 'hasMessageListener']);
    return hasOwn.call(S.listeners, String(type)) || call('__listenedElsewhere', [String(type)]);
  };
  api.sendMessage = function (type, message) {
    call('__permission', ['use_message', 'sendMessage']);
    var cb = S.listeners[String(type)];
    if (cb && message !== null && typeof message === 'object') cb(type, message);
    // listeners in the other templates of the request (see messages.py)
    if (message !== null && typeof message === 'object' && !Array.isArray(message)) {
      call('__sendMessage', [String(type), message]);
    }
  };
  S.deliver = function (type, messageJson) {
    var cb = S.listeners[type];
    if (cb) runJob(function () { cb(type, dec(messageJson)); });
  };
  // The engine writes some doubles with their exact 17 digits (-2^-24 as -5.9604644775390625e-8);
  // ECMAScript's Number::toString, and so GTM's JSON.stringify, writes the shortest digits that
  // read back to the same double (-5.960464477539063e-8). Only a number written with 17 digits can
  // have a shorter form, so only those are rewritten.
  function shortestNumber(n) {
    var s = String(n);
    var digits = s.replace('-', '').split('e')[0].replace('.', '').replace(/^0+/, '');
    if (digits.length < 17) return s;
    var a = Math.abs(n), p = 0, e = a.toExponential(0);
    while (Number(e) !== a) {  // up to 16 digits; past that the engine's own 17 digits stand
      if (++p > 15) return s;
      e = a.toExponential(p);
    }
    var parts = e.split('e');
    var d = parts[0].replace('.', '').replace(/0+$/, '') || '0';
    var k = d.length, x = Number(parts[1]) + 1;  // the value is 0.d × 10^x
    var body;
    if (k <= x && x <= 21) body = d + new Array(x - k + 1).join('0');
    else if (0 < x && x <= 21) body = d.slice(0, x) + '.' + d.slice(x);
    else if (-6 < x && x <= 0) body = '0.' + new Array(-x + 1).join('0') + d;
    else body = d.charAt(0) + (k > 1 ? '.' + d.slice(1) : '') + 'e' + (x - 1 >= 0 ? '+' : '-') + Math.abs(x - 1);
    return (n < 0 ? '-' : '') + body;
  }
  S.shortestNumber = shortestNumber;
  function stringifyShortest(v) {
    var marks = [], tag = '\u0000n' + Math.random() + ':';
    var text = JSON.stringify(v, function (k, x) {
      if (typeof x === 'number' && isFinite(x)) {
        var s = shortestNumber(x);
        if (s !== String(x)) { marks.push(s); return tag + (marks.length - 1); }
      }
      return x;
    });
    if (!marks.length || text === undefined) return text;
    for (var i = 0; i < marks.length; i++) text = text.split(JSON.stringify(tag + i)).join(marks[i]);
    return text;
  }
  api.JSON = {
    parse: function (text) { try { return JSON.parse(String(text)); } catch (e) { return undefined; } },
    stringify: function (v) { try { return stringifyShortest(v); } catch (e) { return undefined; } }
  };
  api.Math = {abs: Math.abs, ceil: Math.ceil, floor: Math.floor, round: Math.round, max: Math.max,
              min: Math.min, pow: Math.pow, sqrt: Math.sqrt};
  api.Object = {
    keys: function (o) { return Object.keys(o); },
    values: function (o) { return Object.keys(o).map(function (k) { return o[k]; }); },
    entries: function (o) { return Object.keys(o).map(function (k) { return [k, o[k]]; }); },
    freeze: function (o) { return Object.freeze(o); },
    'delete': function (o, k) { if (o === null || typeof o !== 'object' || Object.isFrozen(o)) return false; return delete o[k]; }
  };
  var PromiseApi = function (executor) { return new SP(executor); };
  PromiseApi.create = function (executor) { return new SP(executor); };
  PromiseApi.all = all;
  PromiseApi.resolve = resolved;
  PromiseApi.reject = function (e) { return new SP(function (r, j) { j(e); }); };
  api.Promise = PromiseApi;
  api.templateDataStorage = {
    getItemCopy: function (k) { return call('templateDataStorage.getItemCopy', [k]); },
    setItemCopy: function (k, v) { return call('templateDataStorage.setItemCopy', [k, v]); },
    removeItem: function (k) { return call('templateDataStorage.removeItem', [k]); },
    clear: function () { return call('templateDataStorage.clear', []); }
  };
  // The first sandbox release's BigQuery.insert took (connection, rows, options, onSuccess, onFailure).
  var LEGACY_BIGQUERY_CALLBACKS = true;
  api.BigQuery = {
    insert: function (connection, rows, options, onSuccess) {
      var r = call('BigQuery.insert', [connection, rows, options]);
      if (LEGACY_BIGQUERY_CALLBACKS && typeof onSuccess === 'function') later(function () { onSuccess(); });
      return deferred(function (ok) { ok(r); });
    }
  };
  function firestore(op) {
    return function () {
      var r = call('Firestore.' + op, arguments);
      return deferred(function (ok, fail) { if (r.error !== undefined) fail(r.error); else ok(r.value); });
    };
  }
  api.Firestore = {read: firestore('read'), write: firestore('write'), query: firestore('query'),
    runTransaction: function (cb) {
      call('__permission', ['access_firestore', 'Firestore.runTransaction']);
      return toSP(cb('emulator-transaction')).then(function () { return []; });
    }};
  var objectApis = {JSON: 1, Math: 1, Object: 1, Promise: 1, templateDataStorage: 1, BigQuery: 1, Firestore: 1};
  S.api = api;

  function record(name, args) {
    if (!S.testMode) return;
    (S.calls[name] = S.calls[name] || []).push(args);
  }
  S.record = record;
  function requireApi(name) {
    name = String(name);
    if (hasOwn.call(S.mockObjects, name)) return S.mockObjects[name];
    var known = hasOwn.call(api, name);
    var mocked = hasOwn.call(S.mocks, name);
    if (!known && !mocked) throw new Error('require: unknown API "' + name + '"');
    if (objectApis[name] && !mocked) return api[name];
    if (objectApis[name]) {
      record(name, []);
      var m = S.mocks[name];
      return typeof m === 'function' ? m() : m;
    }
    return function () {
      var args = Array.prototype.slice.call(arguments);
      record(name, args);
      if (hasOwn.call(S.mocks, name)) {
        if (S.testMode) call('__mocked', [name]);
        var impl = S.mocks[name];
        return typeof impl === 'function' ? impl.apply(null, args) : impl;
      }
      return api[name].apply(null, args);
    };
  }
  S.require = requireApi;

  function complete(status) {
    if (S.done === null) S.done = status; else S.late.push(status);
  }
  function makeData(fields, tag) {
    var data = fields;
    if (tag) {
      data.gtmOnSuccess = function () { record('gtmOnSuccess', []); complete('success'); };
      data.gtmOnFailure = function () { record('gtmOnFailure', []); complete('failure'); };
    }
    return data;
  }
  S.runTag = function (fieldsJson) { S.main(makeData(dec(fieldsJson), true), requireApi); };
  S.runValue = function (fieldsJson) {
    var r = S.main(makeData(dec(fieldsJson), false), requireApi);
    S.result = r;
  };
  S.finishValue = function () {
    var r = S.result;
    if (r instanceof SP) {
      if (r._state === 1) return enc({v: r._value});
      if (r._state === 2) return enc({e: describe(r._value)});
      return enc({e: 'the promise the variable returned never settled'});
    }
    return enc({v: r});
  };
  S.state = function () {
    return enc({done: S.done, late: S.late, errors: S.errors, callbacks: S.eventCallbacks.length});
  };

  // ---------------------------------------------------------------- template tests
  function AssertionFailure(message) { this.__gtmAssert = true; this.message = message; }
  function show(v) {
    if (v === undefined) return 'undefined';
    if (typeof v === 'function') return 'function';
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
    try { var s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  function deepEqual(a, b) {
    if (a === b) return true;
    if (typeof a === 'number' && typeof b === 'number') return a !== a && b !== b;
    if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    var ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (var i = 0; i < ka.length; i++) {
      if (!hasOwn.call(b, ka[i]) || !deepEqual(a[ka[i]], b[ka[i]])) return false;
    }
    return true;
  }
  function contains(container, item) {
    if (typeof container === 'string') return container.indexOf(String(item)) >= 0;
    if (Array.isArray(container)) return container.some(function (x) { return deepEqual(x, item); });
    return false;
  }
  function lengthOf(v) {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    return undefined;
  }
  function assertThat(actual, message) {
    function check(ok, text) {
      if (!ok) throw new AssertionFailure((message ? message + ': ' : '') + text);
      return subject;
    }
    var a = show(actual);
    var subject = {
      isEqualTo: function (e) { return check(deepEqual(actual, e), 'expected ' + a + ' to equal ' + show(e)); },
      isNotEqualTo: function (e) { return check(!deepEqual(actual, e), 'expected ' + a + ' not to equal ' + show(e)); },
      isStrictlyEqualTo: function (e) { return check(actual === e, 'expected ' + a + ' to be strictly equal to ' + show(e)); },
      isNotStrictlyEqualTo: function (e) { return check(actual !== e, 'expected ' + a + ' not to be strictly equal to ' + show(e)); },
      isDefined: function () { return check(actual !== undefined, 'expected a defined value, got undefined'); },
      isUndefined: function () { return check(actual === undefined, 'expected undefined, got ' + a); },
      isNull: function () { return check(actual === null, 'expected null, got ' + a); },
      isNotNull: function () { return check(actual !== null, 'expected a value other than null'); },
      isTrue: function () { return check(actual === true, 'expected true, got ' + a); },
      isFalse: function () { return check(actual === false, 'expected false, got ' + a); },
      isTruthy: function () { return check(!!actual, 'expected a truthy value, got ' + a); },
      isFalsy: function () { return check(!actual, 'expected a falsy value, got ' + a); },
      isNaN: function () { return check(typeof actual === 'number' && actual !== actual, 'expected NaN, got ' + a); },
      isNotNaN: function () { return check(!(typeof actual === 'number' && actual !== actual), 'expected a value other than NaN'); },
      isInfinity: function () { return check(actual === Infinity || actual === -Infinity, 'expected Infinity, got ' + a); },
      isNotInfinity: function () { return check(actual !== Infinity && actual !== -Infinity, 'expected a finite value, got ' + a); },
      isArray: function () { return check(Array.isArray(actual), 'expected an array, got ' + a); },
      isBoolean: function () { return check(typeof actual === 'boolean', 'expected a boolean, got ' + a); },
      isFunction: function () { return check(typeof actual === 'function', 'expected a function, got ' + a); },
      isNumber: function () { return check(typeof actual === 'number', 'expected a number, got ' + a); },
      isObject: function () { return check(actual !== null && typeof actual === 'object' && !Array.isArray(actual), 'expected an object, got ' + a); },
      isString: function () { return check(typeof actual === 'string', 'expected a string, got ' + a); },
      isEmpty: function () { return check(lengthOf(actual) === 0, 'expected an empty value, got ' + a); },
      isNotEmpty: function () { var n = lengthOf(actual); return check(n !== undefined && n > 0, 'expected a non-empty value, got ' + a); },
      hasLength: function (n) { return check(lengthOf(actual) === n, 'expected length ' + n + ', got ' + show(lengthOf(actual)) + ' for ' + a); },
      contains: function () {
        var items = Array.prototype.slice.call(arguments);
        return check(items.every(function (i) { return contains(actual, i); }), 'expected ' + a + ' to contain ' + show(items));
      },
      doesNotContain: function () {
        var items = Array.prototype.slice.call(arguments);
        return check(!items.some(function (i) { return contains(actual, i); }), 'expected ' + a + ' not to contain ' + show(items));
      },
      isAnyOf: function () {
        var items = Array.prototype.slice.call(arguments);
        return check(items.some(function (i) { return deepEqual(actual, i); }), 'expected ' + a + ' to be any of ' + show(items));
      },
      isNoneOf: function () {
        var items = Array.prototype.slice.call(arguments);
        return check(!items.some(function (i) { return deepEqual(actual, i); }), 'expected ' + a + ' to be none of ' + show(items));
      },
      isGreaterThan: function (e) { return check(actual > e, 'expected ' + a + ' to be greater than ' + show(e)); },
      isGreaterThanOrEqualTo: function (e) { return check(actual >= e, 'expected ' + a + ' to be at least ' + show(e)); },
      isLessThan: function (e) { return check(actual < e, 'expected ' + a + ' to be less than ' + show(e)); },
      isLessThanOrEqualTo: function (e) { return check(actual <= e, 'expected ' + a + ' to be at most ' + show(e)); }
    };
    return subject;
  }
  function assertApi(name) {
    function calls() { return S.calls[name] || []; }
    function matches(args) {
      return calls().some(function (c) { return c.length === args.length && deepEqual(c, args); });
    }
    var subject = {
      wasCalled: function () {
        if (!calls().length) throw new AssertionFailure('expected ' + name + ' to be called, but it was not');
        return subject;
      },
      wasNotCalled: function () {
        if (calls().length) throw new AssertionFailure('expected ' + name + ' not to be called, but it was called ' + calls().length + ' time(s)');
        return subject;
      },
      wasCalledWith: function () {
        var args = Array.prototype.slice.call(arguments);
        if (!matches(args)) throw new AssertionFailure('expected ' + name + ' to be called with ' + show(args) + '; calls: ' + show(calls()));
        return subject;
      },
      wasNotCalledWith: function () {
        var args = Array.prototype.slice.call(arguments);
        if (matches(args)) throw new AssertionFailure('expected ' + name + ' not to be called with ' + show(args));
        return subject;
      }
    };
    return subject;
  }
  S.installTestApi = function (isTag) {
    S.testMode = true;
    globalThis.require = requireApi;
    globalThis.runCode = function (data) {
      var fields = (data !== null && typeof data === 'object') ? Object.assign({}, data) : {};
      var r = S.main(makeData(fields, isTag), requireApi);
      S.drain();
      return r;
    };
    globalThis.mock = function (name, impl) { S.mocks[String(name)] = impl; };
    globalThis.mockObject = function (name, obj) { S.mockObjects[String(name)] = obj; };
    globalThis.assertApi = assertApi;
    globalThis.assertThat = assertThat;
    globalThis.fail = function (message) { throw new AssertionFailure(message === undefined ? 'fail() called' : String(message)); };
  };
  S.runScenario = function (fn) {
    try { fn(); S.drain(); } catch (e) {
      return enc({ok: false, assertion: !!(e && e.__gtmAssert), message: describe(e)});
    }
    return enc({ok: true, errors: S.errors});
  };

  // GTM's sandboxed objects have no inherited members: obj['constructor'], obj.toString or
  // obj['__proto__'] read only what the object itself holds (undefined otherwise), and writing
  // obj['__proto__'] makes an ordinary member. So Object.prototype loses its named members
  // (OWN_MEMBERS_ONLY); converting an object to text keeps working through Symbol.toPrimitive.
  if (OWN_MEMBERS_ONLY) {
    var OP = Object.prototype, fnText = Function.prototype.toString, errText = Error.prototype.toString,
        join = Array.prototype.join;
    Object.defineProperty(OP, Symbol.toPrimitive, {configurable: true, writable: true, value: function () {
      if (Array.isArray(this)) return join.call(this, ',');
      if (typeof this === 'function') return fnText.call(this);
      if (this instanceof Error) return errText.call(this);
      return '[object Object]';
    }});
    var named = Object.getOwnPropertyNames(OP);
    for (var m = 0; m < named.length; m++) delete OP[named[m]];
  }
})