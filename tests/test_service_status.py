"""The stats message is the documented JSON of one typed snapshot (ServiceStatus)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from monitor.core.streams import Counters
from monitor.inputs.ble.source import BleStatus
from monitor.inputs.brainflow import BrainFlowStatus
from monitor.inputs.lsl import LslStatus
from monitor.live.pipeline import Overload
from monitor.live.status import ServiceStatus

DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def _documented_keys() -> set[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("`fatigue/monitor/stats` (once a second)") :]
    section = section[: section.index("The same counters")]
    return set(re.findall(r"`([a-z_0-9]+)`", section))


def test_the_stats_message_carries_every_documented_key_and_is_json() -> None:
    counters = Counters(messages=7, gaps=2)
    counters.rejected["bad_rate"] += 3
    status = ServiceStatus(
        uptime_s=1.5,
        connected=True,
        streams=4,
        overload=Overload(overloaded=True, shed_payloads=9),
        counters=counters,
        ble={"h10": BleStatus(True, 1, 1, 0, 0, 0, 0, {"short": 2}, "")},
        lsl={"type='EMG'": LslStatus("type='EMG'", False, 2, "lost")},
        brainflow={"cyton": BrainFlowStatus("Cyton", True, 1, "")},
    )
    body = json.loads(json.dumps(status.to_dict()))
    # Top-level keys, and the per-device keys of the ble, lsl and brainflow sections.
    keys = set(body) | {
        k for section in ("ble", "lsl", "brainflow") for dev in body[section].values() for k in dev
    }
    assert _documented_keys() <= keys, _documented_keys() - keys
    assert body["messages"] == 7 and body["gaps"] == 2 and body["streams"] == 4
    assert body["rejected"] == {"bad_rate": 3} and body["overloaded"] is True
    assert body["shed_payloads"] == 9
    assert body["ble"]["h10"]["decode_errors"] == {"short": 2}
    assert body["lsl"]["type='EMG'"]["sessions"] == 2
    assert body["brainflow"]["cyton"] == {
        "board": "Cyton",
        "connected": True,
        "sessions": 1,
        "last_error": "",
    }


def test_a_snapshot_does_not_move_with_the_live_counters() -> None:
    counters = Counters()
    status = ServiceStatus(counters=counters.snapshot())
    counters.messages += 5
    counters.rejected["bad_rate"] += 1
    assert status.counters.messages == 0 and not status.counters.rejected


def test_without_ble_or_lsl_the_message_has_no_such_sections() -> None:
    body = ServiceStatus().to_dict()
    assert "ble" not in body and "lsl" not in body and "brainflow" not in body
    assert body["connected"] is None  # no broker configured
