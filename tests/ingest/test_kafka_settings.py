"""Consumer settings read from the environment (no broker needed)."""

from __future__ import annotations

import pytest

from ingest.kafka.source import KafkaSourceError, check_crcs


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("0", False), ("off", False)]
)
def test_check_crcs_explicit(raw: str, expected: bool) -> None:
    assert check_crcs({"ICC_KAFKA_CHECK_CRCS": raw}) is expected


def test_check_crcs_auto_follows_the_native_module() -> None:
    from kafka.record.util import crc32c_c

    assert check_crcs({}) is (crc32c_c is not None)
    assert check_crcs({"ICC_KAFKA_CHECK_CRCS": "auto"}) is (crc32c_c is not None)


def test_check_crcs_rejects_other_values() -> None:
    with pytest.raises(
        KafkaSourceError, match="ICC_KAFKA_CHECK_CRCS='maybe': expected 1, 0 or auto"
    ):
        check_crcs({"ICC_KAFKA_CHECK_CRCS": "maybe"})
