___INFO___

{
  "type": "CLIENT",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "Test JSON Events Client",
  "description": "Claims POST requests to one path whose body is {\"events\": [...]}, runs the container once per event and answers with a JSON summary (written for the emulator's tests).",
  "containerContexts": ["SERVER"]
}


___TEMPLATE_PARAMETERS___

[
  {"type": "TEXT", "name": "path", "displayName": "Request path", "simpleValueType": true,
   "defaultValue": "/json/collect"},
  {"type": "TEXT", "name": "cookieName", "displayName": "Visitor cookie", "simpleValueType": true,
   "defaultValue": "json_uid"}
]


___SANDBOXED_JS_FOR_SERVER___

const claimRequest = require('claimRequest');
const getRequestBody = require('getRequestBody');
const getRequestMethod = require('getRequestMethod');
const getRequestPath = require('getRequestPath');
const getCookieValues = require('getCookieValues');
const JSON = require('JSON');
const logToConsole = require('logToConsole');
const returnResponse = require('returnResponse');
const runContainer = require('runContainer');
const setCookie = require('setCookie');
const setResponseBody = require('setResponseBody');
const setResponseHeader = require('setResponseHeader');
const setResponseStatus = require('setResponseStatus');

if (getRequestMethod() !== 'POST' || getRequestPath() !== data.path) return;
claimRequest();

const parsed = JSON.parse(getRequestBody() || '');
const events = parsed && parsed.events;

function answer(status, payload) {
  setResponseStatus(status);
  setResponseHeader('content-type', 'application/json');
  setResponseBody(JSON.stringify(payload));
  returnResponse();
}

if (!events || !events.length) {
  answer(400, {error: 'the body needs an "events" array'});
  return;
}

const known = getCookieValues(data.cookieName);
const visitor = known.length ? known[0] : 'v-' + events.length + '-' + (parsed.visitor || 'anonymous');
const started = [];
const finished = [];
events.forEach((event, i) => {
  const eventData = {};
  for (const key in event) eventData[key] = event[key];
  eventData.client_id = visitor;
  runContainer(eventData, () => {
    finished.push(event.event_name);
    if (finished.length === events.length) {
      setCookie(data.cookieName, visitor, {'max-age': 3600, path: '/', secure: true, samesite: 'lax'});
      answer(200, {received: events.length, started: started, finished: finished});
    }
  }, (bindToEvent) => {
    started.push(i);
    bindToEvent(logToConsole)('event', i, event.event_name);
  });
});


___SERVER_PERMISSIONS___

[
  {"instance": {"key": {"publicId": "read_request", "versionId": "1"},
                "param": [{"key": "requestAccess", "value": {"type": 1, "string": "any"}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "get_cookies", "versionId": "1"},
                "param": [{"key": "cookieAccess", "value": {"type": 1, "string": "specific"}},
                          {"key": "cookieNames", "value": {"type": 2, "listItem": [
                             {"type": 1, "string": "json_uid"}]}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "set_cookies", "versionId": "1"},
                "param": [{"key": "allowedCookies", "value": {"type": 2, "listItem": [
                  {"type": 3, "mapKey": [{"type": 1, "string": "name"}, {"type": 1, "string": "domain"},
                                         {"type": 1, "string": "path"}, {"type": 1, "string": "secure"},
                                         {"type": 1, "string": "session"}],
                   "mapValue": [{"type": 1, "string": "json_uid"}, {"type": 1, "string": "*"},
                                {"type": 1, "string": "*"}, {"type": 1, "string": "any"},
                                {"type": 1, "string": "any"}]}]}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "run_container", "versionId": "1"}, "param": []}, "isRequired": true},
  {"instance": {"key": {"publicId": "return_response", "versionId": "1"}, "param": []}, "isRequired": true},
  {"instance": {"key": {"publicId": "access_response", "versionId": "1"},
                "param": [{"key": "writeResponseAccess", "value": {"type": 1, "string": "any"}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "logging", "versionId": "1"},
                "param": [{"key": "environments", "value": {"type": 1, "string": "debug"}}]},
   "isRequired": true}
]
