"""Public assertion helpers and the test server for pytest and other runners.

The implementation lives in :mod:`gtm_emulator.harness.assertions`; this module is the stable import path.
"""

from .harness.assertions import (
    LIST_MATCH,
    MISSING,
    EmulatorServer,
    PathSyntaxError,
    assert_payload,
    assert_status,
    assert_tag_fired,
    assert_tag_not_fired,
    assert_tag_succeeded,
    assert_vendor_ok,
    check_fired,
    check_not_fired,
    check_payload,
    check_status,
    check_succeeded,
    check_vendor_ok,
    describe_report,
    parse_path,
    subset_mismatches,
    value_at,
)

__all__ = [
    "LIST_MATCH",
    "MISSING",
    "EmulatorServer",
    "PathSyntaxError",
    "assert_payload",
    "assert_status",
    "assert_tag_fired",
    "assert_tag_not_fired",
    "assert_tag_succeeded",
    "assert_vendor_ok",
    "check_fired",
    "check_not_fired",
    "check_payload",
    "check_status",
    "check_succeeded",
    "check_vendor_ok",
    "describe_report",
    "parse_path",
    "subset_mismatches",
    "value_at",
]
