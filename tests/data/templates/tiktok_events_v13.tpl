___INFO___

{
  "type": "TAG",
  "id": "cvt_temp_public_id",
  "version": 1,
  "securityGroups": [],
  "displayName": "Test TikTok Events API v1.3",
  "categories": ["ADVERTISING", "CONVERSIONS"],
  "description": "Builds the TikTok Events API v1.3 track payload from the event data by the rules of the emulator's tiktok-official profile (GA4 items as contents; no custom contents). Written for the emulator's tests.",
  "containerContexts": ["SERVER"]
}


___TEMPLATE_PARAMETERS___

[
  {"type": "TEXT", "name": "pixel_code", "displayName": "Pixel code", "simpleValueType": true,
   "valueValidators": [{"type": "NON_EMPTY"}]},
  {"type": "TEXT", "name": "access_token", "displayName": "Access token", "simpleValueType": true},
  {"type": "TEXT", "name": "event", "displayName": "Event name (GA4 names are mapped)", "simpleValueType": true},
  {"type": "TEXT", "name": "event_id", "displayName": "Event ID", "simpleValueType": true},
  {"type": "TEXT", "name": "test_event_code", "displayName": "Test event code", "simpleValueType": true},
  {"type": "SIMPLE_TABLE", "name": "custom_properties", "displayName": "Custom properties",
   "simpleTableColumns": [{"name": "key", "displayName": "Key", "type": "TEXT"},
                          {"name": "value", "displayName": "Value", "type": "TEXT"}]}
]


___SANDBOXED_JS_FOR_SERVER___

const getAllEventData = require('getAllEventData');
const getCookieValues = require('getCookieValues');
const getTimestampMillis = require('getTimestampMillis');
const getType = require('getType');
const makeNumber = require('makeNumber');
const makeString = require('makeString');
const parseUrl = require('parseUrl');
const sendHttpRequest = require('sendHttpRequest');
const setCookie = require('setCookie');
const sha256Sync = require('sha256Sync');
const JSON = require('JSON');
const Math = require('Math');

const TRACK_URL = 'https://business-api.tiktok.com/open_api/v1.3/event/track/';
const SOURCE = 'GoogleTagManagerServer';
const BUILD = 's2s_0_2_01';
const CLICK_COOKIE_SECONDS = 30 * 24 * 3600;
const STANDARD = {
  page_view: 'Pageview', view_item: 'ViewContent', add_to_cart: 'AddToCart', add_to_wishlist: 'AddToWishlist',
  begin_checkout: 'InitiateCheckout', add_payment_info: 'AddPaymentInfo', purchase: 'CompletePayment',
  search: 'Search', sign_up: 'CompleteRegistration'
};

const ev = getAllEventData();
const userData = ev.user_data || {};

// the first truthy argument, else the last one (like a || b || c)
function firstOf() {
  for (let i = 0; i < arguments.length - 1; i++) {
    if (arguments[i]) return arguments[i];
  }
  return arguments[arguments.length - 1];
}

function hashed(value, lowerCase) {
  if (!value) return undefined;
  if (getType(value) !== 'string') throw 'cannot hash a ' + getType(value) + ' value';
  if (value.match('^[A-Fa-f0-9]{64}$')) return value;
  const text = lowerCase ? value.toLowerCase().trim() : value.trim();
  if (!text) return undefined;
  return sha256Sync(text, {outputEncoding: 'hex'});
}

function queryValue(parsed, name) {
  return parsed && parsed.searchParams ? parsed.searchParams[name] : undefined;
}

const name = data.event || ev.event_name;
const standard = getType(name) === 'string' ? STANDARD[name] : undefined;
const eventName = getType(standard) === 'string' ? standard : name;

const page = parseUrl(ev.page_location);
const referrer = parseUrl(ev.page_referrer);
const sameSite = page && referrer && referrer.hostname === page.hostname;
const ttclid = firstOf(queryValue(page, 'ttclid'), sameSite ? queryValue(referrer, 'ttclid') : undefined,
                       getCookieValues('ttclid')[0], data.ttclid, ev.ttclid);
if (ttclid) {
  setCookie('ttclid', makeString(ttclid), {domain: 'auto', path: '/', 'max-age': CLICK_COOKIE_SECONDS,
                                           secure: true, httpOnly: false, samesite: 'None'});
}

const user = {
  email: hashed(firstOf(userData.email_address, userData.sha256_email_address, ev.email), true),
  phone: hashed(firstOf(userData.phone_number, userData.sha256_phone_number), true),
  external_id: hashed(firstOf(ev.tt_external_id, ev.user_id), false)
};
if (ttclid) user.ttclid = ttclid;
const ttp = getCookieValues('_ttp')[0];
if (ttp) user.ttp = ttp;
user.ip = ev.ip_override || ev.ip;
user.user_agent = ev.user_agent;

let items = ev.items;
if (!items) items = JSON.parse(ev.tt_contents);
if (items && getType(items) !== 'array') throw 'items is not an array';
const contentType = ev.tt_content_type || 'product';
const contents = getType(items) === 'array' ? items.map((item) => {
  if (item === null || item === undefined) throw 'items holds an empty element';
  const content = {content_type: contentType};
  if (item.item_id) content.content_id = item.item_id;
  if (item.item_name) content.content_name = item.item_name;
  const price = makeNumber(item.price);
  if (price) content.price = price;
  const quantity = makeNumber(item.quantity || 1);
  if (quantity) content.quantity = quantity;
  content.content_category = item.item_category || item.item_category1 || item.item_category2;
  if (item.item_brand) content.brand = item.item_brand;
  return content;
}) : undefined;

let value = makeNumber(ev.value);
if (!value && getType(contents) === 'array') {
  let total = 0;
  contents.forEach((c) => {
    if (c.price && c.quantity) total += makeNumber(c.price) * makeNumber(c.quantity);
  });
  value = total || undefined;
}
let currency = ev.currency;
if (!currency && getType(items) === 'array') {
  for (let i = 0; i < items.length; i++) {
    if (items[i].currency !== undefined) {
      currency = items[i].currency;
      break;
    }
  }
}

const properties = {contents: contents};
if (currency) properties.currency = currency;
if (value) properties.value = value;
properties.query = ev.query || ev.search_term;
(data.custom_properties || []).forEach((row) => {
  if (row && row.key) properties[makeString(row.key)] = row.value;
});
properties.gtm_version = BUILD;
properties.event_trigger_source = SOURCE;

const hints = ev.client_hints || {};
const device = {};
['architecture', 'bitness'].forEach((k) => { if (hints[k]) device[k] = hints[k]; });
if (hints.full_version_list) device.browser_version_list = hints.full_version_list;
if (hints.mobile !== undefined && hints.mobile !== null) device.mobile = hints.mobile;
['model', 'platform', 'platform_version'].forEach((k) => { if (hints[k]) device[k] = hints[k]; });

const payload = {
  event_source: 'web',
  event_source_id: data.pixel_code || undefined,
  partner_name: SOURCE,
  test_event_code: data.test_event_code || undefined,
  data: [{
    event: eventName || undefined,
    event_time: Math.floor(getTimestampMillis() / 1000),
    event_id: data.event_id || ev.event_id,
    user: user,
    page: {url: ev.page_location, referrer: ev.page_referrer},
    device: device,
    properties: properties
  }]
};

const headers = {'Content-Type': 'application/json', 'Access-Token': data.access_token ? makeString(data.access_token) : ''};
sendHttpRequest(TRACK_URL, {method: 'POST', headers: headers}, JSON.stringify(payload)).then((result) => {
  if (result.statusCode >= 200 && result.statusCode < 400) {
    data.gtmOnSuccess();
  } else {
    data.gtmOnFailure();
  }
}, () => data.gtmOnFailure());


___SERVER_PERMISSIONS___

[
  {"instance": {"key": {"publicId": "read_event_data", "versionId": "1"},
                "param": [{"key": "eventDataAccess", "value": {"type": 1, "string": "any"}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "get_cookies", "versionId": "1"},
                "param": [{"key": "cookieAccess", "value": {"type": 1, "string": "specific"}},
                          {"key": "cookieNames", "value": {"type": 2, "listItem": [
                             {"type": 1, "string": "ttclid"}, {"type": 1, "string": "_ttp"}]}}]},
   "isRequired": true},
  {"instance": {"key": {"publicId": "send_http", "versionId": "1"},
                "param": [{"key": "allowedUrls", "value": {"type": 1, "string": "specific"}},
                          {"key": "urls", "value": {"type": 2, "listItem": [
                             {"type": 1, "string": "https://business-api.tiktok.com/open_api/*"}]}}]},
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
