___INFO___

{
  "type": "MACRO",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "Test Email Domain",
  "description": "Returns the lower-cased domain of an e-mail address (written for the emulator's tests).",
  "containerContexts": ["SERVER"]
}


___TEMPLATE_PARAMETERS___

[
  {"type": "TEXT", "name": "keyPath", "displayName": "Event data key", "simpleValueType": true,
   "defaultValue": "user_data.email_address"},
  {"type": "CHECKBOX", "name": "async", "displayName": "Return a promise", "simpleValueType": true}
]


___SANDBOXED_JS_FOR_SERVER___

const getEventData = require('getEventData');
const makeString = require('makeString');
const Promise = require('Promise');

const email = getEventData(data.keyPath);
if (!email) return undefined;
const text = makeString(email).trim().toLowerCase();
const at = text.lastIndexOf('@');
const domain = at >= 0 ? text.substring(at + 1) : undefined;
if (data.async) {
  return Promise.create((resolve) => resolve(domain));
}
return domain;


___SERVER_PERMISSIONS___

[
  {"instance": {"key": {"publicId": "read_event_data", "versionId": "1"},
                "param": [{"key": "eventDataAccess", "value": {"type": 1, "string": "specific"}},
                          {"key": "keyPatterns", "value": {"type": 2, "listItem": [
                             {"type": 1, "string": "user_data"}]}}]},
   "isRequired": true}
]


___TESTS___

scenarios:
- name: Returns the domain
  code: |-
    mock('getEventData', ' Someone@Example.ORG ');
    assertThat(runCode({keyPath: 'user_data.email_address'})).isEqualTo('example.org');
- name: Undefined without an address
  code: |-
    mock('getEventData', undefined);
    assertThat(runCode({keyPath: 'x'})).isUndefined();
- name: Deliberately wrong expectation
  code: |-
    mock('getEventData', 'a@b.example');
    assertThat(runCode({keyPath: 'x'}), 'domain').isEqualTo('c.example');
