"""Every text of the walkthrough, in English and Dutch (the setup guide it reproduces is Dutch).

``translate(lang, key, **values)`` formats with ``str.format``. Both tables must have the same keys
(a test checks it, and that every key the pages use exists). Names in GTM's own interface (Tag
Configuration, Some Events, the operator names) follow GTM's wording in each language; the Dutch
operator names are those of GTM's Dutch interface as far as they could be checked (uncertain).
Field labels and help texts of the TikTok template are the walkthrough's own (``FIELD_TEXTS``), written
for the marketer who sets the tag up, in both languages; a field it does not know keeps the template's
label and help. The project's messages (validation lines, the tag's warnings and notes) are shown in
Dutch where ``PROBLEM_TEXTS`` knows them, else as they are.
"""

from __future__ import annotations

import re
from typing import Any

LANGUAGES = ("en", "nl")

EN: dict[str, str] = {
    "app_title": "TikTok server-side setup",
    "app_subtitle": "a walkthrough on the gtm_emulator container",
    "language": "Language",
    "steps": "Steps",
    "step_n": "Step {n} of 4",
    "done": "done",
    "required": "required",
    "save": "Save",
    "copy": "Copy",
    "mock": "mock",
    "reset": "Reset the walkthrough",
    "reset_confirm": "Reset the workspace to its starting state? The tag, trigger, template and tokens are removed.",
    "reset_done": "The workspace is back in its starting state.",
    "workspace_file": "Container file of this workspace:",
    "start": "Start with step 1",
    "next_step": "Next: {title}",

    "step_template_title": "Tag template",
    "step_token_title": "Access token",
    "step_tag_title": "The TikTok tag",
    "step_trigger_title": "The trigger",
    "step_test_title": "Send a test purchase",
    "step_template_summary": "Add TikTok's Events API tag template to the server container.",
    "step_token_summary": "In TikTok's Events Manager, generate an access token for your pixel.",
    "step_tag_summary": "Create a tag from the template with the pixel code and the access token.",
    "step_trigger_summary": "Make the tag fire on GA4 purchases only: Client Name equals GA4 and Event Name "
                            "equals purchase.",

    "index_heading": "Server-side TikTok tracking in four steps",
    "index_intro": "This walkthrough follows the four steps of setting up TikTok's Events API in a server-side "
                   "Google Tag Manager container. It runs on a real container in this emulator: every step you "
                   "take here changes the container's files, and the server uses them at once.",
    "index_then_test": "Then send a test purchase and watch it arrive at (a mock of) TikTok.",
    "index_files_heading": "Ordinary container files",
    "index_files": "Everything is saved as plain JSON files in the workspace folder. You can check them or run "
                   "them without this walkthrough:",

    "step_template_intro": "A server container only knows the tags it has templates for. TikTok publishes its "
                           "Events API tag in GTM's Community Template Gallery.",
    "step_template_guide_1": "In your server container, open Templates and, under Tag Templates, choose Search "
                             "Gallery.",
    "step_template_guide_2": "Search for TikTok and open \"TikTok Events API\".",
    "step_template_guide_3": "Press \"Add to workspace\" and confirm.",
    "add_to_workspace": "Add to workspace",
    "added_to_workspace": "Added to workspace",
    "template_added_notice": "The template is in the workspace: the file {file} was added and container.json "
                             "lists it under templates. The server has reloaded the container.",
    "template_fields_heading": "The fields of the tag",
    "template_fields_intro": "This is how the tag's fields look when you create a tag from this template, each "
                             "with a short explanation.",
    "tag_configuration": "Tag Configuration",
    "table_field": "A table field: edit it in the container file.",

    "step_token_intro": "The tag needs a key that proves it may send events for your pixel: an access token "
                        "from TikTok's Events Manager. Here a mock Events Manager makes one for the mock "
                        "TikTok API that this server talks to.",
    "step_token_guide_1": "In TikTok Ads Manager, open Tools, then Events, then Web Events (Events Manager).",
    "step_token_guide_2": "Pick your pixel (or create one) and open its Settings.",
    "step_token_guide_3": "Under Events API, press \"Generate access token\" and copy the token.",
    "events_manager": "TikTok Events Manager",
    "pixel_name": "Pixel",
    "pixel_code": "Pixel code",
    "access_tokens": "Access tokens",
    "no_token_yet": "no token yet",
    "generate_token": "Generate access token",
    "new_pixel_name": "New pixel",
    "new_pixel_placeholder": "Name, e.g. My webshop",
    "create_pixel": "Create pixel",
    "token_generated_heading": "Your new access token",
    "token_for_pixel": "Access token for pixel {code}:",
    "token_shown_once": "This token is shown only once. Copy it now; afterwards only its last characters are "
                        "shown.",
    "token_saved_where": "The mock TikTok API now accepts exactly this token for this pixel (it is saved in "
                         "container.json under mock_vendors).",
    "unknown_pixel": "There is no pixel {code} in the Events Manager.",
    "no_mock": "This server does not run the mock TikTok API, so it cannot make tokens.",

    "step_tag_intro": "Now create the tag itself: give it a name, and fill in the pixel code and the access "
                      "token from step 2. The other fields can keep their defaults.",
    "step_tag_guide_1": "In GTM, open Tags and press New.",
    "step_tag_guide_2": "Under Tag Configuration, choose \"TikTok Events API\".",
    "step_tag_guide_3": "Fill in the Pixel ID and the Access Token, and give the tag a name.",
    "needs_template": "Add the tag template first:",
    "tag_name": "Tag name",
    "template_file": "template",
    "token_placeholder": "paste the access token here",
    "token_saved_placeholder": "saved ({token}); leave empty to keep it",
    "use_generated_token": "Use the token generated in step 2 for this pixel",
    "use_generated_help": "Leave the field above empty and tick this box to take the latest token of the pixel "
                          "you entered.",
    "triggering": "Triggering",
    "no_trigger_yet": "No trigger yet: you add it in step 4.",
    "tag_saved_notice": "Saved. container.json now holds the tag and the server has reloaded it.",
    "form_has_errors": "The tag was not saved: please correct the fields marked below.",
    "validator_title": "The emulator's own validation of the container file",
    "error_tag_name": "Give the tag a name.",
    "error_pixel_required": "Fill in the pixel code (Pixel ID) from TikTok's Events Manager.",
    "error_pixel_malformed": "This is not a pixel code: a TikTok pixel code is 20 capital letters and digits, "
                             "such as CDEMOSHOP0PIXEL00001.",
    "error_token_required": "Fill in the access token from step 2.",
    "error_token_from_pixel": "No access token has been generated for this pixel yet (step 2).",
    "error_token_malformed": "This is not an access token: a TikTok access token is 40 characters, only digits "
                             "and the letters a to f.",
    "not_a_number": "Enter a number.",

    "step_trigger_intro": "A tag only fires when a trigger says so. The TikTok tag should fire for purchases "
                          "that the GA4 client received, and for nothing else.",
    "step_trigger_guide_1": "In the tag, click Triggering and add a new trigger of type Custom.",
    "step_trigger_guide_2": "Choose \"Some Events\".",
    "step_trigger_guide_3": "Add two conditions: Client Name equals GA4, and Event Name equals purchase.",
    "trigger_name": "Trigger name",
    "trigger_configuration": "Trigger Configuration",
    "trigger_type": "Trigger type",
    "trigger_type_custom": "Custom",
    "fires_on": "This trigger fires on",
    "all_events": "All Events",
    "some_events": "Some Events",
    "conditions_help": "Fire this trigger when an event occurs and all of these conditions are true:",
    "variable": "Variable",
    "operator": "Operator",
    "value": "Value",
    "choose_variable": "Choose a variable…",
    "add_condition": "Add condition",
    "remove_condition": "Remove this condition",
    "trigger_saved_notice": "Saved. The trigger is a file in triggers/, the tag \"{tag}\" fires on it and the "
                            "server has reloaded the container.",
    "error_trigger_name": "Give the trigger a name.",
    "error_no_conditions": "\"Some Events\" needs at least one condition.",
    "unknown_operator": "Choose an operator from the list.",

    "op_equals": "equals",
    "op_does_not_equal": "does not equal",
    "op_contains": "contains",
    "op_does_not_contain": "does not contain",
    "op_starts_with": "starts with",
    "op_does_not_start_with": "does not start with",
    "op_ends_with": "ends with",
    "op_does_not_end_with": "does not end with",
    "op_matches_regex": "matches RegEx",
    "op_does_not_match_regex": "does not match RegEx",
    "op_matches_regex_ignore_case": "matches RegEx (ignore case)",
    "op_does_not_match_regex_ignore_case": "does not match RegEx (ignore case)",
    "op_less": "less than",
    "op_less_or_equals": "less than or equal to",
    "op_greater": "greater than",
    "op_greater_or_equals": "greater than or equal to",

    "test_intro": "The button sends two real GA4 hits from this browser to the server container, as a "
                  "website's gtag.js would: a purchase, then a page_view. The container runs them through "
                  "its clients, triggers and tags, exactly as it would for real traffic.",
    "test_missing_steps": "Some steps are not done yet, so the result may differ from the finished setup:",
    "test_email": "Customer e-mail address (sent as ep.email)",
    "test_email_help": "The TikTok tag reads the event's e-mail address and sends it hashed.",
    "test_user_id": "Customer number (sent as the GA4 user ID, uid)",
    "test_user_id_help": "The TikTok tag sends it as the hashed external_id.",
    "send_test_purchase": "Send a test purchase",
    "test_what_is_sent": "Sent to this server: POST /g/collect?v=2&en=purchase… and POST "
                         "/g/collect?v=2&en=page_view…",
    "hits_sent": "Hits sent:",
    "test_failed": "The test could not be sent to the server.",
    "results_none": "The server reported no events for this test.",
    "results_request": "Claimed by client {client}; the server answered HTTP {status}.",
    "results_no_tags": "The container has no tags yet.",
    "tag_fired": "Fired",
    "tag_not_fired": "Not fired",
    "why_not_fired": "Why not?",
    "reason_paused": "The tag is paused.",
    "reason_blocked": "A blocking trigger matched.",
    "reason_no_trigger": "The tag has no trigger yet, so it never fires (step 4).",
    "reason_condition": "Trigger \"{trigger}\" did not match: the condition {variable} {operator} \"{right}\" "
                        "is false, because {variable} was \"{left}\".",
    "sent_to_tiktok": "Sent to TikTok",
    "headers": "Headers",
    "token_masked_note": "The access token is masked (****) in everything the emulator shows.",
    "hashed_heading": "Hashed user data",
    "hashed_pointer": "hashed (SHA-256), explained below",
    "hashed_intro": "TikTok matches events to its users with personal data, but the tag never sends it as "
                    "readable text: it sends a SHA-256 hash, a fingerprint of 64 characters from which the "
                    "original cannot be read back.",
    "hashed_from": "From the event data key {source}: \"{original}\".",
    "hashed_normalised_lower": "The tag first lower-cased it and removed the spaces around it: \"{normalised}\".",
    "hashed_normalised_trim": "The tag first removed the spaces around it (upper and lower case kept): "
                              "\"{normalised}\".",
    "hashed_verified": "The SHA-256 hash of \"{normalised}\" is exactly the value sent.",
    "hashed_not_verified": "Hashed by the tag from another source of the same field.",
    "hashed_unknown_source": "Hashed by the tag (the value came from a tag field, or was already a hash).",
    "hashed_why": "TikTok hashes the e-mail addresses and phone numbers of its own users the same way; when "
                  "two fingerprints are equal, TikTok knows who bought, without anyone sending the address "
                  "itself.",
    "plain_user": "Sent as they are, not hashed: {fields}.",
    "tiktok_answer": "TikTok's answer",
    "answer_ok": "Code 0 means TikTok accepted the event.",
    "answer_none": "No answer from TikTok.",
    "mock_received": "The mock TikTok API has accepted {n} event(s) so far:",
    "error_run": "The parameter run must be a number.",
    "error_heading": "The workspace has a problem",
    "error_intro": "The container file could not be read or validated:",
}

NL: dict[str, str] = {
    "app_title": "TikTok server-side instellen",
    "app_subtitle": "een rondleiding op de gtm_emulator-container",
    "language": "Taal",
    "steps": "Stappen",
    "step_n": "Stap {n} van 4",
    "done": "klaar",
    "required": "verplicht",
    "save": "Opslaan",
    "copy": "Kopiëren",
    "mock": "nabootsing",
    "reset": "Rondleiding opnieuw beginnen",
    "reset_confirm": "De werkruimte terugzetten naar het begin? De tag, trigger, het sjabloon en de tokens worden "
                     "verwijderd.",
    "reset_done": "De werkruimte staat weer in de beginstand.",
    "workspace_file": "Containerbestand van deze werkruimte:",
    "start": "Begin met stap 1",
    "next_step": "Volgende: {title}",

    "step_template_title": "Tagsjabloon",
    "step_token_title": "Toegangstoken",
    "step_tag_title": "De TikTok-tag",
    "step_trigger_title": "De trigger",
    "step_test_title": "Testaankoop versturen",
    "step_template_summary": "Voeg het tagsjabloon voor TikToks Events API toe aan de servercontainer.",
    "step_token_summary": "Maak in TikToks Events Manager een toegangstoken aan voor je pixel.",
    "step_tag_summary": "Maak met het sjabloon een tag met de pixelcode en het toegangstoken.",
    "step_trigger_summary": "Laat de tag alleen bij GA4-aankopen afgaan: Client Name is gelijk aan GA4 en Event "
                            "Name is gelijk aan purchase.",

    "index_heading": "Server-side TikTok-tracking in vier stappen",
    "index_intro": "Deze rondleiding volgt de vier stappen om TikToks Events API in te stellen in een "
                   "server-side Google Tag Manager-container. Alles gebeurt op een echte container in deze "
                   "emulator: elke stap past de bestanden van de container aan, en de server gebruikt ze meteen.",
    "index_then_test": "Verstuur daarna een testaankoop en kijk hoe die bij (een nabootsing van) TikTok aankomt.",
    "index_files_heading": "Gewone containerbestanden",
    "index_files": "Alles wordt opgeslagen als gewone JSON-bestanden in de werkruimtemap. Je kunt ze controleren "
                   "of draaien zonder deze rondleiding:",

    "step_template_intro": "Een servercontainer kent alleen de tags waarvoor hij een sjabloon heeft. TikTok "
                           "publiceert zijn Events API-tag in de Community Template Gallery van GTM.",
    "step_template_guide_1": "Open in je servercontainer Sjablonen en kies bij Tagsjablonen Zoeken in galerij.",
    "step_template_guide_2": "Zoek op TikTok en open \"TikTok Events API\".",
    "step_template_guide_3": "Klik op \"Toevoegen aan werkruimte\" en bevestig.",
    "add_to_workspace": "Toevoegen aan werkruimte",
    "added_to_workspace": "Toegevoegd aan werkruimte",
    "template_added_notice": "Het sjabloon staat in de werkruimte: het bestand {file} is toegevoegd en "
                             "container.json noemt het onder templates. De server heeft de container opnieuw "
                             "geladen.",
    "template_fields_heading": "De velden van de tag",
    "template_fields_intro": "Zo zien de velden eruit als je met dit sjabloon een tag maakt, elk met een korte "
                             "uitleg.",
    "tag_configuration": "Tagconfiguratie",
    "table_field": "Een tabelveld: pas het aan in het containerbestand.",

    "step_token_intro": "De tag heeft een sleutel nodig die bewijst dat hij events voor jouw pixel mag sturen: "
                        "een toegangstoken uit TikToks Events Manager. Hier maakt een nagebootste Events Manager "
                        "er een aan voor de nagebootste TikTok-API waarmee deze server praat.",
    "step_token_guide_1": "Open in TikTok Ads Manager Tools, dan Events, dan Web Events (Events Manager).",
    "step_token_guide_2": "Kies je pixel (of maak er een) en open de Instellingen.",
    "step_token_guide_3": "Klik onder Events API op \"Generate access token\" en kopieer het token.",
    "events_manager": "TikTok Events Manager",
    "pixel_name": "Pixel",
    "pixel_code": "Pixelcode",
    "access_tokens": "Toegangstokens",
    "no_token_yet": "nog geen token",
    "generate_token": "Generate access token",
    "new_pixel_name": "Nieuwe pixel",
    "new_pixel_placeholder": "Naam, bijv. Mijn webshop",
    "create_pixel": "Pixel maken",
    "token_generated_heading": "Je nieuwe toegangstoken",
    "token_for_pixel": "Toegangstoken voor pixel {code}:",
    "token_shown_once": "Dit token wordt maar één keer getoond. Kopieer het nu; daarna zie je alleen de laatste "
                        "tekens.",
    "token_saved_where": "De nagebootste TikTok-API accepteert nu precies dit token voor deze pixel (het staat in "
                         "container.json onder mock_vendors).",
    "unknown_pixel": "Er is geen pixel {code} in de Events Manager.",
    "no_mock": "Deze server draait de nagebootste TikTok-API niet en kan dus geen tokens maken.",

    "step_tag_intro": "Maak nu de tag zelf: geef hem een naam en vul de pixelcode en het toegangstoken uit stap 2 "
                      "in. De andere velden mogen hun standaardwaarde houden.",
    "step_tag_guide_1": "Open in GTM Tags en klik op Nieuw.",
    "step_tag_guide_2": "Kies bij Tagconfiguratie \"TikTok Events API\".",
    "step_tag_guide_3": "Vul de Pixel ID en de Access Token in en geef de tag een naam.",
    "needs_template": "Voeg eerst het tagsjabloon toe:",
    "tag_name": "Tagnaam",
    "template_file": "sjabloon",
    "token_placeholder": "plak hier het toegangstoken",
    "token_saved_placeholder": "opgeslagen ({token}); laat leeg om het te houden",
    "use_generated_token": "Gebruik het token uit stap 2 voor deze pixel",
    "use_generated_help": "Laat het veld hierboven leeg en vink dit aan om het nieuwste token te nemen van de pixel "
                          "die je invulde.",
    "triggering": "Triggers",
    "no_trigger_yet": "Nog geen trigger: die voeg je toe in stap 4.",
    "tag_saved_notice": "Opgeslagen. container.json bevat nu de tag en de server heeft hem opnieuw geladen.",
    "form_has_errors": "De tag is niet opgeslagen: verbeter de velden die hieronder gemarkeerd zijn.",
    "validator_title": "De eigen controle van het containerbestand door de emulator",
    "error_tag_name": "Geef de tag een naam.",
    "error_pixel_required": "Vul de pixelcode (Pixel ID) uit TikToks Events Manager in.",
    "error_pixel_malformed": "Dit is geen pixelcode: een TikTok-pixelcode bestaat uit 20 hoofdletters en cijfers, "
                             "zoals CDEMOSHOP0PIXEL00001.",
    "error_token_required": "Vul het toegangstoken uit stap 2 in.",
    "error_token_from_pixel": "Voor deze pixel is nog geen toegangstoken gemaakt (stap 2).",
    "error_token_malformed": "Dit is geen toegangstoken: een TikTok-toegangstoken bestaat uit 40 tekens, alleen "
                             "cijfers en de letters a tot en met f.",
    "not_a_number": "Vul een getal in.",

    "step_trigger_intro": "Een tag gaat alleen af als een trigger dat zegt. De TikTok-tag moet afgaan bij aankopen "
                          "die de GA4-client ontving, en bij niets anders.",
    "step_trigger_guide_1": "Klik in de tag op Triggers en voeg een nieuwe trigger van het type Aangepast toe.",
    "step_trigger_guide_2": "Kies \"Sommige gebeurtenissen\".",
    "step_trigger_guide_3": "Voeg twee voorwaarden toe: Client Name is gelijk aan GA4, en Event Name is gelijk aan "
                            "purchase.",
    "trigger_name": "Triggernaam",
    "trigger_configuration": "Triggerconfiguratie",
    "trigger_type": "Triggertype",
    "trigger_type_custom": "Aangepast",
    "fires_on": "Deze trigger wordt geactiveerd bij",
    "all_events": "Alle gebeurtenissen",
    "some_events": "Sommige gebeurtenissen",
    "conditions_help": "Deze trigger activeren als er een gebeurtenis plaatsvindt en al deze voorwaarden waar zijn:",
    "variable": "Variabele",
    "operator": "Operator",
    "value": "Waarde",
    "choose_variable": "Kies een variabele…",
    "add_condition": "Voorwaarde toevoegen",
    "remove_condition": "Deze voorwaarde verwijderen",
    "trigger_saved_notice": "Opgeslagen. De trigger is een bestand in triggers/, de tag \"{tag}\" gaat erop af en "
                            "de server heeft de container opnieuw geladen.",
    "error_trigger_name": "Geef de trigger een naam.",
    "error_no_conditions": "\"Sommige gebeurtenissen\" heeft minstens één voorwaarde nodig.",
    "unknown_operator": "Kies een operator uit de lijst.",

    "op_equals": "is gelijk aan",
    "op_does_not_equal": "is niet gelijk aan",
    "op_contains": "bevat",
    "op_does_not_contain": "bevat niet",
    "op_starts_with": "begint met",
    "op_does_not_start_with": "begint niet met",
    "op_ends_with": "eindigt op",
    "op_does_not_end_with": "eindigt niet op",
    "op_matches_regex": "komt overeen met RegEx",
    "op_does_not_match_regex": "komt niet overeen met RegEx",
    "op_matches_regex_ignore_case": "komt overeen met RegEx (hoofdletters negeren)",
    "op_does_not_match_regex_ignore_case": "komt niet overeen met RegEx (hoofdletters negeren)",
    "op_less": "kleiner dan",
    "op_less_or_equals": "kleiner dan of gelijk aan",
    "op_greater": "groter dan",
    "op_greater_or_equals": "groter dan of gelijk aan",

    "test_intro": "De knop stuurt twee echte GA4-hits vanuit deze browser naar de servercontainer, zoals gtag.js "
                  "op een website dat doet: een aankoop (purchase) en daarna een paginaweergave (page_view). De "
                  "container haalt ze door zijn clients, triggers en tags, precies zoals bij echt verkeer.",
    "test_missing_steps": "Nog niet alle stappen zijn klaar, dus de uitkomst kan afwijken van de complete "
                          "instelling:",
    "test_email": "E-mailadres van de klant (verstuurd als ep.email)",
    "test_email_help": "De TikTok-tag leest het e-mailadres van de gebeurtenis en stuurt het gehasht door.",
    "test_user_id": "Klantnummer (verstuurd als de GA4-gebruikers-ID, uid)",
    "test_user_id_help": "De TikTok-tag stuurt het als gehashte external_id.",
    "send_test_purchase": "Testaankoop versturen",
    "test_what_is_sent": "Verstuurd naar deze server: POST /g/collect?v=2&en=purchase… en POST "
                         "/g/collect?v=2&en=page_view…",
    "hits_sent": "Verstuurde hits:",
    "test_failed": "De test kon niet naar de server worden gestuurd.",
    "results_none": "De server meldde geen gebeurtenissen voor deze test.",
    "results_request": "Geclaimd door client {client}; de server antwoordde HTTP {status}.",
    "results_no_tags": "De container heeft nog geen tags.",
    "tag_fired": "Afgegaan",
    "tag_not_fired": "Niet afgegaan",
    "why_not_fired": "Waarom niet?",
    "reason_paused": "De tag is gepauzeerd.",
    "reason_blocked": "Een blokkerende trigger kwam overeen.",
    "reason_no_trigger": "De tag heeft nog geen trigger en gaat dus nooit af (stap 4).",
    "reason_condition": "Trigger \"{trigger}\" kwam niet overeen: de voorwaarde {variable} {operator} \"{right}\" "
                        "is onwaar, want {variable} was \"{left}\".",
    "sent_to_tiktok": "Verstuurd naar TikTok",
    "headers": "Headers",
    "token_masked_note": "Het toegangstoken is afgeschermd (****) in alles wat de emulator laat zien.",
    "hashed_heading": "Gehashte gebruikersgegevens",
    "hashed_pointer": "gehasht (SHA-256), uitleg hieronder",
    "hashed_intro": "TikTok koppelt gebeurtenissen aan zijn gebruikers met persoonsgegevens, maar de tag stuurt die "
                    "nooit leesbaar door: hij stuurt een SHA-256-hash, een vingerafdruk van 64 tekens waaruit het "
                    "origineel niet terug te lezen is.",
    "hashed_from": "Uit de event-data-sleutel {source}: \"{original}\".",
    "hashed_normalised_lower": "De tag zette het eerst in kleine letters en haalde de spaties eromheen weg: "
                               "\"{normalised}\".",
    "hashed_normalised_trim": "De tag haalde eerst de spaties eromheen weg (hoofd- en kleine letters blijven): "
                              "\"{normalised}\".",
    "hashed_verified": "De SHA-256-hash van \"{normalised}\" is precies de verstuurde waarde.",
    "hashed_not_verified": "Door de tag gehasht, uit een andere bron voor hetzelfde veld.",
    "hashed_unknown_source": "Door de tag gehasht (de waarde kwam uit een tagveld, of was al een hash).",
    "hashed_why": "TikTok hasht de e-mailadressen en telefoonnummers van zijn eigen gebruikers op dezelfde manier; "
                  "als twee vingerafdrukken gelijk zijn, weet TikTok wie er kocht, zonder dat iemand het adres zelf "
                  "doorstuurt.",
    "plain_user": "Ongewijzigd verstuurd, niet gehasht: {fields}.",
    "tiktok_answer": "Het antwoord van TikTok",
    "answer_ok": "Code 0 betekent dat TikTok de gebeurtenis heeft geaccepteerd.",
    "answer_none": "Geen antwoord van TikTok.",
    "mock_received": "De nagebootste TikTok-API heeft tot nu toe {n} gebeurtenis(sen) geaccepteerd:",
    "error_run": "De parameter run moet een getal zijn.",
    "error_heading": "Er is een probleem met de werkruimte",
    "error_intro": "Het containerbestand kon niet worden gelezen of gecontroleerd:",
}

STRINGS: dict[str, dict[str, str]] = {"en": EN, "nl": NL}


def translate(lang: str, key: str, **values: Any) -> str:
    """The text ``key`` in ``lang`` (English when the language is unknown). A missing key is a bug:
    KeyError, so tests find it."""
    table = STRINGS.get(lang, EN)
    text = table[key]
    return text.format(**values) if values else text


# ----------------------------------------------------------------------------- texts added for the marketer's view

EN.update({
    "more_settings": "More settings (optional)",
    "more_settings_help": "Everything here can keep its default: the tag then does what TikTok's own template "
                          "does. Open it to see or change the event, customer data or product details.",
    "show_token": "Show",
    "hide_token": "Hide",
    "hint_token_not_generated": "Saved, but this access token is not the one generated for pixel {pixel} in step 2 "
                                "(that one ends in {last4}). TikTok will refuse the events with code 40105 "
                                "\"Access token is invalid\". Tick \"Use the token generated in step 2\" or paste "
                                "that token.",
    "hint_token_other_pixel": "Saved, but this access token belongs to pixel {other}, not to pixel {pixel}. TikTok "
                              "will refuse the events with code 40001 (no permission for this pixel).",
    "hint_token_no_token_yet": "Saved, but no access token has been generated for pixel {pixel} yet (step 2), so "
                               "TikTok will refuse this one.",
    "attention": "needs attention",
    "trigger_not_saved": "The trigger was not saved: please correct the conditions marked below.",
    "trigger_saved_no_tag": "Saved. The trigger is a file in triggers/ and the server has reloaded the container. "
                            "There is no TikTok tag yet: once you create it in step 3, it fires on this trigger.",
    "trigger_check_hints": "Saved, but look at the {n} remark(s) below: as it is, the trigger may not fire when "
                           "you expect it to.",
    "error_condition_variable": "Choose a variable for this condition (the value is \"{value}\"). A condition "
                                "without a variable cannot be saved; remove the row if you do not need it.",
    "error_regex": "\"{pattern}\" is not a valid regular expression: {detail}. Check the brackets and special "
                   "characters, or choose \"equals\" to match the text exactly.",
    "regex_missing_paren": "a ( is opened but never closed with )",
    "regex_missing_bracket": "a [ is opened but never closed with ]",
    "regex_unexpected_paren": "there is a ) without a ( before it",
    "regex_repetition": "{part} repeats nothing (*, + and ? repeat what comes before them)",
    "regex_escape": "{part} is not a known escape (write \\\\ for a backslash)",
    "regex_other": "{detail}",
    "hint_empty_value": "The value is empty: this condition only holds when {variable} is empty. Fill in a value, "
                        "or remove the row.",
    "hint_case_event": "Matching is case-sensitive: a GA4 client names the event \"{lower}\" in lower case, so "
                       "\"{value}\" never matches it. Use \"{lower}\", or the operator \"matches RegEx (ignore "
                       "case)\".",
    "hint_case_client": "Matching is case-sensitive: the client is called \"{client}\", so \"{value}\" never "
                        "matches it.",
    "hint_unknown_client": "No client of this container is called \"{value}\" (the clients are: {clients}), so "
                           "this condition never holds.",
    "rejected_by_vendor": "Rejected by vendor",
    "rejected_intro": "The tag ran and sent the event, but TikTok refused it:",
    "rejected_fix_token": "The access token is the problem. Go back to step 3 and use the token generated for "
                          "this pixel in step 2.",
    "rejected_fix_pixel": "The access token is not allowed to send events for this pixel. Go back to step 3 and "
                          "check the pixel code and the token.",
    "rejected_fix_other": "Check the tag's settings in step 3, then send the test again.",
    "go_to_step_3": "Back to step 3: the TikTok tag",
    "answer_see_above": "HTTP {status}: see the rejection above. TikTok answers HTTP 200 even for errors: only the "
                        "code tells.",
    "as_intended": "Not fired, as intended",
    "as_intended_why": "This is what the trigger is for: the tag only fires on purchases, so a page_view is left "
                       "alone.",
    "unexpected_fired": "The tag also fired on this {event}: the trigger lets through more than purchases. Check "
                        "its conditions in step 4.",
    "expected_purchase_fired": "The tag should fire on the purchase.",
    "case_hint_result": "Matching is case-sensitive: \"{left}\" and \"{right}\" differ only in upper and lower "
                        "case.",
    "notes_heading": "Good to know",
    "warnings_heading": "Check this",
    "open_preview": "See the same test in Preview",
    "open_preview_help": "Preview shows every request this server received, with the tags, variables and event "
                        "data of each event, as Google Tag Manager's Preview mode does.",
})

NL.update({
    "more_settings": "Meer instellingen (optioneel)",
    "more_settings_help": "Alles hier mag zijn standaardwaarde houden: de tag doet dan wat TikToks eigen sjabloon "
                          "doet. Open dit om de gebeurtenis, klantgegevens of productgegevens te bekijken of te "
                          "wijzigen.",
    "show_token": "Tonen",
    "hide_token": "Verbergen",
    "hint_token_not_generated": "Opgeslagen, maar dit toegangstoken is niet het token dat in stap 2 voor pixel "
                                "{pixel} is gemaakt (dat eindigt op {last4}). TikTok weigert de gebeurtenissen dan "
                                "met code 40105 \"Access token is invalid\". Vink \"Gebruik het token uit stap 2\" "
                                "aan of plak dat token.",
    "hint_token_other_pixel": "Opgeslagen, maar dit toegangstoken hoort bij pixel {other}, niet bij pixel {pixel}. "
                              "TikTok weigert de gebeurtenissen dan met code 40001 (geen toestemming voor deze "
                              "pixel).",
    "hint_token_no_token_yet": "Opgeslagen, maar voor pixel {pixel} is nog geen toegangstoken gemaakt (stap 2), dus "
                               "TikTok weigert dit token.",
    "attention": "vraagt aandacht",
    "trigger_not_saved": "De trigger is niet opgeslagen: verbeter de voorwaarden die hieronder gemarkeerd zijn.",
    "trigger_saved_no_tag": "Opgeslagen. De trigger is een bestand in triggers/ en de server heeft de container "
                            "opnieuw geladen. Er is nog geen TikTok-tag: zodra je die in stap 3 maakt, gaat hij op "
                            "deze trigger af.",
    "trigger_check_hints": "Opgeslagen, maar bekijk de {n} opmerking(en) hieronder: zoals het nu staat, gaat de "
                           "trigger misschien niet af wanneer je dat verwacht.",
    "error_condition_variable": "Kies een variabele voor deze voorwaarde (de waarde is \"{value}\"). Een voorwaarde "
                                "zonder variabele kan niet worden opgeslagen; verwijder de regel als je hem niet "
                                "nodig hebt.",
    "error_regex": "\"{pattern}\" is geen geldige reguliere expressie: {detail}. Controleer de haakjes en "
                   "speciale tekens, of kies \"is gelijk aan\" om precies op de tekst te letten.",
    "regex_missing_paren": "er wordt een ( geopend die nooit met ) gesloten wordt",
    "regex_missing_bracket": "er wordt een [ geopend die nooit met ] gesloten wordt",
    "regex_unexpected_paren": "er staat een ) zonder ( ervoor",
    "regex_repetition": "{part} herhaalt niets (*, + en ? herhalen wat ervoor staat)",
    "regex_escape": "{part} is geen bekende escape (schrijf \\\\ voor een backslash)",
    "regex_other": "{detail}",
    "hint_empty_value": "De waarde is leeg: deze voorwaarde klopt alleen als {variable} leeg is. Vul een waarde in "
                        "of verwijder de regel.",
    "hint_case_event": "Hoofdletters tellen mee: een GA4-client noemt de gebeurtenis \"{lower}\" in kleine "
                       "letters, dus \"{value}\" komt daar nooit mee overeen. Gebruik \"{lower}\", of de operator "
                       "\"komt overeen met RegEx (hoofdletters negeren)\".",
    "hint_case_client": "Hoofdletters tellen mee: de client heet \"{client}\", dus \"{value}\" komt daar nooit mee "
                        "overeen.",
    "hint_unknown_client": "Geen client van deze container heet \"{value}\" (de clients zijn: {clients}), dus deze "
                           "voorwaarde klopt nooit.",
    "rejected_by_vendor": "Geweigerd door TikTok",
    "rejected_intro": "De tag is afgegaan en heeft de gebeurtenis verstuurd, maar TikTok weigerde hem:",
    "rejected_fix_token": "Het toegangstoken is het probleem. Ga terug naar stap 3 en gebruik het token dat in stap "
                          "2 voor deze pixel is gemaakt.",
    "rejected_fix_pixel": "Het toegangstoken mag geen gebeurtenissen voor deze pixel sturen. Ga terug naar stap 3 "
                          "en controleer de pixelcode en het token.",
    "rejected_fix_other": "Controleer de instellingen van de tag in stap 3 en verstuur de test opnieuw.",
    "go_to_step_3": "Terug naar stap 3: de TikTok-tag",
    "answer_see_above": "HTTP {status}: zie de weigering hierboven. TikTok antwoordt ook bij fouten met HTTP 200: "
                        "alleen de code zegt het.",
    "as_intended": "Niet afgegaan, zoals bedoeld",
    "as_intended_why": "Daar is de trigger voor: de tag gaat alleen af bij aankopen, dus een page_view blijft "
                       "ongemoeid.",
    "unexpected_fired": "De tag ging ook af bij deze {event}: de trigger laat meer door dan aankopen. Controleer "
                        "de voorwaarden in stap 4.",
    "expected_purchase_fired": "De tag hoort bij de aankoop af te gaan.",
    "case_hint_result": "Hoofdletters tellen mee: \"{left}\" en \"{right}\" verschillen alleen in hoofd- en kleine "
                        "letters.",
    "notes_heading": "Goed om te weten",
    "warnings_heading": "Controleer dit",
    "open_preview": "Bekijk dezelfde test in Preview",
    "open_preview_help": "Preview toont elk verzoek dat deze server ontving, met de tags, variabelen en "
                        "event-data van elke gebeurtenis, zoals de Preview-modus van Google Tag Manager.",
})

# Labels and help texts of the TikTok template's fields as the walkthrough shows them, written for the
# marketer who sets the tag up (the template's own help texts are written for implementers). A field
# missing here is shown with the template's own label and help text.
FIELD_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "profile": ("Behaviour", "Which version of the TikTok tag to imitate. Keep the official one: it is the "
                                 "template TikTok publishes in the gallery."),
        "pixel_code": ("Pixel ID", "The code of your pixel in TikTok's Events Manager: 20 capital letters and "
                                   "digits, such as CDEMOSHOP0PIXEL00001."),
        "access_token": ("Access Token", "The key from step 2 that lets this tag send events for your pixel. "
                                         "Keep it secret: the emulator shows it as **** everywhere."),
        "event": ("Event Name", "Which TikTok event is sent. The default takes the GA4 event name and translates "
                                "it, so a GA4 purchase becomes TikTok's purchase event."),
        "event_id": ("Event ID", "Only needed when the TikTok pixel in the browser sends the same purchase: "
                                 "the same ID on both lets TikTok count it once."),
        "test_event_code": ("Test Event Code", "From Events Manager, Test Events: events with this code show up "
                                               "there instead of in your reports."),
        "hash": ("Customer data is", "Whether the customer fields below hold readable values (the tag hashes "
                                     "them) or values that are already hashed."),
        "email": ("Email", "Leave empty: the tag takes the e-mail address from the GA4 event and sends it "
                           "hashed."),
        "phone": ("Phone", "Leave empty: the tag takes the phone number from the GA4 event, if there is one."),
        "external_id": ("External ID", "Leave empty: the tag takes your customer number (the GA4 user ID) and "
                                       "sends it hashed."),
        "sha256_email": ("Email, already hashed", "Only when your site hashes the e-mail address itself."),
        "sha256_phone": ("Phone, already hashed", "Only when your site hashes the phone number itself."),
        "sha256_external_id": ("External ID, already hashed", "Only when your site hashes the customer number "
                                                              "itself."),
        "phone_region": ("Default phone region", "Country of phone numbers written without +country code, "
                                                 "such as NL."),
        "limited_data_use": ("Limited Data Use", "Tell TikTok to use the data in a limited way (privacy laws of "
                                                 "some US states)."),
        "object_property_source": ("Product details from", "Keep the GA4 data: the tag takes the products, value and "
                                                           "currency from the GA4 purchase."),
        "single_multi_product": ("Products", "Only with custom product details: one product, a list, or none."),
        "contents": ("Products (JSON)", "A list of products written as JSON."),
        "content_id": ("Product ID", "The product's SKU."),
        "content_type": ("Product type", "product or product_group."),
        "content_name": ("Product name", ""),
        "content_category": ("Product category", ""),
        "price": ("Price", "Price of one unit."),
        "quantity": ("Quantity", "Number of units."),
        "brand": ("Brand", ""),
        "value": ("Value", "Leave empty: the tag takes the order value from the GA4 purchase."),
        "currency": ("Currency", "Leave empty: the tag takes the currency (such as EUR) from the GA4 purchase."),
        "description": ("Description", ""),
        "query": ("Search query", "Only for search events: what the visitor searched for."),
        "custom_properties": ("Extra properties", "Extra details to send with the event."),
        "url": ("Page URL", "Shown by TikTok's template, but the template never sends it: leave empty."),
        "referrer": ("Referrer", "Shown by TikTok's template, but the template never sends it: leave empty."),
        "ip": ("IP address", "Shown by TikTok's template, but the template never sends it: leave empty."),
        "user_agent": ("User agent", "Shown by TikTok's template, but the template never sends it: leave empty."),
        "event_name_overrides": ("Rename events", "Send another TikTok event name for a GA4 event name. Usually "
                                                  "not needed."),
        "logType": ("Console logging", "When the tag writes its request and TikTok's answer to the Preview "
                                       "console."),
    },
    "nl": {
        "profile": ("Gedrag", "Welke versie van de TikTok-tag wordt nagebootst. Houd de officiële: dat is het "
                              "sjabloon dat TikTok in de galerij publiceert."),
        "pixel_code": ("Pixel-ID", "De code van je pixel in TikToks Events Manager: 20 hoofdletters en cijfers, "
                                   "zoals CDEMOSHOP0PIXEL00001."),
        "access_token": ("Toegangstoken", "De sleutel uit stap 2 waarmee deze tag gebeurtenissen voor je pixel "
                                          "mag sturen. Houd hem geheim: de emulator toont hem overal als ****."),
        "event": ("Gebeurtenisnaam", "Welke TikTok-gebeurtenis wordt verstuurd. De standaardwaarde neemt de "
                                     "GA4-gebeurtenisnaam en vertaalt die, zodat een GA4-aankoop TikToks "
                                     "aankoopgebeurtenis wordt."),
        "event_id": ("Gebeurtenis-ID", "Alleen nodig als de TikTok-pixel in de browser dezelfde aankoop stuurt: "
                                       "met dezelfde ID telt TikTok hem maar één keer."),
        "test_event_code": ("Testgebeurteniscode", "Uit Events Manager, Test Events: gebeurtenissen met deze code "
                                                   "verschijnen daar in plaats van in je rapporten."),
        "hash": ("Klantgegevens zijn", "Of de klantvelden hieronder leesbare waarden bevatten (de tag hasht ze) of "
                                       "waarden die al gehasht zijn."),
        "email": ("E-mail", "Laat leeg: de tag neemt het e-mailadres uit de GA4-gebeurtenis en stuurt het "
                            "gehasht."),
        "phone": ("Telefoon", "Laat leeg: de tag neemt het telefoonnummer uit de GA4-gebeurtenis, als dat er is."),
        "external_id": ("Externe ID", "Laat leeg: de tag neemt je klantnummer (de GA4-gebruikers-ID) en stuurt "
                                      "het gehasht."),
        "sha256_email": ("E-mail, al gehasht", "Alleen als je site het e-mailadres zelf hasht."),
        "sha256_phone": ("Telefoon, al gehasht", "Alleen als je site het telefoonnummer zelf hasht."),
        "sha256_external_id": ("Externe ID, al gehasht", "Alleen als je site het klantnummer zelf hasht."),
        "phone_region": ("Standaardregio voor telefoon", "Land van telefoonnummers zonder +landcode, zoals NL."),
        "limited_data_use": ("Beperkt gegevensgebruik", "Vraag TikTok de gegevens beperkt te gebruiken "
                                                        "(privacywetten van sommige Amerikaanse staten)."),
        "object_property_source": ("Productgegevens uit", "Houd de GA4-gegevens: de tag neemt de producten, waarde en "
                                                          "valuta uit de GA4-aankoop."),
        "single_multi_product": ("Producten", "Alleen bij eigen productgegevens: één product, een lijst of geen."),
        "contents": ("Producten (JSON)", "Een lijst met producten, geschreven als JSON."),
        "content_id": ("Product-ID", "De SKU van het product."),
        "content_type": ("Producttype", "product of product_group."),
        "content_name": ("Productnaam", ""),
        "content_category": ("Productcategorie", ""),
        "price": ("Prijs", "Prijs van één stuk."),
        "quantity": ("Aantal", "Aantal stuks."),
        "brand": ("Merk", ""),
        "value": ("Waarde", "Laat leeg: de tag neemt de orderwaarde uit de GA4-aankoop."),
        "currency": ("Valuta", "Laat leeg: de tag neemt de valuta (zoals EUR) uit de GA4-aankoop."),
        "description": ("Omschrijving", ""),
        "query": ("Zoekopdracht", "Alleen bij zoekgebeurtenissen: waar de bezoeker naar zocht."),
        "custom_properties": ("Extra eigenschappen", "Extra gegevens die met de gebeurtenis mee gaan."),
        "url": ("Pagina-URL", "Getoond door TikToks sjabloon, maar het sjabloon verstuurt het nooit: laat leeg."),
        "referrer": ("Verwijzer", "Getoond door TikToks sjabloon, maar het sjabloon verstuurt het nooit: laat "
                                  "leeg."),
        "ip": ("IP-adres", "Getoond door TikToks sjabloon, maar het sjabloon verstuurt het nooit: laat leeg."),
        "user_agent": ("User-agent", "Getoond door TikToks sjabloon, maar het sjabloon verstuurt het nooit: laat "
                                     "leeg."),
        "event_name_overrides": ("Gebeurtenissen hernoemen", "Stuur een andere TikTok-gebeurtenisnaam voor een "
                                                             "GA4-gebeurtenisnaam. Meestal niet nodig."),
        "logType": ("Consolelogboek", "Wanneer de tag zijn verzoek en het antwoord van TikTok in de "
                                      "Preview-console schrijft."),
    },
}

GROUP_LABELS: dict[str, dict[str, str]] = {
    "nl": {"Setup": "Instellen", "Event": "Gebeurtenis", "User data": "Klantgegevens",
           "Properties": "Eigenschappen", "Other Configurations": "Andere configuraties", "Cookies": "Cookies",
           "Consent": "Toestemming", "Advanced": "Geavanceerd", "Logs": "Logboeken"},
}

OPTION_LABELS: dict[str, dict[str, str]] = {
    "nl": {"Inherit from the GA4 event ({{Event Name}})": "Overnemen van de GA4-gebeurtenis ({{Event Name}})",
           "Plain AM Parameters": "Leesbare waarden", "SHA256 AM Parameters": "Al gehasht (SHA-256)",
           "GA4 e-commerce data": "GA4-e-commercegegevens", "Custom": "Eigen velden",
           "Single product": "Eén product", "Multiple products (JSON)": "Meerdere producten (JSON)",
           "No Contents": "Geen producten", "Do not log": "Niet loggen",
           "Log during debug and preview": "Loggen in debug en preview", "Always log": "Altijd loggen",
           "TikTok documentation (E.164 phones, current event names)":
               "TikTok-documentatie (E.164-telefoonnummers, huidige gebeurtenisnamen)"},
}

# The project's messages (validation, the TikTok tag's warnings and notes) in Dutch: a pattern of the
# English text and its Dutch form. A message no pattern knows is shown as it is.
PROBLEM_TEXTS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "nl": [(re.compile(pattern), text) for pattern, text in (
        (r"(.+) is required \('(\w+)' is missing or empty\)", r"\1 is verplicht ('\2' ontbreekt of is leeg)"),
        (r"(.+) is not an option of (.+); expected one of: (.+)", r"\1 is geen keuze van \2; kies uit: \3"),
        (r"A TikTok Pixel ID is 20 upper-case letters or digits, e\.g\. (\w+)\.",
         r"Een TikTok-pixel-ID bestaat uit 20 hoofdletters of cijfers, bijv. \1."),
        (r"\(got (.*)\)$", r"(ingevuld: \1)"),
        (r"(.+) must be true or false", r"\1 moet waar of onwaar zijn"),
        (r"an access token is 40 lower-case hexadecimal characters",
         "een toegangstoken bestaat uit 40 tekens: cijfers en de kleine letters a tot en met f"),
        (r"the tag needs a name", "de tag heeft een naam nodig"),
        (r"the tag template (\S+) is not in the workspace yet \(step 1\)",
         r"het tagsjabloon \1 staat nog niet in de werkruimte (stap 1)"),
        (r"unknown variable (\{\{.+?\}\}); defined and built-in variables: (.+)",
         r"onbekende variabele \1; bestaande en ingebouwde variabelen: \2"),
        (r"unknown trigger (.+?); defined triggers: (.+)", r"onbekende trigger \1; bestaande triggers: \2"),
        (r"invalid RE2 pattern (.+?): (.+)", r"ongeldig RE2-patroon \1: \2"),
        (r"duplicate trigger name (.+)", r"dubbele triggernaam \1"),
        (r"user email has surrounding whitespace before hashing",
         "het e-mailadres heeft spaties ervoor of erna (vóór het hashen)"),
        (r"user (\w+) has surrounding whitespace before hashing", r"user \1 heeft spaties ervoor of erna (vóór het "
                                                                  r"hashen)"),
        (r"user email (.+) has no '@': it does not look like an e-mail address",
         r"het e-mailadres \1 heeft geen '@': het lijkt geen e-mailadres"),
        (r"user phone is not in E\.164 form \(\+ and digits only\) before hashing: TikTok will not match it",
         "het telefoonnummer staat niet in E.164-vorm (+ en alleen cijfers) vóór het hashen: TikTok koppelt het "
         "niet"),
        (r"legacy TikTok event name (.+) \(renamed to (\w+)\): TikTok still accepts it",
         r"oude TikTok-gebeurtenisnaam \1 (nu \2): TikTok accepteert hem nog; TikToks eigen sjabloon stuurt hem "
         r"zo"),
        (r"TikTok rejected the event: code (\d+): (.+)", r"TikTok weigerde de gebeurtenis: code \1: \2"),
        (r"tag field (.+) is set but the tiktok-official template never reads it",
         r"tagveld \1 is ingevuld, maar het officiële TikTok-sjabloon leest het nooit"),
        (r"event (.+) is not mapped to a TikTok standard event: it is sent as a custom event",
         r"gebeurtenis \1 hoort niet bij een standaardgebeurtenis van TikTok: hij gaat als eigen gebeurtenis"),
    )],
}


def field_text(lang: str, param: dict[str, Any]) -> tuple[str, str]:
    """A template field's label and help text in ``lang`` (the template's own when not known here)."""
    known = FIELD_TEXTS.get(lang, {}).get(str(param.get("name", "")))
    if known is not None:
        return known
    return str(param.get("label") or param.get("name", "")), str(param.get("help") or "")


def group_label(lang: str, section: Any) -> str:
    label = str(section.label or section.name or "")
    return GROUP_LABELS.get(lang, {}).get(label, label)


def option_label(lang: str, _param: dict[str, Any], option: dict[str, Any]) -> str:
    label = str(option.get("label", option.get("value", "")))
    return OPTION_LABELS.get(lang, {}).get(label, label)


def problem_text(lang: str, text: str) -> str:
    """One of the project's messages (or a ``file: path: message`` line) in ``lang``, as far as known."""
    for pattern, replacement in PROBLEM_TEXTS.get(lang, []):
        text = pattern.sub(replacement, text)
    return text
