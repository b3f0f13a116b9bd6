"""A fake Ryu datapath for the controller app's tests: every message the app sends is serialized
to OpenFlow 1.3 bytes (xids set as Ryu's Datapath sets them), kept, and parsed back on request;
barriers are answered through the app like a switch would."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from types import SimpleNamespace

from hermitnet.ryu_compat import patch_eventlet

patch_eventlet()

from ryu.app.wsgi import WSGIApplication  # noqa: E402
from ryu.ofproto import ofproto_parser, ofproto_v1_3, ofproto_v1_3_parser  # noqa: E402

from tests.unit.fakeswitch import FakeSwitch  # noqa: E402

APP_PATH = Path(__file__).resolve().parents[2] / "controllers" / "tiered_routing.py"
ofp, parser = ofproto_v1_3, ofproto_v1_3_parser


def load_app_module():
    spec = importlib.util.spec_from_file_location("tiered_routing_under_test", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiered_routing = load_app_module()


class FakeDatapath:
    """What the app uses of ryu.controller.controller.Datapath; keeps the serialized bytes and
    answers barriers through the app (as the switch would, once everything before is done)."""

    ofproto = ofp
    ofproto_parser = parser

    def __init__(self, dpid: int, app=None, answer_barriers: bool = True):
        self.id = dpid
        self.xid = 0
        self.wire: list[bytes] = []
        self.app = app
        self.answer_barriers = answer_barriers
        self.closed = False

    def set_xid(self, msg):
        self.xid = (self.xid + 1) & ofp.MAX_XID
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg):
        if msg.xid is None:
            self.set_xid(msg)
        msg.serialize()
        self.wire.append(bytes(msg.buf))
        if isinstance(msg, parser.OFPBarrierRequest) and self.app and self.answer_barriers:
            reply = SimpleNamespace(datapath=self, xid=msg.xid)
            self.app.barrier_reply(SimpleNamespace(msg=reply))
        return True

    def close(self):
        """Ryu's Datapath.close: the connection goes DEAD and is shut for writing."""
        self.closed = True

    def take(self) -> list:
        """The messages sent since the last take(), parsed back from their bytes."""
        messages = [decode(self, buf) for buf in self.wire]
        self.wire = []
        return messages


def decode(datapath, buf: bytes):
    version, msg_type, msg_len, xid = ofproto_parser.header(buf)
    assert version == ofp.OFP_VERSION and msg_len == len(buf)
    if msg_type == ofp.OFPT_METER_MOD:      # Ryu has no parser for it: read the wire format
        command, flags, meter_id = struct.unpack_from("!HHI", buf, 8)
        bands = []
        offset = 16
        while offset < len(buf):
            band_type, band_len, rate, burst = struct.unpack_from("!HHII", buf, offset)
            assert band_type == ofp.OFPMBT_DROP
            bands.append(parser.OFPMeterBandDrop(rate=rate, burst_size=burst))
            offset += band_len
        msg = parser.OFPMeterMod(datapath, command, flags, meter_id, bands)
    elif msg_type == ofp.OFPT_BARRIER_REQUEST:
        msg = parser.OFPBarrierRequest(datapath)
    elif msg_type == ofp.OFPT_MULTIPART_REQUEST:
        (stats_type,) = struct.unpack_from("!H", buf, 8)
        msg = SimpleNamespace(kind="stats", stats_type=stats_type, buf=buf)
    else:
        msg = ofproto_parser.msg(datapath, version, msg_type, msg_len, xid, buf)
    msg.xid = xid
    return msg


def kind(msg) -> str:
    return getattr(msg, "kind", None) or type(msg).__name__


def build_app(plan, state, tmp_path, monkeypatch, **extra):
    """The app as ryu-manager would make it, for `plan` and `state`, its clock at now_s = 10."""
    config = {"plan": plan.to_dict(), "policy": state.to_dict(),
              "started_at": 1000.0, "counters_path": str(tmp_path / "counters.jsonl"),
              "errors_path": str(tmp_path / "controller-errors.jsonl"),
              "counters_interval_s": 1.0, **extra}
    path = tmp_path / "controller.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("HERMITNET_CONTROLLER_CONFIG", str(path))
    monkeypatch.setattr(tiered_routing.time, "time", lambda: 1010.0)
    return tiered_routing.TieredRouting(wsgi=WSGIApplication())


def connect_all(app, plan) -> dict[str, FakeDatapath]:
    datapaths = {}
    for switch in (s for s in plan.switches if s.controlled):
        datapath = FakeDatapath(switch.dpid, app)
        app.switch_features(SimpleNamespace(msg=SimpleNamespace(datapath=datapath)))
        datapaths[switch.name] = datapath
    return datapaths


def replay(plan, datapaths, switches=None) -> dict[str, FakeSwitch]:
    """Feed what each datapath was sent into (new or existing) fake switches."""
    switches = switches or {name: FakeSwitch(name, [], set()) for name in datapaths}
    for name, datapath in datapaths.items():
        for msg in datapath.take():
            if kind(msg) != "stats":
                switches[name].apply_message(msg)
    return switches
