___INFO___

{
  "type": "TAG",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "Test TikTok Track",
  "categories": ["ADVERTISING"],
  "description": "Sends the current event to the TikTok Events API (written for the emulator's tests).",
  "containerContexts": ["SERVER"]
}


___TEMPLATE_PARAMETERS___

[
  {"type": "TEXT", "name": "pixelId", "displayName": "Pixel ID", "simpleValueType": true,
   "valueValidators": [{"type": "NON_EMPTY"}]},
  {"type": "TEXT", "name": "accessToken", "displayName": "Access token", "simpleValueType": true},
  {"type": "TEXT", "name": "eventName", "displayName": "Event name", "simpleValueType": true,
   "defaultValue": "CompletePayment"},
  {"type": "GROUP", "name": "extra", "displayName": "Extra", "subParams": [
    {"type": "TEXT", "name": "testEventCode", "displayName": "Test event code", "simpleValueType": true},
    {"type": "CHECKBOX", "name": "setClickCookie", "displayName": "Store ttclid", "simpleValueType": true,
     "defaultValue": false}
  ]},
  {"type": "SIMPLE_TABLE", "name": "extraProperties", "displayName": "Properties",
   "simpleTableColumns": [{"name": "key", "displayName": "Key", "type": "TEXT"},
                          {"name": "value", "displayName": "Value", "type": "TEXT"}]}
]


___SANDBOXED_JS_FOR_SERVER___

const getAllEventData = require('getAllEventData');
const getEventData = require('getEventData');
const sendHttpRequest = require('sendHttpRequest');
const JSON = require('JSON');
const sha256Sync = require('sha256Sync');
const getTimestampMillis = require('getTimestampMillis');
const makeNumber = require('makeNumber');
const makeTableMap = require('makeTableMap');
const logToConsole = require('logToConsole');
const setCookie = require('setCookie');
const Math = require('Math');

const ev = getAllEventData();
if (!data.pixelId) {
  logToConsole('no pixel id');
  return data.gtmOnFailure();
}

function hash(value) {
  if (!value) return undefined;
  if (value.match('^[a-f0-9]{64}$')) return value;
  return sha256Sync(value.trim().toLowerCase(), {outputEncoding: 'hex'});
}

const userData = ev.user_data || {};
const properties = {currency: ev.currency, value: makeNumber(ev.value)};
const extra = makeTableMap(data.extraProperties || [], 'key', 'value') || {};
for (const key in extra) {
  properties[key] = extra[key];
}
const contents = [];
(getEventData('items') || []).forEach((item) => {
  contents.push({content_id: item.item_id, price: makeNumber(item.price), quantity: item.quantity || 1});
});
if (contents.length) properties.contents = contents;

const body = {
  event_source: 'web',
  event_source_id: data.pixelId,
  test_event_code: data.testEventCode || undefined,
  data: [{
    event: data.eventName,
    event_time: Math.floor(getTimestampMillis() / 1000),
    event_id: ev.event_id,
    user: {email: hash(userData.email_address), ip: ev.ip_override, user_agent: ev.user_agent},
    page: {url: ev.page_location},
    properties: properties
  }]
};

if (data.setClickCookie && ev.ttclid) {
  setCookie('ttclid', ev.ttclid, {domain: 'auto', path: '/', 'max-age': 2592000, samesite: 'Lax', secure: true});
}

sendHttpRequest('https://business-api.tiktok.com/open_api/v1.3/event/track/', (statusCode, headers, responseBody) => {
  const answer = JSON.parse(responseBody) || {};
  logToConsole('TikTok answered', statusCode, answer.code);
  if (statusCode >= 200 && statusCode < 300 && answer.code === 0) {
    data.gtmOnSuccess();
  } else {
    data.gtmOnFailure();
  }
}, {headers: {'Content-Type': 'application/json', 'Access-Token': data.accessToken}, method: 'POST'},
   JSON.stringify(body));


___SERVER_PERMISSIONS___

[
  {"instance": {"key": {"publicId": "read_event_data", "versionId": "1"},
                "param": [{"key": "eventDataAccess", "value": {"type": 1, "string": "any"}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "send_http", "versionId": "1"},
                "param": [{"key": "allowedUrls", "value": {"type": 1, "string": "specific"}},
                          {"key": "urls", "value": {"type": 2, "listItem": [
                             {"type": 1, "string": "https://business-api.tiktok.com/open_api/*"}]}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "logging", "versionId": "1"},
                "param": [{"key": "environments", "value": {"type": 1, "string": "debug"}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "set_cookies", "versionId": "1"},
                "param": [{"key": "allowedCookies", "value": {"type": 2, "listItem": [
                  {"type": 3, "mapKey": [{"type": 1, "string": "name"}, {"type": 1, "string": "domain"},
                                         {"type": 1, "string": "path"}, {"type": 1, "string": "secure"},
                                         {"type": 1, "string": "session"}],
                   "mapValue": [{"type": 1, "string": "ttclid"}, {"type": 1, "string": "*"},
                                {"type": 1, "string": "*"}, {"type": 1, "string": "any"},
                                {"type": 1, "string": "any"}]}]}}]},
   "isRequired": true}
]


___TESTS___

scenarios:
- name: Sends one event and succeeds
  code: |-
    runCode(mockData);
    assertApi('gtmOnSuccess').wasCalled();
    assertApi('gtmOnFailure').wasNotCalled();
    assertThat(requests).hasLength(1);
    const sent = JSON.parse(requests[0].body);
    assertThat(sent.event_source_id).isEqualTo('PIXEL1');
    assertThat(sent.data[0].event).isEqualTo('CompletePayment');
    assertThat(sent.data[0].user.email).isEqualTo('973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b');
    assertThat(sent.data[0].properties).isEqualTo({currency: 'EUR', value: 25, shop: 'north'});
- name: Fails without a pixel id
  code: |-
    mockData.pixelId = '';
    runCode(mockData);
    assertApi('gtmOnFailure').wasCalled();
    assertApi('sendHttpRequest').wasNotCalled();
- name: Fails when TikTok rejects
  code: |-
    mock('sendHttpRequest', (url, callback, options, body) => {
      callback(200, {}, '{"code":40001,"message":"bad"}');
    });
    runCode(mockData);
    assertApi('gtmOnFailure').wasCalled();
setup: |-
  const JSON = require('JSON');
  const requests = [];
  const mockData = {pixelId: 'PIXEL1', accessToken: 'tok', eventName: 'CompletePayment',
                    extraProperties: [{key: 'shop', value: 'north'}]};
  mock('getAllEventData', {currency: 'EUR', value: '25', user_data: {email_address: ' Test@Example.com'}});
  mock('getEventData', undefined);
  mock('getTimestampMillis', 1700000000123);
  mock('sendHttpRequest', (url, callback, options, body) => {
    requests.push({url: url, options: options, body: body});
    callback(200, {}, '{"code":0,"message":"OK"}');
  });


___NOTES___

Written for the gtm_emulator test-suite.
